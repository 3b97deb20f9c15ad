//! Row 7: the hub's resident memory with many plugins and devices.

use super::fixtures::prepare;
use super::probes;
use super::{Bench, Row, json_row};
use serde_json::{Value, json};

pub async fn memory(b: &Bench) -> anyhow::Result<Row> {
    let cache = b.work.join("row7-cache");
    let empty = b.dir("row7-empty");
    let base = probes::probe_rss(&empty, &cache, false, 0).await?;
    let mut figures = vec![(
        "empty hub".into(),
        format!("{:.1} MiB", base as f64 / 1024.0),
    )];
    let mut json = serde_json::Map::new();
    for (plugins, devices) in [(1, 0), (20, 0), (100, 0), (1, 1000)] {
        let name = format!("row7-{plugins}-{devices}");
        let data_dir = prepare(b, &name, plugins, devices.max(1), &cache)?;
        let rss = probes::probe_rss(&data_dir, &cache, devices > 0, 0).await?;
        let label = if devices > 0 {
            format!("1 plugin + {devices} devices")
        } else {
            format!("{plugins} plugins")
        };
        figures.push((label.clone(), format!("{:.1} MiB", rss as f64 / 1024.0)));
        json.insert(label, json!(rss));
    }
    let one = prepare(b, "row7-idle", 1, 1, &cache)?;
    let instances = 200;
    let without = probes::probe_rss(&one, &cache, false, 0).await?;
    let with = probes::probe_rss(&one, &cache, false, instances).await?;
    let per_instance_kib = with.saturating_sub(without) as f64 / instances as f64;
    figures.push((
        "per idle instance".into(),
        format!("{per_instance_kib:.0} KiB"),
    ));
    json.insert("per_idle_instance_kib".into(), json!(per_instance_kib));
    let targets = vec![(
        "< 2 MiB per idle instance".into(),
        per_instance_kib < 2048.0,
    )];
    Ok(Row {
        name: "7 memory (resident)",
        json: json_row(&figures, Value::Object(json)),
        figures,
        targets,
    })
}
