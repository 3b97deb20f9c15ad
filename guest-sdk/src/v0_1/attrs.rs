//! Builders for the values a plugin reports.

use super::{Attribute, AttributeMeta, Device, DeviceInfo, Instance, Permissions, ValType, Value};

/// A readable attribute whose type follows from `value`; narrow it with
/// [`Attribute::range`] or [`Attribute::one_of`], open it with
/// [`Attribute::writable`] and [`Attribute::notifies`].
pub fn attr(name: &str, value: impl Into<Value>) -> Attribute {
    let value = value.into();
    let val_type = match value {
        Value::Text(_) => ValType::String,
        Value::Int(_) => ValType::Int,
        Value::Float(_) => ValType::Float,
        Value::Boolean(_) => ValType::Bool,
    };
    Attribute {
        name: name.to_string(),
        value,
        meta: AttributeMeta {
            val_type,
            min: None,
            max: None,
            enum_values: Vec::new(),
            permissions: Permissions::READ,
        },
    }
}

impl Attribute {
    /// Inclusive bounds for an `int` or `float` attribute.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.meta.min = Some(min);
        self.meta.max = Some(max);
        self
    }

    /// Restricts a string attribute to `values`, making it an `enum`.
    pub fn one_of(mut self, values: &[&str]) -> Self {
        self.meta.val_type = ValType::Enum;
        self.meta.enum_values = values.iter().map(|v| v.to_string()).collect();
        self
    }

    pub fn writable(mut self) -> Self {
        self.meta.permissions |= Permissions::WRITE;
        self
    }

    /// Declares that the plugin emits a change event for this attribute.
    pub fn notifies(mut self) -> Self {
        self.meta.permissions |= Permissions::NOTIFY;
        self
    }
}

impl Instance {
    pub fn new(kind: &str, instance_id: u32, attrs: Vec<Attribute>) -> Self {
        Instance {
            kind: kind.to_string(),
            instance_id,
            attrs,
        }
    }
}

impl Device {
    /// A device without firmware updates.
    pub fn new(info: &DeviceInfo, instances: Vec<Instance>) -> Self {
        Device {
            info: info.clone(),
            instances,
            ota_support: false,
        }
    }
}
