//! Rows 1 to 8. Each builds what it compares, measures, and says which
//! targets it met.

use super::load::{self, Frames, Load, Measured, new_histogram};
use super::probes;
use super::{Bench, Row, json_row, ms, us};
use crate::plugins::{DeviceInfo, Hub, HubSettings, Metering, Plugin};
use futures_util::{SinkExt, StreamExt};
use hub_sim::yeelight::{SimConfig, YeelightSim};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS: usize = 8;
const PIPELINE: usize = 16;

/// One round of the closed-loop load.
fn closed_loop(b: &Bench) -> Load {
    Load {
        connections: CONNECTIONS,
        pipeline: PIPELINE,
        duration: b.options.round_for(),
        rate: None,
    }
}

/// The round with the median throughput: its figures belong together.
fn median_run(runs: &[Measured]) -> Measured {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    sorted[sorted.len() / 2]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `a[i] / b[i]`: ratios of rounds run side by side.
fn paired_ratios(a: &[Measured], b: &[Measured]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|(a, b)| a.per_second / b.per_second)
        .collect()
}

fn listed(ratios: &[f64]) -> String {
    let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    each.join(" / ")
}

fn throughput(m: &Measured) -> Vec<(String, String)> {
    vec![
        ("throughput".into(), format!("{:.0}/s", m.per_second)),
        ("p50".into(), us(m.p50_us)),
        ("p99".into(), us(m.p99_us)),
    ]
}

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

fn get_frames() -> Frames {
    Arc::new(|conn, id| {
        format!(
            "{{\"id\":{id},\"domain\":\"bench\",\"service\":\"get_attributes\",\"identity\":\"dev-{}\"}}",
            conn % CONNECTIONS
        )
    })
}

/// A hub with the bench plugin and its devices discovered.
async fn bench_hub(b: &Bench, name: &str, metering: Metering) -> anyhow::Result<super::Served> {
    let settings = HubSettings {
        metering,
        ..b.settings(name)
    };
    let served = b
        .serve(
            settings,
            &[("bench", vec![("count", CONNECTIONS.to_string())])],
        )
        .await?;
    super::discover_all(&served.hub).await?;
    Ok(served)
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

/// Row 4: a warm call, the boundary alone and a fresh instance, for the
/// same benchmark plugin built against each version of the protocol.
pub async fn sandbox_call_cost(b: &Bench) -> anyhow::Result<Row> {
    let count = vec![("count", "1".to_string())];
    let plugins = [("bench", count.clone()), ("bench-v0_1", count)];
    let served = b.serve(b.settings("row4"), &plugins).await?;
    super::discover_all(&served.hub).await?;
    let current = served.hub.plugin("bench")?;
    let frozen = served.hub.plugin("bench-v0_1")?;
    let device = DeviceInfo {
        identity: "dev-0".into(),
        name: "bench 0".into(),
        model: "bench".into(),
        manufacturer: "hub project".into(),
        address: String::new(),
    };
    let (calls, fresh, rpcs): (u32, u32, u32) = match b.options.quick {
        true => (2_000, 200, 2_000),
        false => (50_000, 2_000, 5_000),
    };
    let (_child, addr) = probes::spawn_rpc().await?;
    let mut rpc = TcpStream::connect(&addr).await?;
    rpc.set_nodelay(true)?;
    let request = json!({"identity": "dev-0"});
    for plugin in [&current, &frozen] {
        plugin.time_warm_calls(&device, 100).await?;
    }
    for _ in 0..100 {
        rpc_round_trip(&mut rpc, &request).await?;
    }
    let (mut new, mut old, mut rpc_ns) = (Calls::default(), Calls::default(), vec![]);
    for _ in 0..b.options.rounds() {
        new.time(&current, &device, calls, fresh).await?;
        old.time(&frozen, &device, calls, fresh).await?;
        let started = Instant::now();
        for _ in 0..rpcs {
            rpc_round_trip(&mut rpc, &request).await?;
        }
        rpc_ns.push(per_call(started.elapsed(), rpcs));
    }
    let (new, old, rpc_ns) = (new.medians(), old.medians(), median(rpc_ns));
    let ratio = rpc_ns / new.warm_ns;
    let figures = vec![
        (
            "warm call: 0.2 | 0.1".into(),
            format!("{:.0} ns | {:.0} ns", new.warm_ns, old.warm_ns),
        ),
        (
            "of which crossing the boundary".into(),
            format!("{:.0} ns | {:.0} ns", new.empty_ns, old.empty_ns),
        ),
        (
            "fresh instance (InstancePre)".into(),
            format!("{} | {}", us(new.fresh_us), us(old.fresh_us)),
        ),
        ("loopback JSON RPC to a process".into(), us(rpc_ns / 1e3)),
        ("RPC / warm 0.2 call".into(), format!("{ratio:.1}x")),
    ];
    let targets = vec![
        ("warm call < 1 µs (0.2)".into(), new.warm_ns < 1000.0),
        ("fresh instance < 10 µs (0.2)".into(), new.fresh_us < 10.0),
        (
            "sandboxed call >= 20x cheaper than RPC".into(),
            ratio >= 20.0,
        ),
    ];
    Ok(Row {
        name: "4 sandbox call cost",
        json: json_row(
            &figures,
            json!({
                "warm_ns": new.warm_ns, "empty_call_ns": new.empty_ns, "fresh_us": new.fresh_us,
                "v0_1": {"warm_ns": old.warm_ns, "empty_call_ns": old.empty_ns, "fresh_us": old.fresh_us},
                "rpc_ns": rpc_ns, "ratio": ratio,
            }),
        ),
        figures,
        targets,
    })
}

fn per_call(took: Duration, n: u32) -> f64 {
    took.as_nanos() as f64 / f64::from(n)
}

/// One plugin's row 4 figures, round by round.
#[derive(Default)]
struct Calls {
    warm: Vec<f64>,
    empty: Vec<f64>,
    fresh: Vec<f64>,
}

struct CallMedians {
    warm_ns: f64,
    empty_ns: f64,
    fresh_us: f64,
}

impl Calls {
    async fn time(
        &mut self,
        plugin: &Plugin,
        device: &DeviceInfo,
        calls: u32,
        fresh: u32,
    ) -> anyhow::Result<()> {
        let warm = plugin.time_warm_calls(device, calls).await?;
        self.warm.push(per_call(warm, calls));
        self.empty
            .push(per_call(plugin.time_empty_calls(calls).await?, calls));
        let instances = plugin.time_fresh_instances(fresh).await?;
        self.fresh.push(per_call(instances, fresh));
        Ok(())
    }

    fn medians(self) -> CallMedians {
        CallMedians {
            warm_ns: median(self.warm),
            empty_ns: median(self.empty),
            fresh_us: median(self.fresh) / 1e3,
        }
    }
}

async fn rpc_round_trip(stream: &mut TcpStream, request: &Value) -> anyhow::Result<()> {
    stream.write_all(format!("{request}\n").as_bytes()).await?;
    let mut line = String::new();
    BufReader::new(&mut *stream).read_line(&mut line).await?;
    anyhow::ensure!(
        line.contains("brightness"),
        "unexpected RPC answer {line:?}"
    );
    Ok(())
}

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
            sent.lock()
                .unwrap_or_else(|p| p.into_inner())
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
        if let Some(at) = sent.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            histogram.record(at.elapsed().as_micros().max(1) as u64)?;
            received += 1;
        }
    }
    Ok((histogram, received))
}

