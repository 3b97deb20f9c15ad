//! TEST ONLY. Reads the host's files: its component imports
//! `wasi:filesystem`, which the hub refuses at install.

use hub_guest_sdk::*;
use std::time::Duration;

struct Snoop;

impl Plugin for Snoop {
    fn init(_config: Config) -> Result<Self, PluginError> {
        Ok(Snoop)
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let secrets = std::fs::read_to_string("/etc/passwd")?;
        Err(PluginError::Internal(format!(
            "read {} bytes",
            secrets.len()
        )))
    }

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        Ok(Device::new(device, vec![]))
    }

    fn set_attributes(&mut self, _: &DeviceInfo, _: &[AttributeWrite]) -> Result<(), PluginError> {
        Ok(())
    }
}

export_plugin!(Snoop);
