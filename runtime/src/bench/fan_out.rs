//! Row 5: events from simulated bulbs fanned out to many clients.

use super::load::{self, new_histogram};
use super::{Bench, Row, json_row, us};
use crate::sync::MutexHeld;
use futures_util::StreamExt;
use hub_sim::yeelight::{SimConfig, YeelightSim};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// 100 clients, 10 bulbs changing 100 times a second each (1,000 events/s).
pub async fn event_fan_out(b: &Bench) -> anyhow::Result<Row> {
    const CLIENTS: usize = 100;
    const BULBS: usize = 10;
    let sim = YeelightSim::on_lan(SimConfig::loopback(BULBS)).await?;
    let served = b
        .serve(
            b.settings("row5"),
            &[(
                "yeelight",
                vec![("discovery", sim.discovery_addr().to_string())],
            )],
        )
        .await?;
    super::discover_all(&served.hub).await?;
    // Every watcher connects to its bulb before the first change.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let sent: Arc<Mutex<HashMap<(String, i64), Instant>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let ws = load::connect(&served.url, true).await?;
        clients.push(tokio::spawn(receive_events(
            ws,
            sent.clone(),
            Instant::now() + b.options.run_for() + Duration::from_secs(2),
        )));
    }
    let period = Duration::from_millis(10);
    let rounds = (b.options.run_for().as_millis() / period.as_millis()) as i64;
    let mut ticker = tokio::time::interval(period);
    for round in 0..rounds {
        ticker.tick().await;
        let level = 1 + round % 100;
        for bulb in sim.bulbs() {
            sent.held()
                .insert((bulb.id().to_string(), level), Instant::now());
            bulb.execute("set_bright", &[json!(level), json!("sudden")])
                .map_err(anyhow::Error::msg)?;
        }
    }
    let emitted = rounds as u64 * BULBS as u64;
    let mut histogram = new_histogram();
    let mut lost = 0;
    for client in clients {
        let (h, received) = client.await??;
        histogram.add(&h)?;
        lost += emitted.saturating_sub(received);
    }
    let (p50, p99) = (
        histogram.value_at_quantile(0.5) as f64,
        histogram.value_at_quantile(0.99) as f64,
    );
    let figures = vec![
        (
            "events emitted".into(),
            format!(
                "{emitted} ({} per second)",
                emitted as f64 / b.options.run_for().as_secs_f64()
            ),
        ),
        (
            "delivery p50/p99".into(),
            format!("{} / {}", us(p50), us(p99)),
        ),
        ("events lost (all clients)".into(), lost.to_string()),
    ];
    let targets = vec![
        ("p99 < 20 ms".into(), p99 < 20_000.0),
        ("nothing lost".into(), lost == 0),
    ];
    Ok(Row {
        name: "5 event fan-out (100 clients)",
        json: json_row(
            &figures,
            json!({"p50_us": p50, "p99_us": p99, "lost": lost, "emitted": emitted}),
        ),
        figures,
        targets,
    })
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Records every brightness event's delay until `end`; returns how many arrived.
async fn receive_events(
    mut ws: Ws,
    sent: Arc<Mutex<HashMap<(String, i64), Instant>>>,
    end: Instant,
) -> anyhow::Result<(hdrhistogram::Histogram<u64>, u64)> {
    let mut histogram = new_histogram();
    let mut received = 0;
    while let Ok(Some(frame)) = tokio::time::timeout_at(end.into(), ws.next()).await {
        let Message::Text(text) = frame? else {
            continue;
        };
        let event: Value = serde_json::from_str(&text)?;
        if event["attr"]["attribute"] != "brightness" {
            continue;
        }
        let key = (
            event["identity"].as_str().unwrap_or_default().to_string(),
            event["attr"]["val"].as_i64().unwrap_or_default(),
        );
        if let Some(at) = sent.held().get(&key) {
            histogram.record(at.elapsed().as_micros().max(1) as u64)?;
            received += 1;
        }
    }
    Ok((histogram, received))
}
