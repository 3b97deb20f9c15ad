//! `cargo xtask demo [ARGS]`, `cargo xtask test [ARGS]`, `cargo xtask bench [ARGS]`,
//! `cargo xtask build-guests`, `cargo xtask clippy-guests` (what CI lints).

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
            xtask::ensure_system_packages()?;
            // The unit tests of the guest SDK (in both its versions) and of
            // the plugins run on the host.
            for features in [&[][..], &["--features", "v0_1"]] {
                run(guests_on_host("test", "guest-sdk").args(features))?;
            }
            for packages in xtask::guest_runs() {
                run(guests_on_host("test", "guest-plugins").args(packages))?;
            }
            run(cargo(&["test", "--workspace"]).args(rest))
        }
        "clippy-guests" => {
            for packages in xtask::guest_runs() {
                run(
                    cargo(&["clippy", "--target", xtask::WASM_TARGET, "--manifest-path"])
                        .arg(xtask::root().join("guest-plugins/Cargo.toml"))
                        .arg("--target-dir")
                        .arg(xtask::root().join("target/guests"))
                        .args(packages)
                        .args(["--", "-D", "warnings"]),
                )?;
            }
            Ok(())
        }
        _ => bail!("usage: cargo xtask <demo|test|bench|build-guests|clippy-guests> [ARGS]"),
    }
}

fn cargo(args: &[&str]) -> Command {
    let mut command = xtask::cargo();
    command.args(args);
    command
}

/// `cargo VERB --quiet` over the guest folder `dir`, built for the host.
fn guests_on_host(verb: &str, dir: &str) -> Command {
    let mut command = cargo(&[verb, "--quiet", "--manifest-path"]);
    command
        .arg(xtask::root().join(dir).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(xtask::root().join("target/guest-host"));
    command
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().context("run cargo")?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}
