//! Builders for a device's metadata: each attribute is declared once, in
//! [`Device::describe`](crate::Device::describe).
//!
//! ```ignore
//! let brightness = attr::int("brightness").range(1.0, 100.0).unit("%").writable().notifies();
//! let power = attr::choice("power", &["on", "off"]).writable();
//! let meta = DeviceMeta::new().instance("light_bulb", 0, vec![power, brightness]);
//! ```

use crate::{
    AttributeMeta, Change, DeviceLimits, DeviceMeta, InstanceMeta, Permissions, PluginError,
    ValType, Value,
};

fn readable(name: &str, val_type: ValType) -> AttributeMeta {
    AttributeMeta {
        instance_id: 0,
        name: name.to_string(),
        val_type,
        min: None,
        max: None,
        enum_values: Vec::new(),
        permissions: Permissions::READ,
        unit: None,
        device_class: None,
    }
}

/// A readable text attribute.
pub fn text(name: &str) -> AttributeMeta {
    readable(name, ValType::String)
}

/// A readable integer attribute; bound it with [`AttributeMeta::range`].
pub fn int(name: &str) -> AttributeMeta {
    readable(name, ValType::Int)
}

pub fn float(name: &str) -> AttributeMeta {
    readable(name, ValType::Float)
}

pub fn boolean(name: &str) -> AttributeMeta {
    readable(name, ValType::Bool)
}

/// A text attribute restricted to `choices` (an `enum` for clients).
pub fn choice(name: &str, choices: &[&str]) -> AttributeMeta {
    AttributeMeta {
        enum_values: choices.iter().map(|c| c.to_string()).collect(),
        ..readable(name, ValType::Enum)
    }
}

impl AttributeMeta {
    /// Inclusive bounds for an `int` or `float` attribute.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    pub fn writable(mut self) -> Self {
        self.permissions |= Permissions::WRITE;
        self
    }

    /// Declares that the plugin emits a change when this attribute changes.
    pub fn notifies(mut self) -> Self {
        self.permissions |= Permissions::NOTIFY;
        self
    }

    /// The unit clients show with the value: `%`, `K`, `W`, `V`, `A`, `Wh`, ...
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_string());
        self
    }

    /// What the value measures, in Home Assistant's words: `power`,
    /// `energy`, `voltage`, `current`, `temperature`, ...
    pub fn class(mut self, device_class: &str) -> Self {
        self.device_class = Some(device_class.to_string());
        self
    }
}

impl DeviceMeta {
    /// A device without instances, firmware updates or limits of its own.
    pub fn new() -> Self {
        DeviceMeta {
            instances: Vec::new(),
            attributes: Vec::new(),
            ota_support: false,
            limits: DeviceLimits {
                writes_per_minute: None,
            },
        }
    }

    /// Adds an instance and its attributes, whose slots follow those
    /// declared before.
    pub fn instance(mut self, kind: &str, instance_id: u32, attrs: Vec<AttributeMeta>) -> Self {
        self.instances.push(InstanceMeta {
            instance_id,
            kind: kind.to_string(),
        });
        self.attributes.extend(
            attrs
                .into_iter()
                .map(|a| AttributeMeta { instance_id, ..a }),
        );
        self
    }

    /// The device can update its firmware (`Device::ota`).
    pub fn with_ota(mut self) -> Self {
        self.ota_support = true;
        self
    }

    /// The device accepts at most `n` writes a minute; the hub refuses more.
    pub fn writes_per_minute(mut self, n: u32) -> Self {
        self.limits.writes_per_minute = Some(n);
        self
    }

    /// The slot of attribute `name` of instance `instance_id`.
    pub fn slot(&self, instance_id: u32, name: &str) -> Option<u32> {
        let slot = self
            .attributes
            .iter()
            .position(|a| a.instance_id == instance_id && a.name == name)?;
        u32::try_from(slot).ok()
    }

    /// One value per attribute, in slot order, from `value_of`; an
    /// attribute it has no value for is an error naming it.
    pub fn values(
        &self,
        mut value_of: impl FnMut(&AttributeMeta) -> Option<Value>,
    ) -> Result<Vec<Value>, PluginError> {
        self.attributes
            .iter()
            .map(|a| {
                value_of(a).ok_or_else(|| {
                    PluginError::Internal(format!("the device reported no value for {}", a.name))
                })
            })
            .collect()
    }

    /// A change of attribute `name` of instance `instance_id`, for
    /// [`emit`](crate::emit); `None` if the device declares no such attribute.
    pub fn change(&self, instance_id: u32, name: &str, value: impl Into<Value>) -> Option<Change> {
        Some(Change {
            slot: self.slot(instance_id, name)?,
            value: value.into(),
        })
    }
}

impl Default for DeviceMeta {
    fn default() -> Self {
        Self::new()
    }
}
