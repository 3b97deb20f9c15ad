//! One file per service. A request is parsed once into a [`Service`] (as
//! mini-redis parses a frame into a command); each variant then applies
//! itself and answers through the request's [`Responder`].
//!
//! A new service is a file here, a variant, and a line in [`Service::parse`].

mod check_update;
mod discover;
mod get_attributes;
mod list_devices;
mod market;
mod ota;
mod plugins;
mod sessions;
mod set_attributes;
mod set_device;

use super::request::Request;
use super::responder::Responder;
use crate::caps::Reach;
use crate::error::{ErrorCode, HubError};
use crate::gate::{Caller, Door};
use crate::plugins::{Hub, Plugin};
use std::sync::Arc;

/// The services answered here, as `hello` lists them.
pub const SERVICES: [&str; 6] = [
    "discover",
    "list_devices",
    "get_attributes",
    "set_attributes",
    "check_update",
    "ota",
];
/// Device services for operator tokens only.
pub const OPERATOR_SERVICES: [&str; 1] = ["set_device"];
pub use market::MARKET_SERVICES;
pub use plugins::MANAGEMENT;
pub use sessions::HUB_SERVICES;

pub enum Service {
    Discover(discover::Discover),
    ListDevices(list_devices::ListDevices),
    GetAttributes(get_attributes::GetAttributes),
    SetAttributes(set_attributes::SetAttributes),
    CheckUpdate(check_update::CheckUpdate),
    Ota(ota::Ota),
    SetDevice(set_device::SetDevice),
    /// `domain: "plugin"`: plugin management, for operator tokens.
    Manage(plugins::Manage),
    /// `domain: "plugin"`: releases from registries, updates and trust.
    Market(market::Market),
    /// `domain: "hub"`: the console's sessions, for operator tokens.
    Sessions(sessions::Sessions),
}

impl Service {
    /// What `request` asks for, or why it cannot be served as written.
    pub fn parse(request: Request, caller: &Caller) -> Result<Service, HubError> {
        match request.service.as_str() {
            "discover" => {
                return Ok(Service::Discover(discover::Discover::parse(
                    request, caller,
                )));
            }
            "list_devices" => {
                let list = list_devices::ListDevices::parse(request, caller)?;
                return Ok(Service::ListDevices(list));
            }
            _ => {}
        }
        match request.domain.as_deref() {
            Some("plugin") if market::Market::serves(&request) => {
                return market::Market::parse(request, caller).map(Service::Market);
            }
            Some("plugin") => return plugins::Manage::parse(request, caller).map(Service::Manage),
            Some("hub") => {
                return sessions::Sessions::parse(request, caller).map(Service::Sessions);
            }
            Some(_) => {}
            None => {
                return Err(HubError::new(
                    ErrorCode::InvalidFormat,
                    format!(
                        "\"domain\" is required for {:?}: a plugin id, or \"plugin\"",
                        request.service
                    ),
                ));
            }
        }
        Ok(match request.service.as_str() {
            "get_attributes" => Service::GetAttributes(get_attributes::GetAttributes {
                device: Device::parse(&request, caller)?,
            }),
            "set_attributes" => {
                Service::SetAttributes(set_attributes::SetAttributes::parse(request, caller)?)
            }
            "check_update" => Service::CheckUpdate(check_update::CheckUpdate {
                device: Device::parse(&request, caller)?,
            }),
            "set_device" => Service::SetDevice(set_device::SetDevice::parse(request, caller)?),
            "ota" => Service::Ota(ota::Ota {
                device: Device::parse(&request, caller)?,
            }),
            other => return Err(unknown_service(other)),
        })
    }

    pub async fn apply(self, door: &Door, out: &Responder) {
        let hub = &door.hub;
        match self {
            Service::Discover(s) => s.apply(hub, out).await,
            Service::ListDevices(s) => s.apply(hub, out).await,
            Service::GetAttributes(s) => s.apply(hub, out).await,
            Service::SetAttributes(s) => s.apply(hub, out).await,
            Service::CheckUpdate(s) => s.apply(hub, out).await,
            Service::Ota(s) => s.apply(hub, out).await,
            Service::SetDevice(s) => s.apply(hub, out).await,
            Service::Manage(s) => s.apply(hub, out).await,
            Service::Market(s) => s.apply(&door.market, out).await,
            Service::Sessions(s) => s.apply(door, out),
        }
    }
}

