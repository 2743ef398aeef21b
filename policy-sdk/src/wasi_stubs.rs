//! Traps in place of the WASI functions that Rust's standard library links but a policy
//! never calls successfully: stdio, the environment and exit, reached only on a panic's way
//! to aborting. The host grants none of them. Defined here, the linker resolves wasi-libc's
//! references to them, so the component imports nothing but `lanyard:policy`: the host has
//! no WASI functions to wire up at each instantiation, and a panic traps inside the guest.
//!
//! The names are wasi-libc's (`__wasm_import_<interface>_<function>`, as its wit-bindgen
//! bindings for WASI 0.2.0 declare them). Should a toolchain rename one, that import comes
//! back and the host traps it instead; the stub is then an unused export.

// Defining a symbol by name is what `no_mangle` is for, and Rust counts it as unsafe.
#![allow(unsafe_code)]

macro_rules! traps {
    ($($name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {
        $(
            #[unsafe(no_mangle)]
            extern "C" fn $name($(_: $ty),*) $(-> $ret)? {
                core::arch::wasm32::unreachable()
            }
        )*
    };
}

traps! {
    __wasm_import_io_error_error_drop(handle: i32);
    __wasm_import_poll_pollable_drop(handle: i32);
    __wasm_import_poll_method_pollable_block(handle: i32);
    __wasm_import_streams_input_stream_drop(handle: i32);
    __wasm_import_streams_output_stream_drop(handle: i32);
    __wasm_import_streams_method_output_stream_check_write(handle: i32, ret: i32);
    __wasm_import_streams_method_output_stream_write(handle: i32, ptr: i32, len: i32, ret: i32);
    __wasm_import_streams_method_output_stream_blocking_flush(handle: i32, ret: i32);
    __wasm_import_streams_method_output_stream_subscribe(handle: i32) -> i32;
    __wasm_import_terminal_input_terminal_input_drop(handle: i32);
    __wasm_import_terminal_output_terminal_output_drop(handle: i32);
    __wasm_import_terminal_stdin_get_terminal_stdin(ret: i32);
    __wasm_import_terminal_stdout_get_terminal_stdout(ret: i32);
    __wasm_import_terminal_stderr_get_terminal_stderr(ret: i32);
    __wasm_import_stdin_get_stdin() -> i32;
    __wasm_import_stdout_get_stdout() -> i32;
    __wasm_import_stderr_get_stderr() -> i32;
    __wasm_import_environment_get_environment(ret: i32);
    __wasm_import_exit_exit(status: i32);
}
