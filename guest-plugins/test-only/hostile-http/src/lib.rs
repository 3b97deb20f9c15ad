//! TEST ONLY. One device per URL in the config's comma-separated `urls`;
//! its get_attributes fetches the URL and reports the status and size.
//! Tests point it at granted hosts, hosts not granted, and granted names
//! that resolve into blocked networks.

use hub_guest_sdk::*;
use std::time::Duration;

struct Fetcher {
    urls: Vec<String>,
}

impl Plugin for Fetcher {
    fn init(config: Config) -> Result<Self, PluginError> {
        let urls = config.get("urls").unwrap_or_default();
        Ok(Fetcher {
            urls: urls
                .split(',')
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        Ok(self
            .urls
            .iter()
            .map(|url| DeviceInfo {
                identity: url.clone(),
                name: format!("fetch {url}"),
                model: "test".into(),
                manufacturer: "hub tests".into(),
                address: url.clone(),
            })
            .collect())
    }

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        let response = http::get(&device.address, Duration::from_secs(2))?;
        let attrs = vec![
            attr("status", i64::from(response.status)),
            attr("bytes", response.body.len() as i64),
        ];
        Ok(Device::new(device, vec![Instance::new("sensor", 0, attrs)]))
    }

    fn set_attributes(&mut self, _: &DeviceInfo, _: &[AttributeWrite]) -> Result<(), PluginError> {
        Err(PluginError::Unsupported("nothing to set".into()))
    }
}

export_plugin!(Fetcher);
