//! The devices a plugin has reported, and what the hub knows of each:
//! where it is (for routing), its declared metadata (for validating
//! writes, reading values and describing events), and its last known
//! state (for clients listing devices without touching them).

use super::events::value_fits;
use super::wit::{AttributeMeta, DeviceInfo, DeviceMeta, Value};
use crate::sync::MutexHeld;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

#[derive(Clone)]
pub struct DeviceRecord {
    /// Shared with the calls made for the device: no copy per call.
    pub info: Arc<DeviceInfo>,
    /// Known once the device has been read.
    pub meta: Option<Arc<DeviceMeta>>,
}

/// Whether a device answers, as the hub last saw: a call it answered or a
/// change it pushed says online; a call it timed out or refused, or its
/// watcher's connection lost, says offline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// Not heard from since the hub started.
    #[default]
    Unknown,
    Online,
    Offline,
}

/// What the hub last knew of a device.
#[derive(Debug, Clone, Default)]
pub struct DeviceState {
    /// In slot order of the record's metadata; empty until first read.
    pub values: Vec<Value>,
    pub availability: Availability,
    /// When the device last answered or pushed a change.
    pub last_seen: Option<SystemTime>,
}

impl DeviceState {
    /// True when `availability` is news.
    fn saw(&mut self, availability: Availability) -> bool {
        if availability == Availability::Online {
            self.last_seen = Some(SystemTime::now());
        }
        std::mem::replace(&mut self.availability, availability) != availability
    }
}

/// A device and what the hub last knew of it.
#[derive(Clone)]
pub struct Known {
    pub record: DeviceRecord,
    pub state: DeviceState,
}

