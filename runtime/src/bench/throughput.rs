//! Rows 1 and 2: the floor (a bare WebSocket echo) and the hub answering
//! `get_attributes` from a plugin, under the same closed-loop load.

use super::fixtures::{bench_hub, closed_loop, get_frames};
use super::load::{self, Frames, Load, Measured};
use super::stats::{median, median_run, paired_ratios};
use super::{Bench, Row, json_row, us};
use crate::plugins::Metering;
use serde_json::json;
use std::sync::Arc;

/// Rows 1 and 2 (row 2 when wanted), their rounds taken in turn. At half
/// the hub's throughput the echo is offered the same load too: the tail of
/// the floor under the load the hub's tail is measured at.
pub async fn floor_and_hub(b: &Bench) -> anyhow::Result<Vec<Row>> {
    let echo = format!("ws://{}/", load::echo_server().await?);
    let echo_frames: Frames = Arc::new(|_, id| format!("{{\"id\":{id},\"service\":\"echo\"}}"));
    let served = match b.wants(2) {
        true => Some(bench_hub(b, "row2", Metering::default()).await?),
        false => None,
    };
    let mut targets = vec![(echo.as_str(), echo_frames)];
    targets.extend(served.as_ref().map(|s| (s.url.as_str(), get_frames())));
    let rounds = b.options.rounds();
    let full = load::in_turn(&targets, closed_loop(b), rounds).await?;
    let half = match full.get(1) {
        Some(hub) => {
            let load = Load {
                pipeline: 1,
                rate: Some(median_run(hub).per_second / 2.0),
                ..closed_loop(b)
            };
            load::in_turn(&targets, load, rounds).await?
        }
        None => Vec::new(),
    };
    let mut rows = vec![floor_row(&full[0], half.first())];
    if let (Some(hub), Some(hub_half)) = (full.get(1), half.get(1)) {
        rows.push(hub_row(hub, &full[0], hub_half));
    }
    Ok(rows)
}

fn listed(ratios: &[f64]) -> String {
    let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    each.join(" / ")
}

pub(super) fn throughput(m: &Measured) -> Vec<(String, String)> {
    vec![
        ("throughput".into(), format!("{:.0}/s", m.per_second)),
        ("p50".into(), us(m.p50_us)),
        ("p99".into(), us(m.p99_us)),
    ]
}

fn median_p99(runs: &[Measured]) -> f64 {
    median(runs.iter().map(|m| m.p99_us).collect())
}

/// The median p99 of `runs`, and how busy the CPUs were meanwhile.
fn tail(runs: &[Measured]) -> String {
    let p99 = us(median_p99(runs));
    let busy: Vec<f64> = runs.iter().filter_map(|m| m.cpu_busy).collect();
    match busy.is_empty() {
        true => p99,
        false => format!("{p99} (CPUs {:.0} % busy)", median(busy) * 100.0),
    }
}

fn floor_row(runs: &[Measured], half: Option<&Vec<Measured>>) -> Row {
    let floor = median_run(runs);
    let mut figures = throughput(&floor);
    figures.push(("rounds (median shown)".into(), runs.len().to_string()));
    if let Some(half) = half {
        figures.push(("p99 at row 2's half load".into(), tail(half)));
    }
    Row {
        name: "1 websocket floor (echo)",
        json: json_row(
            &figures,
            json!({"measured": floor, "rounds": runs, "half": half}),
        ),
        figures,
        targets: vec![],
    }
}

fn hub_row(runs: &[Measured], floor: &[Measured], half: &[Measured]) -> Row {
    let max = median_run(runs);
    let half_p99 = median_p99(half);
    let ratios = paired_ratios(runs, floor);
    let ratio = median(ratios.clone());
    let failed: u64 = runs.iter().chain(half).map(|m| m.failed).sum();
    let mut figures = throughput(&max);
    figures.push(("ratio to row 1".into(), format!("{ratio:.2}")));
    figures.push(("ratio in each round".into(), listed(&ratios)));
    figures.push(("p99 at half load".into(), tail(half)));
    let targets = vec![
        ("throughput >= 0.7 x row 1".into(), ratio >= 0.7),
        ("p99 < 1 ms at half load".into(), half_p99 < 1000.0),
        ("no failed requests".into(), failed == 0),
    ];
    Row {
        name: "2 hub, no device I/O",
        json: json_row(
            &figures,
            json!({"max": max, "rounds": runs, "half": half, "ratio": ratio, "ratios": ratios}),
        ),
        figures,
        targets,
    }
}
