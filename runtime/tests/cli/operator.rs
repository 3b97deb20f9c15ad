//! The operator's command line against a data directory, as a person would
//! use it: installs and grants, the audit log and its checkpoints,
//! inspecting a component, backups.

use crate::*;

#[test]
fn install_approve_narrowed_inspect_and_audit() {
    let dir = fresh_dir("install");
    let wasm = xtask::guest("yeelight").unwrap();
    let manifest = xtask::manifest("yeelight").unwrap();
    let (wasm, manifest) = (wasm.to_str().unwrap(), manifest.to_str().unwrap());

    let installed = ok(
        &dir,
        &[
            "plugin",
            "install",
            wasm,
            "--manifest",
            manifest,
            "--config",
            "discovery=192.168.31.255:1982",
        ],
    );
    assert_awaiting_approval(&installed);

    let approved = ok(
        &dir,
        &["grants", "approve", "yeelight", "--net", "192.168.31.0/24"],
    );
    assert!(
        approved.contains("tcp 192.168.31.0/24 ports 55443"),
        "{approved}"
    );
    assert!(
        approved.contains("discovery udp 239.255.255.250:1982"),
        "{approved}"
    );
    let refused = hub(
        &dir,
        &["grants", "approve", "yeelight", "--net", "8.8.8.0/24"],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("outside every network the plugin requested")
    );

    let shown = ok(&dir, &["grants", "show", "yeelight"]);
    assert!(
        shown.contains("requested:") && shown.contains("tcp local ports 55443"),
        "{shown}"
    );
    assert!(
        shown.contains("granted:") && shown.contains("udp 192.168.31.0/24 ports 1982"),
        "{shown}"
    );

    let revoked = ok(
        &dir,
        &["grants", "revoke", "yeelight", "239.255.255.250:1982"],
    );
    assert!(!revoked.contains("discovery"), "{revoked}");

    let listed = ok(&dir, &["plugins"]);
    assert!(
        listed.contains("yeelight 0.1.0 (enabled, by hub project)"),
        "{listed}"
    );

    let audit = ok(&dir, &["audit", "--plugin", "yeelight"]);
    for action in ["install", "approve", "revoke"] {
        assert!(audit.contains(action), "{action} missing from\n{audit}");
    }
    let json_lines = ok(&dir, &["audit", "--json", "--since", "1h"]);
    let first: serde_json::Value =
        serde_json::from_str(json_lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["action"], "install");
    let actor = first["actor"].as_str().unwrap();
    assert!(actor.starts_with("cli:"), "{actor}");
    assert!(
        !actor.contains("mallory"),
        "the actor came from $USER: {actor}"
    );
    assert!(actor.contains("uid"), "{actor}");
    assert!(ok(&dir, &["audit", "verify"]).contains("intact: 3 entries"));
}

