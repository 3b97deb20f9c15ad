//! `hub bench`: the hub beside the alternatives on one machine in one run
//! (a bare WebSocket echo server, a plugin behind loopback RPC in another
//! process, the device itself), with ratios taken from that same run.

mod attack;
mod call_cost;
mod cold_start;
mod device_round_trip;
mod fan_out;
mod fixtures;
mod load;
mod memory;
mod metering;
mod probes;
mod stats;
mod throughput;

pub use probes::{memory_probe, rpc_server};

use crate::config::{Token, TokenScope};
use crate::http::ServerSettings;
use crate::plugins::{Hub, HubSettings};
use anyhow::Context;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const TOKEN: &str = "bench-token-0123456789";

pub struct BenchOptions {
    pub quick: bool,
    pub json: Option<PathBuf>,
    /// The rows to run (1 to 9); empty: all of them.
    pub rows: Vec<u8>,
    /// Rounds of each throughput measurement; `None`: 3, or 1 when quick.
    pub rounds: Option<usize>,
    /// Where the built guest components are.
    pub components: PathBuf,
    /// `guest-plugins/`, for the manifests.
    pub sources: PathBuf,
}

impl BenchOptions {
    fn run_for(&self) -> Duration {
        if self.quick {
            Duration::from_millis(700)
        } else {
            Duration::from_secs(4)
        }
    }

    /// Rounds of each throughput measurement: its median is reported, so
    /// that one noisy moment of a shared machine does not make the figure.
    fn rounds(&self) -> usize {
        self.rounds.unwrap_or(if self.quick { 1 } else { 3 })
    }

    /// How long one round of a throughput measurement lasts.
    fn round_for(&self) -> Duration {
        if self.quick {
            Duration::from_millis(700)
        } else {
            Duration::from_secs(2)
        }
    }

    fn component(&self, name: &str) -> PathBuf {
        self.components
            .join(format!("{}.wasm", name.replace('-', "_")))
    }

    fn manifest(&self, name: &str) -> PathBuf {
        let plain = self.sources.join(name).join("plugin.toml");
        if plain.exists() {
            plain
        } else {
            self.sources
                .join("test-only")
                .join(name)
                .join("plugin.toml")
        }
    }
}

/// One row of the table: its figures, and the targets it was held to.
pub struct Row {
    pub name: &'static str,
    pub figures: Vec<(String, String)>,
    pub targets: Vec<(String, bool)>,
    pub json: Value,
}

