//! The Shelly plugin against simulated Shelly Gen2 devices, over a real
//! WebSocket: switching with pushed status, power metering, and firmware
//! updates with progress events, the three simulated faults included.

use hub_tests::{Client, HubOptions, SHELLY_FAULTS, TestHub};
use serde_json::{Value, json};

/// Runs ota on `identity`: every `ota_progress` event for it up to the
/// final `done` or `failed` one, and the response (events and responses
/// travel separately, so either may come first).
async fn ota(client: &mut Client, identity: &str) -> anyhow::Result<(Vec<Value>, Value)> {
    let id = client.fresh_id();
    let request = json!({"id": id, "domain": "shelly", "service": "ota", "identity": identity});
    client.send_text(&request.to_string()).await?;
    let mut events: Vec<Value> = Vec::new();
    let mut response = None;
    while response.is_none()
        || !events
            .last()
            .is_some_and(|e| e["state"] == "done" || e["state"] == "failed")
    {
        let frame = client
            .wait_for(|f| {
                (f["type"] == "ota_progress" && f["identity"] == identity)
                    || (f["type"] == "response" && f["id"] == id)
            })
            .await?;
        if frame["type"] == "response" {
            response = Some(frame);
        } else {
            events.push(frame);
        }
    }
    Ok((events, response.unwrap_or_default()))
}

