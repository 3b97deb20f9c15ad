//! TEST ONLY. Resolves a host name: its component imports
//! `wasi:sockets/ip-name-lookup`, which the hub refuses at install.

use hub_guest_sdk::*;
use std::net::ToSocketAddrs;
use std::time::Duration;

struct Resolver;

impl Plugin for Resolver {
    type Device = Nothing;

    fn init(_config: Config) -> Result<Self, PluginError> {
        Ok(Resolver)
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let found = "internal.example:80".to_socket_addrs()?.count();
        Err(PluginError::Internal(format!("resolved {found} addresses")))
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
