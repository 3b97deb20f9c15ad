//! `hub bench --quick` runs in the test suite so that the benchmark never
//! rots; it checks the rows are there, not the figures (this machine is shared).

use std::process::Command;

#[test]
fn the_quick_benchmark_prints_all_nine_rows() {
    let components = xtask::build_guests().unwrap();
    let work = xtask::root().join(format!("target/bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let json = work.join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["--data-dir"])
        .arg(&work)
        .args(["bench", "--quick", "--components"])
        .arg(&components)
        .arg("--sources")
        .arg(xtask::root().join("guest-plugins"))
        .arg("--json")
        .arg(&json)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = figures.as_object().unwrap();
    assert_eq!(rows.len(), 9, "{stdout}");
    for (number, row) in (1..=9).zip(rows.keys()) {
        assert!(row.starts_with(&number.to_string()), "{row}");
        assert!(
            stdout.contains(row.as_str()),
            "{row} missing from the table:\n{stdout}"
        );
    }
    let lost = &figures["5 event fan-out (100 clients)"]["measured"]["lost"];
    assert_eq!(*lost, 0, "events were lost:\n{stdout}");
    let _ = std::fs::remove_dir_all(&work);
}
