//! TEST ONLY. Tries to read the host's files: its component imports
//! `wasi:filesystem`, which the hub links with no directory preopened, so
//! its discover must open nothing.

use hub_guest_sdk::*;
use std::time::Duration;

struct Snoop;

impl Plugin for Snoop {
    type Device = Nothing;

    fn init(_config: Config) -> Result<Self, PluginError> {
        Ok(Snoop)
    }

    /// Tries the host's files every way std offers; says what it opened.
    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let paths = [
            "/etc/passwd",
            "/",
            ".",
            "plugin.wasm",
            "../../../etc/passwd",
        ];
        let opened: Vec<&str> = paths
            .into_iter()
            .filter(|path| {
                std::fs::metadata(path).is_ok()
                    || std::fs::read_dir(path).is_ok()
                    || std::fs::read(path).is_ok()
            })
            .collect();
        match opened.is_empty() {
            true => Err(PluginError::Unsupported(format!(
                "opened nothing of {paths:?}"
            ))),
            false => Err(PluginError::Internal(format!("opened {opened:?}"))),
        }
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
