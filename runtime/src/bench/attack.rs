//! Row 9: the hub under attack in aggregate. A hostile plugin with the
//! hub's default budget reports 500 devices whose watchers each hoard all
//! the memory they can, burns CPU in a watcher and floods events, while a
//! good plugin (Yeelight, one simulated bulb) is asked for its state. The
//! figures are the promise: the hub's resident memory, and the good
//! plugin's latency beside its unloaded latency from the same run.

use super::load::{self, new_histogram};
use super::probes::resident_kib;
use super::{Bench, Row, json_row, us};
use crate::plugins::HubSettings;
use hub_sim::yeelight::{SimConfig, YeelightSim};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The hub may grow by the hostile plugin's memory budget plus this.
const SLACK_KIB: u64 = 64 << 10;

pub(super) async fn under_attack(b: &Bench) -> anyhow::Result<Row> {
    let sim = YeelightSim::on_lan(SimConfig::loopback(1)).await?;
    // The hub's default budget, not the benchmark's raised one.
    let settings = HubSettings {
        cache_dir: b.work.join("compiled"),
        ..HubSettings::new(b.dir("attack"))
    };
    let budget_kib = settings.limits.quotas.total_memory_bytes >> 10;
    let discovery = sim.discovery_addr().to_string();
    let attacks = vec![
        ("hoard", "500".to_string()),
        ("burn", "on".to_string()),
        ("flood", "on".to_string()),
    ];
    let served = b
        .serve(
            settings,
            &[
                ("yeelight", vec![("discovery", discovery)]),
                ("hostile", attacks),
            ],
        )
        .await?;
    served.hub.plugin("yeelight")?.discover().await?;
    let bulb = sim.bulbs()[0].id().to_string();
    let mut ws = load::connect(&served.url, true).await?;
    let samples = if b.options.quick { 200 } else { 2000 };
    let get = |i: usize| json!({"id": i, "domain": "yeelight", "service": "get_attributes", "identity": bulb});

    let mut unloaded = new_histogram();
    for i in 0..samples {
        unloaded.record(super::device_round_trip::round_trip(&mut ws, &get(i)).await?)?;
    }
    let before = resident_kib()?;
    let peak = Arc::new(AtomicU64::new(before));
    let sampler = tokio::spawn(sample_peak(peak.clone()));
    let hostile = served.hub.plugin("hostile")?;
    let found = hostile.discover().await?;
    // Let the hoarders take what they can before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut loaded = new_histogram();
    for i in samples..2 * samples {
        loaded.record(super::device_round_trip::round_trip(&mut ws, &get(i)).await?)?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    sampler.abort();
    let held = hostile.budget_use();
    let peak = peak.load(Ordering::Relaxed);
    let grew = peak.saturating_sub(before);

    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64;
    let figures = vec![
        (
            "good plugin get p50/p99".into(),
            format!(
                "unloaded {} / {}, under attack {} / {}",
                us(q(&unloaded, 0.5)),
                us(q(&unloaded, 0.99)),
                us(q(&loaded, 0.5)),
                us(q(&loaded, 0.99))
            ),
        ),
        (
            "hub resident".into(),
            format!(
                "{:.1} MiB before, peak {:.1} MiB (+{:.1})",
                before as f64 / 1024.0,
                peak as f64 / 1024.0,
                grew as f64 / 1024.0
            ),
        ),
        (
            "hostile holds".into(),
            format!(
                "{} devices of 500 reported, {} instances, {} MiB of its {} MiB budget",
                found.devices.len(),
                held.instances,
                held.memory_bytes >> 20,
                held.total_memory_bytes >> 20
            ),
        ),
    ];
    let targets = vec![
        (
            "good plugin p50 within 2x of unloaded".into(),
            q(&loaded, 0.5) <= 2.0 * q(&unloaded, 0.5),
        ),
        (
            "hub grows by at most the plugin's budget + 64 MiB".into(),
            grew <= budget_kib + SLACK_KIB,
        ),
    ];
    Ok(Row {
        name: "9 hub under attack (hostile plugin)",
        json: json_row(
            &figures,
            json!({
                "unloaded_p50_us": q(&unloaded, 0.5),
                "loaded_p50_us": q(&loaded, 0.5),
                "loaded_p99_us": q(&loaded, 0.99),
                "resident_before_kib": before,
                "resident_peak_kib": peak,
                "hostile_memory_bytes": held.memory_bytes,
            }),
        ),
        figures,
        targets,
    })
}

/// Records the largest resident memory seen, every 50 ms.
async fn sample_peak(peak: Arc<AtomicU64>) {
    loop {
        if let Ok(now) = resident_kib() {
            peak.fetch_max(now, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
