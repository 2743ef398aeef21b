//! The bodies of Lanyard's fuzz targets: one module per public surface that parses what a
//! stranger sends, each a thin wrapper over the code the server runs, asserting what must
//! hold for every input (a panic is a finding).
//!
//! libFuzzer drives them from `fuzz/libfuzzer` (`fuzz/run`); `cargo test` replays each over
//! its seeds (`fuzz/seeds/<target>`), its regressions (`fuzz/regressions/<target>`) and a
//! bounded number of mutations of those (`tests/corpus.rs`), on stable and without libFuzzer.

pub mod client_metadata;
pub mod cookies;
pub mod form;
pub mod jwt;
mod lines;
pub mod policy_output;

/// A target's body: it panics on an input that breaks what must hold.
pub type Body = fn(&[u8]);

/// Every target, by the name its corpus directories and libFuzzer binary carry.
pub const TARGETS: [(&str, Body); 5] = [
    ("form", form::run),
    ("client_metadata", client_metadata::run),
    ("jwt", jwt::run),
    ("cookies", cookies::run),
    ("policy_output", policy_output::run),
];
