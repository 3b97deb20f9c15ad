//! Between the device's `switch:0` status and the hub's `switch` (or, for
//! plugs, `outlet`) instance. Each attribute is built in one place, for
//! get_attributes and events alike.

use hub_guest_sdk::{
    Attribute, AttributeWrite, Device, DeviceInfo, Instance, PluginError, Value, attr,
};
use serde_json::Value as Json;

pub const SWITCH_INSTANCE: u32 = 0;

/// Plugs are outlets; relays are switches.
fn instance_kind(model: &str) -> &'static str {
    if model.contains("Plug") {
        "outlet"
    } else {
        "switch"
    }
}

/// The hub attribute for one `switch:0` status field, `None` for fields
/// the hub does not show.
fn attribute(field: &str, value: &Json) -> Option<Attribute> {
    let number = || value.as_f64();
    let meter = |name: &str, v: f64| attr(name, v).range(0.0, f64::MAX).notifies();
    Some(match field {
        "output" => {
            let power = if value.as_bool()? { "on" } else { "off" };
            attr("power", power)
                .one_of(&["on", "off"])
                .writable()
                .notifies()
        }
        "apower" => meter("active_power", number()?),
        "voltage" => meter("voltage", number()?),
        "current" => meter("current", number()?),
        "aenergy" => meter("energy", value["total"].as_f64()?),
        _ => return None,
    })
}

fn attributes(status: &Json) -> Vec<Attribute> {
    let Some(fields) = status.as_object() else {
        return Vec::new();
    };
    fields.iter().filter_map(|(k, v)| attribute(k, v)).collect()
}

pub fn device(info: &DeviceInfo, status: &Json) -> Device {
    let instance = Instance::new(
        instance_kind(&info.model),
        SWITCH_INSTANCE,
        attributes(status),
    );
    Device {
        ota_support: true,
        ..Device::new(info, vec![instance])
    }
}

/// The changes in a pushed `NotifyStatus` frame (other frames carry none).
pub fn notified_changes(frame: &str) -> Vec<(u32, Attribute)> {
    let Ok(frame) = serde_json::from_str::<Json>(frame) else {
        return Vec::new();
    };
    if frame["method"] != "NotifyStatus" {
        return Vec::new();
    }
    attributes(&frame["params"]["switch:0"])
        .into_iter()
        .map(|a| (SWITCH_INSTANCE, a))
        .collect()
}

/// The `Switch.Set` query for one write.
pub fn switch_query(write: &AttributeWrite) -> Result<String, PluginError> {
    if write.instance_id != SWITCH_INSTANCE {
        return Err(PluginError::NotFound(format!(
            "no instance {}",
            write.instance_id
        )));
    }
    match (write.attribute.as_str(), &write.value) {
        ("power", Value::Text(v)) if v == "on" || v == "off" => {
            Ok(format!("id=0&on={}", v == "on"))
        }
        ("power", _) => Err(PluginError::InvalidArgument("power takes on or off".into())),
        (other, _) => Err(PluginError::InvalidArgument(format!(
            "{other} is not writable: only power is"
        ))),
    }
}
