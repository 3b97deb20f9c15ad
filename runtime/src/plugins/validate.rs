//! A client's writes checked against the attribute metadata the plugin
//! declared, before the plugin sees them.

use super::wit::{AttributeMeta, DeviceMeta, Permissions, ValType, Value, Write};
use crate::error::{ErrorCode, HubError};
use serde_json::Value as Json;

/// One entry of `service_data.attributes`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    pub instance_id: u32,
    pub attribute: String,
    pub val: Json,
}

/// Each write as the plugin receives it: the slot of its attribute and a typed value.
pub fn validate(writes: &[WriteRequest], meta: &DeviceMeta) -> Result<Vec<Write>, HubError> {
    if writes.is_empty() {
        return Err(HubError::invalid(
            "service_data.attributes is empty: nothing to set",
        ));
    }
    writes.iter().map(|w| validate_one(w, meta)).collect()
}

fn validate_one(write: &WriteRequest, meta: &DeviceMeta) -> Result<Write, HubError> {
    let name = &write.attribute;
    let Some(slot) = meta
        .attributes
        .iter()
        .position(|a| a.instance_id == write.instance_id && a.name == *name)
    else {
        return Err(HubError::new(
            ErrorCode::NotFound,
            format!("instance {} has no attribute {name:?}", write.instance_id),
        ));
    };
    let m = &meta.attributes[slot];
    if !m.permissions.contains(Permissions::WRITE) {
        return Err(HubError::invalid(format!("{name} is read-only")));
    }
    Ok(Write {
        slot: slot as u32,
        value: typed(name, &write.val, m)?,
    })
}

fn typed(name: &str, val: &Json, m: &AttributeMeta) -> Result<Value, HubError> {
    let value = match (m.val_type, val) {
        (ValType::Int, Json::Number(n)) if n.is_i64() => Value::Int(n.as_i64().unwrap_or_default()),
        (ValType::Float, Json::Number(n)) => Value::Float(n.as_f64().unwrap_or_default()),
        // API 1 writes decimals as the strings it reads them as.
        (ValType::Float, Json::String(s)) => match decimal(s) {
            Some(f) => Value::Float(f),
            None => {
                return Err(HubError::invalid(format!(
                    "{name} must be a number, not {val}"
                )));
            }
        },
        (ValType::Bool, Json::Bool(b)) => Value::Boolean(*b),
        (ValType::String, Json::String(s)) => Value::Text(s.clone()),
        (ValType::Enum, Json::String(s)) if m.enum_values.contains(s) => Value::Text(s.clone()),
        (ValType::Enum, _) => {
            return Err(HubError::invalid(format!(
                "{name} must be one of {}",
                m.enum_values.join(", ")
            )));
        }
        (t, _) => {
            return Err(HubError::invalid(format!(
                "{name} must be {}, not {val}",
                type_name(t)
            )));
        }
    };
    check_range(name, &value, m)?;
    Ok(value)
}

fn decimal(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn check_range(name: &str, value: &Value, m: &AttributeMeta) -> Result<(), HubError> {
    let n = match *value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => return Ok(()),
    };
    let below = m.min.is_some_and(|min| n < min);
    let above = m.max.is_some_and(|max| n > max);
    if below || above {
        let bound = |b: Option<f64>| b.map_or("unbounded".to_string(), |b| b.to_string());
        return Err(HubError::invalid(format!(
            "{name} must be between {} and {}, not {n}",
            bound(m.min),
            bound(m.max)
        )));
    }
    Ok(())
}

pub fn type_name(t: ValType) -> &'static str {
    match t {
        ValType::String => "string",
        ValType::Int => "int",
        ValType::Float => "float",
        ValType::Bool => "bool",
        ValType::Enum => "enum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::{DeviceLimits, InstanceMeta};
    use serde_json::json;

    fn meta() -> DeviceMeta {
        let m = |name: &str, val_type, min, max, values: &[&str], permissions| AttributeMeta {
            instance_id: 0,
            name: name.into(),
            val_type,
            min,
            max,
            enum_values: values.iter().map(|v| v.to_string()).collect(),
            permissions,
            unit: None,
            device_class: None,
        };
        let rw = Permissions::READ | Permissions::WRITE;
        DeviceMeta {
            instances: vec![InstanceMeta {
                instance_id: 0,
                kind: "light_bulb".into(),
            }],
            attributes: vec![
                m("power", ValType::Enum, None, None, &["on", "off"], rw),
                m("brightness", ValType::Int, Some(1.0), Some(100.0), &[], rw),
                m("model", ValType::String, None, None, &[], Permissions::READ),
                m("level", ValType::Float, Some(0.0), Some(1.0), &[], rw),
            ],
            ota_support: false,
            limits: DeviceLimits {
                writes_per_minute: None,
            },
        }
    }

    fn write(instance_id: u32, attribute: &str, val: Json) -> Vec<WriteRequest> {
        vec![WriteRequest {
            instance_id,
            attribute: attribute.into(),
            val,
        }]
    }

    fn refused(w: Vec<WriteRequest>) -> HubError {
        validate(&w, &meta()).unwrap_err()
    }

    #[test]
    fn accepts_valid_writes_as_typed_values() {
        let ok = validate(&write(0, "brightness", json!(55)), &meta()).unwrap();
        assert_eq!((ok[0].slot, &ok[0].value), (1, &Value::Int(55)));
        let ok = validate(&write(0, "power", json!("off")), &meta()).unwrap();
        assert_eq!((ok[0].slot, &ok[0].value), (0, &Value::Text("off".into())));
    }

    #[test]
    fn a_decimal_is_written_as_a_number_or_as_the_string_api_1_reads() {
        for val in [json!(0.25), json!("0.25")] {
            let ok = validate(&write(0, "level", val), &meta()).unwrap();
            assert_eq!(ok[0].value, Value::Float(0.25));
        }
        for not_a_number in ["", "abc", "NaN", "inf", "0x1"] {
            let e = refused(write(0, "level", json!(not_a_number)));
            assert!(e.message.contains("must be a number"), "{}", e.message);
        }
        let e = refused(write(0, "level", json!("1.5")));
        assert!(e.message.contains("between 0 and 1"), "{}", e.message);
    }

    #[test]
    fn refuses_out_of_range_wrong_type_unknown_and_read_only() {
        let e = refused(write(0, "brightness", json!(101)));
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("between 1 and 100"), "{}", e.message);
        assert_eq!(
            refused(write(0, "brightness", json!("55"))).code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            refused(write(0, "brightness", json!(5.5))).code,
            ErrorCode::InvalidArgument
        );
        assert!(
            refused(write(0, "power", json!("dim")))
                .message
                .contains("one of on, off")
        );
        assert!(
            refused(write(0, "model", json!("x")))
                .message
                .contains("read-only")
        );
        assert_eq!(
            refused(write(0, "colour", json!(1))).code,
            ErrorCode::NotFound
        );
        assert_eq!(
            refused(write(7, "power", json!("on"))).code,
            ErrorCode::NotFound
        );
        assert_eq!(refused(vec![]).code, ErrorCode::InvalidArgument);
    }
}