fn states(events: &[Value]) -> Vec<&str> {
    let mut states: Vec<&str> = events.iter().filter_map(|e| e["state"].as_str()).collect();
    states.dedup();
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switches_meters_power_and_pushes_status() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let device = &hub.shelly.devices()[0];
    let mut client = hub.client().await?;
    // This test reads the hub's own value types (`enum`, `float`).
    client
        .request(json!({"service": "hello", "service_data": {"api": 2}}))
        .await?;
    let (found, done) = client.discover(Some("shelly")).await?;
    assert_eq!(done["result"]["count"], 4, "{done}");
    assert!(
        found
            .iter()
            .any(|d| d["identity"] == device.id() && d["manufacturer"] == "Shelly")
    );

    let got = client
        .call("shelly", "get_attributes", device.id(), json!({}))
        .await?;
    let instance = &got["result"]["device"]["instances"][0];
    assert_eq!(instance["type"], "switch", "{got}");
    assert_eq!(got["result"]["device"]["ota_support"], true);
    let attr = |name: &str| {
        instance["attrs"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["attribute"] == name))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        (
            attr("power")["val"].clone(),
            attr("power")["val_type"].clone()
        ),
        (json!("off"), json!("enum"))
    );
    assert_eq!(attr("active_power")["val_type"], "float");
    assert_eq!(attr("voltage")["val"], 230.1);

    hub_tests::until("watcher on the device", || device.listeners() > 0).await?;
    let set = json!({"attributes": [{"instance_id": 0, "attribute": "power", "val": "on"}]});
    let reply = client
        .call("shelly", "set_attributes", device.id(), set)
        .await?;
    assert_eq!(reply["success"], true, "{reply}");
    assert!(device.output());
    let event = client.event(device.id(), "power").await?;
    assert_eq!(
        event["attr"]["val"], "on",
        "pushed over the device's WebSocket: {event}"
    );
    let watts = client.event(device.id(), "active_power").await?;
    assert_eq!(watts["attr"]["val"], 60.0);

    let bad = json!({"attributes": [{"instance_id": 0, "attribute": "voltage", "val": 1.0}]});
    let refused = client
        .call("shelly", "set_attributes", device.id(), bad)
        .await?;
    assert_eq!(refused["code"], "invalid_argument", "{refused}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ota_reports_progress_and_the_device_comes_back_updated() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let device = &hub.shelly.devices()[0];
    let mut client = hub.client().await?;
    let mut second = hub.client().await?;
    client.discover(Some("shelly")).await?;

    let check = client
        .call("shelly", "check_update", device.id(), json!({}))
        .await?;
    assert_eq!(check["result"]["update_available"], true, "{check}");
    assert_eq!(check["result"]["current_version"], "1.4.4");
    assert_eq!(check["result"]["latest_firmware"]["version"], "1.5.0");

    let watcher = async {
        second.wait_for(|f| f["type"] == "ota_progress").await?;
        let busy = second.call("shelly", "ota", device.id(), json!({})).await?;
        let during = second
            .call("shelly", "get_attributes", device.id(), json!({}))
            .await?;
        anyhow::Ok((busy, during))
    };
    let ((events, response), (busy, during)) =
        tokio::try_join!(ota(&mut client, device.id()), watcher)?;
    assert_eq!(
        busy["code"], "busy",
        "one update per device at a time: {busy}"
    );
    assert_eq!(
        during["success"], true,
        "the device answers during its update: {during}"
    );
    assert_eq!(
        (response["success"].clone(), response["result"].clone()),
        (json!(true), Value::Null),
        "{response}"
    );
    assert_eq!(
        states(&events),
        [
            "downloading",
            "verifying",
            "installing",
            "rebooting",
            "done"
        ],
        "{events:?}"
    );
    let percents: Vec<u64> = events
        .iter()
        .filter(|e| e["state"] == "downloading")
        .filter_map(|e| e["percent"].as_u64())
        .collect();
    assert!(
        percents.len() >= 5 && percents.windows(2).all(|w| w[0] <= w[1]),
        "{percents:?}"
    );

    let after = client
        .call("shelly", "check_update", device.id(), json!({}))
        .await?;
    assert_eq!(after["result"]["current_version"], "1.5.0", "{after}");
    assert_eq!(after["result"]["update_available"], false);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_simulated_update_fault_ends_in_an_error_naming_its_step() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("shelly")).await?;
    let expected = [
        (
            "ota_failed",
            "failed while downloading",
            "firmware server answered 404",
        ),
        ("ota_failed", "failed while verifying", "checksum mismatch"),
        ("timeout", "timed out while rebooting", "did not come back"),
    ];
    for (i, (code, step, why)) in expected.into_iter().enumerate() {
        let device = &hub.shelly.devices()[i + 1];
        let (events, response) = ota(&mut client, device.id()).await?;
        let fault = SHELLY_FAULTS[i];
        assert_eq!(response["success"], false, "{fault:?}: {response}");
        assert_eq!(response["code"], code, "{fault:?}: {response}");
        let message = response["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(step) && message.contains(why),
            "{fault:?}: {message}"
        );
        let last = events.last().cloned().unwrap_or_default();
        assert_eq!(
            (last["state"].clone(), last["code"].clone()),
            (json!("failed"), json!(code)),
            "{fault:?}: {events:?}"
        );
        assert_eq!(device.version(), if i == 2 { "1.5.0" } else { "1.4.4" });
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_grant_stops_an_update_running_under_it() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("shelly")).await?;
    // This device never comes back: the plugin would wait 3 s for it.
    let device = &hub.shelly.devices()[3];
    let id = client.fresh_id();
    let request = json!({"id": id, "domain": "shelly", "service": "ota", "identity": device.id()});
    client.send_text(&request.to_string()).await?;
    client
        .wait_for(|f| f["type"] == "ota_progress" && f["state"] == "rebooting")
        .await?;
    let revoked = std::time::Instant::now();
    tokio::task::block_in_place(|| hub.hub.revoke("tests", "shelly", None))?;
    let response = client.response(id).await?;
    assert!(
        revoked.elapsed() < std::time::Duration::from_millis(1500),
        "the update ran on for {:?} after the revocation",
        revoked.elapsed()
    );
    assert_eq!(response["code"], "ota_failed", "{response}");
    let message = response["error"].as_str().unwrap_or_default();
    assert!(message.contains("reloaded with another grant"), "{message}");
    Ok(())
}
