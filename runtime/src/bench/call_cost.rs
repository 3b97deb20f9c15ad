//! Row 4: a warm call, the boundary alone and a fresh instance, for the same
//! benchmark plugin built against each version of the protocol.

use super::probes;
use super::stats::median;
use super::{Bench, Row, json_row, us};
use crate::plugins::{DeviceInfo, Plugin};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
