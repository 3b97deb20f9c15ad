//! The devices a plugin has reported, and what the hub knows of each:
//! where it is (for routing) and its declared metadata (for validating
//! writes, reading values and describing events).

use super::wit::{DeviceInfo, DeviceMeta};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone)]
pub struct DeviceRecord {
    /// Shared with the calls made for the device: no copy per call.
    pub info: Arc<DeviceInfo>,
    /// Known once the device has been read.
    pub meta: Option<Arc<DeviceMeta>>,
}

#[derive(Default)]
pub struct Registry(Mutex<HashMap<String, DeviceRecord>>);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, DeviceRecord>> {
        // A panic while holding this lock cannot leave a map half-updated.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, identity: &str) -> Option<DeviceRecord> {
        self.lock().get(identity).cloned()
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
            Some(record) if *record.info == *info => Ok(false),
            Some(record) => {
                record.info = Arc::new(info.clone());
                Ok(true)
            }
            None => {
                admit(held)?;
                devices.insert(
                    info.identity.clone(),
                    DeviceRecord {
                        info: Arc::new(info.clone()),
                        meta: None,
                    },
                );
                Ok(true)
            }
        }
    }

    /// Keeps the metadata a device declared. A device declares the same
    /// metadata every time: the one held is kept (and shared) unless it changed.
    pub fn learn(&self, identity: &str, meta: DeviceMeta) -> Arc<DeviceMeta> {
        let mut devices = self.lock();
        let Some(record) = devices.get_mut(identity) else {
            return Arc::new(meta);
        };
        match &record.meta {
            Some(known) if **known == meta => known.clone(),
            _ => record.meta.insert(Arc::new(meta)).clone(),
        }
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
