//! Row 6: a cold start, compiling every installed plugin.

use super::fixtures::prepare;
use super::{Bench, Row, json_row, ms};
use crate::plugins::{Hub, HubSettings};
use serde_json::json;
use std::time::{Duration, Instant};

pub async fn cold_start(b: &Bench) -> anyhow::Result<Row> {
    let cache = b.work.join("row6-cache");
    let data_dir = prepare(b, "row6", 20, 1, &cache)?;
    let start = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let settings = HubSettings {
            cache_dir: cache.clone(),
            ..HubSettings::new(data_dir.clone())
        };
        let hub = Hub::open(settings)?;
        let failed = tokio::task::block_in_place(|| hub.go_live())?;
        anyhow::ensure!(failed.is_empty(), "plugins failed to start: {failed:?}");
        anyhow::ensure!(hub.plugins().len() == 20, "not all 20 plugins started");
        Ok(started.elapsed())
    };
    std::fs::remove_dir_all(&cache)?;
    let cold = start()?;
    let warm = start()?;
    let ratio = cold.as_secs_f64() / warm.as_secs_f64();
    let figures = vec![
        ("20 plugins, empty cache".into(), ms(cold)),
        ("20 plugins, warm cache".into(), ms(warm)),
        ("cold / warm".into(), format!("{ratio:.1}x")),
    ];
    let targets = vec![
        ("warm < 100 ms".into(), warm < Duration::from_millis(100)),
        ("warm >= 10x faster than cold".into(), ratio >= 10.0),
    ];
    Ok(Row {
        name: "6 cold start",
        json: json_row(
            &figures,
            json!({"cold_ms": cold.as_secs_f64() * 1e3, "warm_ms": warm.as_secs_f64() * 1e3, "ratio": ratio}),
        ),
        figures,
        targets,
    })
}
