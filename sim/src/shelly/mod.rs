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

use anyhow::Context;
use firmware::Firmware;
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
        }
    }
}

/// Running simulated devices and their firmware server; dropping it stops them.
pub struct ShellySim {
    devices: Vec<Arc<ShellyDevice>>,
    firmware: Arc<Firmware>,
    _tasks: JoinSet<()>,
}

impl ShellySim {
    pub async fn start(config: ShellyConfig) -> anyhow::Result<Self> {
        let mut tasks = JoinSet::new();
        let listener = TcpListener::bind((config.bind, 0))
            .await
            .with_context(|| format!("bind the firmware server to {}", config.bind))?;
        let (firmware, serve_firmware) = Firmware::start(listener, config.timing.download).await?;
        tasks.spawn(serve_firmware);
        let mut devices = Vec::with_capacity(config.count);
        for index in 0..config.count {
            let port = crate::nth_port(config.port, index)?;
            let listener = TcpListener::bind((config.bind, port))
                .await
                .with_context(|| format!("bind Shelly device {index} to {}:{port}", config.bind))?;
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
            _tasks: tasks,
        })
    }

    pub fn devices(&self) -> &[Arc<ShellyDevice>] {
        &self.devices
    }

    /// Where the simulated firmware server serves images.
    pub fn firmware_addr(&self) -> SocketAddr {
        self.firmware.addr()
    }
}
