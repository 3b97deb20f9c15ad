//! `hub demo`: simulated Yeelight bulbs and Shelly devices on loopback,
//! and a hub whose Yeelight and Shelly plugins are installed and granted
//! only the simulators' address. The Shelly devices offer a firmware
//! update: one installs it cleanly, the others fail in each simulated way.

use crate::config::{Token, TokenScope};
use crate::http::ServerSettings;
use crate::plugins::{Hub, HubSettings};
use anyhow::Context;
use hub_sim::shelly::{ShellyConfig, ShellySim, UpdateFault, UpdateTiming};
use hub_sim::yeelight::{SimConfig, YeelightSim};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub token: Option<String>,
    /// Built components: `<components>/<id>.wasm`.
    pub components: PathBuf,
    /// Plugin sources: `<sources>/<id>/plugin.toml`.
    pub sources: PathBuf,
    pub bulbs: usize,
    pub data_dir: PathBuf,
}

/// What each simulated Shelly device does with its offered update.
const SHELLY_ROLES: [(Option<UpdateFault>, &str); 4] = [
    (None, "updates cleanly"),
    (Some(UpdateFault::FailedDownload), "its download fails"),
    (
        Some(UpdateFault::BadChecksum),
        "its image fails the checksum",
    ),
    (
        Some(UpdateFault::NeverReturns),
        "never comes back from its reboot",
    ),
];
const OFFERED: &str = "1.5.0";

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let bulbs = YeelightSim::on_lan(SimConfig::loopback(options.bulbs)).await?;
    // Shelly devices answer on port 80 only, as real ones do; a user who
    // may not bind it still gets the rest of the demo.
    let shellies = shelly_devices()
        .await
        .inspect_err(|e| eprintln!("Running without simulated Shelly devices: {e:#}\n"))
        .ok();
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let serving = crate::store::Serving::claim(&options.data_dir)?;
    fresh_data_dir(&options.data_dir)?;
    let hub = Hub::open(HubSettings {
        hub_addrs: vec![addr],
        ..HubSettings::new(options.data_dir.clone())
    })?;
    let discovery = vec![("discovery", bulbs.discovery_addr().to_string())];
    install(&hub, &options, "yeelight", discovery, bulbs.network())?;
    if let Some(shellies) = &shellies {
        let addrs: Vec<String> = shellies
            .devices()
            .iter()
            .map(|d| d.addr().to_string())
            .collect();
        let config = vec![
            ("discovery", addrs.join(",")),
            ("reboot_timeout_ms", "20000".into()),
        ];
        install(&hub, &options, "shelly", config, shellies.network())?;
    }
    let operator = options.token.unwrap_or_else(random_token);
    let user = random_token();
    println!(
        "Simulated Yeelight bulbs (discovery at udp://{}):",
        bulbs.discovery_addr()
    );
    for bulb in bulbs.bulbs() {
        println!("  {}  {}", bulb.id(), bulb.control_addr());
    }
    if let Some(shellies) = &shellies {
        println!("Simulated Shelly Plus 1PM devices, offering firmware {OFFERED}:");
        for (device, (_, role)) in shellies.devices().iter().zip(SHELLY_ROLES) {
            println!("  {}  http://{}  ({role})", device.id(), device.addr());
        }
    }
    println!();
    println!("Hub ready. Console: http://{addr}/  (sign in with the operator token)");
    println!("  WebSocket: ws://{addr}/ws?token={operator}");
    println!("  operator token: {operator}");
    println!("  user token:     {user}   (devices only; plugin management answers \"forbidden\")");
    println!("  each plugin is granted only its devices' network and ports, never {addr}");
    println!("Try: {{\"id\":1,\"service\":\"discover\"}}");
    println!("Stop with Ctrl-C.");
    let tokens = vec![
        Token {
            name: "demo-operator".into(),
            token: operator,
            scope: TokenScope::Operator,
            areas: None,
        },
        Token {
            name: "demo-user".into(),
            token: user,
            scope: TokenScope::User,
            areas: None,
        },
    ];
    crate::serve::run(
        crate::market::Market::new(hub),
        serving,
        listener,
        ServerSettings::new(tokens),
        shutdown_signal(),
    )
    .await
}

/// The simulators take new ports on every run, so the devices an earlier
/// demo registered are gone: start from an empty store, keeping only the
/// compile cache.
fn fresh_data_dir(dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // The lock this demo holds stays; so does the compile cache.
        if path
            .file_name()
            .is_some_and(|n| n == "compiled" || n == "hub.lock")
        {
            continue;
        }
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("clear the demo's {}", path.display()))?;
    }
    Ok(())
}

async fn shelly_devices() -> anyhow::Result<ShellySim> {
    let timing = UpdateTiming {
        download: Duration::from_secs(3),
        reboot: Duration::from_secs(2),
    };
    let sim = ShellySim::on_lan(ShellyConfig {
        timing,
        ..ShellyConfig::loopback(SHELLY_ROLES.len())
    })
    .await?;
    for (device, (fault, _)) in sim.devices().iter().zip(SHELLY_ROLES) {
        device.offer_update(OFFERED);
        device.set_fault(fault);
    }
    Ok(sim)
}

fn install(
    hub: &Hub,
    options: &DemoOptions,
    id: &str,
    config: Vec<(&str, String)>,
    network: ipnet::IpNet,
) -> anyhow::Result<()> {
    let component = options.components.join(format!("{id}.wasm"));
    let manifest = options.sources.join(id).join("plugin.toml");
    let config: BTreeMap<String, String> = config
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    hub.install("demo", &component, &manifest, config)
        .with_context(|| {
            format!(
                "install {} (build it with `cargo xtask build-guests`)",
                component.display()
            )
        })?;
    hub.approve("demo", id, &[network.into()])?;
    Ok(())
}

pub async fn shutdown_signal() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!("cannot listen for Ctrl-C ({e}); stop the hub with a signal");
        std::future::pending::<()>().await;
    }
    tracing::info!("shutting down");
}

/// 128 random bits as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    // Without OS randomness there is no safe token to make up.
    getrandom::fill(&mut bytes).expect("the OS random number generator is unavailable");
    crate::digest::hex(&bytes)
}
