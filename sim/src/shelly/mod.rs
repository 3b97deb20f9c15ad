//! Simulated Shelly Gen2 devices (a Plus 1PM: one switch with power
//! metering): the public RPC over HTTP, `GET /shelly`, `GET /rpc/<Method>`
//! with query parameters and `POST /rpc` with JSON-RPC frames.
//!
//! Not simulated yet: the WebSocket at `/rpc` with its notifications, and
//! firmware updates (`Shelly.Update` answers that no update is available
//! unless one is offered with [`ShellyDevice::offer_update`]).

mod device;
mod http;

pub use device::ShellyDevice;

use anyhow::Context;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

#[derive(Debug, Clone)]
pub struct ShellyConfig {
    pub bind: IpAddr,
    pub count: usize,
    /// Device `i` listens on `port + i`; 0 picks free ports.
    pub port: u16,
}

impl ShellyConfig {
    /// `count` devices on 127.0.0.1, on whatever ports are free.
    pub fn loopback(count: usize) -> Self {
        ShellyConfig {
            bind: IpAddr::from([127, 0, 0, 1]),
            count,
            port: 0,
        }
    }
}

/// Running simulated devices; dropping it stops them.
pub struct ShellySim {
    devices: Vec<Arc<ShellyDevice>>,
    _tasks: JoinSet<()>,
}

impl ShellySim {
    pub async fn start(config: ShellyConfig) -> anyhow::Result<Self> {
        let mut tasks = JoinSet::new();
        let mut devices = Vec::with_capacity(config.count);
        for index in 0..config.count {
            let port = crate::nth_port(config.port, index)?;
            let listener = TcpListener::bind((config.bind, port))
                .await
                .with_context(|| format!("bind Shelly device {index} to {}:{port}", config.bind))?;
            let device = Arc::new(ShellyDevice::new(index, listener.local_addr()?));
            tasks.spawn(http::serve(listener, device.clone()));
            devices.push(device);
        }
        Ok(ShellySim {
            devices,
            _tasks: tasks,
        })
    }

    pub fn devices(&self) -> &[Arc<ShellyDevice>] {
        &self.devices
    }
}
