//! What the benchmarks share: building the example policies for wasm32-wasip2.

use std::path::PathBuf;
use std::process::Command;

/// Builds purchase-tier, org-membership and the hostile fixture (whose `ok` mode only adds
/// claims) with the `policy` profile; returns the folder holding the `.wasm` files.
pub fn build_policies() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "-q",
            "--profile",
            "policy",
            "--target",
            "wasm32-wasip2",
        ])
        .args([
            "-p",
            "purchase-tier",
            "-p",
            "org-membership",
            "-p",
            "hostile-policy",
        ])
        .status()
        .expect("cargo");
    assert!(status.success(), "building the policies failed");
    target.join("wasm32-wasip2/policy")
}
