//! Names and areas an operator gives devices, kept by the hub, and a token
//! limited to an area: a kitchen tablet sees and controls only the kitchen.

use hub_tests::{Client, HubOptions, TestHub};
use serde_json::{Value, json};
use std::time::Duration;

async fn set_device(client: &mut Client, identity: &str, data: Value) -> anyhow::Result<Value> {
    client.call("yeelight", "set_device", identity, data).await
}

fn listed(devices: &[Value], identity: &str) -> Value {
    let found = devices.iter().find(|d| d["identity"] == identity);
    found.cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_names_and_areas_stay_and_show_everywhere() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let (lamp, other) = (hub.sim.bulbs()[0].id(), hub.sim.bulbs()[1].id());
    let mut operator = hub.client().await?;
    operator.discover(Some("yeelight")).await?;

    let set = set_device(
        &mut operator,
        lamp,
        json!({"name": "Kitchen lamp", "area": "kitchen"}),
    )
    .await?;
    assert_eq!(set["success"], true, "{set}");
    // Found again, the plugin reports its own name: the operator's stays.
    let (found, _) = operator.discover(Some("yeelight")).await?;
    let shown = listed(&found, lamp);
    assert_eq!(
        (shown["name"].clone(), shown["area"].clone()),
        (json!("Kitchen lamp"), json!("kitchen"))
    );
    assert_eq!(listed(&found, other)["name"], "Yeelight color");
    assert_eq!(listed(&found, other)["area"], Value::Null);
    let read = operator
        .call("yeelight", "get_attributes", lamp, json!({}))
        .await?;
    assert_eq!(read["result"]["device"]["name"], "Kitchen lamp", "{read}");
    assert_eq!(
        listed(&operator.list_devices().await?, lamp)["area"],
        "kitchen"
    );

    // Only the name changes; null clears it and the plugin's shows again.
    set_device(&mut operator, lamp, json!({"name": null})).await?;
    let now = listed(&operator.list_devices().await?, lamp);
    assert_eq!(
        (now["name"].clone(), now["area"].clone()),
        (json!("Yeelight color"), json!("kitchen"))
    );

    let stored = hub.hub.store().labels()?;
    assert!(
        stored
            .iter()
            .any(|(plugin, identity, label)| plugin == "yeelight"
                && identity == lamp
                && label.area.as_deref() == Some("kitchen")),
        "kept in SQLite: {stored:?}"
    );
    assert_eq!(hub.audited("yeelight", "label").len(), 2);

    let mut user = hub.user_client().await?;
    let refused = set_device(&mut user, other, json!({"area": "kitchen"})).await?;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    for bad in [
        json!({"name": "Lamp\u{202E}(approved)"}),
        json!({"area": ""}),
        json!({"name": 7}),
        json!({}),
    ] {
        let refused = set_device(&mut operator, other, bad.clone()).await?;
        assert_eq!(refused["success"], false, "{bad}: {refused}");
    }
    let unknown = set_device(&mut operator, "no-such-device", json!({"area": "kitchen"})).await?;
    assert_eq!(unknown["code"], "not_found", "{unknown}");

    // A plugin removed takes its labels along: one installed later under
    // its id inherits no area, and so no area token's reach.
    let removed = operator
        .request(json!({"domain": "plugin", "service": "remove", "service_data": {"plugin": "yeelight"}}))
        .await?;
    assert_eq!(removed["success"], true, "{removed}");
    let stored = hub.hub.store().labels()?;
    assert!(
        stored.iter().all(|(plugin, ..)| plugin != "yeelight"),
        "{stored:?}"
    );
    assert!(hub.hub.label("yeelight", lamp).is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kitchen_token_sees_and_controls_only_the_kitchen() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulbs = hub.sim.bulbs();
    let (lamp, other) = (bulbs[0].id(), bulbs[1].id());
    let mut operator = hub.client().await?;
    operator.discover(Some("yeelight")).await?;
    for bulb in bulbs {
        hub_tests::until("watcher on the bulb", || bulb.connections() > 0).await?;
    }
    set_device(&mut operator, lamp, json!({"area": "kitchen"})).await?;
    set_device(&mut operator, other, json!({"area": "bedroom"})).await?;

    let mut tablet = hub.kitchen_client().await?;
    let hello = tablet.request(json!({"service": "hello"})).await?;
    assert_eq!(
        hello["result"]["caller"]["areas"],
        json!(["kitchen"]),
        "{hello}"
    );
    let devices = tablet.list_devices().await?;
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0]["identity"], lamp);
    let (found, _) = tablet.discover(Some("yeelight")).await?;
    let found: Vec<_> = found.iter().map(|d| d["identity"].clone()).collect();
    assert_eq!(found, [json!(lamp)]);

    let write = json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 33}]});
    for (service, data) in [
        ("get_attributes", json!({})),
        ("set_attributes", write.clone()),
        ("check_update", json!({})),
    ] {
        let refused = tablet.call("yeelight", service, other, data).await?;
        assert_eq!(refused["code"], "forbidden", "{service}: {refused}");
    }
    assert_eq!(
        bulbs[1].prop("bright"),
        "80",
        "the bedroom bulb was not touched"
    );
    let done = tablet
        .call("yeelight", "set_attributes", lamp, write)
        .await?;
    assert_eq!(done["success"], true, "{done}");

    // Events: the kitchen's only, while the operator sees both.
    bulbs[1]
        .execute("set_bright", &[json!(21)])
        .map_err(anyhow::Error::msg)?;
    bulbs[0]
        .execute("set_bright", &[json!(22)])
        .map_err(anyhow::Error::msg)?;
    operator.event(other, "brightness").await?;
    let kitchen = tablet
        .wait_for(|f| f["type"] == "attribute_change" && f["attr"]["val"] == 22)
        .await?;
    assert_eq!(kitchen["identity"], lamp);
    let bedroom = tokio::time::timeout(
        Duration::from_millis(500),
        tablet.event(other, "brightness"),
    )
    .await;
    assert!(
        !matches!(bedroom, Ok(Ok(_))),
        "a bedroom event reached the kitchen: {bedroom:?}"
    );

    // Moved out of the kitchen, the lamp is out of reach at once.
    set_device(&mut operator, lamp, json!({"area": null})).await?;
    let refused = tablet
        .call("yeelight", "get_attributes", lamp, json!({}))
        .await?;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert!(tablet.list_devices().await?.is_empty());
    Ok(())
}
