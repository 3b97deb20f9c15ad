//! Between the device's `switch:0` status and the hub's `switch` (or, for
//! plugs, `outlet`) instance. Each status field the hub shows is declared,
//! read and notified through one table.

use hub_guest_sdk::{AttributeMeta, AttributeWrite, Change, DeviceMeta, PluginError, Value, attr};
use serde_json::Value as Json;

pub const SWITCH_INSTANCE: u32 = 0;

/// The status fields the hub shows, and the attribute each becomes.
const FIELDS: [(&str, &str); 5] = [
    ("output", "power"),
    ("apower", "active_power"),
    ("voltage", "voltage"),
    ("current", "current"),
    ("aenergy", "energy"),
];

/// Plugs are outlets; relays are switches.
fn instance_kind(model: &str) -> &'static str {
    if model.contains("Plug") {
        "outlet"
    } else {
        "switch"
    }
}

fn declare(attribute: &str) -> AttributeMeta {
    let meter = |unit: &str, class: &str| {
        attr::float(attribute)
            .range(0.0, f64::MAX)
            .unit(unit)
            .class(class)
            .notifies()
    };
    match attribute {
        "power" => attr::choice("power", &["on", "off"]).writable().notifies(),
        "active_power" => meter("W", "power"),
        "voltage" => meter("V", "voltage"),
        "current" => meter("A", "current"),
        _ => meter("Wh", "energy"),
    }
}

/// The attribute's value in one status field.
fn value(field: &str, json: &Json) -> Option<Value> {
    Some(match field {
        "output" => Value::from(if json.as_bool()? { "on" } else { "off" }),
        "aenergy" => Value::Float(json["total"].as_f64()?),
        _ => Value::Float(json.as_f64()?),
    })
}

fn field_of(attribute: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .find(|(_, a)| *a == attribute)
        .map(|(field, _)| *field)
}

/// What the device reports, declared: relays without a meter have no
/// power, voltage or energy fields, so they declare none.
pub fn meta(model: &str, status: &Json) -> DeviceMeta {
    let reported = |field: &str| status.get(field).and_then(|v| value(field, v)).is_some();
    let attrs = FIELDS
        .iter()
        .filter(|(field, _)| reported(field))
        .map(|(_, attribute)| declare(attribute))
        .collect();
    DeviceMeta::new()
        .instance(instance_kind(model), SWITCH_INSTANCE, attrs)
        .with_ota()
}

pub fn values(declared: &DeviceMeta, status: &Json) -> Result<Vec<Value>, PluginError> {
    declared.values(|a| {
        let field = field_of(&a.name)?;
        value(field, status.get(field)?)
    })
}

/// The changes in a pushed `NotifyStatus` frame (other frames carry none).
pub fn notified_changes(declared: &DeviceMeta, frame: &str) -> Vec<Change> {
    let Ok(frame) = serde_json::from_str::<Json>(frame) else {
        return Vec::new();
    };
    if frame["method"] != "NotifyStatus" {
        return Vec::new();
    }
    let Some(status) = frame["params"]["switch:0"].as_object() else {
        return Vec::new();
    };
    FIELDS
        .iter()
        .filter_map(|(field, attribute)| {
            let value = value(field, status.get(*field)?)?;
            declared.change(SWITCH_INSTANCE, attribute, value)
        })
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
