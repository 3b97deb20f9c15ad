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

impl Shelly {
    fn rpc(&self, device: &DeviceInfo) -> Result<Rpc, PluginError> {
        Ok(Rpc::new(net::parse_addr(&device.address)?, self.io_timeout))
    }
}

impl Plugin for Shelly {
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

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        let status = self.rpc(device)?.call("Switch.GetStatus", "id=0")?;
        Ok(mapping::device(device, &status))
    }

    fn set_attributes(
        &mut self,
        device: &DeviceInfo,
        writes: &[AttributeWrite],
    ) -> Result<(), PluginError> {
        let queries = writes
            .iter()
            .map(mapping::switch_query)
            .collect::<Result<Vec<_>, _>>()?;
        let rpc = self.rpc(device)?;
        queries
            .iter()
            .try_for_each(|query| rpc.call("Switch.Set", query).map(drop))
    }

    fn check_update(&mut self, device: &DeviceInfo) -> Result<UpdateInfo, PluginError> {
        let rpc = self.rpc(device)?;
        let current = rpc.identify()?.version;
        let offered = rpc.stable_update()?;
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

    fn ota(&mut self, device: &DeviceInfo) -> Result<(), PluginError> {
        ota::update(&device.identity, &self.rpc(device)?, self.reboot_timeout)
    }

    /// A device quiet for [`WATCH_IDLE`] is asked for its status; quiet
    /// again, its connection is taken for dead (a device unplugged without
    /// closing it) and the hub watches anew after a back-off.
    fn watch(&mut self, device: &DeviceInfo) -> Result<(), PluginError> {
        let identity = &device.identity;
        let mut ws = self.rpc(device)?.notifications(identity)?;
        let mut asked = false;
        loop {
            match ws.read_text(Some(WATCH_IDLE)) {
                Ok(frame) => {
                    asked = false;
                    for (instance, attribute) in mapping::notified_changes(&frame) {
                        emit(identity, instance, attribute);
                    }
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
