//! A plugin or device that misbehaves is contained: deadlines, fuel, traps
//! and the network grant hold, and everything else keeps answering.

use hub_sim::yeelight::Fault;
use hub_tests::{Client, HubOptions, TestHub};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};

async fn get(client: &mut Client, domain: &str, identity: &str) -> anyhow::Result<Value> {
    client
        .call(domain, "get_attributes", identity, json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_bulb_times_out_while_another_keeps_answering() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let (hung, healthy) = (&hub.sim.bulbs()[0], &hub.sim.bulbs()[1]);
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    hung.set_fault(Fault::Hang);
    let started = Instant::now();
    let stuck = json!({"id": 500, "domain": "yeelight", "service": "set_attributes", "identity": hung.id(),
        "service_data": {"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 10}]}});
    client.send_text(&stuck.to_string()).await?;
    for level in [20, 30, 40] {
        let write =
            json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": level}]});
        let reply = client
            .call("yeelight", "set_attributes", healthy.id(), write)
            .await?;
        assert_eq!(reply["success"], true, "{reply}");
        assert_eq!(healthy.prop("bright"), level.to_string());
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the healthy bulb waited behind the hung one"
    );
    let timed_out = client.response(500).await?;
    assert_eq!(timed_out["code"], "timeout", "{timed_out}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "answered before the 3 s deadline"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the deadline was not enforced"
    );

    hung.set_fault(Fault::None);
    let write = json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 11}]});
    let recovered = client
        .call("yeelight", "set_attributes", hung.id(), write)
        .await?;
    assert_eq!(
        recovered["success"], true,
        "the device answers again once it recovers: {recovered}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulb_that_drops_connections_is_reported_unreachable() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb = &hub.sim.bulbs()[0];
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    bulb.set_fault(Fault::DropConnections);
    let write = json!({"attributes": [{"instance_id": 0, "attribute": "power", "val": "off"}]});
    let reply = client
        .call("yeelight", "set_attributes", bulb.id(), write)
        .await?;
    assert_eq!(reply["code"], "unreachable", "{reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_plugin_is_reinstantiated_and_serves_the_next_request() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    let well = get(&mut client, "hostile", "well").await?;
    assert_eq!(well["success"], true, "{well}");
    let trapped = get(&mut client, "hostile", "trap").await?;
    assert_eq!(trapped["code"], "plugin_failed", "{trapped}");
    assert!(
        trapped["error"]
            .as_str()
            .unwrap_or_default()
            .contains("panicked"),
        "{trapped}"
    );
    let again = get(&mut client, "hostile", "trap").await?;
    assert_eq!(
        again["code"], "plugin_failed",
        "a fresh instance served the second call: {again}"
    );
    let well = get(&mut client, "hostile", "well").await?;
    assert_eq!(well["success"], true, "{well}");
    let status = hostile_status(&mut client).await?;
    assert_eq!(status["crashes"], 2, "{status}");
    assert_eq!(status["state"], "running", "{status}");
    Ok(())
}

/// The hostile plugin's health, as `plugin list` shows it.
async fn hostile_status(client: &mut Client) -> anyhow::Result<Value> {
    let list = client
        .request(json!({"domain": "plugin", "service": "list"}))
        .await?;
    let status = list["result"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == "hostile"))
        .map(|p| p["status"].clone());
    Ok(status.unwrap_or_default())
}

/// A write on a fresh instance starts with a read, which the plugin
/// answers: a plugin that then traps on every write is still crashing in
/// a row, and backs off, rather than starting over at each read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_traps_on_every_write_crashes_in_a_row() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    let write = json!({"attributes": [{"instance_id": 0, "attribute": "calls", "val": 1}]});
    for _ in 0..2 {
        let trapped = client
            .call("hostile", "set_attributes", "residue", write.clone())
            .await?;
        assert_eq!(trapped["code"], "plugin_failed", "{trapped}");
    }
    let status = hostile_status(&mut client).await?;
    assert_eq!(status["consecutive_crashes"], 2, "{status}");
    Ok(())
}

