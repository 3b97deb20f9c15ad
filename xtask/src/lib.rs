//! Builds the guest plugins from source for `wasm32-wasip2`, installing the
//! target with rustup when it is missing. Used by `cargo xtask` and by the
//! tests, so that no built `.wasm` ever needs to be committed.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const WASM_TARGET: &str = "wasm32-wasip2";

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The cargo that runs us (or the one on PATH), in the project's root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Adds the wasm target to the project's toolchain unless it is there.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let sysroot = Command::new("rustc")
        .current_dir(root())
        .args(["--print", "sysroot"])
        .output()
        .context("run rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).exists() {
        return Ok(());
    }
    let status = Command::new("rustup")
        .current_dir(root())
        .args(["target", "add", WASM_TARGET])
        .status()
        .context("run rustup (needed to install the wasm32-wasip2 target)")?;
    if !status.success() {
        bail!("rustup target add {WASM_TARGET} failed");
    }
    Ok(())
}

/// The test-only plugins built with the SDK's frozen `v0_1` feature.
pub const FROZEN_V0_1: [&str; 2] = ["hostile", "bench-v0_1"];

/// The guest plugins as cargo must take them, in two runs: cargo unifies a
/// dependency's features across the packages of one run, and the SDK
/// targets one version of the protocol at a time. The arguments that
/// select the current ones, then the frozen 0.1 ones.
pub fn guest_runs() -> [Vec<&'static str>; 2] {
    let mut current = vec!["--workspace"];
    current.extend(FROZEN_V0_1.iter().flat_map(|p| ["--exclude", p]));
    let frozen = FROZEN_V0_1.iter().flat_map(|p| ["-p", p]).collect();
    [current, frozen]
}

/// Builds every plugin under `guest-plugins/` and returns the folder of the `.wasm` files.
pub fn build_guests() -> anyhow::Result<PathBuf> {
    ensure_wasm_target()?;
    let target_dir = root().join("target/guests");
    for packages in guest_runs() {
        let status = cargo()
            .args(["build", "--release", "--target", WASM_TARGET])
            .arg("--manifest-path")
            .arg(root().join("guest-plugins/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .args(packages)
            .status()
            .context("run cargo to build the guest plugins")?;
        if !status.success() {
            bail!("building the guest plugins failed");
        }
    }
    Ok(target_dir.join(WASM_TARGET).join("release"))
}

/// The component built from `guest-plugins/**/<name>`; the first call in a
/// process builds them all.
pub fn guest(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| build_guests().map_err(|e| format!("{e:#}")))
        .clone();
    // Cargo names the artifact after the crate, with `_` for `-`.
    let file = format!("{}.wasm", name.replace('-', "_"));
    let path = dir.map_err(anyhow::Error::msg)?.join(file);
    if !path.exists() {
        bail!(
            "no guest plugin named {name} was built ({})",
            path.display()
        );
    }
    Ok(path)
}

/// The manifest beside a guest plugin's source: `guest-plugins/**/<name>/plugin.toml`.
pub fn manifest(name: &str) -> anyhow::Result<PathBuf> {
    let guests = root().join("guest-plugins");
    [guests.join(name), guests.join("test-only").join(name)]
        .into_iter()
        .map(|dir| dir.join("plugin.toml"))
        .find(|path| path.exists())
        .with_context(|| format!("no plugin.toml for guest plugin {name}"))
}
