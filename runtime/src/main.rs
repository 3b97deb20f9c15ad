use anyhow::Context;
use clap::{Parser, Subcommand};
use hub::config::HubConfig;
use hub::demo::{self, DemoOptions};
use hub::plugins::Hub;
use hub::ws::{Server, ServerSettings};
use hub_sim::yeelight::{SimConfig, YeelightSim};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A smart-home hub whose device drivers are sandboxed WebAssembly components.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the WebSocket API with the plugins of a configuration file.
    Serve {
        #[arg(long, default_value = "hub.toml")]
        config: PathBuf,
    },
    /// Simulated bulbs plus a hub that may reach only them.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Default: a random token, printed at start.
        #[arg(long)]
        token: Option<String>,
        #[arg(
            long,
            default_value = "target/guests/wasm32-wasip2/release/yeelight.wasm"
        )]
        plugin: PathBuf,
        #[arg(long, default_value_t = 3)]
        bulbs: usize,
        #[arg(long, default_value = ".hub")]
        data_dir: PathBuf,
    },
    /// Run simulated devices on their own, for any client to drive.
    #[command(subcommand)]
    Sim(Sim),
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { config } => serve(HubConfig::from_file(&config)?).await,
        Command::Demo {
            listen,
            token,
            plugin,
            bulbs,
            data_dir,
        } => {
            demo::run(DemoOptions {
                listen,
                token,
                plugin,
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
            let sim = YeelightSim::start(SimConfig {
                bind,
                count,
                control_port: port,
                discovery_port,
            })
            .await?;
            println!("discovery udp://{}", sim.discovery_addr());
            for bulb in sim.bulbs() {
                println!("{} {}", bulb.id(), bulb.control_addr());
            }
            demo::shutdown_signal().await;
            Ok(())
        }
    }
}

async fn serve(config: HubConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let hub = Hub::load(&config.plugins, &config.data_dir, &[addr])?;
    tracing::info!(%addr, "serving ws://{addr}/ws");
    Server::new(
        listener,
        Arc::new(hub),
        ServerSettings {
            token: config.token,
        },
    )
    .run(demo::shutdown_signal())
    .await;
    Ok(())
}