/// 20 different components, so that a cold start compiles 20 times.
fn variants(
    b: &Bench,
    count: usize,
) -> anyhow::Result<Vec<(std::path::PathBuf, std::path::PathBuf)>> {
    let bytes = std::fs::read(b.options.component("bench"))?;
    let manifest = std::fs::read_to_string(b.options.manifest("bench"))?;
    (0..count)
        .map(|i| {
            let dir = b.work.join("variants").join(i.to_string());
            std::fs::create_dir_all(&dir)?;
            // A custom section makes each component distinct to the compile cache.
            let name = b"hub-bench-variant";
            let payload = (i as u32).to_le_bytes();
            let size = 1 + name.len() + payload.len();
            let mut variant = bytes.clone();
            variant.extend([0u8, size as u8, name.len() as u8]);
            variant.extend(name);
            variant.extend(payload);
            std::fs::write(dir.join("plugin.wasm"), variant)?;
            std::fs::write(
                dir.join("plugin.toml"),
                manifest.replacen("id = \"bench\"", &format!("id = \"bench-{i}\""), 1),
            )?;
            Ok((dir.join("plugin.wasm"), dir.join("plugin.toml")))
        })
        .collect()
}

/// A data directory with `plugins` installed (variants reused round-robin)
/// and `devices` bench devices each, compiled into `cache`.
fn prepare(
    b: &Bench,
    name: &str,
    plugins: usize,
    devices: usize,
    cache: &std::path::Path,
) -> anyhow::Result<std::path::PathBuf> {
    let variants = variants(b, plugins.min(20))?;
    let settings = HubSettings {
        cache_dir: cache.to_path_buf(),
        ..b.settings(name)
    };
    let data_dir = settings.data_dir.clone();
    let hub = Hub::open(settings)?;
    for i in 0..plugins {
        let (wasm, manifest) = &variants[i % variants.len()];
        let manifest_text = std::fs::read_to_string(manifest)?;
        let own = b.work.join("manifests").join(format!("{name}-{i}.toml"));
        std::fs::create_dir_all(own.parent().unwrap_or(&b.work))?;
        std::fs::write(
            &own,
            manifest_text.replacen(
                &format!("id = \"bench-{}\"", i % variants.len()),
                &format!("id = \"bench-{i}\""),
                1,
            ),
        )?;
        let config = [("count".to_string(), devices.to_string())].into();
        b.install(&hub, wasm, &own, config)?;
    }
    Ok(data_dir)
}

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