/// Instances come from a pool whose slots are reused, and a freed slot keeps
/// some pages resident: nothing an instance wrote may reach the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_instance_finds_nothing_of_the_one_before() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    let found =
        |reply: &Value| reply["result"]["device"]["instances"][0]["attrs"][0]["val"].as_i64();
    let first = get(&mut client, "hostile", "residue").await?;
    assert_eq!(
        found(&first),
        Some(0),
        "a new instance starts clean: {first}"
    );
    let warm = get(&mut client, "hostile", "residue").await?;
    assert!(
        found(&warm) > Some(0),
        "the same instance finds what it left (or the search is blind): {warm}"
    );
    for round in 0..3 {
        let write = json!({"attributes": [{"instance_id": 0, "attribute": "calls", "val": 1}]});
        let trapped = client
            .call("hostile", "set_attributes", "residue", write)
            .await?;
        assert_eq!(trapped["code"], "plugin_failed", "{trapped}");
        let fresh = get(&mut client, "hostile", "residue").await?;
        assert_eq!(
            found(&fresh),
            Some(0),
            "round {round}: a fresh instance read an earlier one's memory: {fresh}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_and_sleeping_calls_end_at_their_budget_and_block_no_one() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(None).await?;
    let started = Instant::now();
    for (id, identity) in [(600, "spin"), (601, "sleep")] {
        let request = json!({"id": id, "domain": "hostile", "service": "get_attributes", "identity": identity});
        client.send_text(&request.to_string()).await?;
    }
    for _ in 0..3 {
        let well = get(&mut client, "hostile", "well").await?;
        assert_eq!(
            well["success"], true,
            "the same plugin's other device: {well}"
        );
        let bulb = get(&mut client, "yeelight", hub.sim.bulbs()[0].id()).await?;
        assert_eq!(bulb["success"], true, "another plugin: {bulb}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "others waited behind the busy calls"
    );
    let spin = client.response(600).await?;
    assert!(
        spin["code"] == "plugin_failed" || spin["code"] == "timeout",
        "{spin}"
    );
    let sleep = client.response(601).await?;
    assert_eq!(sleep["code"], "timeout", "{sleep}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the deadline was not enforced"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_grant_holds_against_escape_attempts() -> anyhow::Result<()> {
    // Inside the grant (127.0.0.1/32): reachable, which proves refusals below are the policy's.
    let inside = TcpListener::bind("127.0.0.1:0").await?;
    // Outside the grant: loopback too, so nothing leaves the machine.
    let outside_tcp = TcpListener::bind("127.0.0.2:0").await?;
    let outside_udp = UdpSocket::bind("127.0.0.2:0").await?;
    let (in_addr, out_tcp, out_udp) = (
        inside.local_addr()?,
        outside_tcp.local_addr()?,
        outside_udp.local_addr()?,
    );
    let mapped_tcp = format!("[::ffff:127.0.0.2]:{}", out_tcp.port());
    let targets = vec![
        in_addr.to_string(),
        out_tcp.to_string(),
        out_udp.to_string(),
        mapped_tcp.clone(),
        "HUB".to_string(),
    ];
    let hub = TestHub::start(HubOptions {
        targets,
        ..Default::default()
    })
    .await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;

    let reached = get(&mut client, "hostile", &format!("tcp@{in_addr}")).await?;
    assert_eq!(reached["success"], true, "{reached}");
    let (accepted, _) = tokio::time::timeout(Duration::from_secs(5), inside.accept()).await??;
    drop(accepted);

    for identity in [
        format!("tcp@{out_tcp}"),
        format!("udp@{out_udp}"),
        format!("tcp@{}", hub.addr),
    ] {
        let refused = get(&mut client, "hostile", &identity).await?;
        assert_eq!(refused["code"], "unreachable", "{identity}: {refused}");
        assert!(
            refused["error"]
                .as_str()
                .unwrap_or_default()
                .contains("refused by the hub's network grant"),
            "{identity}: {refused}"
        );
    }
    // WASI itself rejects IPv4-mapped destinations; the policy would too.
    let mapped = get(&mut client, "hostile", &format!("tcp@{mapped_tcp}")).await?;
    assert_eq!(mapped["success"], false, "{mapped}");
    let nothing = Duration::from_millis(300);
    assert!(
        tokio::time::timeout(nothing, outside_tcp.accept())
            .await
            .is_err(),
        "a connection got out"
    );
    let mut buf = [0u8; 16];
    assert!(
        tokio::time::timeout(nothing, outside_udp.recv_from(&mut buf))
            .await
            .is_err(),
        "a datagram got out"
    );
    let well = get(&mut client, "hostile", "well").await?;
    assert_eq!(
        well["success"], true,
        "refusals do not crash the plugin: {well}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_one_device_are_rate_limited_without_touching_others() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let (busy, calm) = (&hub.sim.bulbs()[0], &hub.sim.bulbs()[1]);
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let write = |level: i64| json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": level}]});
    let mut codes = Vec::new();
    for level in 1..=12 {
        let reply = client
            .call("yeelight", "set_attributes", busy.id(), write(level))
            .await?;
        codes.push(reply["code"].as_str().unwrap_or("ok").to_string());
        if reply["code"] == "quota_exceeded" {
            assert!(
                reply["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("at most 5 set_attributes a second"),
                "{reply}"
            );
        }
    }
    assert!(codes.iter().any(|c| c == "quota_exceeded"), "{codes:?}");
    assert!(
        codes.iter().filter(|c| *c == "ok").count() >= 5,
        "{codes:?}"
    );
    let other = client
        .call("yeelight", "set_attributes", calm.id(), write(50))
        .await?;
    assert_eq!(
        other["success"], true,
        "another device keeps its own quota: {other}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_a_stuck_device_queue_up_to_a_bound_and_then_are_refused_as_busy()
-> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        call_deadline: Duration::from_secs(1),
        ..HubOptions::default()
    })
    .await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    // The first call runs (and sleeps past its deadline), 32 wait, the next is refused.
    let ids: Vec<i64> = (700..734).collect();
    for id in &ids {
        let request = json!({"id": id, "domain": "hostile", "service": "get_attributes", "identity": "sleep"});
        client.send_text(&request.to_string()).await?;
    }
    let mut replies = Vec::new();
    for id in &ids {
        replies.push(client.response(*id).await?);
    }
    let error = |r: &Value| r["error"].as_str().unwrap_or_default().to_string();
    assert_eq!(replies[0]["code"], "timeout", "{}", replies[0]);
    assert!(error(&replies[0]).contains("did not finish get_attributes"));
    for waited in &replies[1..33] {
        assert_eq!(waited["code"], "timeout", "{waited}");
        assert!(
            error(waited).contains("waited its whole deadline behind earlier calls"),
            "{waited}"
        );
    }
    assert_eq!(replies[33]["code"], "busy", "{}", replies[33]);
    assert!(error(&replies[33]).contains("32 requests are already waiting for this device"));
    // The queue drained: the device takes calls again, in a fresh instance.
    let again = get(&mut client, "hostile", "sleep").await?;
    assert!(
        error(&again).contains("did not finish get_attributes"),
        "{again}"
    );
    let well = get(&mut client, "hostile", "well").await?;
    assert_eq!(well["success"], true, "{well}");
    Ok(())
}
