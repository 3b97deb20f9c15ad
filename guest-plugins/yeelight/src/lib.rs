//! Yeelight LAN protocol: SSDP-style discovery on UDP 1982, JSON commands
//! over TCP 55443, and `props` notifications pushed to every connection.
//!
//! Configuration (all optional):
//! - `discovery`: where M-SEARCH goes, default `239.255.255.250:1982`
//!   (several `ip:port`, comma-separated, are searched one after another);
//! - `io_timeout_ms`: per connect/read/write, default 5000;
//! - `commands_per_minute`: the bulbs' command quota, default 60 as on real bulbs.

mod address;
mod discovery;
mod mapping;
mod session;

use address::BulbAddress;
use hub_guest_sdk::*;
use session::{Limits, Session};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

struct Yeelight {
    discovery: Vec<SocketAddr>,
    limits: Limits,
    /// One control connection per bulb, kept open so that its `props`
    /// notifications keep the cached state current between calls.
    sessions: HashMap<String, Session>,
}

impl Yeelight {
    fn session(&mut self, device: &DeviceInfo) -> Result<&mut Session, PluginError> {
        let address = BulbAddress::parse(&device.address)?;
        let stale = self
            .sessions
            .get(&device.identity)
            .is_some_and(|s| s.peer() != address.control);
        if stale {
            self.sessions.remove(&device.identity);
        }
        if !self.sessions.contains_key(&device.identity) {
            let session = Session::open(address.control, self.limits)?;
            self.sessions.insert(device.identity.clone(), session);
        }
        Ok(self
            .sessions
            .get_mut(&device.identity)
            .expect("inserted above"))
    }

    /// Runs `call` on the bulb's session; a broken connection is forgotten so
    /// that the next call reconnects.
    fn with_session<R>(
        &mut self,
        device: &DeviceInfo,
        call: impl FnOnce(&mut Session) -> Result<R, PluginError>,
    ) -> Result<R, PluginError> {
        let session = self.session(device)?;
        let result = call(session);
        if session.broken {
            self.sessions.remove(&device.identity);
        }
        result
    }
}

impl Plugin for Yeelight {
    fn init(config: Config) -> Result<Self, PluginError> {
        let discovery = config.get("discovery").unwrap_or("239.255.255.250:1982");
        let discovery = discovery
            .split(',')
            .map(net::parse_addr)
            .collect::<Result<_, _>>()
            .map_err(|e| e.context("config `discovery`"))?;
        Ok(Yeelight {
            discovery,
            limits: Limits {
                timeout: config.millis("io_timeout_ms", 5000)?,
                per_minute: config.parse_or("commands_per_minute", 60)?,
            },
            sessions: HashMap::new(),
        })
    }

    /// A target the grant does not reach is logged and skipped, so that
    /// the others are still searched.
    fn discover(&mut self, timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let mut found: Vec<DeviceInfo> = Vec::new();
        for target in &self.discovery {
            match discovery::search(*target, timeout) {
                Ok(devices) => {
                    for device in devices {
                        if !found.iter().any(|f| f.identity == device.identity) {
                            found.push(device);
                        }
                    }
                }
                Err(e) if self.discovery.len() > 1 => warn!("search at {target} failed: {e:?}"),
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        let props = self.with_session(device, |s| s.props())?;
        Ok(mapping::device(device, &props))
    }

    fn set_attributes(
        &mut self,
        device: &DeviceInfo,
        writes: &[AttributeWrite],
    ) -> Result<(), PluginError> {
        let commands = writes
            .iter()
            .map(mapping::command)
            .collect::<Result<Vec<_>, _>>()?;
        self.with_session(device, |s| {
            commands
                .iter()
                .try_for_each(|(method, params)| s.command(method, params.clone()).map(drop))
        })
    }

    fn check_update(&mut self, device: &DeviceInfo) -> Result<UpdateInfo, PluginError> {
        let address = BulbAddress::parse(&device.address)?;
        Ok(UpdateInfo {
            current_version: address.firmware,
            latest_firmware: None,
            update_available: false,
        })
    }

    fn ota(&mut self, _device: &DeviceInfo) -> Result<(), PluginError> {
        Err(PluginError::Unsupported(
            "Yeelight bulbs update their firmware only through the vendor's app".into(),
        ))
    }

    fn watch(&mut self, device: &DeviceInfo) -> Result<(), PluginError> {
        let address = BulbAddress::parse(&device.address)?;
        let mut session = Session::open(address.control, self.limits)?;
        session.wait_for_changes(|changes| {
            for attribute in mapping::changes(&device.model, changes) {
                emit(&device.identity, mapping::LIGHT_INSTANCE, attribute);
            }
        })
    }
}

export_plugin!(Yeelight);
