//! TEST ONLY. Reads the host's files: its component imports
//! `wasi:filesystem`, which the hub refuses at install.

use hub_guest_sdk::*;
use std::time::Duration;

struct Snoop;

impl Plugin for Snoop {
    type Device = Nothing;

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

    fn open(&mut self, _info: DeviceInfo) -> Result<Nothing, PluginError> {
        Ok(Nothing)
    }
}

/// It never gets as far as a device.
struct Nothing;

impl Device for Nothing {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        Ok(DeviceMeta::new())
    }

    fn read(&mut self, _declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        Ok(Vec::new())
    }

    fn write(&mut self, _: &[AttributeWrite]) -> Result<(), PluginError> {
        Ok(())
    }
}

export_plugin!(Snoop);
