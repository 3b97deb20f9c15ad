//! The operator's command line against a data directory, as a person would
//! use it, and what it does over the WebSocket of a hub serving from there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hub(data_dir: &Path, args: &[&str]) -> Output {
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

fn ok(data_dir: &Path, args: &[&str]) -> String {
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
fn assert_awaiting_approval(installed: &str) {
    assert!(
        installed.contains("installed yeelight 0.1.0"),
        "{installed}"
    );
    let waiting = "awaiting approval: tcp local ports 55443";
    assert!(installed.contains(waiting), "{installed}");
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = xtask::root().join(format!("target/cli-tests/{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

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

/// A registry holding a publisher's Yeelight 0.1.0, and where a
/// marketplace's folder and a hub's data directory go beside it.
struct Scene {
    registry: xtask::Registry,
    published: Published,
    market: String,
    data: PathBuf,
}

impl Scene {
    fn new(name: &str) -> Scene {
        let registry = xtask::Registry::start().unwrap();
        let published = Published::push(&registry, name);
        Scene {
            market: published.path("market"),
            data: published.dir.join("hub"),
            registry,
            published,
        }
    }
}

/// A publisher's release of the Yeelight plugin, pushed to a registry.
struct Published {
    dir: PathBuf,
    /// The publisher's key, hex.
    key: String,
    tag: String,
    pinned: String,
}

impl Published {
    /// Makes a key, builds, signs and pushes version 0.1.0, checking each
    /// step's word.
    fn push(registry: &xtask::Registry, name: &str) -> Published {
        let dir = fresh_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        let published = Published {
            key: String::new(),
            tag: format!("oci://{}/plugins/yeelight:0.1.0", registry.addr),
            pinned: String::new(),
            dir,
        };
        let keygen = ok(
            &published.dir,
            &["package", "keygen", &published.path("publisher.key")],
        );
        let manifest = xtask::manifest("yeelight").unwrap();
        let release = published.build("release", manifest.to_str().unwrap());
        let unsigned = hub(
            &published.dir,
            &["package", "push", &release, "oci://127.0.0.1:1/x:y"],
        );
        assert!(!unsigned.status.success(), "an unsigned package was pushed");
        let key = keygen
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        Published {
            key,
            pinned: published.sign_and_push("release", "publisher.key", &published.tag),
            ..published
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// Builds the Yeelight component with `manifest` into the folder `out`; its path.
    fn build(&self, out: &str, manifest: &str) -> String {
        let wasm = xtask::guest("yeelight").unwrap();
        self.build_from(wasm.to_str().unwrap(), out, manifest)
    }

    fn build_from(&self, wasm: &str, out: &str, manifest: &str) -> String {
        let release = self.path(out);
        let args = [
            "package",
            "build",
            wasm,
            "--manifest",
            manifest,
            "--out",
            &release,
        ];
        let built = ok(&self.dir, &args);
        assert!(built.contains("built yeelight"), "{built}");
        release
    }

    /// Signs the package `release` with `key` (made if missing) and pushes
    /// it to `tag`; the pinned reference.
    fn sign_and_push(&self, release: &str, key: &str, tag: &str) -> String {
        if !self.dir.join(key).exists() {
            ok(&self.dir, &["package", "keygen", &self.path(key)]);
        }
        ok(
            &self.dir,
            &[
                "package",
                "sign",
                &self.path(release),
                "--key",
                &self.path(key),
            ],
        );
        let pushed = ok(&self.dir, &["package", "push", &self.path(release), tag]);
        let pinned = pushed
            .lines()
            .find_map(|l| l.trim().strip_prefix("pinned: "));
        let pinned = pinned.unwrap_or_default().to_string();
        assert!(pinned.contains("@sha256:"), "{pushed}");
        pinned
    }

    /// Publishes `version` of the same component, its manifest asking
    /// also for `more` (a TOML network rule, or nothing); its tag.
    fn version(&self, version: &str, more: &str) -> String {
        let original = std::fs::read_to_string(xtask::manifest("yeelight").unwrap()).unwrap();
        let mut manifest =
            original.replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
        if !more.is_empty() {
            manifest = manifest.replace("network = [", &format!("network = [\n    {more},"));
        }
        let path = self.dir.join(format!("plugin-{version}.toml"));
        std::fs::write(&path, manifest).unwrap();
        // Another build: the same code with a custom section naming the
        // version, so that each version's component has its own digest.
        let mut wasm = std::fs::read(xtask::guest("yeelight").unwrap()).unwrap();
        let name = b"version";
        let size = 1 + name.len() + version.len();
        wasm.extend([0, size as u8, name.len() as u8]);
        wasm.extend(name.iter().chain(version.as_bytes()));
        let component = self.dir.join(format!("yeelight-{version}.wasm"));
        std::fs::write(&component, wasm).unwrap();
        let release = format!("release-{version}");
        self.build_from(
            component.to_str().unwrap(),
            &release,
            path.to_str().unwrap(),
        );
        let tag = self.tag.replace(":0.1.0", &format!(":{version}"));
        self.sign_and_push(&release, "publisher.key", &tag);
        tag
    }
}

/// The marketplace in folder `market` revokes Yeelight `version` as
/// `severity`, with `more` (`--reason`, `--fixed-in`).
fn revoke(dir: &Path, market: &str, version: &str, severity: &str, more: &[&str]) {
    let args = [
        "market",
        "revoke",
        market,
        "yeelight",
        version,
        "--severity",
        severity,
    ];
    ok(dir, &[&args[..], more].concat());
}

/// The failure of `hub args`, with what it said.
fn refused(data_dir: &Path, args: &[&str]) -> String {
    let out = hub(data_dir, args);
    assert!(!out.status.success(), "hub {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_signed_release_travels_through_a_real_registry_and_installs_only_from_a_trusted_publisher() {
    let registry = xtask::Registry::start().unwrap();
    let published = Published::push(&registry, "sideload");
    let (tag, pinned) = (&published.tag, &published.pinned);

    // The operator: nothing installs from a publisher it does not trust.
    let data = published.dir.join("hub");
    let untrusted = refused(&data, &["plugin", "install", tag]);
    assert!(
        untrusted.contains("a key this hub does not trust"),
        "{untrusted}"
    );
    assert!(
        !ok(&data, &["plugins"]).contains("yeelight"),
        "something was saved"
    );

    ok(&data, &["trust", "add-publisher", "acme", &published.key]);
    assert!(ok(&data, &["trust", "show"]).contains(&published.key));
    let config = "discovery=239.255.255.250:1982";
    let installed = ok(&data, &["plugin", "install", tag, "--config", config]);
    assert!(
        installed.contains(&format!("pulled {pinned}")),
        "{installed}"
    );
    assert_awaiting_approval(&installed);
    let audit = ok(&data, &["audit", "--json"]);
    let install = audit
        .lines()
        .find(|l| l.contains("\"action\":\"install\""))
        .unwrap();
    for fact in [
        pinned.as_str(),
        "\"publisher\":\"acme\"",
        "\"reviewed\":false",
    ] {
        assert!(install.contains(fact), "{install}");
    }

    // A moved tag: another key's release under the same tag is refused,
    // and the pinned digest still names the release first pushed.
    published.sign_and_push("release", "thief.key", tag);
    refused(&data, &["plugin", "install", tag]);
    let reinstalled = ok(&data, &["plugin", "install", pinned]);
    assert!(
        reinstalled.contains("updated yeelight from 0.1.0 to 0.1.0"),
        "{reinstalled}"
    );

    let absent = format!(
        "oci://{}/plugins/yeelight@sha256:{}",
        registry.addr,
        "0".repeat(64)
    );
    refused(&data, &["plugin", "install", &absent]);

    // The publisher's key stolen: once a marketplace this hub follows
    // revokes it, the plugin it signed stops, though it was sideloaded.
    let market = published.path("market");
    ok(&published.dir, &["market", "init", &market]);
    ok(
        &published.dir,
        &["market", "revoke-key", &market, &published.key],
    );
    let bundle = published.path("bundle.json");
    ok(
        &published.dir,
        &["market", "publish", &market, "--out", &bundle],
    );
    ok(
        &data,
        &["trust", "pin-market", &format!("{market}/root.json")],
    );
    ok(&data, &["trust", "import", &bundle]);
    let listed = ok(&data, &["plugins"]);
    assert!(listed.contains("yeelight 0.1.0 (disabled"), "{listed}");
    let again = refused(&data, &["plugin", "install", pinned]);
    assert!(again.contains("was revoked"), "{again}");
}

#[test]
fn a_marketplace_reviews_publishes_and_revokes_and_a_hub_follows_its_signed_status() {
    let Scene {
        registry,
        published,
        market,
        data,
    } = Scene::new("marketplace");
    let path = |name: &str| published.path(name);

    ok(&published.dir, &["market", "init", &market]);
    let reviewed = ok(
        &published.dir,
        &["market", "review", &market, &published.tag],
    );
    assert!(
        reviewed.contains(&format!("at {}", published.pinned)),
        "{reviewed}"
    );
    let status = format!("oci://{}/market/metadata:status", registry.addr);
    let publish = |out: &str| {
        let bundle = path(out);
        let args = [
            "market", "publish", &market, "--out", &bundle, "--push", &status,
        ];
        ok(&published.dir, &args)
    };
    let first = publish("b1.json");
    assert!(
        first.contains("version 1 (1 reviewed, 0 revoked)"),
        "{first}"
    );

    // A hub that pinned the marketplace's root installs what it reviewed,
    // from a publisher it never trusted itself.
    let unpinned = refused(&data, &["trust", "import", &path("b1.json")]);
    assert!(unpinned.contains("no marketplace is pinned"), "{unpinned}");
    ok(
        &data,
        &["trust", "pin-market", &format!("{market}/root.json")],
    );
    ok(&data, &["trust", "import", &path("b1.json")]);
    let installed = ok(&data, &["plugin", "install", &published.tag]);
    assert!(
        installed.contains("installed yeelight 0.1.0"),
        "{installed}"
    );
    let audit = ok(&data, &["audit", "--json"]);
    assert!(audit.contains("\"reviewed\":true"), "{audit}");

    // A serving hub fetches the marketplace's status every second.
    let market_config = format!("[market]\nstatus = \"{status}\"\nrefresh_seconds = 1");
    let served = Served::start(&data, &market_config);
    let health = served.health_until(|h| h.contains("yeelight"));
    assert!(health.contains("yeelight"), "{health}");

    // Revoked as malicious: never installed again, by tag or digest.
    let why = ["--reason", "sends tokens away"];
    revoke(&published.dir, &market, "0.1.0", "malicious", &why);
    let second = publish("b2.json");
    assert!(
        second.contains("version 2 (0 reviewed, 1 revoked)"),
        "{second}"
    );
    // Within a refresh, the revoked release stops, without an operator.
    let health = served.health_until(|h| !h.contains("yeelight"));
    assert!(!health.contains("yeelight"), "still running: {health}");
    served.stop();
    let listed = ok(&data, &["plugins"]);
    assert!(listed.contains("yeelight 0.1.0 (disabled"), "{listed}");
    let audit = ok(&data, &["audit", "--json", "--action", "revoked"]);
    assert!(
        audit.contains("\"severity\":\"malicious\"") && audit.contains("quarantined"),
        "{audit}"
    );
    let quarantine = std::fs::read_dir(data.join("quarantine")).unwrap().count();
    assert_eq!(quarantine, 1, "the component is kept aside");
    let revoked = refused(&data, &["plugin", "install", &published.pinned]);
    assert!(
        revoked.contains("revoked by the marketplace as Malicious: sends tokens away"),
        "{revoked}"
    );

    // Rollback: the older bundle is refused, and nothing of it kept.
    let rollback = refused(&data, &["trust", "import", &path("b1.json")]);
    assert!(
        rollback.contains("a rollback") && rollback.contains("nothing was kept"),
        "{rollback}"
    );
    refused(&data, &["plugin", "install", &published.pinned]);

    // A status already expired when it arrives is refused.
    let brief = [
        "market",
        "publish",
        &market,
        "--out",
        &path("b3.json"),
        "--valid-for",
        "1s",
    ];
    ok(&published.dir, &brief);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let expired = refused(&data, &["trust", "import", &path("b3.json")]);
    assert!(expired.contains("expired"), "{expired}");
    let shown = ok(&data, &["trust", "show"]);
    assert!(shown.contains("status version 2 (1 revoked)"), "{shown}");

    // Offline, the registry gone: a hub that starts refuses the revoked
    // release, even from a file, and even when someone enabled it again.
    drop(registry);
    let wasm = xtask::guest("yeelight").unwrap();
    let manifest = xtask::manifest("yeelight").unwrap();
    let (wasm, manifest) = (wasm.to_str().unwrap(), manifest.to_str().unwrap());
    let from_file = refused(&data, &["plugin", "install", wasm, "--manifest", manifest]);
    assert!(from_file.contains("never installed again"), "{from_file}");
    ok(&data, &["plugin", "enable", "yeelight"]);
    let served = Served::start(&data, "");
    let health = served.health().unwrap_or_default();
    assert!(
        !health.contains("yeelight"),
        "a revoked plugin runs: {health}"
    );
    let log = served.stop();
    assert!(log.contains("revoked by the marketplace"), "{log}");
}

/// `hub serve` from a data directory, on a free port; killed when dropped.
struct Served {
    child: Option<std::process::Child>,
    port: u16,
}

impl Served {
    /// Serves from `data_dir` with `more` appended to its configuration,
    /// once `/healthz` answers.
    fn start(data_dir: &Path, more: &str) -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        std::fs::create_dir_all(data_dir).unwrap();
        let config = data_dir.join("hub.toml");
        let toml = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {data_dir:?}\n{more}\n[[tokens]]\nname = \"op\"\ntoken = \"a-long-operator-token\"\nscope = \"operator\"\n"
        );
        std::fs::write(&config, toml).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hub"))
            .args(["serve", "--config", config.to_str().unwrap()])
            // Warnings, and what the schedule decided of updates.
            .env("RUST_LOG", "warn,hub::serve=info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let served = Served {
            child: Some(child),
            port,
        };
        let started = std::time::Instant::now();
        while served.health().is_none() {
            assert!(started.elapsed().as_secs() < 60, "the hub did not serve");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        served
    }

    /// `/healthz`'s answer, once the hub listens.
    fn health(&self) -> Option<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let request = b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n";
        stream.write_all(request).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }

    /// Waits up to 20 s for `/healthz` to satisfy `done`; its last answer.
    fn health_until(&self, done: impl Fn(&str) -> bool) -> String {
        let started = std::time::Instant::now();
        loop {
            let health = self.health().unwrap_or_default();
            if done(&health) || started.elapsed().as_secs() >= 20 {
                return health;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Stops the hub; what it logged.
    fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_reviewed_update_within_the_grant_installs_and_a_wider_one_waits() {
    let Scene {
        registry: _registry,
        published,
        market,
        data,
    } = Scene::new("updates");
    let dir = &published.dir;
    let publish = |name: &str| {
        ok(
            dir,
            &["market", "publish", &market, "--out", &published.path(name)],
        )
    };
    ok(dir, &["market", "init", &market]);
    ok(dir, &["market", "review", &market, &published.tag]);
    publish("b1.json");
    ok(
        &data,
        &["trust", "pin-market", &format!("{market}/root.json")],
    );
    ok(&data, &["trust", "import", &published.path("b1.json")]);
    ok(&data, &["plugin", "install", &published.tag]);
    ok(&data, &["grants", "approve", "yeelight"]);
    assert_eq!(ok(&data, &["plugin", "updates"]).trim(), "no updates");

    let fitting = published.version("0.1.1", "");
    ok(dir, &["market", "review", &market, &fitting]);
    publish("b2.json");
    ok(&data, &["trust", "import", &published.path("b2.json")]);
    let listed = ok(&data, &["plugin", "updates"]);
    assert!(
        listed.contains("yeelight 0.1.0 -> 0.1.1") && listed.contains("fits its grant"),
        "{listed}"
    );
    let installed = ok(&data, &["plugin", "updates", "--install"]);
    assert!(
        installed.contains("updated yeelight from 0.1.0 to 0.1.1"),
        "{installed}"
    );

    let wider = published.version(
        "0.2.0",
        r#"{ cidr = "local", protocol = "tcp", ports = "80" }"#,
    );
    ok(dir, &["market", "review", &market, &wider]);
    publish("b3.json");
    ok(&data, &["trust", "import", &published.path("b3.json")]);
    let held = ok(&data, &["plugin", "updates", "--install"]);
    assert!(
        held.contains("0.1.1 -> 0.2.0") && held.contains("asks for more: tcp local ports 80"),
        "{held}"
    );
    assert!(
        ok(&data, &["plugins"]).contains("yeelight 0.1.1"),
        "a wider update installed"
    );

    // 0.1.1 found vulnerable, fixed in 0.1.2: it stops, and its fix installs.
    let fix = published.version("0.1.2", "");
    ok(dir, &["market", "review", &market, &fix]);
    let why = ["--reason", "leaks", "--fixed-in", "0.1.2"];
    revoke(dir, &market, "0.1.1", "vulnerable", &why);
    publish("b4.json");
    ok(&data, &["trust", "import", &published.path("b4.json")]);
    let fixed = ok(&data, &["plugin", "updates", "--install"]);
    assert!(
        fixed.contains("updated yeelight from 0.1.1 to 0.1.2"),
        "{fixed}"
    );
    assert!(
        fixed.contains("0.1.2 -> 0.2.0"),
        "the wider one is still listed, against what now runs: {fixed}"
    );
    let listed = ok(&data, &["plugins"]);
    assert!(listed.contains("yeelight 0.1.2 (enabled"), "{listed}");
}

#[test]
fn a_signed_plugin_exported_from_one_hub_installs_on_an_offline_one_with_the_same_checks() {
    let registry = xtask::Registry::start().unwrap();
    let published = Published::push(&registry, "export");
    let online = published.dir.join("online");
    ok(&online, &["trust", "add-publisher", "acme", &published.key]);
    ok(&online, &["plugin", "install", &published.tag]);
    let out = published.path("carried");
    let exported = ok(&online, &["plugin", "export", "yeelight", "--out", &out]);
    assert!(exported.contains("exported yeelight 0.1.0"), "{exported}");
    drop(registry);

    // The offline hub checks the signature as it would after a pull.
    let offline = published.dir.join("offline");
    let untrusted = refused(&offline, &["plugin", "install", &out]);
    assert!(untrusted.contains("does not trust"), "{untrusted}");
    ok(
        &offline,
        &["trust", "add-publisher", "acme", &published.key],
    );
    let installed = ok(&offline, &["plugin", "install", &out]);
    assert!(
        installed.contains("installed yeelight 0.1.0"),
        "{installed}"
    );
    assert!(
        installed.contains(&format!("pulled file://{out}")),
        "{installed}"
    );

    // A carried component changed on the way is refused.
    let wasm = std::path::Path::new(&out).join("plugin.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    bytes.extend([0, 2, 1, b'x']);
    std::fs::write(&wasm, bytes).unwrap();
    let tampered = refused(&offline, &["plugin", "install", &out]);
    assert!(tampered.contains("component digest"), "{tampered}");

    // A plugin installed from a file has no signed release to export.
    let wasm = xtask::guest("yeelight").unwrap();
    let manifest = xtask::manifest("yeelight").unwrap();
    let local = published.dir.join("local");
    ok(
        &local,
        &[
            "plugin",
            "install",
            wasm.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    let unsigned = refused(
        &local,
        &[
            "plugin",
            "export",
            "yeelight",
            "--out",
            &published.path("none"),
        ],
    );
    assert!(
        unsigned.contains("no signed release to export"),
        "{unsigned}"
    );
}

#[test]
fn a_downgrade_and_a_yanked_release_are_refused_and_rotated_keys_are_followed() {
    let Scene {
        registry: _registry,
        published,
        market,
        data,
    } = Scene::new("rollback");
    let dir = &published.dir;
    let publish = |market: &str, name: &str| {
        ok(
            dir,
            &["market", "publish", market, "--out", &published.path(name)],
        )
    };
    let import = |name: &str| ok(&data, &["trust", "import", &published.path(name)]);
    ok(dir, &["market", "init", &market]);
    ok(dir, &["market", "review", &market, &published.tag]);
    let newer = published.version("0.1.1", "");
    ok(dir, &["market", "review", &market, &newer]);
    publish(&market, "b1.json");
    let root = format!("{market}/root.json");
    ok(&data, &["trust", "pin-market", &root]);
    import("b1.json");
    ok(&data, &["plugin", "install", &newer]);

    // A downgrade, however well signed and reviewed, only when asked for.
    let older = refused(&data, &["plugin", "install", &published.pinned]);
    assert!(
        older.contains("older than the installed 0.1.1: a downgrade is refused"),
        "{older}"
    );
    assert!(ok(&data, &["plugins"]).contains("yeelight 0.1.1"));
    let asked = ["plugin", "install", &published.pinned, "--downgrade"];
    let downgraded = ok(&data, &asked);
    assert!(
        downgraded.contains("updated yeelight from 0.1.1 to 0.1.0"),
        "{downgraded}"
    );
    let audit = ok(&data, &["audit", "--json", "--action", "update"]);
    assert!(audit.contains("\"downgrade\":true"), "{audit}");

    // Yanked: no longer offered or installed, though nothing stops 0.1.0.
    let yanked = ok(dir, &["market", "yank", &market, "yeelight", "0.1.1"]);
    assert!(yanked.contains("yanked yeelight 0.1.1"), "{yanked}");
    publish(&market, "b2.json");
    import("b2.json");
    assert_eq!(ok(&data, &["plugin", "updates"]).trim(), "no updates");
    let gone = refused(&data, &["plugin", "install", &newer]);
    assert!(
        gone.contains("does not list (never reviewed, or yanked)"),
        "{gone}"
    );
    assert!(ok(&data, &["plugins"]).contains("yeelight 0.1.0 (enabled"));
    // A yanked release found malicious later is still revocable.
    revoke(
        dir,
        &market,
        "0.1.1",
        "malicious",
        &["--reason", "found later"],
    );
    publish(&market, "b2-revoked.json");
    import("b2-revoked.json");
    let revoked = refused(&data, &["plugin", "install", &newer]);
    assert!(
        revoked.contains("was revoked by the marketplace"),
        "{revoked}"
    );
    let audit = ok(&data, &["audit", "--json", "--action", "install_refused"]);
    for why in [
        "a downgrade is refused",
        "was revoked",
        "never reviewed, or yanked",
    ] {
        assert!(audit.contains(why), "refusals are audited: {audit}");
    }

    // The status key rotated: the hub follows root 2, and a status the
    // old key signs afterwards is refused.
    let before = published.path("market-before-rotation");
    let copied = Command::new("cp").args(["-r", &market, &before]).status();
    assert!(copied.unwrap().success());
    // Named twice, rotated once.
    let args = [
        "market", "rotate", &market, "--role", "status", "--role", "status",
    ];
    let rotated = ok(dir, &args);
    assert!(rotated.contains("rotated to root version 2"), "{rotated}");
    publish(&market, "b3.json");
    import("b3.json");
    assert!(ok(&data, &["trust", "show"]).contains("root version 2"));
    // Its version past the hub's, so that only the key is wrong.
    publish(&before, "old-key-1.json");
    publish(&before, "old-key-2.json");
    let old_key = refused(
        &data,
        &["trust", "import", &published.path("old-key-2.json")],
    );
    assert!(
        old_key.contains("0 valid signatures of the status role's keys"),
        "{old_key}"
    );

    // The root key itself rotated, signed by the old and the new root keys.
    ok(dir, &["market", "rotate", &market, "--role", "root"]);
    publish(&market, "b4.json");
    import("b4.json");
    assert!(ok(&data, &["trust", "show"]).contains("root version 3"));
    let retired = std::fs::read_dir(Path::new(&market).join("retired")).unwrap();
    assert_eq!(retired.count(), 2, "each replaced key is kept aside");
}

#[test]
fn a_sideloaded_plugin_is_never_updated_on_its_own_and_a_reviewed_one_as_its_operator_chose() {
    let Scene {
        registry,
        published,
        market,
        data,
    } = Scene::new("sideloaded");
    let dir = &published.dir;
    ok(&data, &["trust", "add-publisher", "acme", &published.key]);
    ok(&data, &["plugin", "install", &published.tag]);
    ok(&data, &["grants", "approve", "yeelight"]);

    // The marketplace reviews only 0.1.1, which fits the grant.
    let fitting = published.version("0.1.1", "");
    let status = format!("oci://{}/market/metadata:status", registry.addr);
    ok(dir, &["market", "init", &market]);
    ok(dir, &["market", "review", &market, &fitting]);
    let out = published.path("b1.json");
    let args = [
        "market", "publish", &market, "--out", &out, "--push", &status,
    ];
    ok(dir, &args);
    ok(
        &data,
        &["trust", "pin-market", &format!("{market}/root.json")],
    );
    let listed = ok(&data, &["trust", "import", &out]);
    assert!(listed.contains("status version 1"), "{listed}");

    let config =
        format!("[market]\nstatus = \"{status}\"\nrefresh_seconds = 1\nauto_update = true");
    // Three refreshes later, the sideloaded plugin is as it was.
    let served = Served::start(&data, &config);
    std::thread::sleep(std::time::Duration::from_secs(3));
    served.stop();
    assert!(ok(&data, &["plugins"]).contains("yeelight 0.1.0"));
    let listed = ok(&data, &["plugin", "updates"]);
    assert!(
        listed.contains("0.1.0 -> 0.1.1") && listed.contains("never updated on its own"),
        "{listed}"
    );
    let not_on_its_own = refused(&data, &["plugin", "auto-update", "yeelight", "on"]);
    assert!(
        not_on_its_own.contains("installed sideloaded"),
        "{not_on_its_own}"
    );
    // An operator's command does update it, and from then on it is
    // reviewed: with automatic updates on for it alone (off for the hub),
    // the schedule installs its next fitting update itself.
    let updated = ok(&data, &["plugin", "updates", "--install"]);
    assert!(
        updated.contains("updated yeelight from 0.1.0 to 0.1.1"),
        "{updated}"
    );
    let next = published.version("0.1.2", "");
    ok(dir, &["market", "review", &market, &next]);
    ok(dir, &args);
    let on = ok(&data, &["plugin", "auto-update", "yeelight", "on"]);
    assert!(on.contains("yeelight updates on its own: on"), "{on}");
    ok(&data, &["trust", "import", &out]);
    let listed = ok(&data, &["plugin", "updates"]);
    assert!(
        listed.contains("updates on its own once it fits"),
        "{listed}"
    );
    let config = config.replace("auto_update = true", "auto_update = false");
    let served = Served::start(&data, &config);
    let started = std::time::Instant::now();
    while !ok(&data, &["plugins"]).contains("yeelight 0.1.2") {
        assert!(
            started.elapsed().as_secs() < 20,
            "a reviewed plugin was not updated on schedule: {}",
            served.stop()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `docs/api.schema.json`, which every answer must follow.
fn api_schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(xtask::root().join("docs/api.schema.json")).unwrap();
        jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
    })
}

/// A WebSocket client of a served hub, asking one request at a time.
struct Operator {
    runtime: tokio::runtime::Runtime,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: i64,
}

impl Operator {
    fn connect(served: &Served, token: &str) -> Operator {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let url = format!("ws://127.0.0.1:{}/ws?token={token}", served.port);
        let (ws, _) = runtime
            .block_on(tokio_tungstenite::connect_async(url))
            .unwrap();
        Operator {
            runtime,
            ws,
            next_id: 1,
        }
    }

    /// The answer to `service` of `domain: "plugin"` with `data`.
    fn ask(&mut self, service: &str, data: serde_json::Value) -> serde_json::Value {
        let request = serde_json::json!({
            "domain": "plugin", "service": service, "service_data": data,
        });
        self.call(request, |_| true)
    }

    /// The first answer to `request` (given an id here) that is `last`.
    fn call(
        &mut self,
        mut request: serde_json::Value,
        last: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = id.into();
        let service = request["service"].to_string();
        self.runtime.block_on(async {
            self.ws
                .send(Message::text(request.to_string()))
                .await
                .unwrap();
            let wait = std::time::Duration::from_secs(60);
            loop {
                let frame = tokio::time::timeout(wait, self.ws.next()).await;
                let Ok(Some(Ok(Message::Text(text)))) = frame else {
                    panic!("no answer to {service}: {frame:?}");
                };
                let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
                let errors: Vec<String> = api_schema()
                    .iter_errors(&answer)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "{answer}: not as documented: {errors:?}");
                if answer["id"] == id && last(&answer) {
                    return answer;
                }
            }
        })
    }

    /// The result of a request that must succeed.
    fn done(&mut self, service: &str, data: serde_json::Value) -> serde_json::Value {
        let answer = self.ask(service, data);
        assert_eq!(answer["success"], true, "{service}: {answer}");
        answer["result"].clone()
    }

    /// The error code and message of a request that must fail.
    fn failed(&mut self, service: &str, data: serde_json::Value) -> (String, String) {
        let answer = self.ask(service, data);
        assert_eq!(answer["success"], false, "{service} succeeded: {answer}");
        let code = answer["code"].as_str().unwrap_or_default().to_string();
        (
            code,
            answer["error"].as_str().unwrap_or_default().to_string(),
        )
    }
}

#[test]
fn an_operator_installs_updates_and_follows_the_marketplace_over_the_websocket() {
    use serde_json::json;
    let Scene {
        registry,
        published,
        market,
        data,
    } = Scene::new("websocket");
    let dir = &published.dir;
    let status = format!("oci://{}/market/metadata:status", registry.addr);
    let publish = |name: &str| {
        let out = published.path(name);
        let args = [
            "market", "publish", &market, "--out", &out, "--push", &status,
        ];
        ok(dir, &args);
        out
    };
    ok(dir, &["market", "init", &market]);
    ok(dir, &["market", "review", &market, &published.tag]);
    let first = publish("b1.json");

    let user = "[[tokens]]\nname = \"phone\"\ntoken = \"a-long-user-token\"\nscope = \"user\"\n";
    let config = format!(
        "{user}[market]\nstatus = \"{status}\"\nrefresh_seconds = 3600\nauto_update = true"
    );
    let served = Served::start(&data, &config);
    let mut phone = Operator::connect(&served, "a-long-user-token");
    let (code, _) = phone.failed("trust_show", json!({}));
    assert_eq!(code, "forbidden");
    let (code, _) = phone.failed("install", json!({"oci": published.tag}));
    assert_eq!(code, "forbidden");

    let mut op = Operator::connect(&served, "a-long-operator-token");
    let hello = op.ask("hello", json!({}));
    let listed = hello.to_string();
    for service in ["updates", "trust_import", "trust_refresh"] {
        assert!(listed.contains(service), "hello lacks {service}: {hello}");
    }
    assert_eq!(op.done("trust_show", json!({}))["market"], json!(null));
    let (code, refused) = op.failed("trust_refresh", json!({}));
    assert!(
        code == "invalid_argument" && refused.contains("no marketplace is pinned"),
        "{code}: {refused}"
    );
    let root: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{market}/root.json")).unwrap())
            .unwrap();
    op.done("trust_pin_market", json!({"root": root}));
    let (code, _) = op.failed(
        "trust_add_publisher",
        json!({"name": "acme", "key": "not a key"}),
    );
    assert_eq!(code, "invalid_argument");
    let trusted = op.done(
        "trust_add_publisher",
        json!({"name": "acme", "key": published.key}),
    );
    assert_eq!(trusted["publishers"][0]["added_by"], "op", "{trusted}");
    let shown = op.done("trust_refresh", json!({}));
    assert_eq!(shown["market"]["status_version"], 1, "{shown}");
    assert_eq!(shown["market"]["stale"], json!(null), "{shown}");

    // Installed from the registry, approved for a simulated bulb's network,
    // the plugin finds the bulb and reads it.
    let sim = op
        .runtime
        .block_on(hub_sim::yeelight::YeelightSim::on_lan(Default::default()))
        .unwrap();
    let discovery = sim.discovery_addr().to_string();
    let install = json!({"oci": published.tag, "config": {"discovery": discovery}});
    let report = op.done("install", install);
    assert_eq!(report["id"], "yeelight", "{report}");
    assert!(
        report["pending"]
            .to_string()
            .contains("tcp local ports 55443"),
        "{report}"
    );
    let net = sim.network().to_string();
    op.done("approve", json!({"plugin": "yeelight", "net": [net]}));
    let discover = json!({"service": "discover", "domain": "yeelight"});
    let done = op.call(discover, |a| a["result"]["done"] == true);
    assert_eq!(done["result"]["count"], 1, "{done}");
    let identity = sim.bulbs()[0].id().to_string();
    let read = json!({"service": "get_attributes", "domain": "yeelight", "identity": identity});
    let reading = op.call(read, |_| true);
    assert!(
        reading["result"]
            .to_string()
            .contains("\"attribute\":\"power\""),
        "{reading}"
    );

    // A fitting update, offered and installed over the WebSocket.
    let fitting = published.version("0.1.1", "");
    ok(dir, &["market", "review", &market, &fitting]);
    publish("b2.json");
    op.done("trust_refresh", json!({}));
    let offered = op.done("updates", json!({}));
    assert_eq!(offered["updates"][0]["to"], "0.1.1", "{offered}");
    assert_eq!(offered["updates"][0]["wider"], json!([]), "{offered}");
    // The hub's default (on) holds until the plugin is set otherwise.
    assert_eq!(offered["updates"][0]["scheduled"], true, "{offered}");
    op.done(
        "auto_update",
        json!({"plugin": "yeelight", "auto_update": false}),
    );
    let offered = op.done("updates", json!({}));
    assert_eq!(offered["updates"][0]["scheduled"], false, "{offered}");
    let updated = op.done("updates", json!({"install": true}));
    assert_eq!(updated["installed"][0]["version"], "0.1.1", "{updated}");

    // Refused: a downgrade not asked for, a rollback of the status, both
    // sources at once, fields the service does not know, an unreachable registry.
    let (code, refused) = op.failed("install", json!({"oci": published.pinned}));
    assert!(
        code == "invalid_argument" && refused.contains("a downgrade is refused"),
        "{code}: {refused}"
    );
    let old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    let (code, refused) = op.failed("trust_import", json!({"bundle": old}));
    assert!(
        code == "invalid_argument" && refused.contains("a rollback"),
        "{code}: {refused}"
    );
    let both = json!({"oci": published.tag, "package": "x"});
    assert_eq!(op.failed("install", both).0, "invalid_format");
    let unknown = json!({"install": true, "everything": true});
    assert_eq!(op.failed("updates", unknown).0, "invalid_format");
    let (code, refused) = op.failed("install", json!({"oci": "oci://127.0.0.1:1/x:1"}));
    assert_eq!(code, "unreachable", "{refused}");
    let (code, _) = op.failed("install", json!({"package": "anywhere"}));
    assert_eq!(code, "invalid_argument", "no install_dir configured");

    let downgraded = op.done(
        "install",
        json!({"oci": published.pinned, "downgrade": true}),
    );
    assert_eq!(downgraded["version"], "0.1.0", "{downgraded}");
    let audit = op.done("audit", json!({"action": "update"}));
    let entries = audit["entries"].to_string();
    assert!(
        entries.contains("\"actor\":\"op\"") && entries.contains("\"downgrade\":true"),
        "{entries}"
    );
    drop(served);
}

#[test]
fn a_root_of_several_keys_rotates_only_with_its_threshold() {
    let Scene {
        registry: _registry,
        published,
        market,
        data,
    } = Scene::new("threshold");
    let (dir, path) = (&published.dir, |name: &str| published.path(name));
    let init = |folder: &str, threshold: &str| {
        let args = [
            "market",
            "init",
            folder,
            "--root-keys",
            "3",
            "--threshold",
            threshold,
        ];
        hub(dir, &args)
    };
    let too_many = String::from_utf8_lossy(&init(&path("no"), "4").stderr).to_string();
    assert!(too_many.contains("not 4 of 3"), "{too_many}");
    let made = String::from_utf8_lossy(&init(&market, "2").stdout).to_string();
    assert!(
        made.contains("2 of the 3 root keys sign each next root"),
        "{made}"
    );
    // Two of the root keys go to their holders.
    std::fs::create_dir_all(path("holders")).unwrap();
    for key in ["root-2.key", "root-3.key"] {
        std::fs::rename(format!("{market}/{key}"), path(&format!("holders/{key}"))).unwrap();
    }
    ok(dir, &["market", "review", &market, &published.tag]);
    // Publishes and imports bundle `name`; the hub's view after.
    let follow = |name: &str| {
        ok(dir, &["market", "publish", &market, "--out", &path(name)]);
        ok(&data, &["trust", "import", &path(name)]);
        ok(&data, &["trust", "show"])
    };
    ok(
        &data,
        &["trust", "pin-market", &format!("{market}/root.json")],
    );
    follow("b1.json");
    // `hub market rotate` of `role`, signed with `keys` (none: the folder's).
    let rotate = |role: &str, keys: &[&str]| {
        let mut args = vec!["market", "rotate", market.as_str(), "--role", role];
        for key in keys {
            args.extend(["--root-key", key]);
        }
        hub(dir, &args)
    };
    let said = |out: Output| String::from_utf8_lossy(&out.stderr).to_string();

    // One root key alone cannot rotate; two can, and the hub follows.
    let alone = said(rotate("status", &[]));
    assert!(
        alone.contains("carries 1 valid signatures of the previous root role's keys; 2 are needed"),
        "{alone}"
    );
    let (own, held) = (format!("{market}/root.key"), path("holders/root-2.key"));
    assert!(rotate("status", &[&own, &held]).status.success());
    assert!(follow("b2.json").contains("root version 2"));

    // The root keys themselves replaced, by the two holders: three new
    // keys, two of which sign after.
    let third = path("holders/root-3.key");
    assert!(rotate("root", &[&held, &third]).status.success());
    assert!(follow("b3.json").contains("root version 3"));
    let stranger = said(rotate("index", &[&held]));
    assert!(
        stranger.contains("is not one of the current root's keys"),
        "{stranger}"
    );
}
