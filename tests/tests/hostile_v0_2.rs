//! Attacks through what hub:device@0.2.0 added (slots, handles, metadata
//! declared once), by the test-only `hostile-v0_2` plugin: each is refused
//! with the reason, and the hub's other plugins do not notice.

use hub_tests::{HubOptions, TestHub};
use serde_json::{Value, json};
use std::time::Duration;

const PLUGIN: &str = "hostile-v0_2";

async fn get(client: &mut hub_tests::Client, identity: &str) -> anyhow::Result<Value> {
    client
        .call(PLUGIN, "get_attributes", identity, json!({}))
        .await
}

fn refused(reply: &Value, says: &str) {
    assert_eq!(reply["code"], "plugin_failed", "{reply}");
    let error = reply["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(says),
        "the error should say {says:?}: {reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misusing_slots_and_metadata_is_refused_and_costs_the_plugin_alone() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let installed = client
        .request(
            json!({"domain": "plugin", "service": "install", "service_data": {
                "component": xtask::guest(PLUGIN)?, "manifest": xtask::manifest(PLUGIN)?,
            }}),
        )
        .await?;
    assert_eq!(installed["success"], true, "{installed}");
    let (devices, _) = client.discover(Some(PLUGIN)).await?;
    assert_eq!(devices.len(), 4, "{devices:?}");

    let well = get(&mut client, "well").await?;
    assert_eq!(
        well["result"]["device"]["instances"][0]["attrs"][0]["val"], 1,
        "{well}"
    );
    // Instance 0 declared twice would have its attributes sent twice over
    // with every read.
    refused(
        &get(&mut client, "twice").await?,
        "instance 0 declared twice",
    );
    refused(
        &get(&mut client, "short").await?,
        "1 values for the 2 attributes",
    );

    // `stray` emits changes of a slot it never declared, as fast as it
    // can: each is charged to its event budget, which stops its watcher.
    let mut crashes = Vec::new();
    for _ in 0..100 {
        crashes = hub.audited(PLUGIN, "crash");
        if !crashes.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        crashes
            .iter()
            .any(|c| c.to_string().contains("events a second")),
        "{crashes:?}"
    );
    // No change of an undeclared slot reached a client.
    client.discover(Some("yeelight")).await?;
    let bulb = hub.sim.bulbs()[0].id().to_string();
    let good = client
        .call("yeelight", "get_attributes", &bulb, json!({}))
        .await?;
    assert_eq!(good["success"], true, "{good}");
    while let Ok(Ok(frame)) =
        tokio::time::timeout(Duration::from_millis(200), client.next_message()).await
    {
        let text = frame.to_text().unwrap_or_default().to_string();
        assert!(!text.contains("\"identity\":\"stray\""), "{text}");
    }
    Ok(())
}
