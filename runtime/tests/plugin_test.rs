//! `hub plugin test` as a plugin author's CI runs it: the shipped plugins
//! pass against their simulators, and a deliberately broken one fails with
//! messages that say what to fix, in the terminal, JUnit XML and JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    passed: bool,
    stdout: String,
    junit: String,
    json: serde_json::Value,
}

/// `sim: None` lets the harness pick the simulator named after the plugin.
fn plugin_test(plugin: &str, sim: Option<&str>) -> Run {
    let component = xtask::guest(plugin).expect("guest built");
    let manifest = xtask::manifest(plugin).expect("manifest");
    test_component(plugin, &component, &manifest, sim)
}

fn test_component(name: &str, component: &Path, manifest: &Path, sim: Option<&str>) -> Run {
    let out_dir = xtask::root().join(format!("target/plugin-tests/{name}-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).expect("output directory");
    let (junit, json): (PathBuf, PathBuf) =
        (out_dir.join("junit.xml"), out_dir.join("report.json"));
    let output = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["plugin", "test"])
        .arg(component)
        .arg("--manifest")
        .arg(manifest)
        .args(sim.map(|s| ["--sim", s]).into_iter().flatten())
        .arg("--junit")
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .env("RUST_LOG", "error")
        .output()
        .expect("run hub plugin test");
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    Run {
        passed: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        junit: read(&junit),
        json: serde_json::from_str(&read(&json)).expect("the JSON report parses"),
    }
}

fn check<'a>(run: &'a Run, name: &str) -> &'a serde_json::Value {
    run.json["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {}", run.json))
}

/// Every plugin in guest-plugins/ but the test-only ones.
fn shipped_plugins() -> Vec<String> {
    let dir = xtask::root().join("guest-plugins");
    let mut plugins: Vec<String> = std::fs::read_dir(&dir)
        .expect("guest-plugins/")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            path.join("plugin.toml").exists().then_some(name)
        })
        .collect();
    plugins.sort();
    plugins
}

#[test]
fn the_shipped_plugins_pass() {
    let plugins = shipped_plugins();
    assert!(
        ["shelly", "yeelight"]
            .iter()
            .all(|p| plugins.contains(&p.to_string())),
        "{plugins:?}"
    );
    for plugin in &plugins {
        let run = plugin_test(plugin, None);
        assert!(run.passed, "{plugin}:\n{}", run.stdout);
        assert!(
            run.stdout
                .contains("10 checks: 10 passed, 0 failed, 0 skipped"),
            "{}",
            run.stdout
        );
        assert!(
            run.junit.contains("tests=\"10\" failures=\"0\""),
            "{}",
            run.junit
        );
        let calls = &run.json["resources"]["calls"];
        assert!(
            calls["get_attributes"]["fuel_min"]
                .as_u64()
                .is_some_and(|f| f > 0),
            "{calls}"
        );
        assert!(
            run.json["resources"]["refused_network_uses"]
                .as_u64()
                .is_some_and(|n| n >= 1),
            "the device outside the grant was refused: {}",
            run.json
        );
    }
}

#[test]
fn fuel_figures_repeat_from_run_to_run() {
    let fuel = || plugin_test("shelly", None).json["resources"]["fresh_instance_fuel"].clone();
    let (first, second) = (fuel(), fuel());
    assert!(
        first["get_attributes"].as_u64().is_some_and(|f| f > 0),
        "{first}"
    );
    assert_eq!(
        first, second,
        "two runs of the same plugin report the same fuel"
    );
}

#[test]
fn a_broken_plugin_fails_with_what_to_fix() {
    let run = plugin_test("broken", Some("yeelight"));
    assert!(!run.passed, "{}", run.stdout);
    let mistakes = [
        (
            "get_attributes",
            "brightness is declared int but its value is \"80\": report a value of the declared type",
        ),
        ("set_attributes", "no attribute_change event for power"),
        (
            "set_attributes",
            "emit the change from watch, or do not declare notify",
        ),
        ("invalid_values", "accepted brightness = 101"),
        ("silent_device", "give every connect and read a timeout"),
    ];
    for (name, what_to_fix) in mistakes {
        let result = check(&run, name);
        let detail = result["detail"].as_str().unwrap_or_default();
        assert!(
            result["outcome"] == "fail" && detail.contains(what_to_fix),
            "{name}: {}",
            run.stdout
        );
    }
    assert_eq!(check(&run, "discover")["outcome"], "pass");
    // Whether a bulb that drops connections makes this plugin fail depends
    // on when the drop lands; the four mistakes above always show.
    let failures = run.json["checks"]
        .as_array()
        .map_or(0, |c| c.iter().filter(|c| c["outcome"] == "fail").count());
    assert!(failures >= 4, "{}", run.stdout);
    assert!(
        run.junit.contains(&format!("failures=\"{failures}\""))
            && run
                .junit
                .contains("<failure message=\"the hub had to stop get_attributes"),
        "{}",
        run.junit
    );
    assert!(
        run.stdout.contains("FAIL") && run.stdout.contains(&format!("{failures} failed")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_plugin_that_cannot_load_fails_with_the_reason_and_skips_the_rest() {
    let run = plugin_test("future-version", Some("yeelight"));
    assert!(!run.passed, "{}", run.stdout);
    let load = check(&run, "load");
    assert_eq!(load["outcome"], "fail", "{}", run.stdout);
    assert!(
        load["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("hub:device@0.9.0"),
        "{load}"
    );
    let skipped = run.json["checks"]
        .as_array()
        .map_or(0, |c| c.iter().filter(|c| c["outcome"] == "skip").count());
    assert_eq!(skipped, 9, "{}", run.stdout);
}

#[test]
fn a_new_plugin_builds_and_passes_as_written() {
    let dir = tempfile::tempdir_in(xtask::root().join("target")).expect("a work folder");
    let new = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["plugin", "new", "lamp", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run hub plugin new");
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    let root = dir.path().join("lamp");
    // The guests' lock file pins what the new crate shares with them, so
    // that the test builds the same crates on every run.
    std::fs::copy(
        xtask::root().join("guest-plugins/Cargo.lock"),
        root.join("Cargo.lock"),
    )
    .expect("copy the lock file");
    // The way an author builds it, in release and in debug (without
    // link-time optimisation, std imports wasi:filesystem: it loads, inert);
    // the target folder is shared between runs.
    xtask::ensure_wasm_target().expect("the wasm32-wasip2 target");
    let target = xtask::root().join("target/plugin-new");
    for (profile, flag) in [("release", Some("--release")), ("debug", None)] {
        let built = xtask::cargo()
            .args(["build", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .args(flag)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo");
        assert!(
            built.success(),
            "the new plugin does not build in {profile}"
        );
        let component = target.join(format!("wasm32-wasip2/{profile}/lamp.wasm"));
        let run = test_component(
            "lamp",
            &component,
            &root.join("plugin.toml"),
            Some("yeelight"),
        );
        assert!(run.passed, "{profile}: {}", run.stdout);
    }
    let manifest = std::fs::read_to_string(root.join("plugin.toml")).expect("plugin.toml");
    assert!(
        manifest.contains(r#"ports = "55443""#) && manifest.contains(r#"ports = "1982""#),
        "it asks for exactly the protocol's ports: {manifest}"
    );
}

#[test]
fn a_python_plugin_passes_as_the_rust_ones_do() {
    let run = plugin_test("pylamp", Some("yeelight"));
    assert!(run.passed, "{}", run.stdout);
    let fuel = check(&run, "measure_fuel");
    assert_eq!(fuel["outcome"], "pass", "{}", run.stdout);
}
