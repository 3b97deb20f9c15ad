//! Simulated Yeelight bulbs: discovery on UDP, JSON-per-line control on TCP,
//! `props` notifications to every open connection.

mod bulb;
mod connection;
mod discovery;

pub use bulb::{Bulb, Fault};

use anyhow::Context;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

/// Where and how many bulbs to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub bind: IpAddr,
    pub count: usize,
    /// Bulb `i` listens on `control_port + i`; 0 picks free ports.
    pub control_port: u16,
    /// The discovery responder's UDP port (1982 on real bulbs); 0 picks one.
    pub discovery_port: u16,
    /// Commands each connection may send per minute (60 on real bulbs).
    pub commands_per_minute: usize,
    /// Ids derive from `first + i`: simulators started with different
    /// `first` never share an id.
    pub first: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: IpAddr::from([127, 0, 0, 1]),
            count: 1,
            control_port: 55443,
            discovery_port: 1982,
            commands_per_minute: 60,
            first: 0,
        }
    }
}

impl SimConfig {
    /// `count` bulbs on 127.0.0.1, on whatever ports are free.
    pub fn loopback(count: usize) -> Self {
        SimConfig {
            count,
            control_port: 0,
            discovery_port: 0,
            ..SimConfig::default()
        }
    }
}

/// Running simulated bulbs; dropping it stops them.
pub struct YeelightSim {
    bulbs: Vec<Arc<Bulb>>,
    discovery: SocketAddr,
    _tasks: JoinSet<()>,
}

impl YeelightSim {
    pub async fn start(config: SimConfig) -> anyhow::Result<Self> {
        let mut tasks = JoinSet::new();
        let mut bulbs = Vec::with_capacity(config.count);
        for index in 0..config.count {
            let port = crate::nth_port(config.control_port, index)?;
            let listener = TcpListener::bind((config.bind, port))
                .await
                .with_context(|| format!("bind bulb {index} to {}:{port}", config.bind))?;
            let bulb = Arc::new(Bulb::new(
                config.first + index,
                listener.local_addr()?,
                config.commands_per_minute,
            ));
            tasks.spawn(connection::serve(listener, bulb.clone()));
            bulbs.push(bulb);
        }
        let socket = UdpSocket::bind((config.bind, config.discovery_port))
            .await
            .with_context(|| {
                format!(
                    "bind discovery to {}:{}",
                    config.bind, config.discovery_port
                )
            })?;
        let discovery = socket.local_addr()?;
        tasks.spawn(discovery::answer(socket, bulbs.clone()));
        Ok(YeelightSim {
            bulbs,
            discovery,
            _tasks: tasks,
        })
    }

    pub fn bulbs(&self) -> &[Arc<Bulb>] {
        &self.bulbs
    }

    /// Where an M-SEARCH reaches the simulated bulbs.
    pub fn discovery_addr(&self) -> SocketAddr {
        self.discovery
    }
}
