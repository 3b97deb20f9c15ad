use crate::address::BulbAddress;
use hub_guest_sdk::{DeviceInfo, PluginError, net};
use std::net::SocketAddr;
use std::time::Duration;

const SEARCH: &str = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1982\r\nMAN: \"ssdp:discover\"\r\nST: wifi_bulb\r\n";

/// Sends one M-SEARCH and turns each distinct answer into a device.
pub fn search(target: SocketAddr, window: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
    let replies = net::udp_exchange(target, SEARCH.as_bytes(), window)?;
    let mut devices: Vec<DeviceInfo> = Vec::new();
    for (from, reply) in replies {
        match parse_reply(&String::from_utf8_lossy(&reply)) {
            Some(device) if !devices.iter().any(|d| d.identity == device.identity) => {
                devices.push(device)
            }
            Some(_) => {}
            None => hub_guest_sdk::debug!(
                "ignored a discovery reply from {from} without id or Location"
            ),
        }
    }
    Ok(devices)
}

/// Parses the header block a bulb answers with (or multicasts as NOTIFY).
fn parse_reply(text: &str) -> Option<DeviceInfo> {
    let header = |name: &str| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let location = header("Location")?;
    let control = location.strip_prefix("yeelight://")?;
    let identity = header("id")?;
    let model = header("model").unwrap_or_default();
    let name = header("name")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Yeelight {model}"));
    Some(DeviceInfo {
        address: BulbAddress::format(control, &header("fw_ver").unwrap_or_default()),
        identity,
        name,
        model,
        manufacturer: "Yeelight".to_string(),
    })
}
