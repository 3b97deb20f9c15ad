//! The devices the hub knows, listed with their last state and whether they
//! answer, without asking any of them; availability pushed as it changes.

use hub::caps::Quotas;
use hub_sim::yeelight::Fault;
use hub_tests::{HubOptions, TestHub, attr};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BULBS: usize = 100;

fn brightness(device: &Value) -> Option<i64> {
    attr(device, "brightness")["val"].as_i64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_devices_are_listed_with_their_state_without_asking_any() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        bulbs: BULBS,
        quotas: Quotas {
            max_devices: 128,
            max_instances: 256,
            total_memory_bytes: 1 << 30,
            connections_per_second: 1000,
            ..Quotas::default()
        },
        ..HubOptions::default()
    })
    .await?;
    let bulbs = hub.sim.bulbs();
    for (i, bulb) in bulbs.iter().enumerate() {
        bulb.execute("set_bright", &[json!(1 + i % 100)])
            .map_err(anyhow::Error::msg)?;
    }
    let mut client = hub.client().await?;
    let (found, _) = client.discover(Some("yeelight")).await?;
    assert_eq!(found.len(), BULBS);
    let listed = client.list_devices().await?;
    assert_eq!(listed.len(), BULBS, "known as soon as discovered");
    let unread = listed.iter().find(|d| d["identity"] == bulbs[0].id());
    assert_eq!(
        unread.map(|d| (d["availability"].clone(), d["instances"].clone())),
        Some((json!("unknown"), Value::Null)),
        "nothing known of a device not heard from yet"
    );

    let reading = Instant::now();
    for bulb in bulbs {
        let read = client
            .call("yeelight", "get_attributes", bulb.id(), json!({}))
            .await?;
        assert_eq!(read["success"], true, "{read}");
    }
    let read_in = reading.elapsed();
    let listing = Instant::now();
    let devices = client.list_devices().await?;
    let listed_in = listing.elapsed();
    let identities: Vec<_> = devices.iter().map(|d| d["identity"].clone()).collect();
    let mut sorted = identities.clone();
    sorted.sort_by_key(|identity| identity.to_string());
    assert_eq!(identities, sorted, "in order of plugin, then identity");
    println!(
        "{BULBS} devices: list_devices {:.2} ms, {BULBS} get_attributes one after another {:.2} ms",
        listed_in.as_secs_f64() * 1e3,
        read_in.as_secs_f64() * 1e3
    );
    for bulb in bulbs {
        let listed = devices.iter().find(|d| d["identity"] == bulb.id());
        let listed = listed.cloned().unwrap_or_default();
        assert_eq!(listed["plugin_id"], "yeelight");
        assert_eq!(listed["availability"], "online", "{listed}");
        assert!(listed["last_seen"].is_string(), "{listed}");
        assert_eq!(
            brightness(&listed).map(|b| b.to_string()),
            Some(bulb.prop("bright")),
            "{listed}"
        );
    }

    // A page that starts after the first device holds the others.
    let first = &devices[0];
    let rest = client
        .request(
            json!({"service": "list_devices", "service_data": {"after": {
            "plugin_id": first["plugin_id"], "identity": first["identity"]}}}),
        )
        .await?;
    let rest = rest["result"]["devices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rest.len(), BULBS - 1);
    assert!(rest.iter().all(|d| d["identity"] != first["identity"]));

    // Devices that no longer answer are still listed at once, as last known.
    for bulb in bulbs {
        bulb.set_fault(Fault::Hang);
    }
    let listing = Instant::now();
    let devices = client.list_devices().await?;
    assert_eq!(devices.len(), BULBS);
    assert!(devices.iter().all(|d| brightness(d).is_some()));
    assert!(
        listing.elapsed() < Duration::from_secs(2),
        "listing waited for devices: {:?}",
        listing.elapsed()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_stops_goes_offline_and_online_again_when_it_is_back() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let (bulb, hung) = (&hub.sim.bulbs()[0], &hub.sim.bulbs()[1]);
    let mut client = hub.client().await?;
    client
        .request(json!({"service": "subscribe", "domain": "yeelight",
            "service_data": {"events": ["device_availability"]}}))
        .await?;
    client.discover(Some("yeelight")).await?;
    let availability = |identity: &str, state: &str| {
        let (identity, state) = (identity.to_string(), state.to_string());
        move |f: &Value| {
            f["type"] == "device_availability"
                && f["identity"] == identity.as_str()
                && f["availability"] == state.as_str()
        }
    };
    for device in [bulb, hung] {
        hub_tests::until("watcher on the bulb", || device.connections() > 0).await?;
        client
            .call("yeelight", "get_attributes", device.id(), json!({}))
            .await?;
        client.wait_for(availability(device.id(), "online")).await?;
    }

    // Its watcher's connection closes: offline at once.
    let stopped = Instant::now();
    bulb.set_fault(Fault::DropConnections);
    client.wait_for(availability(bulb.id(), "offline")).await?;
    let offline_after = stopped.elapsed();
    let listed = client.list_devices().await?;
    let entry = listed.iter().find(|d| d["identity"] == bulb.id());
    assert_eq!(
        entry.map(|d| d["availability"].clone()),
        Some(json!("offline"))
    );

    // The watcher's next attempt finds it again.
    let restarted = Instant::now();
    bulb.set_fault(Fault::None);
    client.wait_for(availability(bulb.id(), "online")).await?;
    let online_after = restarted.elapsed();
    println!(
        "offline {:.0} ms after the device stopped, online {:.0} ms after it was back",
        offline_after.as_secs_f64() * 1e3,
        online_after.as_secs_f64() * 1e3
    );
    assert!(offline_after < Duration::from_secs(2), "{offline_after:?}");

    // A call that times out says so too.
    hung.set_fault(Fault::Hang);
    let write = json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 10}]});
    let written = client
        .call("yeelight", "set_attributes", hung.id(), write)
        .await?;
    assert_eq!(written["code"], "timeout", "{written}");
    client.wait_for(availability(hung.id(), "offline")).await?;
    Ok(())
}
