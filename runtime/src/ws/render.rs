//! What the hub sends: responses, errors and events, rendered in the API
//! version a connection speaks.

use crate::error::{ErrorCode, HubError};
use crate::plugins::{
    AttributeMeta, Availability, CapabilityUse, Device, DeviceInfo, Event, EventKind, Known,
    Permissions, UpdateInfo, ValType, Value, type_name,
};
use crate::store::Label;
use serde::Serialize;
use serde_json::{Value as Json, json};

/// The API a connection speaks. Version 1, the default, is the seed's:
/// its value types are `int`, `bool` and `string` only, so an attribute
/// restricted to choices is a `string` (with `enum_values` beside it) and
/// a decimal is a `string` holding the number ("21.5"). Version 2, asked
/// for with `hello`, names `enum` and `float` and sends decimals as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Api {
    #[default]
    V1,
    V2,
}

impl Api {
    pub const ALL: [Api; 2] = [Api::V1, Api::V2];

    pub fn number(self) -> u64 {
        match self {
            Api::V1 => 1,
            Api::V2 => 2,
        }
    }

    pub fn from_number(number: u64) -> Option<Api> {
        Self::ALL.into_iter().find(|api| api.number() == number)
    }

    /// What clients of this version are told an attribute's type is.
    pub fn val_type(self, t: ValType) -> &'static str {
        match (self, t) {
            (Api::V1, ValType::Enum | ValType::Float) => "string",
            _ => type_name(t),
        }
    }
}

/// A successful response. `result` is serialized straight into the frame:
/// no intermediate JSON tree on the hot path.
pub fn success(id: i64, result: &impl Serialize) -> String {
    #[derive(Serialize)]
    struct Success<'a, T> {
        id: i64,
        #[serde(rename = "type")]
        kind: &'static str,
        success: bool,
        result: &'a T,
    }
    let frame = Success {
        id,
        kind: "response",
        success: true,
        result,
    };
    serde_json::to_string(&frame).unwrap_or_else(|e| {
        failure(
            Some(id),
            &HubError::new(
                ErrorCode::Internal,
                format!("cannot render the result: {e}"),
            ),
        )
    })
}

pub fn failure(id: Option<i64>, error: &HubError) -> String {
    json!({
        "id": id,
        "type": "response",
        "success": false,
        "error": error.message,
        "code": error.code.as_str(),
    })
    .to_string()
}

/// An event's `type`, as clients see and subscribe to it.
pub fn event_type(e: &Event) -> &'static str {
    match e.kind {
        EventKind::Change(_) => "attribute_change",
        EventKind::Ota { .. } => "ota_progress",
        EventKind::Availability { .. } => "device_availability",
        EventKind::Capability(CapabilityUse::Refused { .. }) => "capability_refused",
        EventKind::Capability(CapabilityUse::QuotaHit { .. }) => "quota_hit",
    }
}

pub fn event(e: &Event, api: Api) -> String {
    match &e.kind {
        EventKind::Change(change) => json!({
            "type": event_type(e),
            "domain": &*e.plugin,
            "identity": change.device.identity,
            "instance_id": change.instance_id,
            "attr": {
                "attribute": change.attribute,
                "val": Val::new(&change.value, change.val_type, api),
                "val_type": api.val_type(change.val_type),
            },
        }),
        EventKind::Ota { identity, status } => {
            let mut frame = json!({
                "type": event_type(e),
                "domain": &*e.plugin,
                "identity": identity,
                "state": status.state.as_str(),
                "percent": status.percent,
            });
            if let Some(error) = &status.error {
                frame["error"] = json!(error.message);
                frame["code"] = json!(error.code.as_str());
            }
            frame
        }
        EventKind::Availability {
            identity,
            availability,
        } => json!({
            "type": event_type(e),
            "domain": &*e.plugin,
            "identity": identity,
            "availability": availability,
        }),
        EventKind::Capability(CapabilityUse::Refused {
            use_,
            address,
            reason,
            allowing,
        }) => json!({
            "type": event_type(e),
            "domain": &*e.plugin,
            "use": use_,
            "address": address,
            "reason": reason,
            "allowing": allowing,
        }),
        EventKind::Capability(CapabilityUse::QuotaHit { quota }) => json!({
            "type": event_type(e),
            "domain": &*e.plugin,
            "quota": quota,
        }),
    }
    .to_string()
}

/// A device as `discover` reports it: the seed's fields, with the name an
/// operator gave it (else the plugin's) and the area it is placed in.
pub fn device_info(plugin: &str, info: &DeviceInfo, label: Option<&Label>) -> Json {
    json!({
        "name": shown_name(info, label),
        "identity": info.identity,
        "model": info.model,
        "manufacturer": info.manufacturer,
        "plugin_id": plugin,
        "area": area(label),
    })
}

