//! Row 3: a round trip to a simulated device through the hub, beside the
//! same request sent to the device directly.

use super::load::{self, new_histogram};
use super::{Bench, Row, json_row, us};
use futures_util::{SinkExt, StreamExt};
use hub_sim::yeelight::{SimConfig, YeelightSim};
use serde_json::{Value, json};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

pub async fn device_round_trip(b: &Bench) -> anyhow::Result<Row> {
    let sim = YeelightSim::on_lan(SimConfig {
        commands_per_minute: usize::MAX,
        ..SimConfig::loopback(1)
    })
    .await?;
    let config = vec![
        ("discovery", sim.discovery_addr().to_string()),
        ("commands_per_minute", "1000000".to_string()),
    ];
    let served = b.serve(b.settings("row3"), &[("yeelight", config)]).await?;
    super::discover_all(&served.hub).await?;
    let bulb = sim.bulbs()[0].id().to_string();
    let samples = if b.options.quick { 50 } else { 500 };
    let mut ws = load::connect(&served.url, true).await?;
    // The hub puts a WebSocket hop between client and device: a bare echo's
    // round trip, sampled alongside, is what that hop alone costs here.
    let mut echo = load::connect(&format!("ws://{}/", load::echo_server().await?), true).await?;
    let mut direct = TcpStream::connect(sim.bulbs()[0].control_addr()).await?;
    direct.set_nodelay(true)?;
    let [
        mut via_hub_set,
        mut via_hub_get,
        mut echoed,
        mut direct_set,
        mut direct_get,
    ] = std::array::from_fn(|_| new_histogram());
    // Sampled in turn, so that every path meets the same moments of the machine.
    for i in 0..samples {
        echoed.record(round_trip(&mut echo, &json!({"id": i, "service": "echo"})).await?)?;
        let set = json!({"id": i, "domain": "yeelight", "service": "set_attributes", "identity": bulb,
            "service_data": {"attributes": [{"instance_id": 0, "attribute": "brightness", "val": 10 + i % 2}]}});
        via_hub_set.record(round_trip(&mut ws, &set).await?)?;
        let get =
            json!({"id": i, "domain": "yeelight", "service": "get_attributes", "identity": bulb});
        via_hub_get.record(round_trip(&mut ws, &get).await?)?;
        let set = json!({"id": i, "method": "set_bright", "params": [30 + i % 2, "sudden", 0]});
        direct_set.record(direct_round_trip(&mut direct, &set).await?)?;
        let get = json!({"id": i, "method": "get_prop", "params": ["power", "bright", "ct"]});
        direct_get.record(direct_round_trip(&mut direct, &get).await?)?;
    }
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64;
    let added_p50 = q(&via_hub_set, 0.5) - q(&direct_set, 0.5);
    let added_p99 = q(&via_hub_set, 0.99) - q(&direct_set, 0.99);
    let figures = vec![
        (
            "set via hub p50/p99".into(),
            format!(
                "{} / {}",
                us(q(&via_hub_set, 0.5)),
                us(q(&via_hub_set, 0.99))
            ),
        ),
        (
            "set direct p50/p99".into(),
            format!("{} / {}", us(q(&direct_set, 0.5)), us(q(&direct_set, 0.99))),
        ),
        (
            "hub adds p50/p99".into(),
            format!("{} / {}", us(added_p50), us(added_p99)),
        ),
        ("get via hub (cached) p50".into(), us(q(&via_hub_get, 0.5))),
        ("get_prop direct p50".into(), us(q(&direct_get, 0.5))),
        ("websocket echo round trip p50".into(), us(q(&echoed, 0.5))),
    ];
    let targets = vec![("hub adds < 100 µs at p50".into(), added_p50 < 100.0)];
    Ok(Row {
        name: "3 hub, device round trip",
        json: json_row(
            &figures,
            json!({"added_p50_us": added_p50, "added_p99_us": added_p99, "echo_p50_us": q(&echoed, 0.5)}),
        ),
        figures,
        targets,
    })
}

/// Microseconds until the frame answering `request` (same id) arrives;
/// frames without that id (events) are skipped.
pub(super) async fn round_trip(ws: &mut load::Client, request: &Value) -> anyhow::Result<u64> {
    let started = Instant::now();
    ws.send(Message::text(request.to_string())).await?;
    loop {
        let Some(frame) = ws.next().await else {
            anyhow::bail!("the hub closed the connection")
        };
        let Message::Text(text) = frame? else {
            continue;
        };
        let reply: Value = serde_json::from_str(&text)?;
        if reply["id"] == request["id"] {
            anyhow::ensure!(reply["success"] != false, "{reply}");
            return Ok(started.elapsed().as_micros().max(1) as u64);
        }
    }
}

async fn direct_round_trip(stream: &mut TcpStream, request: &Value) -> anyhow::Result<u64> {
    let started = Instant::now();
    stream
        .write_all(format!("{request}\r\n").as_bytes())
        .await?;
    let mut reader = BufReader::new(&mut *stream);
    let mut line = String::new();
    loop {
        line.clear();
        anyhow::ensure!(
            reader.read_line(&mut line).await? > 0,
            "the bulb closed the connection"
        );
        let reply: Value = serde_json::from_str(line.trim()).unwrap_or_default();
        if reply["id"] == request["id"] {
            return Ok(started.elapsed().as_micros().max(1) as u64);
        }
    }
}