/// Runs `work` off the async workers (installing compiles, and every
/// change writes SQLite); a task that died answers `internal`.
async fn blocking<S: Send + Sync + 'static, T: Send + 'static>(
    on: &Arc<S>,
    work: impl FnOnce(&S) -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    let on = on.clone();
    tokio::task::spawn_blocking(move || work(&on))
        .await
        .unwrap_or_else(|e| {
            Err(HubError::new(
                ErrorCode::Internal,
                format!("the operation failed: {e}"),
            ))
        })
}

/// Parses `request` and applies it; every outcome is answered on `out`.
pub async fn serve(door: &Door, caller: &Caller, request: Request, out: Responder) {
    match Service::parse(request, caller) {
        Ok(service) => service.apply(door, &out).await,
        Err(error) => out.fail(error),
    }
}

/// The device a device service is for: `domain` names its plugin.
pub struct Device {
    plugin: String,
    identity: String,
    /// The caller's: the device must be within it.
    reach: Reach,
}

impl Device {
    fn parse(request: &Request, caller: &Caller) -> Result<Self, HubError> {
        let identity = request
            .identity
            .clone()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| {
                HubError::new(
                    ErrorCode::InvalidFormat,
                    format!("\"identity\" is required for {}", request.service),
                )
            })?;
        Ok(Device {
            plugin: request.domain.clone().unwrap_or_default(),
            identity,
            reach: caller.reach.clone(),
        })
    }

    /// The running plugin the device belongs to, if the caller may reach it.
    fn plugin(&self, hub: &Hub) -> Result<Arc<Plugin>, HubError> {
        if !reaches(hub, &self.reach, &self.plugin, &self.identity) {
            let areas = self.reach.areas().unwrap_or_default().join(", ");
            return Err(HubError::new(
                ErrorCode::Forbidden,
                format!("this token reaches devices in {areas} only"),
            ));
        }
        hub.plugin(&self.plugin)
    }
}

/// May a caller of `reach` see and control the device? Its area is the
/// hub's record (`set_device`), looked up only for limited tokens.
pub fn reaches(hub: &Hub, reach: &Reach, plugin: &str, identity: &str) -> bool {
    if let Reach::Everywhere = reach {
        return true;
    }
    let label = hub.label(plugin, identity);
    reach.allows(label.as_ref().and_then(|l| l.area.as_deref()))
}

/// The running plugin `domain` names, or every running plugin without one.
fn plugins_named(hub: &Hub, domain: Option<&str>) -> Result<Vec<Arc<Plugin>>, HubError> {
    match domain {
        Some(id) => Ok(vec![hub.plugin(id)?]),
        None => Ok(hub.plugins()),
    }
}

fn unknown_service(service: &str) -> HubError {
    HubError::new(
        ErrorCode::UnknownService,
        format!("no service {service:?} here"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenScope;

    #[test]
    fn every_service_hello_lists_is_served() {
        let operator = Caller {
            name: "test".into(),
            scope: TokenScope::Operator,
            reach: Reach::Everywhere,
            session: None,
        };
        for service in SERVICES.iter().chain(&OPERATOR_SERVICES) {
            let request = Request {
                id: 1,
                domain: Some("yeelight".into()),
                service: service.to_string(),
                identity: Some("0x1".into()),
                service_data: Default::default(),
            };
            if let Err(e) = Service::parse(request, &operator) {
                assert_ne!(e.code, ErrorCode::UnknownService, "{service}: {e}");
            }
        }
        for service in MANAGEMENT.iter().chain(&MARKET_SERVICES) {
            let request = Request {
                id: 1,
                domain: Some("plugin".into()),
                service: service.to_string(),
                identity: None,
                service_data: Default::default(),
            };
            if let Err(e) = Service::parse(request, &operator) {
                assert_ne!(e.code, ErrorCode::UnknownService, "{service}: {e}");
            }
        }
    }
}
