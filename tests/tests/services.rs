//! Every seed service over a real WebSocket, against the real Yeelight
//! plugin and simulated bulbs.

use hub_sim::yeelight::Bulb;
use hub_tests::{HubOptions, TestHub};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_streams_every_bulb_then_a_closing_message() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        bulbs: 3,
        ..Default::default()
    })
    .await?;
    let mut client = hub.client().await?;
    let (devices, done) = client.discover(Some("yeelight")).await?;
    let mut found: Vec<_> = devices
        .iter()
        .map(|d| d["identity"].as_str().unwrap_or_default().to_string())
        .collect();
    found.sort();
    let expected: Vec<_> = hub.sim.bulbs().iter().map(|b| b.id().to_string()).collect();
    assert_eq!(found, expected);
    for device in &devices {
        assert_eq!(device["plugin_id"], "yeelight");
        assert_eq!(device["manufacturer"], "Yeelight");
        assert_eq!(device["model"], "color");
        assert!(device["name"].as_str().is_some_and(|n| !n.is_empty()));
    }
    assert_eq!(done["success"], true);
    assert_eq!(done["result"]["count"], 3);
    assert_eq!(done["result"]["errors"], json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_without_domain_asks_every_plugin() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let (devices, done) = client.discover(None).await?;
    let plugins: std::collections::BTreeSet<_> = devices
        .iter()
        .map(|d| d["plugin_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(plugins, ["hostile", "shelly", "yeelight"].into());
    assert_eq!(done["result"]["count"], devices.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_event_check_update_and_ota() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb: &Bulb = &hub.sim.bulbs()[0];
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    // Before any request reaches the bulb, its one connection is the watcher's.
    hub_tests::until("watcher on the bulb", || bulb.connections() > 0).await?;

    let got = client
        .call("yeelight", "get_attributes", bulb.id(), json!({}))
        .await?;
    assert_eq!(got["success"], true, "{got}");
    assert_eq!(got["result"]["identity"], bulb.id());
    let instance = &got["result"]["device"]["instances"][0];
    assert_eq!(instance["type"], "light_bulb");
    assert_eq!(instance["instance_id"], 0);
    let attrs = instance["attrs"].as_array().expect("attrs");
    let attr = |name: &str| {
        attrs
            .iter()
            .find(|a| a["attribute"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(attr("power")["val"], "on");
    // The seed's type, with the choices beside it.
    assert_eq!(attr("power")["val_type"], "string");
    assert_eq!(attr("power")["enum_values"], json!(["on", "off", "toggle"]));
    assert_eq!(attr("brightness")["val"], 80);
    assert_eq!(attr("brightness")["val_type"], "int");
    assert_eq!(
        (
            attr("brightness")["min"].clone(),
            attr("brightness")["max"].clone()
        ),
        (json!(1), json!(100))
    );
    assert_eq!(attr("color_temp")["val"], 4000);
    assert_eq!(got["result"]["device"]["ota_support"], false);

    let set = client
        .call(
            "yeelight",
            "set_attributes",
            bulb.id(),
            json!({"attributes": [
                {"instance_id": 0, "attribute": "brightness", "val": 42},
                {"instance_id": 0, "attribute": "power", "val": "off"},
            ]}),
        )
        .await?;
    assert_eq!(set["success"], true, "{set}");
    assert_eq!(bulb.prop("bright"), "42");
    assert_eq!(bulb.prop("power"), "off");
    let event = client.event(bulb.id(), "brightness").await?;
    assert_eq!(
        event,
        json!({
            "type": "attribute_change", "domain": "yeelight", "identity": bulb.id(), "instance_id": 0,
            "attr": {"attribute": "brightness", "val": 42, "val_type": "int"},
        })
    );
    let power = client.event(bulb.id(), "power").await?;
    assert_eq!(
        power["attr"],
        json!({"attribute": "power", "val": "off", "val_type": "string"})
    );

    let got = client
        .call("yeelight", "get_attributes", bulb.id(), json!({}))
        .await?;
    let attrs = got["result"]["device"]["instances"][0]["attrs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        attrs
            .iter()
            .any(|a| a["attribute"] == "brightness" && a["val"] == 42),
        "{got}"
    );

    let update = client
        .call("yeelight", "check_update", bulb.id(), json!({}))
        .await?;
    assert_eq!(
        update["result"],
        json!({"current_version": "26", "latest_firmware": null, "update_available": false})
    );

    let ota = client.call("yeelight", "ota", bulb.id(), json!({})).await?;
    assert_eq!(
        (ota["success"].clone(), ota["code"].clone()),
        (json!(false), json!("unsupported"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_outside_the_hub_is_pushed_without_polling() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb = &hub.sim.bulbs()[1];
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let mut other = hub.client().await?;
    // As when someone flips the bulb from the vendor's app: the bulb itself
    // changes and notifies its connections; the hub is not asked.
    let mut changed = false;
    for _ in 0..50 {
        bulb.execute("set_ct_abx", &[json!(2700), json!("sudden")])
            .map_err(anyhow::Error::msg)?;
        if let Ok(Ok(event)) = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            client.event(bulb.id(), "color_temp"),
        )
        .await
        {
            assert_eq!(event["attr"]["val"], 2700);
            changed = true;
            break;
        }
    }
    assert!(changed, "no attribute_change for a change made at the bulb");
    let seen_by_other = other.event(bulb.id(), "color_temp").await?;
    assert_eq!(
        seen_by_other["attr"]["val"], 2700,
        "every connection receives events"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_list_shows_health_devices_and_grant() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let list = client
        .request(json!({"domain": "plugin", "service": "list"}))
        .await?;
    let plugins = list["result"].as_array().cloned().unwrap_or_default();
    let yeelight = plugins
        .iter()
        .find(|p| p["id"] == "yeelight")
        .cloned()
        .unwrap_or_default();
    assert_eq!(yeelight["status"]["state"], "running", "{list}");
    assert_eq!(yeelight["devices"], 2);
    assert_eq!(yeelight["version"], "0.1.0");
    let bulbs = hub.sim.network().to_string();
    assert_eq!(
        yeelight["granted"]["network"],
        json!([
            {"cidr": bulbs, "protocol": "tcp", "ports": "55443"},
            {"cidr": bulbs, "protocol": "udp", "ports": "1982"},
        ]),
        "only where the bulbs are, only the ports their protocol uses"
    );
    assert_eq!(yeelight["pending"], json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_pipelined_requests_is_answered_in_full() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    // More than the connection reads ahead of its writes, and than it
    // writes with one flush: every request still gets exactly its answer.
    // All go to one device, which queues at most 32 calls behind a running
    // one: should a call have to wait (an epoch tick, a busy machine), later
    // ones may be refused as busy, but never the first 33, and never silently.
    let ids: Vec<i64> = (1000..1200).collect();
    for id in &ids {
        let request =
            json!({"id": id, "domain": "hostile", "service": "get_attributes", "identity": "well"});
        client.send_text(&request.to_string()).await?;
    }
    for (n, id) in ids.iter().enumerate() {
        let reply = client.response(*id).await?;
        if reply["success"] == true {
            assert_eq!(reply["result"]["identity"], "well", "{reply}");
            continue;
        }
        assert!(n >= 33, "one of the first 33 was refused: {reply}");
        assert_eq!(reply["code"], "busy", "{reply}");
        assert!(
            reply["error"]
                .as_str()
                .unwrap_or_default()
                .contains("already waiting for this device"),
            "{reply}"
        );
    }
    Ok(())
}
