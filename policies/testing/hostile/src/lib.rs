//! `hostile-policy`: a test fixture for the host, never a real policy. Its binding config
//! picks how it misbehaves, so one component covers every hostile case:
//!
//! | `mode`           | consent                           | token                              |
//! |------------------|-----------------------------------|------------------------------------|
//! | `loop`           | spins forever                     | spins forever                      |
//! | `memory`         | allocates until the host stops it | same                               |
//! | `trap`           | executes `unreachable`            | same                               |
//! | `panic`          | a Rust panic (see below)          | same                               |
//! | `reserved-claim` | allows                            | adds claim `sub`                   |
//! | `add-scope`      | drops `admin`, never requested    | drops `admin`, never in play       |
//! | `huge-output`    | a 10 MiB notice                   | a 10 MiB claim                     |
//! | `slow-ok`        | spins `iterations` times, allows  | same, then claim `hostile_mode`    |
//! | `log-flood`      | logs a 1 MiB line and 10,000 more, allows | same, then claim `hostile_mode` |
//! | anything else    | allows                            | allows with claim `hostile_mode`   |
//!
//! `"phase": "consent"` or `"phase": "token"` limits the misbehaviour to that phase (the
//! other allows), so a test can get through consent and fail at the token endpoint.
//! `add-scope` assumes the client did not ask for `admin`: the WIT cannot add a scope, so
//! dropping one that is not in play is the nearest bad output.
//!
//! `trap` is a bare guest trap. `panic` is what a buggy policy does: std's panic hook first
//! reads the environment (`RUST_BACKTRACE`) and writes to stderr through WASI, then aborts
//! with `unreachable`; the SDK's traps in place of those WASI functions stop it at the first.

use lanyard_policy::{ConsentDecision, Policy, Request, TokenDecision, log};
use serde::Deserialize;

/// The fixture; see the crate docs for its modes.
pub struct Hostile;

lanyard_policy::export_policy!(Hostile);

/// Size of the `huge-output` string: well past any sane output cap.
const HUGE: usize = 10 * 1024 * 1024;

/// `slow-ok` iterations when config gives none: tens of milliseconds; calibrate against
/// the host's engine before relying on a figure.
const DEFAULT_ITERATIONS: u64 = 20_000_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Config {
    mode: String,
    phase: Option<String>,
    iterations: Option<u64>,
}

enum Phase {
    Consent,
    Token,
}

/// The config, or `None` when this phase should behave. Unreadable config behaves too: a
/// fixture that fails for the wrong reason would make host tests pass by accident.
fn hostile_config(req: &Request, phase: Phase) -> Option<Config> {
    let config: Config = req.config().ok()?;
    let applies = matches!(
        (config.phase.as_deref(), phase),
        (None, _) | (Some("consent"), Phase::Consent) | (Some("token"), Phase::Token)
    );
    applies.then_some(config)
}

impl Policy for Hostile {
    fn consent(req: &Request) -> ConsentDecision {
        let Some(config) = hostile_config(req, Phase::Consent) else {
            return ConsentDecision::allow();
        };
        match config.mode.as_str() {
            "loop" => spin_forever(),
            "memory" => exhaust_memory(),
            "trap" => trap(),
            "panic" => panic!("hostile-policy: panic mode"),
            "add-scope" => ConsentDecision::allow().drop_scope("admin"),
            "huge-output" => ConsentDecision::allow().notice("x".repeat(HUGE)),
            "slow-ok" => {
                spin(config.iterations.unwrap_or(DEFAULT_ITERATIONS));
                ConsentDecision::allow()
            }
            "log-flood" => {
                flood_log();
                ConsentDecision::allow()
            }
            _ => ConsentDecision::allow(),
        }
    }

    fn token(req: &Request) -> TokenDecision {
        let Some(config) = hostile_config(req, Phase::Token) else {
            return TokenDecision::allow();
        };
        match config.mode.as_str() {
            "loop" => spin_forever(),
            "memory" => exhaust_memory(),
            "trap" => trap(),
            "panic" => panic!("hostile-policy: panic mode"),
            "reserved-claim" => TokenDecision::allow().claim("sub", "someone-else"),
            "add-scope" => TokenDecision::allow().drop_scope("admin"),
            "huge-output" => TokenDecision::allow().claim("huge", "x".repeat(HUGE)),
            "slow-ok" => {
                spin(config.iterations.unwrap_or(DEFAULT_ITERATIONS));
                TokenDecision::allow().claim("hostile_mode", config.mode)
            }
            "log-flood" => {
                flood_log();
                TokenDecision::allow().claim("hostile_mode", config.mode)
            }
            _ => TokenDecision::allow()
                .claim("hostile_mode", config.mode)
                .claim("build", BUILD),
        }
    }
}

/// Set at build time so that tests can make two versions of this module that differ in
/// what they say (hot-reload tests swap one for the other).
const BUILD: &str = match option_env!("HOSTILE_POLICY_BUILD") {
    Some(b) => b,
    None => "1",
};

/// Never returns; `black_box` keeps the optimiser from proving the loop pointless.
fn spin_forever() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Busy work the optimiser cannot shortcut: on wasm `black_box` is only a hint, and at
/// opt-level 3 a counting loop folds into its result. A xorshift chain has no closed form,
/// and the log line it would write on reaching zero keeps the result alive.
fn spin(iterations: u64) {
    let mut n: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..iterations {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
    }
    if std::hint::black_box(n) == 0 {
        log::info!("hostile-policy: the spin reached zero");
    }
}

/// Tests the host's log truncation and rate limiting, which the WIT allows it.
fn flood_log() {
    log::warn!("{}", "x".repeat(1024 * 1024));
    for i in 0..10_000 {
        log::info!("hostile-policy: log line {i}");
    }
}

/// Keeps every block alive and touched, so the memory is really committed, until
/// `memory.grow` fails; with panic=abort the allocation failure then traps.
fn exhaust_memory() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1; 1024 * 1024]);
        std::hint::black_box(&hoard);
    }
}

/// A trap that involves no std machinery at all.
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::process::abort()
    }
}
