//! Builds the policies from source for `wasm32-wasip2`, once per test binary: nothing
//! compiled is checked in (style.md §13).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The compiled policies, copied out of the target directory so that later builds (the
/// second hostile build above all) cannot change them under a running test.
pub struct Modules {
    pub purchase_tier: PathBuf,
    pub org_membership: PathBuf,
    /// hostile-policy built with `HOSTILE_POLICY_BUILD` unset: says `build: "1"`.
    pub hostile: PathBuf,
    /// hostile-policy built with `HOSTILE_POLICY_BUILD=2`: says `build: "2"`.
    pub hostile_v2: PathBuf,
    /// require-mfa-policy: refuses sign-ins without a second factor.
    pub require_mfa: PathBuf,
    /// world-0-1-policy: built for the released 0.1.0 world.
    pub world_0_1: PathBuf,
}

pub fn modules() -> &'static Modules {
    static MODULES: OnceLock<Modules> = OnceLock::new();
    MODULES.get_or_init(build_modules)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The target directory these tests were built in, so the guests share its cache.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) => workspace().join(d),
        None => workspace().join("target"),
    }
}

/// `cargo build --profile policy --target wasm32-wasip2 -p ..`; returns the output folder.
fn cargo_build(packages: &[&str], hostile_build: Option<&str>) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace())
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["build", "--profile", "policy", "--target", "wasm32-wasip2"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    match hostile_build {
        Some(b) => cmd.env("HOSTILE_POLICY_BUILD", b),
        None => cmd.env_remove("HOSTILE_POLICY_BUILD"),
    };
    let out = cmd.output().expect("run cargo");
    assert!(
        out.status.success(),
        "building {packages:?} for wasm32-wasip2 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target_dir().join("wasm32-wasip2").join("policy")
}

/// Copies through a temporary name, so a concurrent test run never sees half a file.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension(format!("tmp{}", std::process::id()));
    std::fs::copy(from, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    std::fs::rename(&tmp, to).expect("rename module into place");
}

fn build_modules() -> Modules {
    let dest = target_dir().join("e2e-policies");
    std::fs::create_dir_all(&dest).expect("e2e-policies dir");
    let out = cargo_build(
        &[
            "purchase-tier",
            "org-membership",
            "hostile-policy",
            "require-mfa-policy",
            "world-0-1-policy",
        ],
        None,
    );
    let m = Modules {
        purchase_tier: dest.join("purchase_tier.wasm"),
        org_membership: dest.join("org_membership.wasm"),
        hostile: dest.join("hostile_policy_v1.wasm"),
        hostile_v2: dest.join("hostile_policy_v2.wasm"),
        require_mfa: dest.join("require_mfa_policy.wasm"),
        world_0_1: dest.join("world_0_1_policy.wasm"),
    };
    install(&out.join("purchase_tier.wasm"), &m.purchase_tier);
    install(&out.join("org_membership.wasm"), &m.org_membership);
    install(&out.join("require_mfa_policy.wasm"), &m.require_mfa);
    install(&out.join("world_0_1_policy.wasm"), &m.world_0_1);
    // v1 is copied out before the second build overwrites the target's file.
    install(&out.join("hostile_policy.wasm"), &m.hostile);
    let out = cargo_build(&["hostile-policy"], Some("2"));
    install(&out.join("hostile_policy.wasm"), &m.hostile_v2);
    m
}

pub fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read module");
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
