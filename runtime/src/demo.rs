//! `hub demo`: simulated bulbs on loopback and a hub whose Yeelight plugin
//! is installed and granted only the simulators' address.

use crate::config::{Token, TokenScope};
use crate::plugins::{Hub, HubSettings};
use anyhow::Context;
use hub_sim::yeelight::{SimConfig, YeelightSim};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use tokio::net::TcpListener;

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub plugin: PathBuf,
    pub manifest: PathBuf,
    pub bulbs: usize,
    pub data_dir: PathBuf,
}

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let sim = YeelightSim::start(SimConfig::loopback(options.bulbs)).await?;
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let hub = Hub::open(HubSettings {
        hub_addrs: vec![addr],
        ..HubSettings::new(options.data_dir.clone())
    })?;
    let config = [("discovery".to_string(), sim.discovery_addr().to_string())].into();
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let installed = hub
        .install("demo", &options.plugin, &options.manifest, config)
        .with_context(|| {
            format!(
                "install {} (build it with `cargo xtask build-guests`)",
                options.plugin.display()
            )
        })?;
    hub.approve(
        "demo",
        &installed.id,
        &[ipnet::IpNet::from(loopback).into()],
    )?;
    let operator = options.token.unwrap_or_else(random_token);
    let user = random_token();
    println!(
        "Simulated Yeelight bulbs (discovery at udp://{}):",
        sim.discovery_addr()
    );
    for bulb in sim.bulbs() {
        println!("  {}  {}", bulb.id(), bulb.control_addr());
    }
    println!();
    println!("Hub ready. WebSocket: ws://{addr}/ws?token={operator}");
    println!("  operator token: {operator}");
    println!("  user token:     {user}   (devices only; plugin management answers \"forbidden\")");
    println!(
        "  plugin yeelight {} is granted only {loopback}/32, and never {addr}",
        installed.version
    );
    println!("Try: {{\"id\":1,\"service\":\"discover\"}}");
    println!("Stop with Ctrl-C.");
    let tokens = vec![
        Token {
            name: "demo-operator".into(),
            token: operator,
            scope: TokenScope::Operator,
        },
        Token {
            name: "demo-user".into(),
            token: user,
            scope: TokenScope::User,
        },
    ];
    crate::serve::run(hub, listener, tokens, shutdown_signal()).await
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
    crate::plugins::hex(&bytes)
}
