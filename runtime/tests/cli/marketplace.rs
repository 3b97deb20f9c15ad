//! Signed releases through a real registry: publishers' keys, a
//! marketplace's reviews, revocations and signed status, exports to an
//! offline hub, downgrades, and root keys with a threshold.

use crate::scene::*;
use crate::*;

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
    let served = serve(&data, &market_config);
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
    let served = serve(&data, "");
    let health = served.health().unwrap_or_default();
    assert!(
        !health.contains("yeelight"),
        "a revoked plugin runs: {health}"
    );
    let log = served.stop();
    assert!(log.contains("revoked by the marketplace"), "{log}");
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