/// The operator's name for the device, else the plugin's.
fn shown_name<'a>(info: &'a DeviceInfo, label: Option<&'a Label>) -> &'a str {
    label.and_then(|l| l.name.as_deref()).unwrap_or(&info.name)
}

fn area(label: Option<&Label>) -> Option<&str> {
    label.and_then(|l| l.area.as_deref())
}

/// A device as `list_devices` shows it, without asking it: the seed's
/// fields, whether it answers and when it last did, and its last known
/// attributes as `get_attributes` shows them (`null` until first read).
#[derive(Serialize)]
pub struct Listed<'a> {
    name: &'a str,
    identity: &'a str,
    model: &'a str,
    manufacturer: &'a str,
    plugin_id: &'a str,
    area: Option<&'a str>,
    availability: Availability,
    last_seen: Option<String>,
    instances: Option<Instances<'a>>,
    ota_support: Option<bool>,
}

/// `known` as `list_devices` lists it; `state` is its last reading, if any.
pub fn listed<'a>(
    plugin: &'a str,
    known: &'a Known,
    label: Option<&'a Label>,
    state: Option<&'a Device>,
    api: Api,
) -> Listed<'a> {
    let info = &known.record.info;
    Listed {
        name: shown_name(info, label),
        identity: &info.identity,
        model: &info.model,
        manufacturer: &info.manufacturer,
        plugin_id: plugin,
        area: area(label),
        availability: known.state.availability,
        last_seen: known
            .state
            .last_seen
            .map(|at| humantime::format_rfc3339_seconds(at).to_string()),
        instances: state.map(|device| Instances(device, api)),
        ota_support: state.map(|device| device.meta.ota_support),
    }
}

/// get_attributes' result, in the seed's shape plus each attribute's metadata.
#[derive(Serialize)]
pub struct Described<'a> {
    identity: &'a str,
    device: DescribedDevice<'a>,
}

#[derive(Serialize)]
struct DescribedDevice<'a> {
    name: &'a str,
    identity: &'a str,
    model: &'a str,
    manufacturer: &'a str,
    plugin_id: &'a str,
    /// Only when placed: the hottest answer stays as short as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    area: Option<&'a str>,
    instances: Instances<'a>,
    ota_support: bool,
}

/// The device's instances, serialized as they are walked: the hottest
/// answer allocates no list of its own.
struct Instances<'a>(&'a Device, Api);

impl Serialize for Instances<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (device, api) = (self.0, self.1);
        serializer.collect_seq(device.meta.instances.iter().map(|i| DescribedInstance {
            kind: &i.kind,
            instance_id: i.instance_id,
            attrs: Attrs {
                device,
                api,
                instance_id: i.instance_id,
            },
        }))
    }
}

#[derive(Serialize)]
struct DescribedInstance<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    instance_id: u32,
    attrs: Attrs<'a>,
}

struct Attrs<'a> {
    device: &'a Device,
    api: Api,
    instance_id: u32,
}

impl Serialize for Attrs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let attrs = self.device.of_instance(self.instance_id);
        serializer.collect_seq(attrs.map(|attr| attribute(attr, self.api)))
    }
}

#[derive(Serialize)]
struct DescribedAttribute<'a> {
    attribute: &'a str,
    val: Val<'a>,
    val_type: &'static str,
    permissions: PermissionNames,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<Json>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    enum_values: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_class: Option<&'a str>,
}

pub fn device<'a>(
    plugin: &'a str,
    device: &'a Device,
    label: Option<&'a Label>,
    api: Api,
) -> Described<'a> {
    let info = &device.info;
    Described {
        identity: &info.identity,
        device: DescribedDevice {
            name: shown_name(info, label),
            identity: &info.identity,
            model: &info.model,
            manufacturer: &info.manufacturer,
            plugin_id: plugin,
            area: area(label),
            instances: Instances(device, api),
            ota_support: device.meta.ota_support,
        },
    }
}

fn attribute<'a>((meta, val): (&'a AttributeMeta, &'a Value), api: Api) -> DescribedAttribute<'a> {
    let bound = |b: f64| match meta.val_type {
        ValType::Int => json!(b as i64),
        _ => json!(b),
    };
    DescribedAttribute {
        attribute: &meta.name,
        val: Val::new(val, meta.val_type, api),
        val_type: api.val_type(meta.val_type),
        permissions: PermissionNames(meta.permissions),
        min: meta.min.map(bound),
        max: meta.max.map(bound),
        enum_values: &meta.enum_values,
        unit: meta.unit.as_deref(),
        device_class: meta.device_class.as_deref(),
    }
}

