//! Between the bulb's properties and the hub's `light_bulb` instance.

use hub_guest_sdk::{AttributeWrite, Device, DeviceInfo, Instance, PluginError, Value, attr};
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;

pub const LIGHT_INSTANCE: u32 = 0;

/// The properties read with `get_prop` when a session opens.
pub const PROPS: [&str; 3] = ["power", "bright", "ct"];

/// How long the bulb fades to a new state.
const FADE_MS: u32 = 300;

/// The colour-temperature range of a model, `None` for white-only bulbs.
fn color_temp_range(model: &str) -> Option<(f64, f64)> {
    match model {
        "mono" | "mono1" | "mono4" => None,
        m if m.starts_with("ceiling") || m == "ct_bulb" => Some((2700.0, 6500.0)),
        _ => Some((1700.0, 6500.0)),
    }
}

pub fn device(info: &DeviceInfo, props: &HashMap<String, String>) -> Device {
    let number = |name: &str| props.get(name).and_then(|v| v.parse::<i64>().ok());
    let mut attrs = Vec::new();
    if let Some(power) = props.get("power").filter(|p| !p.is_empty()) {
        attrs.push(attr("power", power.as_str()).one_of(&["on", "off", "toggle"]).writable().notifies());
    }
    if let Some(bright) = number("bright") {
        attrs.push(attr("brightness", bright).range(1.0, 100.0).writable().notifies());
    }
    if let (Some(ct), Some((min, max))) = (number("ct"), color_temp_range(&info.model)) {
        attrs.push(attr("color_temp", ct).range(min, max).writable().notifies());
    }
    Device::new(info, vec![Instance::new("light_bulb", LIGHT_INSTANCE, attrs)])
}

/// The bulb command for one write, as `(method, params)`.
pub fn command(write: &AttributeWrite) -> Result<(&'static str, Vec<Json>), PluginError> {
    if write.instance_id != LIGHT_INSTANCE {
        return Err(PluginError::NotFound(format!("no instance {}", write.instance_id)));
    }
    let smooth = |v: Json| vec![v, json!("smooth"), json!(FADE_MS)];
    let int = || {
        write.value.as_int().ok_or_else(|| {
            PluginError::InvalidArgument(format!("{} takes an integer", write.attribute))
        })
    };
    match (write.attribute.as_str(), &write.value) {
        ("power", Value::Text(v)) if v == "toggle" => Ok(("toggle", vec![])),
        ("power", Value::Text(v)) if v == "on" || v == "off" => Ok(("set_power", smooth(json!(v)))),
        ("power", _) => Err(PluginError::InvalidArgument("power takes on, off or toggle".into())),
        ("brightness", _) => Ok(("set_bright", smooth(json!(int()?)))),
        ("color_temp", _) => Ok(("set_ct_abx", smooth(json!(int()?)))),
        (other, _) => Err(PluginError::NotFound(format!("no attribute {other} on a light bulb"))),
    }
}

/// The hub attributes in a `props` notification's params.
pub fn changes(params: &Map<String, Json>) -> Vec<(&'static str, Value)> {
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    params
        .iter()
        .filter_map(|(name, value)| {
            let value = text(value);
            match name.as_str() {
                "power" => Some(("power", Value::Text(value))),
                "bright" => value.parse().ok().map(|v| ("brightness", Value::Int(v))),
                "ct" => value.parse().ok().map(|v| ("color_temp", Value::Int(v))),
                _ => None,
            }
        })
        .collect()
}
