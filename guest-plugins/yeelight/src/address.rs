use hub_guest_sdk::{PluginError, net};
use std::net::SocketAddr;

/// What the plugin stores in `DeviceInfo::address`:
/// `yeelight://IP:PORT?fw_ver=VERSION`, the bulb's own `Location` plus the
/// firmware version it announced at discovery.
pub struct BulbAddress {
    pub control: SocketAddr,
    pub firmware: String,
}

impl BulbAddress {
    pub fn format(control: &str, firmware: &str) -> String {
        format!("yeelight://{control}?fw_ver={firmware}")
    }

    pub fn parse(text: &str) -> Result<Self, PluginError> {
        let rest = text.strip_prefix("yeelight://").unwrap_or(text);
        let (control, query) = rest.split_once('?').unwrap_or((rest, ""));
        let firmware = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("fw_ver="))
            .unwrap_or_default();
        Ok(BulbAddress {
            control: net::parse_addr(control)?,
            firmware: firmware.to_string(),
        })
    }
}