pub async fn run(options: BenchOptions) -> anyhow::Result<()> {
    let work = crate::conformance::work_dir("hub-bench-")?;
    let bench = Bench {
        options,
        work: work.path().to_path_buf(),
    };
    let rows = bench.rows().await?;
    drop(work);
    print_table(&rows);
    if let Some(path) = &bench.options.json {
        let json: Value = rows
            .iter()
            .map(|r| (r.name.to_string(), r.json.clone()))
            .collect::<serde_json::Map<_, _>>()
            .into();
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

pub(crate) struct Bench {
    options: BenchOptions,
    work: PathBuf,
}

/// A hub serving on loopback for one row; dropping it stops the server.
pub(crate) struct Served {
    pub hub: Arc<Hub>,
    pub url: String,
    _stop: oneshot::Sender<()>,
}

impl Bench {
    async fn rows(&self) -> anyhow::Result<Vec<Row>> {
        let mut table = Vec::new();
        if self.wants(1) || self.wants(2) {
            table.extend(throughput::floor_and_hub(self).await?);
        }
        for row in (3..=9).filter(|&row| self.wants(row)) {
            table.push(match row {
                3 => device_round_trip::device_round_trip(self).await?,
                4 => call_cost::sandbox_call_cost(self).await?,
                5 => fan_out::event_fan_out(self).await?,
                6 => cold_start::cold_start(self).await?,
                7 => memory::memory(self).await?,
                8 => metering::metering_cost(self).await?,
                _ => attack::under_attack(self).await?,
            });
        }
        Ok(table)
    }

    fn wants(&self, row: u8) -> bool {
        self.options.rows.is_empty() || self.options.rows.contains(&row)
    }

    /// A fresh data directory under the bench's work directory.
    fn dir(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    fn settings(&self, name: &str) -> HubSettings {
        hub_settings(self.dir(name), self.work.join("compiled"))
    }

    /// Installs `(plugin, config)` pairs granted the loopback range, then serves.
    async fn serve(
        &self,
        mut settings: HubSettings,
        plugins: &[(&str, Vec<(&str, String)>)],
    ) -> anyhow::Result<Served> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        settings.hub_addrs = vec![addr];
        let lock = crate::store::Serving::claim(&settings.data_dir)?;
        let hub = Hub::open(settings)?;
        for (id, config) in plugins {
            let config = config
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            self.install(
                &hub,
                &self.options.component(id),
                &self.options.manifest(id),
                config,
            )?;
        }
        tokio::task::block_in_place(|| hub.go_live())?;
        let (stop, stopped) = oneshot::channel::<()>();
        let tokens = vec![Token {
            name: "bench".into(),
            token: TOKEN.into(),
            scope: TokenScope::Operator,
            areas: None,
        }];
        let serving = hub.clone();
        tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            if let Err(e) = crate::serve::run(
                crate::market::Market::new(serving),
                lock,
                listener,
                ServerSettings::new(tokens),
                stopped,
            )
            .await
            {
                tracing::error!("bench hub stopped: {e:#}");
            }
        });
        Ok(Served {
            hub,
            url: format!("ws://{addr}/ws?token={TOKEN}"),
            _stop: stop,
        })
    }

    fn install(
        &self,
        hub: &Hub,
        component: &Path,
        manifest: &Path,
        config: std::collections::BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let installed =
            tokio::task::block_in_place(|| hub.install("bench", component, manifest, config))?;
        // Simulated devices live in blocks of the loopback range.
        let loopback: crate::caps::rules::Scope =
            "127.0.0.0/8".parse().map_err(anyhow::Error::msg)?;
        let nets = if hub.grants(&installed.id)?.requested.network.is_empty() {
            vec![]
        } else {
            vec![loopback]
        };
        hub.approve("bench", &installed.id, &nets)?;
        Ok(())
    }
}

/// A benchmarked hub: its own load must not trip the quotas that protect
/// devices, nor its thousand devices the budget of a plugin.
pub(crate) fn hub_settings(data_dir: PathBuf, cache_dir: PathBuf) -> HubSettings {
    let mut settings = HubSettings::new(data_dir);
    settings.cache_dir = cache_dir;
    let quotas = &mut settings.limits.quotas;
    quotas.events_per_second = 1_000_000;
    quotas.event_bytes_per_second = 1 << 30;
    quotas.writes_per_second = 1_000_000;
    // Row 5's bulbs push 1000 changes a second, a hundred times what real
    // bulbs do: at the default rate their watchers would be paused.
    quotas.watch_fuel_per_second = 1 << 40;
    quotas.max_devices = 10_000;
    quotas.max_instances = 2_000;
    quotas.total_memory_bytes = 1 << 40;
    settings
}

/// Lets every plugin of `hub` find its devices.
pub(crate) async fn discover_all(hub: &Hub) -> anyhow::Result<()> {
    for plugin in hub.plugins() {
        plugin.discover().await?;
    }
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!("{:<34} {:<64} TARGETS", "ROW", "FIGURES");
    for row in rows {
        let figures: Vec<String> = row
            .figures
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let targets: Vec<String> = row
            .targets
            .iter()
            .map(|(t, met)| format!("{} {t}", if *met { "met" } else { "MISSED" }))
            .collect();
        let lines = figures.len().max(targets.len()).max(1);
        for i in 0..lines {
            let name = if i == 0 { row.name } else { "" };
            let figure = figures.get(i).map_or("", String::as_str);
            let target = targets.get(i).map_or("", String::as_str);
            println!("{name:<34} {figure:<64} {target}");
        }
    }
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn us(value: f64) -> String {
    format!("{value:.1} µs")
}

pub(crate) fn json_row(figures: &[(String, String)], extra: Value) -> Value {
    let figures: serde_json::Map<_, _> = figures
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({"figures": figures, "measured": extra})
}
