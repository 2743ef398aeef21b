//! The epoch watchdog: the thread that advances the engine's epoch so that a policy call
//! running past its deadline is interrupted.
//!
//! Each wake of a thread is a context switch, and on a virtual machine that costs about as
//! much as a whole policy call. So the watchdog wakes on a coarse tick, only while calls are
//! being made, and it is never woken per call: calls announce themselves with two atomic
//! increments, and only a call that finds the watchdog parked (after a quiet spell) unparks
//! it. Each store carries its own wall-clock deadline and checks it when the epoch moves
//! (see `PolicyEngine::call`), so the tick sets how late a deadline is noticed, not how long
//! it is.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use wasmtime::{EngineWeak, UpdateDeadline};

/// How often the epoch advances while calls are being made: the most a deadline can be
/// overrun by. Measured on the refresh benchmark (server pinned to one CPU), a 2 ms tick
/// cost more per mint than the policy call itself; at 10 ms it is lost in the noise.
pub const TICK: Duration = Duration::from_millis(10);
/// Quiet ticks (no call started, none running) before the watchdog parks.
const QUIET_TICKS: u32 = 10;
/// A parked watchdog still wakes this often, to notice the engine is gone.
const PARKED_WAKE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Watchdog {
    running: AtomicU32,
    started: AtomicU64,
    parked: AtomicBool,
    thread: OnceLock<Thread>,
}

/// A call in flight; dropping it ends the call.
pub struct Running<'a>(&'a Watchdog);

/// What a store does when the epoch moves: stop once its own deadline has passed, else
/// wait for the next tick.
pub fn on_tick(deadline: Instant) -> UpdateDeadline {
    if Instant::now() >= deadline {
        UpdateDeadline::Interrupt
    } else {
        UpdateDeadline::Continue(1)
    }
}

impl Watchdog {
    /// Starts the thread; it exits once the engine is dropped.
    pub fn start(engine: EngineWeak) -> std::io::Result<Arc<Self>> {
        let dog = Arc::new(Self::default());
        let watcher = dog.clone();
        let handle = std::thread::Builder::new()
            .name("policy-epoch".into())
            .spawn(move || watcher.run(engine))?;
        let _ = dog.thread.set(handle.thread().clone());
        Ok(dog)
    }

    fn run(&self, engine: EngineWeak) {
        let mut quiet = 0;
        loop {
            let seen = self.started.load(SeqCst);
            std::thread::sleep(TICK);
            let Some(engine) = engine.upgrade() else {
                return;
            };
            if self.running.load(SeqCst) > 0 {
                engine.increment_epoch();
                quiet = 0;
            } else if self.started.load(SeqCst) == seen {
                quiet += 1;
            } else {
                quiet = 0;
            }
            drop(engine);
            if quiet >= QUIET_TICKS {
                quiet = 0;
                // A call that starts after this store sees `parked` and unparks us; one
                // that started before it shows in `started`. Either way none is missed.
                self.parked.store(true, SeqCst);
                if self.started.load(SeqCst) == seen {
                    std::thread::park_timeout(PARKED_WAKE);
                }
                self.parked.store(false, SeqCst);
            }
        }
    }

    /// Marks a call as running until the guard drops.
    pub fn enter(&self) -> Running<'_> {
        self.running.fetch_add(1, SeqCst);
        self.started.fetch_add(1, SeqCst);
        if self.parked.load(SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
        Running(self)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::{Config, Engine, Instance, Module, Store, Trap};

    use super::*;

    /// `(module (func (export "spin") (loop (br 0))))`
    const SPIN: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
        0x03, 0x02, 0x01, 0x00, // func 0 has type 0
        0x07, 0x08, 0x01, 0x04, b's', b'p', b'i', b'n', 0x00, 0x00, // export "spin"
        0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0
    ];

    #[test]
    fn a_call_after_a_quiet_spell_wakes_the_watchdog_and_meets_its_deadline() {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).unwrap();
        let dog = Watchdog::start(engine.weak()).unwrap();
        let module = Module::new(&engine, SPIN).unwrap();

        let quiet = Instant::now();
        while !dog.parked.load(SeqCst) {
            assert!(quiet.elapsed() < Duration::from_secs(10), "never parked");
            std::thread::sleep(TICK);
        }

        let deadline = Duration::from_millis(20);
        let started = Instant::now();
        let mut store = Store::new(&engine, started + deadline);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| Ok(on_tick(*ctx.data())));
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let spin = instance
            .get_typed_func::<(), ()>(&mut store, "spin")
            .unwrap();
        let running = dog.enter();
        let err = spin.call(&mut store, ()).unwrap_err();
        drop(running);
        let took = started.elapsed();
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::Interrupt));
        assert!(took >= deadline, "interrupted early, after {took:?}");
        // A tick or two late at most; the bound is loose for a loaded machine.
        assert!(took < deadline + Duration::from_secs(1), "took {took:?}");
    }
}
