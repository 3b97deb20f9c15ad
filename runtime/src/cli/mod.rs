//! The `hub` command line.

mod admin;
mod market;
mod new_plugin;

use crate::config::HubConfig;
use crate::demo::{self, DemoOptions};
use crate::http::ServerSettings;
use crate::market::Market;
use crate::plugins::{Hub, HubSettings};
use anyhow::Context;
use clap::{Parser, Subcommand};
use hub_sim::shelly::{ShellyConfig, ShellySim, UpdateFault};
use hub_sim::yeelight::{SimConfig, YeelightSim};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use tokio::net::TcpListener;

/// A smart-home hub whose device drivers are sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version)]
pub struct Cli {
    /// Where the hub keeps its database and installed plugins.
    #[arg(long, global = true, env = "HUB_DATA_DIR", default_value = ".hub")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the WebSocket API (plugins come from the data directory).
    Serve {
        #[arg(long, default_value = "hub.toml")]
        config: PathBuf,
    },
    /// Simulated bulbs plus a hub whose Yeelight plugin may reach only them.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The operator token (default: random, printed at start).
        #[arg(long)]
        token: Option<String>,
        /// Where the built plugin components are (yeelight.wasm, shelly.wasm).
        #[arg(long, default_value = "target/guests/wasm32-wasip2/release")]
        components: PathBuf,
        /// Where the plugins' sources are, with their plugin.toml.
        #[arg(long, default_value = "guest-plugins")]
        sources: PathBuf,
        #[arg(long, default_value_t = 3)]
        bulbs: usize,
    },
    /// Run simulated devices on their own, for any client to drive.
    #[command(subcommand)]
    Sim(Sim),
    /// Installed plugins: version, state, grant, pending approvals.
    Plugins,
    /// Install, update, remove, enable or disable a plugin.
    #[command(subcommand)]
    Plugin(admin::PluginCommand),
    /// See, approve or revoke what a plugin may do.
    #[command(subcommand)]
    Grants(admin::GrantsCommand),
    /// A publisher's releases: key, build, sign, push to a registry.
    #[command(subcommand)]
    Package(market::PackageCommand),
    /// Whom this hub trusts to publish plugins.
    #[command(subcommand)]
    Trust(market::TrustCommand),
    /// A marketplace's side: review, revoke, publish signed metadata.
    #[command(subcommand)]
    Market(market::MarketCommand),
    /// Read or verify the audit log.
    Audit(admin::AuditArgs),
    /// Copy the database (DATA_DIR/hub.db) to FILE, consistent even while
    /// the hub runs; the copy's audit chain is verified.
    Backup { file: PathBuf },
    /// Replace the database with the backup FILE, only if its audit chain
    /// verifies; the replaced one is kept as hub.db.before-restore. Stop
    /// the hub first.
    Restore { file: PathBuf },
    /// Measure the hub beside a bare WebSocket server, loopback RPC to a
    /// process and the device itself; print one table with ratios.
    Bench {
        /// Short runs (under 30 s), as the test suite uses.
        #[arg(long)]
        quick: bool,
        /// Also write the figures as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Only these rows, e.g. `--rows 2,4` (row 2 brings row 1 along for its ratio).
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=9))]
        rows: Vec<u8>,
        /// Rounds of each throughput and call-cost measurement, of which the
        /// median is shown (default 3, 1 with `--quick`).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=100))]
        rounds: Option<u16>,
        /// The built guest components.
        #[arg(long, default_value = "target/guests/wasm32-wasip2/release")]
        components: PathBuf,
        /// The guest plugins' sources, for their manifests.
        #[arg(long, default_value = "guest-plugins")]
        sources: PathBuf,
    },
    #[command(hide = true)]
    BenchRpc,
    #[command(hide = true)]
    BenchMemory {
        #[arg(long)]
        cache_dir: PathBuf,
        #[arg(long)]
        discover: bool,
        #[arg(long, default_value_t = 0)]
        instances: usize,
    },
    /// A component's imports and exports beside its manifest's requests.
    Inspect {
        component: PathBuf,
        /// Default: plugin.toml beside the component.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Sim {
    /// Yeelight bulbs: control on TCP (one port per bulb), discovery on UDP.
    Yeelight {
        #[arg(long, default_value_t = 1)]
        count: usize,
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Bulb i listens on PORT + i (0: any free port).
        #[arg(long, default_value_t = 55443)]
        port: u16,
        #[arg(long, default_value_t = 1982)]
        discovery_port: u16,
    },
    /// Shelly Gen2 devices (Plus 1PM): RPC over HTTP and WebSocket, one
    /// port per device, and a firmware server for updates.
    Shelly {
        #[arg(long, default_value_t = 1)]
        count: usize,
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Device i listens on PORT + i (0: any free port).
        #[arg(long, default_value_t = 8081)]
        port: u16,
        /// Offer this firmware version as a stable update on every device.
        #[arg(long, value_name = "VERSION")]
        offer: Option<String>,
        /// Make every update fail this way.
        #[arg(long, value_enum)]
        fault: Option<UpdateFaultArg>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum UpdateFaultArg {
    /// The firmware server answers 404.
    Download,
    /// The image's sha256 is not the announced one.
    Checksum,
    /// The device never comes back from its reboot.
    NoReturn,
}

impl From<UpdateFaultArg> for UpdateFault {
    fn from(arg: UpdateFaultArg) -> Self {
        match arg {
            UpdateFaultArg::Download => UpdateFault::FailedDownload,
            UpdateFaultArg::Checksum => UpdateFault::BadChecksum,
            UpdateFaultArg::NoReturn => UpdateFault::NeverReturns,
        }
    }
}

impl Cli {
    /// The log level unless RUST_LOG says otherwise: the benchmark's and
    /// the plugin test's tables should not drown in the hub's own logs (the
    /// plugin test reports refused network uses itself).
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            Command::Bench { .. } | Command::BenchRpc | Command::BenchMemory { .. } => "warn",
            Command::Plugin(admin::PluginCommand::Test(_)) => "error",
            _ => "info",
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Serve { config } => serve(HubConfig::from_file(&config)?).await,
        Command::Demo {
            listen,
            token,
            components,
            sources,
            bulbs,
        } => {
            let data_dir = data_dir.join("demo");
            demo::run(DemoOptions {
                listen,
                token,
                components,
                sources,
                bulbs,
                data_dir,
            })
            .await
        }
        Command::Sim(Sim::Yeelight {
            count,
            bind,
            port,
            discovery_port,
        }) => {
            let config = SimConfig {
                bind,
                count,
                control_port: port,
                discovery_port,
                ..SimConfig::default()
            };
            let sim = YeelightSim::start(config).await?;
            println!("discovery udp://{}", sim.discovery_addr());
            for bulb in sim.bulbs() {
                println!("{} {}", bulb.id(), bulb.control_addr());
            }
            demo::shutdown_signal().await;
            Ok(())
        }
        Command::Sim(Sim::Shelly {
            count,
            bind,
            port,
            offer,
            fault,
        }) => {
            let config = ShellyConfig {
                bind,
                count,
                port,
                ..ShellyConfig::loopback(count)
            };
            let sim = ShellySim::start(config).await?;
            println!("firmware http://{}", sim.firmware_addr());
            for device in sim.devices() {
                if let Some(version) = &offer {
                    device.offer_update(version);
                }
                device.set_fault(fault.map(UpdateFault::from));
                println!("{} http://{}", device.id(), device.addr());
            }
            demo::shutdown_signal().await;
            Ok(())
        }
        Command::Plugins => admin::plugins(offline(data_dir)?.as_ref()),
        Command::Plugin(admin::PluginCommand::Test(args)) => crate::conformance::run(args).await,
        Command::Plugin(admin::PluginCommand::New(args)) => {
            let root = new_plugin::new_plugin(&args)?;
            println!(
                "wrote {}: build it with `cargo build --release --target wasm32-wasip2` there",
                root.display()
            );
            Ok(())
        }
        Command::Plugin(admin::PluginCommand::Manage(command)) => {
            admin::plugin(&Market::new(offline(data_dir)?), command).await
        }
        Command::Package(command) => market::package(command).await,
        Command::Market(command) => market::market(command).await,
        Command::Trust(command) => market::trust(&Market::new(offline(data_dir)?), command),
        Command::Grants(command) => admin::grants(offline(data_dir)?.as_ref(), command),
        Command::Audit(args) => admin::audit(offline(data_dir.clone())?.as_ref(), &data_dir, args),
        Command::Backup { file } => admin::backup(&data_dir, &file),
        Command::Restore { file } => admin::restore(&data_dir, &file),
        Command::Bench {
            quick,
            json,
            rows,
            rounds,
            components,
            sources,
        } => {
            crate::bench::run(crate::bench::BenchOptions {
                quick,
                json,
                rows,
                rounds: rounds.map(usize::from),
                components,
                sources,
            })
            .await
        }
        Command::BenchRpc => crate::bench::rpc_server().await,
        Command::BenchMemory {
            cache_dir,
            discover,
            instances,
        } => crate::bench::memory_probe(&data_dir, &cache_dir, discover, instances).await,
        Command::Inspect {
            component,
            manifest,
        } => {
            let manifest = manifest.unwrap_or_else(|| component.with_file_name("plugin.toml"));
            admin::inspect(&data_dir, &component, &manifest)
        }
    }
}

/// The data directory's hub without running anything: what the admin commands act on.
fn offline(data_dir: PathBuf) -> anyhow::Result<std::sync::Arc<Hub>> {
    Hub::open(HubSettings::new(data_dir))
}

async fn serve(config: HubConfig) -> anyhow::Result<()> {
    let serving = crate::store::Serving::claim(&config.data_dir)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let settings = HubSettings {
        hub_addrs: vec![addr],
        limits: config.limits,
        http_blocked: config.http_blocked,
        install_dir: config.install_dir,
        market: config.market,
        ..HubSettings::new(config.data_dir)
    };
    let hub = Hub::open(settings)?;
    tracing::info!(%addr, "serving ws://{addr}/ws");
    crate::serve::run(
        Market::new(hub),
        serving,
        listener,
        ServerSettings {
            tokens: config.tokens,
            limits: config.server,
        },
        demo::shutdown_signal(),
    )
    .await
}
