//! `hub demo`: simulated bulbs on loopback and a hub whose Yeelight plugin
//! may reach only them.

use crate::config::PluginSpec;
use crate::plugins::Hub;
use crate::ws::{Server, ServerSettings};
use anyhow::Context;
use hub_sim::yeelight::{SimConfig, YeelightSim};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

pub struct DemoOptions {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub plugin: PathBuf,
    pub bulbs: usize,
    pub data_dir: PathBuf,
}

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let sim = YeelightSim::start(SimConfig::loopback(options.bulbs)).await?;
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let plugin = PluginSpec {
        id: "yeelight".into(),
        component: options.plugin.clone(),
        allow: vec![ipnet::IpNet::from(loopback)],
        config: [("discovery".to_string(), sim.discovery_addr().to_string())].into(),
        limits: Default::default(),
    };
    let hub = Hub::load(&[plugin], &options.data_dir, &[addr]).with_context(|| {
        format!(
            "load the Yeelight plugin from {} (build it with `cargo xtask build-guests`)",
            options.plugin.display()
        )
    })?;
    let token = options.token.unwrap_or_else(random_token);
    println!(
        "Simulated Yeelight bulbs (discovery at udp://{}):",
        sim.discovery_addr()
    );
    for bulb in sim.bulbs() {
        println!("  {}  {}", bulb.id(), bulb.control_addr());
    }
    println!();
    println!("Hub ready. WebSocket: ws://{addr}/ws?token={token}");
    println!("  token (header smart-assistant-token): {token}");
    println!("  the yeelight plugin may reach only {loopback}/32, never {addr}");
    println!("Try: {{\"id\":1,\"service\":\"discover\"}}");
    println!("Stop with Ctrl-C.");
    let server = Server::new(listener, Arc::new(hub), ServerSettings { token });
    server.run(shutdown_signal()).await;
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
    crate::plugins::hex(&bytes)
}
