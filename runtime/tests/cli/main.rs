//! The operator's command line, as a person would use it, and what it does
//! over the WebSocket of a hub serving from the same data directory. One
//! suite a module; what they share is here and in `scene`.

mod marketplace;
mod operator;
mod scene;
mod updates;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hub_tests::served::Served;

pub fn hub(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hub"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        // The audit log names the process's owner, whatever $USER claims.
        .env("USER", "mallory-was-here")
        .output()
        .expect("run hub")
}

pub fn ok(data_dir: &Path, args: &[&str]) -> String {
    let out = hub(data_dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "hub {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What `hub plugin install` says of a fresh Yeelight install: installed,
/// its network waiting for an operator.
pub fn assert_awaiting_approval(installed: &str) {
    assert!(
        installed.contains("installed yeelight 0.1.0"),
        "{installed}"
    );
    let waiting = "awaiting approval: tcp local ports 55443";
    assert!(installed.contains(waiting), "{installed}");
}

pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = xtask::root().join(format!("target/cli-tests/{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The failure of `hub args`, with what it said.
pub fn refused(data_dir: &Path, args: &[&str]) -> String {
    let out = hub(data_dir, args);
    assert!(!out.status.success(), "hub {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `hub serve` from `data_dir`, with `more` in its configuration.
pub fn serve(data_dir: &Path, more: &str) -> Served {
    Served::start(Path::new(env!("CARGO_BIN_EXE_hub")), data_dir, more)
}
