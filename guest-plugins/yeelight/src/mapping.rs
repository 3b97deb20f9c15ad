//! Between the bulb's properties and the hub's `light_bulb` instance. Each
//! attribute is declared in one place, and read and notified by its property.

use hub_guest_sdk::{AttributeMeta, AttributeWrite, Change, DeviceMeta, PluginError, Value, attr};
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

/// Each bulb property the hub shows, and the attribute it becomes.
const ATTRIBUTES: [(&str, &str); 3] = [
    ("power", "power"),
    ("bright", "brightness"),
    ("ct", "color_temp"),
];

/// The attribute for one bulb property, on this model; `None` where the
/// model has no such thing.
fn declare(model: &str, prop: &str) -> Option<AttributeMeta> {
    let declared = match prop {
        "power" => attr::choice("power", &["on", "off", "toggle"]),
        "bright" => attr::int("brightness").range(1.0, 100.0).unit("%"),
        "ct" => {
            let (min, max) = color_temp_range(model)?;
            attr::int("color_temp").range(min, max).unit("K")
        }
        _ => return None,
    };
    Some(declared.writable().notifies())
}

/// A property's value as the bulb reports it (always a string); `None`
/// for empty or unparsable ones.
fn value(prop: &str, reported: &str) -> Option<Value> {
    match prop {
        "power" if !reported.is_empty() => Some(Value::from(reported)),
        "power" => None,
        _ => reported.parse::<i64>().ok().map(Value::Int),
    }
}

fn prop_of(attribute: &str) -> Option<&'static str> {
    ATTRIBUTES
        .iter()
        .find(|(_, a)| *a == attribute)
        .map(|(prop, _)| *prop)
}

/// The bulb's `light_bulb` instance: the properties it reported that its
/// model has.
pub fn meta(model: &str, props: &HashMap<String, String>, per_minute: u32) -> DeviceMeta {
    let attrs = ATTRIBUTES
        .iter()
        .filter(|(prop, _)| props.get(*prop).and_then(|v| value(prop, v)).is_some())
        .filter_map(|(prop, _)| declare(model, prop))
        .collect();
    DeviceMeta::new()
        .instance("light_bulb", LIGHT_INSTANCE, attrs)
        .writes_per_minute(per_minute)
}

pub fn values(
    declared: &DeviceMeta,
    props: &HashMap<String, String>,
) -> Result<Vec<Value>, PluginError> {
    declared.values(|a| {
        let prop = prop_of(&a.name)?;
        value(prop, props.get(prop)?)
    })
}

/// The changes in a `props` notification's params.
pub fn changes(declared: &DeviceMeta, params: &Map<String, Json>) -> Vec<Change> {
    params
        .iter()
        .filter_map(|(prop, reported)| {
            let reported = match reported {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (_, attribute) = ATTRIBUTES.iter().find(|(p, _)| p == prop)?;
            declared.change(LIGHT_INSTANCE, attribute, value(prop, &reported)?)
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
