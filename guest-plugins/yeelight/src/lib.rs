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
use std::net::SocketAddr;
use std::time::Duration;

struct Yeelight {
    discovery: Vec<SocketAddr>,
    limits: Limits,
}

/// One bulb, with its control connection kept open so that its `props`
/// notifications keep the cached state current between calls.
struct Bulb {
    address: BulbAddress,
    model: String,
    limits: Limits,
    session: Option<Session>,
}

impl Bulb {
    /// Runs `call` on the bulb's session, opened if needed; a broken
    /// connection is forgotten so that the next call reconnects.
    fn with_session<R>(
        &mut self,
        call: impl FnOnce(&mut Session) -> Result<R, PluginError>,
    ) -> Result<R, PluginError> {
        let session = match &mut self.session {
            Some(session) => session,
            None => self
                .session
                .insert(Session::open(self.address.control, self.limits)?),
        };
        let result = call(session);
        if session.broken {
            self.session = None;
        }
        result
    }
}

impl Plugin for Yeelight {
    type Device = Bulb;

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

    fn open(&mut self, info: DeviceInfo) -> Result<Bulb, PluginError> {
        Ok(Bulb {
            address: BulbAddress::parse(&info.address)?,
            model: info.model,
            limits: self.limits,
            session: None,
        })
    }
}

impl Device for Bulb {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        let props = self.with_session(|s| s.props())?;
        let per_minute = u32::try_from(self.limits.per_minute).unwrap_or(u32::MAX);
        Ok(mapping::meta(&self.model, &props, per_minute))
    }

    fn read(&mut self, declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        let props = self.with_session(|s| s.props())?;
        mapping::values(declared, &props)
    }

    fn write(&mut self, writes: &[AttributeWrite]) -> Result<(), PluginError> {
        let commands = writes
            .iter()
            .map(mapping::command)
            .collect::<Result<Vec<_>, _>>()?;
        self.with_session(|s| {
            commands
                .iter()
                .try_for_each(|(method, params)| s.command(method, params.clone()).map(drop))
        })
    }

    fn check_update(&mut self) -> Result<UpdateInfo, PluginError> {
        Ok(UpdateInfo {
            current_version: self.address.firmware.clone(),
            latest_firmware: None,
            update_available: false,
        })
    }

    fn ota(&mut self) -> Result<(), PluginError> {
        Err(PluginError::Unsupported(
            "Yeelight bulbs update their firmware only through the vendor's app".into(),
        ))
    }

    fn watch(&mut self, declared: &DeviceMeta) -> Result<(), PluginError> {
        // The connection describe opened, if it did: a bulb takes only four.
        let mut session = match self.session.take() {
            Some(session) => session,
            None => Session::open(self.address.control, self.limits)?,
        };
        session.wait_for_changes(|changes| emit(&mapping::changes(declared, changes)))
    }
}

export_plugin!(Yeelight);
