//! Updates as a serving hub follows them: reviewed ones within the grant,
//! sideloaded plugins left alone, and an operator doing it all over the
//! WebSocket.

use crate::scene::*;
use crate::*;
use hub_tests::served::{OPERATOR_TOKEN, Operator};

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
    let served = serve(&data, &config);
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
    let served = serve(&data, &config);
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
    let served = serve(&data, &config);
    let mut phone = Operator::connect(&served, "a-long-user-token");
    let (code, _) = phone.failed("trust_show", json!({}));
    assert_eq!(code, "forbidden");
    let (code, _) = phone.failed("install", json!({"oci": published.tag}));
    assert_eq!(code, "forbidden");

    let mut op = Operator::connect(&served, OPERATOR_TOKEN);
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
    let done = op.discover("yeelight");
    assert_eq!(done["result"]["count"], 1, "{done}");
    let identity = sim.bulbs()[0].id().to_string();
    let read = json!({"service": "get_attributes", "domain": "yeelight", "identity": identity});
    let reading = op.request(read);
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
