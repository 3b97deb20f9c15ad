//! Between the bulb's properties and the hub's `light_bulb` instance. Each
//! attribute is built in one place, for get_attributes and events alike.

use hub_guest_sdk::{
    Attribute, AttributeWrite, Device, DeviceInfo, Instance, PluginError, Value, attr,
};
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

/// The hub attribute for one bulb property, from its value as the bulb
/// reports it (a string); `None` for unknown or empty ones.
fn attribute(model: &str, prop: &str, value: &str) -> Option<Attribute> {
    let number = || value.parse::<i64>().ok();
    let built = match prop {
        "power" if !value.is_empty() => attr("power", value).one_of(&["on", "off", "toggle"]),
        "bright" => attr("brightness", number()?).range(1.0, 100.0),
        "ct" => {
            let (min, max) = color_temp_range(model)?;
            attr("color_temp", number()?).range(min, max)
        }
        _ => return None,
    };
    Some(built.writable().notifies())
}

pub fn device(info: &DeviceInfo, props: &HashMap<String, String>) -> Device {
    let attrs = PROPS
        .iter()
        .filter_map(|p| attribute(&info.model, p, props.get(*p)?))
        .collect();
    Device::new(
        info,
        vec![Instance::new("light_bulb", LIGHT_INSTANCE, attrs)],
    )
}

/// The hub attributes in a `props` notification's params.
pub fn changes(model: &str, params: &Map<String, Json>) -> Vec<Attribute> {
    params
        .iter()
        .filter_map(|(prop, value)| match value {
            Json::String(s) => attribute(model, prop, s),
            other => attribute(model, prop, &other.to_string()),
        })
        .collect()
}

/// The bulb command for one write, as `(method, params)`.
pub fn command(write: &AttributeWrite) -> Result<(&'static str, Vec<Json>), PluginError> {
    if write.instance_id != LIGHT_INSTANCE {
        return Err(PluginError::NotFound(format!(
            "no instance {}",
            write.instance_id
        )));
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
        ("power", _) => Err(PluginError::InvalidArgument(
            "power takes on, off or toggle".into(),
        )),
        ("brightness", _) => Ok(("set_bright", smooth(json!(int()?)))),
        ("color_temp", _) => Ok(("set_ct_abx", smooth(json!(int()?)))),
        (other, _) => Err(PluginError::NotFound(format!(
            "no attribute {other} on a light bulb"
        ))),
    }
}
