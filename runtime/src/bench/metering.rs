//! Row 8: what metering costs: the hub with fuel and epochs, with epochs
//! only, and with no metering.

use super::fixtures::{bench_hub, closed_loop, get_frames};
use super::load::{self};
use super::stats::{median, median_run, paired_ratios};
use super::{Bench, Row, json_row};
use crate::plugins::Metering;
use serde_json::{Value, json};

pub async fn metering_cost(b: &Bench) -> anyhow::Result<Row> {
    let variants = [
        (
            "fuel + epoch",
            Metering {
                fuel: true,
                epoch: true,
            },
        ),
        (
            "epoch only",
            Metering {
                fuel: false,
                epoch: true,
            },
        ),
        (
            "no metering",
            Metering {
                fuel: false,
                epoch: false,
            },
        ),
    ];
    let mut hubs = Vec::new();
    for (i, (_, metering)) in variants.iter().enumerate() {
        hubs.push(bench_hub(b, &format!("row8-{i}"), *metering).await?);
    }
    let targets: Vec<_> = hubs
        .iter()
        .map(|h| (h.url.as_str(), get_frames()))
        .collect();
    let runs = load::in_turn(&targets, closed_loop(b), b.options.rounds()).await?;
    let mut figures = Vec::new();
    let mut json = serde_json::Map::new();
    for ((label, _), variant) in variants.iter().zip(&runs) {
        let ratio = median(paired_ratios(variant, &runs[0]));
        figures.push((
            label.to_string(),
            format!(
                "{:.0}/s ({ratio:.2}x of fuel + epoch)",
                median_run(variant).per_second
            ),
        ));
        json.insert(
            label.to_string(),
            json!({"rounds": variant, "ratio": ratio}),
        );
    }
    Ok(Row {
        name: "8 metering cost (row 2)",
        json: json_row(&figures, Value::Object(json)),
        figures,
        targets: vec![],
    })
}