/// A value as JSON, written without building a JSON tree first. In API 1
/// an attribute whose type the seed calls `string` (text, choices,
/// decimals) always has a JSON string for its value, whatever the plugin
/// sent: a seed client never meets a number where it was told a string.
struct Val<'a> {
    value: &'a Value,
    as_text: bool,
}

impl<'a> Val<'a> {
    fn new(value: &'a Value, declared: ValType, api: Api) -> Self {
        let as_text = api == Api::V1 && api.val_type(declared) == "string";
        Val { value, as_text }
    }
}

impl Serialize for Val<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.value, self.as_text) {
            (Value::Text(s), _) => serializer.serialize_str(s),
            (Value::Int(i), true) => serializer.collect_str(i),
            (Value::Float(f), true) => serializer.collect_str(f),
            (Value::Boolean(b), true) => serializer.collect_str(b),
            (Value::Int(i), false) => serializer.serialize_i64(*i),
            (Value::Float(f), false) => serializer.serialize_f64(*f),
            (Value::Boolean(b), false) => serializer.serialize_bool(*b),
        }
    }
}

/// `["read", "write", "notify"]`, or as many as are set.
struct PermissionNames(Permissions);

impl Serialize for PermissionNames {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = [
            (Permissions::READ, "read"),
            (Permissions::WRITE, "write"),
            (Permissions::NOTIFY, "notify"),
        ];
        serializer.collect_seq(
            names
                .into_iter()
                .filter(|(flag, _)| self.0.contains(*flag))
                .map(|(_, name)| name),
        )
    }
}

pub fn update(u: &UpdateInfo) -> Json {
    json!({
        "current_version": u.current_version,
        "latest_firmware": u.latest_firmware.as_ref().map(|f| json!({"version": f.version, "url": f.url, "info": f.info})),
        "update_available": u.update_available,
    })
}

/// A value as JSON, in the hub's own types (API 2).
pub fn value(v: &Value) -> Json {
    match v {
        Value::Text(s) => json!(s),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Boolean(b) => json!(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::{DeviceLimits, DeviceMeta, InstanceMeta};
    use std::sync::Arc;

    fn plug() -> Device {
        let attribute = |name: &str, val_type, enum_values: &[&str]| AttributeMeta {
            instance_id: 0,
            name: name.into(),
            val_type,
            min: None,
            max: None,
            enum_values: enum_values.iter().map(|v| v.to_string()).collect(),
            permissions: Permissions::READ,
            unit: None,
            device_class: None,
        };
        Device {
            info: Arc::new(DeviceInfo {
                identity: "plug-1".into(),
                name: "Plug".into(),
                model: "plus1pm".into(),
                manufacturer: "Shelly".into(),
                address: "127.0.0.1:80".into(),
            }),
            meta: Arc::new(DeviceMeta {
                instances: vec![InstanceMeta {
                    instance_id: 0,
                    kind: "outlet".into(),
                }],
                attributes: vec![
                    attribute("power", ValType::Enum, &["on", "off"]),
                    attribute("apower", ValType::Float, &[]),
                    attribute("in_use", ValType::Bool, &[]),
                ],
                ota_support: false,
                limits: DeviceLimits {
                    writes_per_minute: None,
                },
            }),
            values: vec![
                Value::Text("on".into()),
                Value::Float(21.5),
                Value::Boolean(true),
            ],
        }
    }

    fn attrs(api: Api) -> Vec<(Json, Json)> {
        let device = plug();
        let rendered = serde_json::to_value(super::device("shelly", &device, None, api)).unwrap();
        let attrs = rendered["device"]["instances"][0]["attrs"]
            .as_array()
            .unwrap()
            .clone();
        attrs
            .into_iter()
            .map(|a| (a["val"].clone(), a["val_type"].clone()))
            .collect()
    }

    #[test]
    fn api_1_names_only_the_seeds_value_types() {
        assert_eq!(
            attrs(Api::V1),
            [
                (json!("on"), json!("string")),
                (json!("21.5"), json!("string")),
                (json!(true), json!("bool")),
            ]
        );
        assert_eq!(
            attrs(Api::V2),
            [
                (json!("on"), json!("enum")),
                (json!(21.5), json!("float")),
                (json!(true), json!("bool")),
            ]
        );
        let mut whole = plug();
        whole.values[1] = Value::Int(21);
        let v1 = serde_json::to_value(super::device("shelly", &whole, None, Api::V1)).unwrap();
        assert_eq!(
            v1["device"]["instances"][0]["attrs"][1]["val"],
            json!("21"),
            "a whole number in a decimal attribute is still a string in API 1"
        );
        let device = plug();
        let v1 = serde_json::to_value(super::device("shelly", &device, None, Api::V1)).unwrap();
        assert_eq!(
            v1["device"]["instances"][0]["attrs"][0]["enum_values"],
            json!(["on", "off"]),
            "the choices stay beside the seed's type"
        );
    }
}
