//! The multiplication attack, alone in its binary because it measures the
//! process's resident memory (the test hub runs in this process): an
//! approved plugin whose manifest raised its own memory to 256 MiB reports
//! hundreds of devices, and each device's watcher takes all the memory it
//! can and holds it without returning. The plugin's budget as a whole must
//! hold: at most 64 devices registered, at most 256 MiB of linear memory
//! across all its instances, the hub up and a good plugin answering.

use hub_tests::{HubOptions, TestHub, resident_bytes};
use serde_json::json;
use std::time::{Duration, Instant};

/// What the hub may hold beyond its resident memory before the attack:
/// the plugin's 256 MiB budget, and 64 MiB for the instances' bookkeeping
/// and the allocator's slack.
const BOUND: u64 = (256 + 64) << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_devices_each_holding_memory_stay_within_the_plugins_budget() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        hostile: vec![("hoard", "500".into())],
        ..HubOptions::default()
    })
    .await?;
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let bulb = hub.sim.bulbs()[0].id().to_string();
    let unloaded = median_get(&mut client, &bulb).await?;
    let before = resident_bytes()?;

    let (devices, done) = client.discover(Some("hostile")).await?;
    assert_eq!(devices.len(), 64, "the plugin's budget of devices");
    let refused = done["result"]["errors"].to_string();
    assert!(
        refused.contains("quota_exceeded") && refused.contains("more than 64 devices"),
        "{done}"
    );

    // Every hoarding watcher grabs what it can; sample for a while.
    let mut peak = before;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(8) {
        peak = peak.max(resident_bytes()?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let budget = hub.hub.plugin("hostile")?.budget_use();
    let loaded = median_get(&mut client, &bulb).await?;
    println!(
        "multiplication attack: resident {} MiB before, peak {} MiB (+{} MiB, bound +{} MiB); \
         hostile holds {} MiB in {} instances; good plugin median {:.3} ms unloaded, {:.3} ms under attack",
        before >> 20,
        peak >> 20,
        (peak - before) >> 20,
        BOUND >> 20,
        budget.memory_bytes >> 20,
        budget.instances,
        unloaded.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3,
    );
    assert!(
        budget.memory_bytes > 128 << 20,
        "the attack did run: {budget:?}"
    );
    assert!(
        budget.memory_bytes <= budget.total_memory_bytes,
        "{budget:?}"
    );
    assert!(
        peak - before <= BOUND,
        "resident memory grew by {} MiB",
        (peak - before) >> 20
    );
    assert!(
        loaded <= unloaded * 2 + Duration::from_millis(5),
        "the good plugin slowed down: {loaded:?} against {unloaded:?}"
    );

    let audit = hub.hub.store().audit(&Default::default())?;
    let stopped = audit.iter().any(|e| {
        e.action == "crash"
            && e.detail
                .to_string()
                .contains("would pass its budget of 256 MiB")
    });
    assert!(stopped, "the audit log says why the hoarders stopped");
    hub.hub.audit().summarize();
    let audit = hub.hub.store().audit(&Default::default())?;
    assert!(
        audit.iter().any(|e| e.action == "refused_summary"
            && e.detail["quota_hits"]["max_devices"].as_u64() > Some(0)),
        "the devices refused are counted"
    );
    Ok(())
}

async fn median_get(client: &mut hub_tests::Client, bulb: &str) -> anyhow::Result<Duration> {
    let mut samples = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let reply = client
            .call("yeelight", "get_attributes", bulb, json!({}))
            .await?;
        samples.push(started.elapsed());
        assert_eq!(reply["success"], true, "{reply}");
    }
    samples.sort();
    Ok(samples[samples.len() / 2])
}