#[test]
fn audit_verify_names_an_edited_entry_and_fails() {
    let dir = fresh_dir("tamper");
    let wasm = xtask::guest("yeelight").unwrap();
    let manifest = xtask::manifest("yeelight").unwrap();
    ok(
        &dir,
        &[
            "plugin",
            "install",
            wasm.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    ok(&dir, &["grants", "approve", "yeelight"]);
    ok(&dir, &["plugin", "disable", "yeelight"]);
    let db = rusqlite::Connection::open(dir.join("hub.db")).unwrap();
    db.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 2", [])
        .unwrap();
    let verify = hub(&dir, &["audit", "verify"]);
    assert!(!verify.status.success(), "an edited log verified");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(stderr.contains("entry 2 was edited"), "{stderr}");
}

#[test]
fn a_checkpoint_catches_a_deleted_tail_that_verify_alone_cannot() {
    let dir = fresh_dir("checkpoint");
    let wasm = xtask::guest("yeelight").unwrap();
    let manifest = xtask::manifest("yeelight").unwrap();
    let install = ["plugin", "install", wasm.to_str().unwrap(), "--manifest"];
    ok(
        &dir,
        &[&install[..], &[manifest.to_str().unwrap()]].concat(),
    );
    ok(&dir, &["grants", "approve", "yeelight"]);
    let checkpoint = dir.join("checkpoint.json");
    ok(
        &dir,
        &["audit", "checkpoint", "--out", checkpoint.to_str().unwrap()],
    );
    let key = std::fs::metadata(dir.join("audit.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        key.permissions().mode() & 0o777,
        0o600,
        "the key is private"
    );
    ok(&dir, &["plugin", "disable", "yeelight"]);
    let held = ok(
        &dir,
        &[
            "audit",
            "verify",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
    );
    assert!(held.contains("holding the checkpoint"), "{held}");

    // Someone with the database removes the approval and everything after,
    // and points the head record at what is left.
    let db = rusqlite::Connection::open(dir.join("hub.db")).unwrap();
    db.execute_batch(
        "DELETE FROM audit WHERE seq > 1;
         UPDATE audit_head SET seq = 1, hash = (SELECT hash FROM audit WHERE seq = 1);",
    )
    .unwrap();
    assert!(ok(&dir, &["audit", "verify"]).contains("intact: 1 entries"));
    let verify = hub(
        &dir,
        &[
            "audit",
            "verify",
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
    );
    assert!(
        !verify.status.success(),
        "a truncated log verified against its checkpoint"
    );
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(stderr.contains("entries were deleted"), "{stderr}");
}

#[test]
fn inspect_shows_imports_beside_the_manifest_and_the_verdict() {
    let dir = fresh_dir("inspect");
    let wasm = xtask::guest("hostile").unwrap();
    let declared = ok(
        &dir,
        &[
            "inspect",
            wasm.to_str().unwrap(),
            "--manifest",
            xtask::manifest("hostile").unwrap().to_str().unwrap(),
        ],
    );
    assert!(declared.contains("hub:device/driver@0.1.0"), "{declared}");
    assert!(
        declared.contains("protocol  hub:device@0.1.0"),
        "{declared}"
    );
    assert!(
        declared.contains("declared: network, discovery or listen"),
        "{declared}"
    );
    assert!(declared.contains("verdict: loads"), "{declared}");
    let bare = dir.join("bare.toml");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &bare,
        "id = \"bare\"\nname = \"Bare\"\nversion = \"1.0.0\"\npublisher = \"p\"\n",
    )
    .unwrap();
    let undeclared = ok(
        &dir,
        &[
            "inspect",
            wasm.to_str().unwrap(),
            "--manifest",
            bare.to_str().unwrap(),
        ],
    );
    assert!(
        undeclared.contains("REFUSED: no network, discovery or listen requested"),
        "{undeclared}"
    );
    assert!(undeclared.contains("verdict: refused"), "{undeclared}");
    let future = xtask::guest("future-version").unwrap();
    let unknown = ok(
        &dir,
        &[
            "inspect",
            future.to_str().unwrap(),
            "--manifest",
            xtask::manifest("future-version").unwrap().to_str().unwrap(),
        ],
    );
    assert!(
        unknown.contains("protocol  REFUSED: the component targets hub:device@0.9.0"),
        "{unknown}"
    );
    assert!(unknown.contains("verdict: refused"), "{unknown}");
}

#[test]
fn a_backup_taken_while_the_hub_writes_restores_and_a_tampered_one_is_refused() {
    let dir = fresh_dir("backup");
    let wasm = xtask::guest("yeelight").unwrap();
    let manifest = xtask::manifest("yeelight").unwrap();
    let (wasm, manifest) = (wasm.to_str().unwrap(), manifest.to_str().unwrap());
    ok(&dir, &["plugin", "install", wasm, "--manifest", manifest]);
    ok(&dir, &["grants", "approve", "yeelight"]);

    // Another connection is in the middle of a write while the copy is taken.
    let live = rusqlite::Connection::open(dir.join("hub.db")).unwrap();
    live.execute_batch(
        "BEGIN; INSERT INTO device_labels VALUES ('yeelight', 'half-written', 'x', NULL);",
    )
    .unwrap();
    let backup = dir.join("backup.db");
    let backup_path = backup.to_str().unwrap();
    let backed_up = ok(&dir, &["backup", backup_path]);
    assert!(backed_up.contains("chain intact"), "{backed_up}");
    live.execute_batch("COMMIT").unwrap();
    drop(live);
    let copy = rusqlite::Connection::open(&backup).unwrap();
    let labels: i64 = copy
        .query_row("SELECT COUNT(*) FROM device_labels", [], |row| row.get(0))
        .unwrap();
    assert_eq!(labels, 0, "a write still open is not in the copy");
    drop(copy);
    let again = hub(&dir, &["backup", backup_path]);
    assert!(!again.status.success(), "a backup overwrote a file");

    // Not under a hub that serves from the directory.
    let serving = hub::store::Serving::claim(&dir).unwrap();
    let refused = hub(&dir, &["restore", backup_path]);
    assert!(!refused.status.success(), "restored under a serving hub");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let pid = std::process::id();
    assert!(
        stderr.contains(&format!("a hub (pid {pid}) is serving from")),
        "{stderr}"
    );
    assert!(!dir.join("hub.db.before-restore").exists());
    drop(serving);

    // Restored, the database is the copy: what happened since is gone.
    ok(&dir, &["plugin", "disable", "yeelight"]);
    let restored = ok(&dir, &["restore", backup_path]);
    assert!(restored.contains("chain intact"), "{restored}");
    assert!(dir.join("hub.db.before-restore").exists());
    let log = ok(&dir, &["audit"]);
    assert!(!log.contains("disable"), "{log}");
    ok(&dir, &["audit", "verify"]);

    let tampered = dir.join("tampered.db");
    std::fs::copy(&backup, &tampered).unwrap();
    let edit = rusqlite::Connection::open(&tampered).unwrap();
    edit.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 1", [])
        .unwrap();
    drop(edit);
    let refused = hub(&dir, &["restore", tampered.to_str().unwrap()]);
    assert!(!refused.status.success(), "a tampered backup was restored");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("audit chain is broken at entry 1")
            && stderr.contains("nothing was restored"),
        "{stderr}"
    );
    ok(&dir, &["audit", "verify"]);
    assert!(
        !dir.join("hub.db.restoring").exists(),
        "no half-restored file is left"
    );
}
