//! One hub serves plugins built against each released version of the
//! device protocol, side by side, and refuses a version it does not know.
//! (The hostile plugin, on 0.1, runs beside the 0.2 plugins in every other
//! suite too: its floods take the 0.1 event path.)

use hub_tests::{HubOptions, TestHub};
use serde_json::{Value, json};

async fn install(client: &mut hub_tests::Client, name: &str) -> anyhow::Result<Value> {
    client
        .request(
            json!({"domain": "plugin", "service": "install", "service_data": {
                "component": xtask::guest(name)?, "manifest": xtask::manifest(name)?,
            }}),
        )
        .await
}

/// The attributes of `identity`, by name.
async fn attributes(
    client: &mut hub_tests::Client,
    plugin: &str,
    identity: &str,
) -> anyhow::Result<Value> {
    let reply = client
        .call(plugin, "get_attributes", identity, json!({}))
        .await?;
    assert_eq!(reply["success"], true, "{plugin}: {reply}");
    let attrs = reply["result"]["device"]["instances"][0]["attrs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(attrs
        .into_iter()
        .map(|a| (a["attribute"].as_str().unwrap_or_default().to_string(), a))
        .collect::<serde_json::Map<_, _>>()
        .into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_of_both_versions_run_side_by_side_in_one_hub() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    for name in ["bench", "bench-v0_1"] {
        let installed = install(&mut client, name).await?;
        assert_eq!(installed["success"], true, "{installed}");
    }
    let list = client
        .request(json!({"domain": "plugin", "service": "list"}))
        .await?;
    let protocol = |id: &str| {
        let plugins = list["result"].as_array().cloned().unwrap_or_default();
        let plugin = plugins.into_iter().find(|p| p["id"] == id);
        plugin.map(|p| p["protocol"].clone()).unwrap_or_default()
    };
    assert_eq!(protocol("bench"), "hub:device@0.2.0", "{list}");
    assert_eq!(protocol("yeelight"), "hub:device@0.2.0", "{list}");
    assert_eq!(protocol("bench-v0_1"), "hub:device@0.1.0", "{list}");
    assert_eq!(protocol("hostile"), "hub:device@0.1.0", "{list}");

    let (devices, done) = client.discover(None).await?;
    assert_eq!(done["result"]["errors"], json!([]), "{done}");
    for plugin in ["bench", "bench-v0_1", "yeelight", "hostile"] {
        assert!(
            devices.iter().any(|d| d["plugin_id"] == plugin),
            "{plugin} found nothing: {devices:?}"
        );
    }

    // The same device written for either version looks the same to a
    // client; only 0.2 can say a value's unit.
    let new = attributes(&mut client, "bench", "dev-0").await?;
    let old = attributes(&mut client, "bench-v0_1", "dev-0").await?;
    for attrs in [&new, &old] {
        assert_eq!(attrs["power"]["val"], "on", "{attrs}");
        assert_eq!(attrs["brightness"]["val"], 50, "{attrs}");
        assert_eq!(attrs["brightness"]["max"], 100, "{attrs}");
    }
    assert_eq!(new["brightness"]["unit"], "%", "{new}");
    assert_eq!(old["brightness"].get("unit"), None, "{old}");

    for plugin in ["bench", "bench-v0_1"] {
        let write =
            json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 42}]});
        let set = client
            .call(plugin, "set_attributes", "dev-0", write)
            .await?;
        assert_eq!(set["success"], true, "{plugin}: {set}");
        let read = attributes(&mut client, plugin, "dev-0").await?;
        assert_eq!(read["brightness"]["val"], 42, "{plugin}: {read}");
        let refused =
            json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 101}]});
        let refused = client
            .call(plugin, "set_attributes", "dev-0", refused)
            .await?;
        assert_eq!(refused["code"], "invalid_argument", "{plugin}: {refused}");
    }

    // A 0.2 plugin's change reaches clients by the slot it names.
    let bulb = hub.sim.bulbs()[0].clone();
    let identity = bulb.id().to_string();
    let bulbs = attributes(&mut client, "yeelight", &identity).await?;
    assert_eq!(bulbs["brightness"]["unit"], "%", "{bulbs}");
    hub_tests::until("the bulb's watcher", || bulb.connections() >= 2).await?;
    let write = json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 7}]});
    let set = client
        .call("yeelight", "set_attributes", &identity, write)
        .await?;
    assert_eq!(set["success"], true, "{set}");
    let event = client.event(&identity, "brightness").await?;
    assert_eq!(event["attr"]["val"], 7, "{event}");
    assert_eq!(event["attr"]["val_type"], "int", "{event}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_of_a_version_the_hub_does_not_know_is_refused_naming_it() -> anyhow::Result<()>
{
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let refused = install(&mut client, "future-version").await?;
    assert_eq!(refused["code"], "invalid_argument", "{refused}");
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("targets hub:device@0.9.0") && error.contains("serves 0.1.0 and 0.2.0"),
        "{refused}"
    );
    let list = client
        .request(json!({"domain": "plugin", "service": "list"}))
        .await?;
    let ids: Vec<_> = list["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["id"].clone())
        .collect();
    assert!(!ids.contains(&json!("future-version")), "{list}");
    Ok(())
}
