//! Simulated Yeelight bulbs: discovery on UDP, JSON-per-line control on TCP,
//! `props` notifications to every open connection.

mod bulb;
mod connection;
mod discovery;

pub use bulb::{Bulb, Fault};

use crate::LoopbackBlock;
use anyhow::Context;
use ipnet::IpNet;
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
    /// Each bulb on its own address from `bind` on, all at `control_port`,
    /// as on a LAN (see [`YeelightSim::on_lan`]).
    pub spread: bool,
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
            spread: false,
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
    network: IpNet,
    _block: Option<LoopbackBlock>,
    _tasks: JoinSet<()>,
}

impl YeelightSim {
    /// `config`'s bulbs as on a LAN: each on an address of its own in a
    /// block of the loopback range, at the real ports (control on TCP
    /// 55443, discovery answered from UDP 1982).
    pub async fn on_lan(config: SimConfig) -> anyhow::Result<Self> {
        let block = LoopbackBlock::claim()?;
        let config = SimConfig {
            bind: block.first_of(config.count)?,
            control_port: 55443,
            discovery_port: 1982,
            spread: true,
            ..config
        };
        let mut sim = Self::start(config).await?;
        sim.network = IpNet::V4(block.net());
        sim._block = Some(block);
        Ok(sim)
    }

    pub async fn start(config: SimConfig) -> anyhow::Result<Self> {
        let mut tasks = JoinSet::new();
        let mut bulbs = Vec::with_capacity(config.count);
        for index in 0..config.count {
            let addr = crate::nth_addr(config.bind, config.control_port, config.spread, index)?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind bulb {index} to {addr}"))?;
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
            network: IpNet::from(config.bind),
            _block: None,
            _tasks: tasks,
        })
    }

    /// Where the bulbs are: what a plugin must be granted to reach them.
    pub fn network(&self) -> IpNet {
        self.network
    }

    pub fn bulbs(&self) -> &[Arc<Bulb>] {
        &self.bulbs
    }

    /// Where an M-SEARCH reaches the simulated bulbs.
    pub fn discovery_addr(&self) -> SocketAddr {
        self.discovery
    }
}
