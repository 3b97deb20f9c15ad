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
    type Device = Fetch;

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

    fn open(&mut self, info: DeviceInfo) -> Result<Fetch, PluginError> {
        Ok(Fetch { url: info.address })
    }
}

/// Fetches its URL at every read.
struct Fetch {
    url: String,
}

impl Device for Fetch {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        let attrs = vec![attr::int("status"), attr::int("bytes").unit("B")];
        Ok(DeviceMeta::new().instance("sensor", 0, attrs))
    }

    fn read(&mut self, _declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        let response = http::get(&self.url, Duration::from_secs(2))?;
        Ok(vec![
            i64::from(response.status).into(),
            (response.body.len() as i64).into(),
        ])
    }

    fn write(&mut self, _: &[AttributeWrite]) -> Result<(), PluginError> {
        Err(PluginError::Unsupported("nothing to set".into()))
    }
}

export_plugin!(Fetcher);
