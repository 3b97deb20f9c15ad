//! A plugin whose instances are big (Python's hold about 12 MiB each) asks
//! in its manifest for its devices to share instances: eight bulbs served
//! by two instances, each bulb still read and written as itself, and no
//! instance spent on watching devices that have nothing to watch.

use hub_tests::{HubOptions, TestHub, attr};
use serde_json::json;

const BULBS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_sharing_two_instances_each_answer_as_themselves() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        bulbs: BULBS,
        ..HubOptions::default()
    })
    .await?;
    let (component, manifest) = (xtask::guest("pylamp")?, xtask::manifest("pylamp")?);
    let config = [(
        "discovery".to_string(),
        hub.sim.discovery_addr().to_string(),
    )];
    tokio::task::block_in_place(|| {
        hub.hub
            .install("tests", &component, &manifest, config.into_iter().collect())
    })?;
    hub.hub
        .approve("tests", "pylamp", &[hub.sim.network().into()])?;
    let bulbs = hub.sim.bulbs();
    for (i, bulb) in bulbs.iter().enumerate() {
        bulb.execute("set_bright", &[json!(10 + i)])
            .map_err(anyhow::Error::msg)?;
    }

    let mut client = hub.client().await?;
    let (devices, _) = client.discover(Some("pylamp")).await?;
    assert_eq!(devices.len(), BULBS, "{devices:?}");
    for (i, bulb) in bulbs.iter().enumerate() {
        let read = client
            .call("pylamp", "get_attributes", bulb.id(), json!({}))
            .await?;
        assert_eq!(read["success"], true, "{read}");
        assert_eq!(brightness(&read), Some(10 + i as i64), "{read}");
    }
    let written = client
        .call(
            "pylamp",
            "set_attributes",
            bulbs[3].id(),
            json!({"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 77}]}),
        )
        .await?;
    assert_eq!(written["success"], true, "{written}");
    let levels: Vec<String> = bulbs.iter().map(|b| b.prop("bright")).collect();
    let expected: Vec<String> = (0..BULBS)
        .map(|i| if i == 3 { 77 } else { 10 + i }.to_string())
        .collect();
    assert_eq!(levels, expected, "only the bulb written to changed");

    let budget = hub.hub.plugin("pylamp")?.budget_use();
    println!(
        "{BULBS} bulbs in {} instances holding {} MiB",
        budget.instances,
        budget.memory_bytes >> 20
    );
    assert_eq!(
        budget.instances, 2,
        "the devices share the manifest's two instances, and none watches: {budget:?}"
    );
    Ok(())
}

fn brightness(read: &serde_json::Value) -> Option<i64> {
    attr(&read["result"]["device"], "brightness")["val"].as_i64()
}
