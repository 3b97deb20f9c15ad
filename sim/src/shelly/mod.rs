//! Simulated Shelly Gen2 devices (a Plus 1PM: one switch with power
//! metering): the public RPC over HTTP (`GET /shelly`, `GET /rpc/<Method>`
//! with query parameters, `POST /rpc` with JSON-RPC frames), the WebSocket
//! at `/rpc` with `NotifyStatus`/`NotifyEvent`, and firmware updates from a
//! simulated firmware server, with faults to switch on.

mod device;
mod firmware;
mod http;
mod ota;
mod ws;

pub use device::{ShellyDevice, UpdateFault, UpdateTiming};

use crate::LoopbackBlock;
use anyhow::Context;
use firmware::Firmware;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

#[derive(Debug, Clone)]
pub struct ShellyConfig {
    pub bind: IpAddr,
    pub count: usize,
    /// Device `i` listens on `port + i`; 0 picks free ports.
    pub port: u16,
    pub timing: UpdateTiming,
    /// Ids and MACs derive from `first + i`: simulators started with
    /// different `first` never share an id.
    pub first: usize,
    /// Each device on its own address from `bind` on, all at `port`, as on
    /// a LAN (see [`ShellySim::on_lan`]).
    pub spread: bool,
}

impl ShellyConfig {
    /// `count` devices on 127.0.0.1, on whatever ports are free.
    pub fn loopback(count: usize) -> Self {
        ShellyConfig {
            bind: IpAddr::from([127, 0, 0, 1]),
            count,
            port: 0,
            timing: UpdateTiming::default(),
            first: 0,
            spread: false,
        }
    }
}

/// Running simulated devices and their firmware server; dropping it stops them.
pub struct ShellySim {
    devices: Vec<Arc<ShellyDevice>>,
    firmware: Arc<Firmware>,
    network: IpNet,
    _block: Option<LoopbackBlock>,
    _tasks: JoinSet<()>,
}

impl ShellySim {
    /// `count` devices as on a LAN: each on an address of its own in a
    /// block of the loopback range, at the real port, 80 (which needs root
    /// or `net.ipv4.ip_unprivileged_port_start` at 80 or below).
    pub async fn on_lan(config: ShellyConfig) -> anyhow::Result<Self> {
        let block = LoopbackBlock::claim()?;
        let config = ShellyConfig {
            bind: block.first_of(config.count)?,
            port: 80,
            spread: true,
            ..config
        };
        let mut sim = Self::start(config).await.context(
            "simulated Shelly devices listen on port 80, as real ones do: run as root, \
             or let users bind it (sysctl net.ipv4.ip_unprivileged_port_start=80)",
        )?;
        sim.network = IpNet::V4(block.net());
        sim._block = Some(block);
        Ok(sim)
    }

    pub async fn start(config: ShellyConfig) -> anyhow::Result<Self> {
        let mut tasks = JoinSet::new();
        let listener = TcpListener::bind((config.bind, 0))
            .await
            .with_context(|| format!("bind the firmware server to {}", config.bind))?;
        let (firmware, serve_firmware) = Firmware::start(listener, config.timing.download).await?;
        tasks.spawn(serve_firmware);
        let mut devices = Vec::with_capacity(config.count);
        for index in 0..config.count {
            let addr = crate::nth_addr(config.bind, config.port, config.spread, index)?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind Shelly device {index} to {addr}"))?;
            let device = Arc::new(ShellyDevice::new(
                config.first + index,
                listener.local_addr()?,
                firmware.clone(),
                config.timing,
            ));
            tasks.spawn(http::serve(listener, device.clone()));
            devices.push(device);
        }
        Ok(ShellySim {
            devices,
            firmware,
            network: IpNet::from(config.bind),
            _block: None,
            _tasks: tasks,
        })
    }

    /// Where the devices are: what a plugin must be granted to reach them.
    pub fn network(&self) -> IpNet {
        self.network
    }

    pub fn devices(&self) -> &[Arc<ShellyDevice>] {
        &self.devices
    }

    /// Where the simulated firmware server serves images.
    pub fn firmware_addr(&self) -> SocketAddr {
        self.firmware.addr()
    }
}
