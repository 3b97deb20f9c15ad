//! Operators see, grant, narrow, revoke and audit what each plugin may do,
//! over the WebSocket; changes apply without a restart and survive one.

use hub::plugins::{Hub, HubSettings};
use hub_tests::{Client, HubOptions, TestHub};
use prometheus_parse::Value as Metric;
use serde_json::{Value, json};
use std::time::Duration;

async fn operate(client: &mut Client, service: &str, data: Value) -> anyhow::Result<Value> {
    client
        .request(json!({"domain": "plugin", "service": service, "service_data": data}))
        .await
}

async fn bulb_answers(client: &mut Client, identity: &str) -> anyhow::Result<Value> {
    client
        .call("yeelight", "get_attributes", identity, json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_tokens_cannot_manage_plugins() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut user = hub.user_client().await?;
    for service in [
        "list", "install", "remove", "enable", "disable", "grants", "approve", "revoke", "audit",
        "verify",
    ] {
        let reply = operate(&mut user, service, json!({"plugin": "yeelight"})).await?;
        assert_eq!(reply["code"], "forbidden", "{service}: {reply}");
    }
    let (devices, _) = user.discover(Some("yeelight")).await?;
    assert_eq!(devices.len(), 2, "user tokens still reach devices");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_network_cuts_a_running_plugin_off_and_approving_restores_it()
-> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb = hub.sim.bulbs()[0].id().to_string();
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    assert_eq!(bulb_answers(&mut client, &bulb).await?["success"], true);

    let bulbs = hub.sim.network().to_string();
    let revoked = operate(
        &mut client,
        "revoke",
        json!({"plugin": "yeelight", "rule": bulbs}),
    )
    .await?;
    assert_eq!(
        revoked["result"]["granted"]["network"],
        json!([]),
        "{revoked}"
    );
    let cut = bulb_answers(&mut client, &bulb).await?;
    assert_eq!(cut["code"], "unreachable", "{cut}");

    let grants = operate(&mut client, "grants", json!({"plugin": "yeelight"})).await?;
    assert_eq!(grants["result"]["requested"]["network"][0]["cidr"], "local");
    assert_eq!(
        grants["result"]["pending"],
        json!([]),
        "narrowing is not pending: {grants}"
    );

    let approved = operate(
        &mut client,
        "approve",
        json!({"plugin": "yeelight", "net": [bulbs]}),
    )
    .await?;
    assert_eq!(approved["success"], true, "{approved}");
    assert_eq!(
        bulb_answers(&mut client, &bulb).await?["success"],
        true,
        "restored without a restart"
    );

    let wider = operate(
        &mut client,
        "approve",
        json!({"plugin": "yeelight", "net": ["8.8.8.0/24"]}),
    )
    .await?;
    assert_eq!(
        wider["code"], "invalid_argument",
        "a grant cannot exceed the request: {wider}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_enable_and_remove_take_effect_at_once() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb = hub.sim.bulbs()[0].id().to_string();
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    assert_eq!(
        operate(&mut client, "disable", json!({"plugin": "yeelight"})).await?["success"],
        true
    );
    let off = bulb_answers(&mut client, &bulb).await?;
    assert_eq!(off["code"], "not_found", "{off}");
    assert_eq!(
        operate(&mut client, "enable", json!({"plugin": "yeelight"})).await?["success"],
        true
    );
    let on = bulb_answers(&mut client, &bulb).await?;
    assert_eq!(
        on["success"], true,
        "devices route again without a discover: {on}"
    );
    assert_eq!(
        operate(&mut client, "remove", json!({"plugin": "hostile"})).await?["success"],
        true
    );
    let list = operate(&mut client, "list", json!({})).await?;
    let ids: Vec<_> = list["result"]
        .as_array()
        .map(|a| a.iter().map(|p| p["id"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![json!("shelly"), json!("yeelight")]);
    let (_, done) = client.discover(None).await?;
    assert_eq!(
        done["result"]["count"], 6,
        "only the 2 bulbs and 4 Shelly devices remain: {done}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_asking_for_more_keeps_the_old_grant_and_shows_the_difference()
-> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let dir = hub.data_dir.join("update");
    std::fs::create_dir_all(&dir)?;
    let manifest = std::fs::read_to_string(xtask::manifest("yeelight")?)?
        .replace("version = \"0.1.0\"", "version = \"0.2.0\"")
        .replace("[capabilities]", "[capabilities]\nlisten = true");
    std::fs::write(dir.join("plugin.toml"), manifest)?;
    std::fs::copy(xtask::guest("yeelight")?, dir.join("plugin.wasm"))?;
    let mut client = hub.client().await?;
    let discovery = hub.sim.discovery_addr().to_string();
    let installed = operate(
        &mut client,
        "install",
        json!({
            "component": dir.join("plugin.wasm"), "config": {"discovery": discovery},
        }),
    )
    .await?;
    assert_eq!(installed["result"]["updated_from"], "0.1.0", "{installed}");
    assert_eq!(installed["result"]["pending"], json!(["listen"]));
    let grants = operate(&mut client, "grants", json!({"plugin": "yeelight"})).await?;
    assert_eq!(
        grants["result"]["granted"]["granted"]["listen"], false,
        "the old grant holds: {grants}"
    );
    assert_eq!(
        grants["result"]["granted"]["granted"]["network"][0]["cidr"],
        hub.sim.network().to_string()
    );
    let (devices, _) = client.discover(Some("yeelight")).await?;
    assert_eq!(devices.len(), 2, "the update runs on the old grant");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_what_its_manifest_does_not_declare_is_refused() -> anyhow::Result<()>
{
    let hub = TestHub::start(HubOptions::default()).await?;
    let dir = hub.data_dir.join("undeclared");
    std::fs::create_dir_all(&dir)?;
    let manifest =
        "id = \"sneaky\"\nname = \"Sneaky\"\nversion = \"1.0.0\"\npublisher = \"nobody\"\n";
    std::fs::write(dir.join("plugin.toml"), manifest)?;
    std::fs::copy(xtask::guest("hostile")?, dir.join("plugin.wasm"))?;
    let mut client = hub.client().await?;
    let refused = operate(
        &mut client,
        "install",
        json!({"component": dir.join("plugin.wasm")}),
    )
    .await?;
    assert_eq!(refused["code"], "invalid_argument", "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("wasi:sockets/"),
        "names the interface: {refused}"
    );
    let missing = operate(
        &mut client,
        "install",
        json!({"component": "/nonexistent/plugin.wasm"}),
    )
    .await?;
    assert_eq!(missing["code"], "invalid_argument", "{missing}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_operations_and_refusals_and_verifies() -> anyhow::Result<()> {
    let outside = tokio::net::TcpListener::bind("127.0.0.2:0").await?;
    let target = outside.local_addr()?.to_string();
    let hub = TestHub::start(HubOptions {
        targets: vec![target.clone()],
        ..Default::default()
    })
    .await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    let refused = client
        .call(
            "hostile",
            "get_attributes",
            &format!("tcp@{target}"),
            json!({}),
        )
        .await?;
    assert_eq!(refused["code"], "unreachable");
    client
        .call("hostile", "get_attributes", "trap", json!({}))
        .await?;
    operate(&mut client, "disable", json!({"plugin": "hostile"})).await?;

    let audit = operate(&mut client, "audit", json!({"plugin": "hostile"})).await?;
    let entries = audit["result"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |action: &str| entries.iter().find(|e| e["action"] == action).cloned();
    assert_eq!(
        find("install").map(|e| e["actor"].clone()),
        Some(json!("tests")),
        "{audit}"
    );
    assert!(
        find("approve")
            .is_some_and(|e| e["detail"]["after"]["network"][0]["cidr"] == "127.0.0.1/32"),
        "{audit}"
    );
    let refusal = find("refused").unwrap_or_default();
    assert_eq!(refusal["detail"]["address"], target, "{audit}");
    assert_eq!(refusal["detail"]["use"], "TcpConnect");
    assert!(find("crash").is_some(), "{audit}");
    assert_eq!(
        find("disable").map(|e| e["actor"].clone()),
        Some(json!("test-operator"))
    );

    let verified = operate(&mut client, "verify", json!({})).await?;
    assert_eq!(verified["result"]["intact"], true, "{verified}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_plugins_grants_devices_and_the_audit_log() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb = hub.sim.bulbs()[1].id().to_string();
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let before = hub.hub.store().audit(&Default::default())?.len();

    let settings = HubSettings {
        cache_dir: xtask::root().join("target/test-hubs/compiled"),
        ..HubSettings::new(hub.data_dir.clone())
    };
    let restarted = Hub::open(settings)?;
    let failed = tokio::task::block_in_place(|| restarted.go_live())?;
    assert!(failed.is_empty(), "{failed:?}");
    let yeelight = restarted.plugin("yeelight")?;
    assert_eq!(yeelight.device_count(), 2, "the device registry survived");
    let device =
        tokio::time::timeout(Duration::from_secs(10), yeelight.get_attributes(&bulb)).await??;
    assert_eq!(device.info.identity, bulb, "routed before any new discover");
    assert_eq!(
        restarted
            .grants("yeelight")?
            .granted
            .map(|g| g.granted.network.len()),
        Some(2)
    );
    assert!(restarted.store().audit(&Default::default())?.len() >= before);
    assert_eq!(restarted.store().verify()?, Ok(before as i64));
    Ok(())
}

/// A plain HTTP GET on the hub's port: the status line and the body.
async fn http_get(hub: &TestHub, path: &str, header: &str) -> anyhow::Result<(String, String)> {
    let (head, body) = hub.http("GET", path, header, "").await?;
    let status = head.lines().next().unwrap_or_default().to_string();
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_without_a_token_and_tells_nothing_sensitive() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let (status, body) = http_get(&hub, "/healthz", "").await?;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let health: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(health["status"], "ok", "{health}");
    let plugins = health["plugins"].as_array().cloned().unwrap_or_default();
    let ids: Vec<_> = plugins.iter().map(|p| p["id"].clone()).collect();
    assert_eq!(ids, [json!("hostile"), json!("shelly"), json!("yeelight")]);
    assert!(plugins.iter().all(|p| p["state"] == "running"), "{health}");
    for secret in ["127.", "token", "grant", "0x"] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_operator_tokens_and_parse_as_prometheus_reads_them() -> anyhow::Result<()>
{
    let outside = std::net::TcpListener::bind("127.0.0.2:0")?.local_addr()?;
    let hub = TestHub::start(HubOptions {
        targets: vec![outside.to_string()],
        ..Default::default()
    })
    .await?;
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let bulb = hub.sim.bulbs()[0].id();
    client
        .call("yeelight", "get_attributes", bulb, json!({}))
        .await?;
    let write = json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 500}]});
    client
        .call("yeelight", "set_attributes", bulb, write)
        .await?;

    let attack = format!("tcp@{outside}");
    client.discover(Some("hostile")).await?;
    client
        .call("hostile", "get_attributes", &attack, json!({}))
        .await?;

    let bearer = format!("Authorization: Bearer {}\r\n", hub_tests::TOKEN);
    let (status, text) = http_get(&hub, "/metrics", &bearer).await?;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines)?;
    let value = |metric: &str, labels: &[(&str, &str)]| {
        let sample = scrape.samples.iter().find(|s| {
            s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
        });
        match sample.map(|s| &s.value) {
            Some(Metric::Counter(n) | Metric::Gauge(n)) => Some(*n),
            _ => None,
        }
    };
    let yeelight = [("plugin", "yeelight")];
    assert_eq!(value("hub_plugin_devices", &yeelight), Some(2.0));
    assert_eq!(value("hub_plugin_up", &yeelight), Some(1.0));
    assert_eq!(value("hub_plugin_calls_total", &yeelight), Some(2.0));
    let invalid = [("plugin", "yeelight"), ("code", "invalid_argument")];
    assert_eq!(value("hub_plugin_errors_total", &invalid), Some(1.0));
    assert_eq!(value("hub_plugin_crashes_total", &yeelight), Some(0.0));
    assert!(
        value("hub_plugin_fuel_total", &yeelight) > Some(0.0),
        "{text}"
    );
    let hostile = [("plugin", "hostile")];
    assert_eq!(
        value("hub_plugin_refused_total", &hostile),
        Some(1.0),
        "{text}"
    );
    assert!(value("hub_websocket_connections", &[]) >= Some(1.0));
    let requests = value("hub_websocket_requests_total", &[]).unwrap_or_default();
    assert!(requests >= 5.0, "{text}");
    let latency = scrape
        .samples
        .iter()
        .find(|s| s.metric == "hub_websocket_request_seconds")
        .map(|s| &s.value);
    let Some(Metric::Histogram(buckets)) = latency else {
        panic!("no latency histogram in\n{text}");
    };
    let all = buckets.iter().find(|b| b.less_than.is_infinite());
    assert_eq!(all.map(|b| b.count), Some(requests), "{buckets:?}");
    assert!(value("hub_events_delivered_total", &[]).is_some());
    assert!(value("hub_events_dropped_total", &[]).is_some());

    let user = format!("smart-assistant-token: {}\r\n", hub_tests::USER_TOKEN);
    let (status, _) = http_get(&hub, "/metrics", &user).await?;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    let (status, _) = http_get(&hub, "/metrics", "").await?;
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_who_ask_hear_refused_uses_with_the_rule_that_would_allow_them()
-> anyhow::Result<()> {
    let outside = std::net::TcpListener::bind("127.0.0.2:0")?.local_addr()?;
    let hub = TestHub::start(HubOptions {
        targets: vec![outside.to_string()],
        ..Default::default()
    })
    .await?;
    let events = json!({"events": ["capability_refused", "quota_hit"]});
    let mut user = hub.user_client().await?;
    let refused = user
        .request(json!({"service": "subscribe", "service_data": events}))
        .await?;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let mut listening = hub.client().await?;
    let subscribed = listening
        .request(json!({"service": "subscribe", "service_data": events}))
        .await?;
    assert_eq!(subscribed["success"], true, "{subscribed}");
    let mut seed_client = hub.client().await?;
    listening.discover(Some("hostile")).await?;

    let attack = listening
        .call(
            "hostile",
            "get_attributes",
            &format!("tcp@{outside}"),
            json!({}),
        )
        .await?;
    assert_eq!(attack["code"], "unreachable", "{attack}");
    let heard = listening
        .wait_for(|f| f["type"] == "capability_refused")
        .await?;
    assert_eq!(heard["domain"], "hostile");
    assert_eq!(heard["use"], "TcpConnect");
    assert_eq!(heard["address"], outside.to_string());
    let rule = format!("tcp 127.0.0.2/32 ports {}", outside.port());
    assert_eq!(heard["allowing"], rule.as_str(), "{heard}");
    assert_eq!(heard["subscriptions"], json!([1]));

    seed_client.request(json!({"service": "ping"})).await?;
    user.request(json!({"service": "ping"})).await?;
    for client in [&seed_client, &user] {
        let told = client
            .held()
            .filter(|f| f["type"] == "capability_refused")
            .count();
        assert_eq!(told, 0, "only operators who subscribed hear of refusals");
    }
    let audited = hub.audited("hostile", "refused");
    assert!(
        audited.iter().any(|d| d["allowing"] == rule.as_str()),
        "{audited:?}"
    );
    Ok(())
}
