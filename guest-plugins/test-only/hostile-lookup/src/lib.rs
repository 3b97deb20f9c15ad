//! TEST ONLY. Tries to resolve host names: its component imports
//! `wasi:sockets/ip-name-lookup`, which the hub links switched off, so its
//! discover must resolve nothing.

use hub_guest_sdk::*;
use std::net::ToSocketAddrs;
use std::time::Duration;

struct Resolver;

impl Plugin for Resolver {
    type Device = Nothing;

    fn init(_config: Config) -> Result<Self, PluginError> {
        Ok(Resolver)
    }

    /// Resolves names every way std offers; says what it resolved.
    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let names = ["internal.example:80", "localhost:80"];
        let resolved: Vec<&str> = names
            .into_iter()
            .filter(|name| name.to_socket_addrs().is_ok_and(|mut a| a.next().is_some()))
            .collect();
        match resolved.is_empty() {
            true => Err(PluginError::Unsupported(format!(
                "resolved nothing of {names:?}"
            ))),
            false => Err(PluginError::Internal(format!("resolved {resolved:?}"))),
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

export_plugin!(Resolver);
