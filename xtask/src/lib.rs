//! Builds the guest plugins from source for `wasm32-wasip2`, installing the
//! target with rustup when it is missing. Used by `cargo xtask` and by the
//! tests, so that no built `.wasm` ever needs to be committed.

pub mod floors;

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

/// Debian's Chromium and its WebDriver, which the console's tests drive.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's OCI registry (distribution 2.8), which the marketplace's tests
/// push to and pull from.
pub const REGISTRY: &str = "/usr/bin/docker-registry";

/// What the tests run beside the hub, and the Debian package of each.
const SYSTEM_PACKAGES: [(&str, &str); 3] = [
    (CHROMIUM, "chromium"),
    (CHROMEDRIVER, "chromium-driver"),
    (REGISTRY, "docker-registry"),
];

/// Installs with apt (as root, or through sudo) the Debian packages the
/// tests need that are missing: the tests never skip for want of them.
pub fn ensure_system_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&missing);
    let installed = apt(&install) || apt(&["update"]) && apt(&install);
    if !installed {
        bail!(
            "the tests need Debian's {}: install them (apt-get install {}) and run again",
            missing.join(", "),
            missing.join(" ")
        );
    }
    Ok(())
}

/// A real OCI registry (Debian's `docker-registry`) on a free loopback
/// port, storing under a folder of its own; stopped when dropped.
pub struct Registry {
    pub addr: std::net::SocketAddr,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> anyhow::Result<Registry> {
        let dir = tempfile::tempdir()?;
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(&config_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("start {REGISTRY} (cargo xtask test installs it)"))?;
        let registry = Registry {
            addr,
            child,
            _dir: dir,
        };
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            if started.elapsed() > std::time::Duration::from_secs(20) {
                bail!("{REGISTRY} did not listen on {addr} within 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let built = target_dir.join(WASM_TARGET).join("release");
    build_python_guests(&built)?;
    Ok(built)
}

/// What builds the Python plugins: componentize-py from PyPI, in a virtual
/// environment of the project's own (`target/py`), installed when missing.
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Builds each plugin under `guest-plugins/python/` into `out` with
/// componentize-py, against the current protocol version, unless the
/// component is newer than its sources and the WIT.
fn build_python_guests(out: &Path) -> anyhow::Result<()> {
    let dir = root().join("guest-plugins/python");
    let wit = root().join("wit");
    for entry in std::fs::read_dir(&dir).context("guest-plugins/python")? {
        let source = entry?.path();
        let Some(name) = source.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !source.join("plugin.toml").exists() {
            continue;
        }
        let component = out.join(format!("{}.wasm", name.replace('-', "_")));
        let tool = componentize_py()?;
        if newest(&[&source, &wit, &tool]) < modified(&component) {
            continue;
        }
        // Written aside, then moved: a build cut short leaves no component
        // newer than its sources.
        let partial = component.with_extension("wasm.partial");
        let status = Command::new(&tool)
            .arg("-d")
            .arg(wit.join("v0.2"))
            .args(["-w", "hub:device/plugin", "componentize", "-p"])
            .arg(&source)
            .args(["app", "-o"])
            .arg(&partial)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .status()
            .context("run componentize-py")?;
        if !status.success() {
            bail!("building the Python plugin {name} failed");
        }
        std::fs::rename(&partial, &component).context("move the Python component in place")?;
    }
    Ok(())
}

/// componentize-py, installed into `target/py` when missing or of another
/// version than `COMPONENTIZE_PY` (its stamp says which was installed).
fn componentize_py() -> anyhow::Result<PathBuf> {
    let venv = root().join("target/py");
    let (tool, stamp) = (venv.join("bin/componentize-py"), venv.join("installed"));
    if tool.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == COMPONENTIZE_PY) {
        return Ok(tool);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("run python3 (needed to build the Python plugins)")?;
    let installed = made.success()
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", COMPONENTIZE_PY])
            .status()
            .context("run pip")?
            .success();
    if !installed {
        bail!(
            "installing {COMPONENTIZE_PY} into {} failed",
            venv.display()
        );
    }
    std::fs::write(&stamp, COMPONENTIZE_PY)?;
    Ok(tool)
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// The latest change to anything under `paths` (folders walked, symbolic
/// links followed, a folder's own time counted, so that a removed file is
/// a change too).
fn newest(paths: &[&Path]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut pending: Vec<PathBuf> = paths.iter().map(|p| p.to_path_buf()).collect();
    while let Some(path) = pending.pop() {
        newest = newest.max(modified(&path));
        if let Ok(entries) = std::fs::read_dir(&path) {
            pending.extend(entries.flatten().map(|e| e.path()));
        }
    }
    newest
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
    let places = [
        guests.join(name),
        guests.join("test-only").join(name),
        guests.join("python").join(name),
    ];
    places
        .into_iter()
        .map(|dir| dir.join("plugin.toml"))
        .find(|path| path.exists())
        .with_context(|| format!("no plugin.toml for guest plugin {name}"))
}
