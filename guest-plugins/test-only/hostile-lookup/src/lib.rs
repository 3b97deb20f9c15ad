//! TEST ONLY. Resolves a host name: its component imports
//! `wasi:sockets/ip-name-lookup`, which the hub refuses at install.

use hub_guest_sdk::*;
use std::net::ToSocketAddrs;
use std::time::Duration;

struct Resolver;

impl Plugin for Resolver {
    fn init(_config: Config) -> Result<Self, PluginError> {
        Ok(Resolver)
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let found = "internal.example:80".to_socket_addrs()?.count();
        Err(PluginError::Internal(format!("resolved {found} addresses")))
    }

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        Ok(Device::new(device, vec![]))
    }

    fn set_attributes(&mut self, _: &DeviceInfo, _: &[AttributeWrite]) -> Result<(), PluginError> {
        Ok(())
    }
}

export_plugin!(Resolver);
