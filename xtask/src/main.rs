//! `cargo xtask demo [ARGS]`, `cargo xtask test [ARGS]`, `cargo xtask bench [ARGS]`,
//! `cargo xtask build-guests`.

use anyhow::{Context, bail};
use std::process::Command;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match task.as_str() {
        "build-guests" => {
            let dir = xtask::build_guests()?;
            println!("guest plugins built in {}", dir.display());
            Ok(())
        }
        "demo" => {
            let components = xtask::build_guests()?;
            run(cargo(&["run", "-p", "hub", "--", "demo", "--components"])
                .arg(components)
                .arg("--sources")
                .arg(xtask::root().join("guest-plugins"))
                .args(rest))
        }
        "bench" => {
            let components = xtask::build_guests()?;
            let sources = xtask::root().join("guest-plugins");
            let mut command = cargo(&[
                "run",
                "--release",
                "-p",
                "hub",
                "--",
                "bench",
                "--components",
            ]);
            run(command
                .arg(components)
                .arg("--sources")
                .arg(sources)
                .args(rest))
        }
        "test" => {
            xtask::build_guests()?;
            // The unit tests of the guest SDK and plugins run on the host.
            for manifest in ["guest-sdk/Cargo.toml", "guest-plugins/Cargo.toml"] {
                run(
                    cargo(&["test", "--quiet", "--workspace", "--manifest-path"])
                        .arg(xtask::root().join(manifest))
                        .arg("--target-dir")
                        .arg(xtask::root().join("target/guest-host")),
                )?;
            }
            run(cargo(&["test", "--workspace"]).args(rest))
        }
        _ => bail!("usage: cargo xtask <demo|test|bench|build-guests> [ARGS]"),
    }
}

fn cargo(args: &[&str]) -> Command {
    let mut command = xtask::cargo();
    command.args(args);
    command
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().context("run cargo")?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}
