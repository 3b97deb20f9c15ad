//! `set_device`: an operator names a device and places it in an area. The
//! hub keeps both (the plugin's reports never overwrite them); discover,
//! get_attributes and list_devices show them, and tokens limited to areas
//! reach the device through its area. Audited.

use super::Device;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::plugins::Hub;
use crate::ws::request::Request;
use crate::ws::responder::Responder;
use serde_json::{Map, Value};
use std::sync::Arc;

pub struct SetDevice {
    actor: String,
    device: Device,
    name: Change,
    area: Change,
}

/// A field of `service_data`: absent keeps the value, `null` clears it.
enum Change {
    Keep,
    Set(Option<String>),
}

impl SetDevice {
    pub fn parse(request: Request, caller: &Caller) -> Result<Self, HubError> {
        caller.operator_only("set_device")?;
        let data = &request.service_data;
        let (name, area) = (change(data, "name")?, change(data, "area")?);
        if let (Change::Keep, Change::Keep) = (&name, &area) {
            return Err(HubError::new(
                ErrorCode::InvalidFormat,
                "service_data needs \"name\" or \"area\" (a string, or null to clear it)",
            ));
        }
        Ok(SetDevice {
            actor: caller.name.clone(),
            device: Device::parse(&request, caller)?,
            name,
            area,
        })
    }

    pub async fn apply(self, hub: &Arc<Hub>, out: &Responder) {
        let SetDevice {
            actor,
            device,
            name,
            area,
        } = self;
        let done = super::blocking(hub, move |hub| {
            hub.change_label(&actor, &device.plugin, &device.identity, |label| {
                if let Change::Set(name) = name {
                    label.name = name;
                }
                if let Change::Set(area) = area {
                    label.area = area;
                }
            })
        });
        out.send(done.await.map(|()| Value::Null));
    }
}

fn change(data: &Map<String, Value>, field: &str) -> Result<Change, HubError> {
    match data.get(field) {
        None => Ok(Change::Keep),
        Some(Value::Null) => Ok(Change::Set(None)),
        Some(Value::String(text)) => Ok(Change::Set(Some(text.clone()))),
        Some(other) => Err(HubError::new(
            ErrorCode::InvalidFormat,
            format!("service_data.{field} must be a string or null, not {other}"),
        )),
    }
}
