//! Shelly Gen2 devices over their public LAN RPC: `GET /shelly` to
//! identify, `GET /rpc/<Method>` to read and switch, the WebSocket at
//! `/rpc` for pushed `NotifyStatus`, and `Shelly.Update` for firmware.
//!
//! Configuration:
//! - `discovery` (required for discover): comma-separated addresses to
//!   probe, each `ip`, `ip:port` or an IPv4 subnet such as `192.168.1.0/24`
//!   (port 80);
//! - `io_timeout_ms`: per connect/read/write, default 3000;
//! - `probe_timeout_ms`: per probed address during discover, default 150;
//! - `reboot_timeout_ms`: how long an update waits for the device to come
//!   back, default 300000 (the hub's OTA deadline still applies).

mod discovery;
mod mapping;
mod ota;
mod rpc;

use hub_guest_sdk::*;
use rpc::Rpc;
use serde_json::json;
use std::time::Duration;

/// How long a watched device may stay quiet before it is asked for its status.
const WATCH_IDLE: Duration = Duration::from_secs(60);

struct Shelly {
    targets: Vec<discovery::Target>,
    io_timeout: Duration,
    probe_timeout: Duration,
    reboot_timeout: Duration,
}

/// One device, reached over its RPC.
struct Switch {
    identity: String,
    model: String,
    rpc: Rpc,
    reboot_timeout: Duration,
}

impl Plugin for Shelly {
    type Device = Switch;

    fn init(config: Config) -> Result<Self, PluginError> {
        Ok(Shelly {
            targets: discovery::parse_targets(config.get("discovery").unwrap_or_default())
                .map_err(|e| e.context("config `discovery`"))?,
            io_timeout: config.millis("io_timeout_ms", 3000)?,
            probe_timeout: config.millis("probe_timeout_ms", 150)?,
            reboot_timeout: config.millis("reboot_timeout_ms", 300_000)?,
        })
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        discovery::probe(&self.targets, self.probe_timeout)
    }

    fn open(&mut self, info: DeviceInfo) -> Result<Switch, PluginError> {
        Ok(Switch {
            rpc: Rpc::new(net::parse_addr(&info.address)?, self.io_timeout),
            identity: info.identity,
            model: info.model,
            reboot_timeout: self.reboot_timeout,
        })
    }
}

impl Switch {
    fn status(&self) -> Result<serde_json::Value, PluginError> {
        self.rpc.call("Switch.GetStatus", "id=0")
    }
}

impl Device for Switch {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        Ok(mapping::meta(&self.model, &self.status()?))
    }

    fn read(&mut self, declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        mapping::values(declared, &self.status()?)
    }

    fn write(&mut self, writes: &[AttributeWrite]) -> Result<(), PluginError> {
        let queries = writes
            .iter()
            .map(mapping::switch_query)
            .collect::<Result<Vec<_>, _>>()?;
        queries
            .iter()
            .try_for_each(|query| self.rpc.call("Switch.Set", query).map(drop))
    }

    fn check_update(&mut self) -> Result<UpdateInfo, PluginError> {
        let current = self.rpc.identify()?.version;
        let offered = self.rpc.stable_update()?;
        Ok(UpdateInfo {
            update_available: offered.is_some(),
            latest_firmware: offered.map(|(version, build_id)| Firmware {
                version,
                url: build_id,
                info: "stable release from the vendor (the url field holds its build id)".into(),
            }),
            current_version: current,
        })
    }

    fn ota(&mut self) -> Result<(), PluginError> {
        ota::update(&self.identity, &self.rpc, self.reboot_timeout)
    }

    /// A device quiet for [`WATCH_IDLE`] is asked for its status; quiet
    /// again, its connection is taken for dead (a device unplugged without
    /// closing it) and the hub watches anew after a back-off.
    fn watch(&mut self, declared: &DeviceMeta) -> Result<(), PluginError> {
        let identity = &self.identity;
        let mut ws = self.rpc.notifications(identity)?;
        let mut asked = false;
        loop {
            match ws.read_text(Some(WATCH_IDLE)) {
                Ok(frame) => {
                    asked = false;
                    emit(&mapping::notified_changes(declared, &frame));
                }
                Err(PluginError::Timeout(_)) if !asked => {
                    asked = true;
                    ws.send_text(&rpc::ws_request(identity, 3, "Shelly.GetStatus", json!({})))?;
                }
                Err(PluginError::Timeout(_)) => {
                    return Err(PluginError::Unreachable(format!(
                        "{identity} stopped answering on its WebSocket"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

export_plugin!(Shelly);
