//! The guest's allocator: one bump arena per call.
//!
//! The host makes a fresh instance for every call and throws it away afterwards, so memory
//! a policy frees is never reused by anyone. A general-purpose allocator (wasi-libc's
//! dlmalloc, which std uses) spends its work on exactly that reuse: size classes, free lists
//! and coalescing on every allocation and every free, and it sets itself up again in each
//! new instance. A policy call makes a few dozen allocations (the request's strings, the
//! parsed config and metadata, the decision), so here an allocation moves a pointer.
//!
//! Freeing the most recent allocation gives its space back and growing the most recent
//! allocation extends it in place, which covers the common patterns (a `String` or `Vec`
//! growing while it is built, a temporary dropped at once). Anything else that is freed
//! stays allocated until the call ends: the host's per-call memory cap bounds what a call
//! allocates in total, not what it holds at once.
//!
//! The first allocations come from a buffer of the arena's own in the module's image
//! (`.bss`), so a typical call never grows memory: each `memory.grow` makes the host open a
//! page and reset it after the call. Past that buffer the arena takes fresh pages with
//! `memory.grow`. It never touches the memory between `__heap_base` and the end of the
//! initial memory, which wasi-libc's own `malloc` (used by C code in std's runtime) hands out.

// Only this module needs unsafe code (the crate denies it elsewhere): `GlobalAlloc` is an
// unsafe trait, and a reallocation that cannot grow in place copies the bytes.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::{Cell, UnsafeCell};
use core::ptr;

const PAGE: usize = 64 * 1024;

/// The buffer a call allocates from before it grows memory: far more than the shipped
/// policies use in a call (a few KiB), and only the pages a call touches cost anything.
const FIRST: usize = 64 * 1024;

#[repr(C, align(16))]
struct First(UnsafeCell<[u8; FIRST]>);

// SAFETY: single-threaded guest; the bytes are only reached through the arena.
unsafe impl Sync for First {}

/// Zeroed, so it lands in `.bss` and adds nothing to the module's size.
static FIRST_BUFFER: First = First(UnsafeCell::new([0; FIRST]));

/// The bump arena; `next..end` is free, `last` is where the latest allocation starts.
#[derive(Debug)]
pub struct Arena {
    next: Cell<usize>,
    end: Cell<usize>,
    last: Cell<usize>,
}

impl Arena {
    pub const fn new() -> Self {
        Self {
            next: Cell::new(0),
            end: Cell::new(0),
            last: Cell::new(usize::MAX),
        }
    }

    /// Points the arena at its first buffer, once per instance.
    fn start(&self) {
        if self.end.get() == 0 {
            let first = FIRST_BUFFER.0.get().addr();
            self.next.set(first);
            self.end.set(first + FIRST);
        }
    }

    /// Makes `self.end` reach at least `end` by growing memory; false when the host refuses,
    /// or when someone else grew memory since, so the arena's space is no longer contiguous.
    fn extend_to(&self, end: usize) -> bool {
        if end <= self.end.get() {
            return true;
        }
        if memory_top() != self.end.get() {
            return false;
        }
        self.grow(end - self.end.get())
    }

    /// Grows memory by at least `bytes` past the current top and moves `end` there.
    fn grow(&self, bytes: usize) -> bool {
        let pages = bytes.div_ceil(PAGE).max(1);
        let previous = wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return false;
        }
        self.end.set((previous + pages) * PAGE);
        true
    }

    fn reserve(&self, layout: Layout) -> Option<usize> {
        self.start();
        let mut start = align_up(self.next.get(), layout.align())?;
        let mut end = start.checked_add(layout.size())?;
        if !self.extend_to(end) {
            // Past the first buffer, or wasi-libc grew memory since: carry on at the top.
            let top = memory_top();
            start = align_up(top, layout.align())?;
            end = start.checked_add(layout.size())?;
            if !self.grow(end - top) {
                return None;
            }
        }
        self.next.set(end);
        self.last.set(start);
        Some(start)
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: wasm32-wasip2 guests are single-threaded, so the cells are never shared between
// threads.
unsafe impl Sync for Arena {}

// SAFETY: `reserve` hands out disjoint ranges, aligned as asked, of the first buffer or of
// pages obtained from `memory.grow`, which no one else uses; a range is only handed out again
// after its owner freed it (the rollback of the latest allocation).
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.reserve(layout) {
            Some(start) => ptr::with_exposed_provenance_mut(start),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        if ptr.addr() == self.last.get() {
            self.next.set(self.last.get());
            self.last.set(usize::MAX);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr.addr();
        if start == self.last.get()
            && let Some(end) = start.checked_add(new_size)
            && self.extend_to(end)
        {
            self.next.set(end);
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: the caller guarantees `ptr` holds `layout.size()` bytes; the new block is
        // fresh, at least as large, and so does not overlap it.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(ptr, moved, layout.size());
            }
            moved
        }
    }
}

fn memory_top() -> usize {
    wasm32::memory_size(0) * PAGE
}

fn align_up(at: usize, align: usize) -> Option<usize> {
    Some(at.checked_add(align - 1)? & !(align - 1))
}