#[derive(Default)]
pub struct Registry(Mutex<HashMap<String, Known>>);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Known>> {
        // A panic while holding this lock cannot leave a map half-updated.
        self.0.held()
    }

    pub fn get(&self, identity: &str) -> Option<DeviceRecord> {
        self.lock().get(identity).map(|entry| entry.record.clone())
    }

    /// Records a discovered device; true when it is new or has moved. A new
    /// one must first pass `admit`, given how many are held, under the same
    /// lock: concurrent discovers cannot pass a budget together.
    pub fn upsert<E>(
        &self,
        info: &DeviceInfo,
        admit: impl FnOnce(usize) -> Result<(), E>,
    ) -> Result<bool, E> {
        let mut devices = self.lock();
        let held = devices.len();
        match devices.get_mut(&info.identity) {
            Some(entry) if *entry.record.info == *info => Ok(false),
            Some(entry) => {
                entry.record.info = Arc::new(info.clone());
                Ok(true)
            }
            None => {
                admit(held)?;
                let record = DeviceRecord {
                    info: Arc::new(info.clone()),
                    meta: None,
                };
                let state = DeviceState::default();
                devices.insert(info.identity.clone(), Known { record, state });
                Ok(true)
            }
        }
    }

    /// Keeps the metadata a device declared. A device declares the same
    /// metadata every time: the one held is kept (and shared) unless it changed.
    pub fn learn(&self, identity: &str, meta: DeviceMeta) -> Arc<DeviceMeta> {
        let mut devices = self.lock();
        let Some(entry) = devices.get_mut(identity) else {
            return Arc::new(meta);
        };
        match &entry.record.meta {
            Some(known) if **known == meta => known.clone(),
            _ => {
                // Values by the old slots mean nothing under the new ones.
                entry.state.values.clear();
                entry.record.meta.insert(Arc::new(meta)).clone()
            }
        }
    }

    /// Keeps the values a device was read with, under the metadata they
    /// were read by (copied only when they changed), which also says it is
    /// online; true when that changed what clients were told.
    pub fn remember(&self, identity: &str, meta: &Arc<DeviceMeta>, values: &[Value]) -> bool {
        let mut devices = self.lock();
        let Some(entry) = devices.get_mut(identity) else {
            return false;
        };
        let current = entry
            .record
            .meta
            .as_ref()
            .is_some_and(|m| Arc::ptr_eq(m, meta));
        if current && entry.state.values != values {
            entry.state.values = values.to_vec();
        }
        entry.state.saw(Availability::Online)
    }

    /// Keeps one value a device pushed (once its values are known), which
    /// also says it is online; true when that changed what clients were told.
    pub fn remember_change(
        &self,
        identity: &str,
        attribute: &AttributeMeta,
        value: &Value,
    ) -> bool {
        let mut devices = self.lock();
        let Some(entry) = devices.get_mut(identity) else {
            return false;
        };
        // A 0.1 change carries its own attribute: kept only when it is the
        // declared one's type.
        let slot = entry.record.meta.as_ref().and_then(|meta| {
            let mut declared = meta.attributes.iter();
            declared.position(|a| {
                a.instance_id == attribute.instance_id
                    && a.name == attribute.name
                    && value_fits(value, a.val_type)
            })
        });
        if let Some(held) = slot.and_then(|slot| entry.state.values.get_mut(slot)) {
            *held = value.clone();
        }
        entry.state.saw(Availability::Online)
    }

    /// Notes that the device answered (`Online`) or did not (`Offline`);
    /// true when that changed what clients were told.
    pub fn mark(&self, identity: &str, availability: Availability) -> bool {
        let mut devices = self.lock();
        devices
            .get_mut(identity)
            .is_some_and(|entry| entry.state.saw(availability))
    }

    pub fn availability(&self, identity: &str) -> Availability {
        let devices = self.lock();
        devices
            .get(identity)
            .map_or(Availability::Unknown, |entry| entry.state.availability)
    }

    /// Every device, with what the hub last knew of it.
    pub fn known(&self) -> Vec<Known> {
        self.lock().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::{AttributeMeta, DeviceLimits, InstanceMeta, Permissions, ValType};

    fn info() -> DeviceInfo {
        DeviceInfo {
            identity: "bulb-1".into(),
            name: "Bulb".into(),
            model: "color".into(),
            manufacturer: "Yeelight".into(),
            address: "127.0.0.1:55443".into(),
        }
    }

    fn bulb(max_brightness: f64) -> DeviceMeta {
        DeviceMeta {
            instances: vec![InstanceMeta {
                instance_id: 0,
                kind: "light_bulb".into(),
            }],
            attributes: vec![AttributeMeta {
                instance_id: 0,
                name: "brightness".into(),
                val_type: ValType::Int,
                min: Some(1.0),
                max: Some(max_brightness),
                enum_values: vec![],
                permissions: Permissions::READ | Permissions::WRITE,
                unit: Some("%".into()),
                device_class: None,
            }],
            ota_support: false,
            limits: DeviceLimits {
                writes_per_minute: None,
            },
        }
    }

    #[test]
    fn a_new_device_is_admitted_under_the_same_lock_and_a_moved_one_needs_no_admission() {
        let registry = Registry::default();
        let at_most_one = |held: usize| if held < 1 { Ok(()) } else { Err("full") };
        let mut first = info();
        assert_eq!(registry.upsert(&first, at_most_one), Ok(true));
        let mut second = first.clone();
        second.identity = "bulb-2".into();
        assert_eq!(registry.upsert(&second, at_most_one), Err("full"));
        first.address = "127.0.0.9:55443".into();
        assert_eq!(registry.upsert(&first, at_most_one), Ok(true), "moved");
        assert_eq!(registry.upsert(&first, at_most_one), Ok(false), "unchanged");
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn metadata_is_replaced_only_when_the_device_declares_another() {
        let registry = Registry::default();
        assert_eq!(registry.upsert(&info(), |_| Ok::<_, ()>(())), Ok(true));
        let first = registry.learn("bulb-1", bulb(100.0));
        let same = registry.learn("bulb-1", bulb(100.0));
        assert!(Arc::ptr_eq(&first, &same), "unchanged metadata is shared");
        let changed = registry.learn("bulb-1", bulb(80.0));
        assert_eq!(changed.attributes[0].max, Some(80.0));
        let held = registry.get("bulb-1").and_then(|r| r.meta);
        assert_eq!(
            held.map(|m| m.attributes[0].max),
            Some(Some(80.0)),
            "writes are validated against the new one"
        );
    }
}
