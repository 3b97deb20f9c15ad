//! The devices a plugin has reported, and what the hub knows of each:
//! where it is (for routing) and its attribute metadata (for validation).

use super::bindings::{AttributeMeta, Device, DeviceInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Attribute metadata by instance id, then attribute name.
pub type MetaMap = HashMap<u32, HashMap<String, AttributeMeta>>;

#[derive(Clone)]
pub struct DeviceRecord {
    /// Shared with the calls made for the device: no copy per call.
    pub info: Arc<DeviceInfo>,
    /// Known once the device has answered get_attributes.
    pub meta: Option<Arc<MetaMap>>,
}

#[derive(Default)]
pub struct DeviceTable(Mutex<HashMap<String, DeviceRecord>>);

impl DeviceTable {
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

    /// The metadata `device` declares, kept for validating writes. A device
    /// answers with the same metadata every time: it is built anew only
    /// when it changed.
    pub fn learn(&self, device: &Device) -> Arc<MetaMap> {
        let known = self
            .lock()
            .get(&device.info.identity)
            .and_then(|record| record.meta.clone());
        if let Some(known) = known.filter(|known| declares(device, known)) {
            return known;
        }
        let meta: MetaMap = device
            .instances
            .iter()
            .map(|i| {
                let attrs = i.attrs.iter().map(|a| (a.name.clone(), a.meta.clone()));
                (i.instance_id, attrs.collect())
            })
            .collect();
        let meta = Arc::new(meta);
        if let Some(record) = self.lock().get_mut(&device.info.identity) {
            record.meta = Some(meta.clone());
        }
        meta
    }

    pub fn contains(&self, identity: &str) -> bool {
        self.lock().contains_key(identity)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// True when `meta` is exactly the metadata `device` declares.
fn declares(device: &Device, meta: &MetaMap) -> bool {
    meta.len() == device.instances.len()
        && device.instances.iter().all(|i| {
            meta.get(&i.instance_id).is_some_and(|attrs| {
                attrs.len() == i.attrs.len()
                    && i.attrs.iter().all(|a| attrs.get(&a.name) == Some(&a.meta))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::bindings::hub::device::types::Instance;
    use crate::plugins::bindings::{Attribute, Permissions, ValType, Value};

    fn bulb(max_brightness: f64) -> Device {
        let meta = AttributeMeta {
            val_type: ValType::Int,
            min: Some(1.0),
            max: Some(max_brightness),
            enum_values: vec![],
            permissions: Permissions::READ | Permissions::WRITE,
        };
        let info = DeviceInfo {
            identity: "bulb-1".into(),
            name: "Bulb".into(),
            model: "color".into(),
            manufacturer: "Yeelight".into(),
            address: "127.0.0.1:55443".into(),
        };
        Device {
            info,
            instances: vec![Instance {
                kind: "light_bulb".into(),
                instance_id: 0,
                attrs: vec![Attribute {
                    name: "brightness".into(),
                    value: Value::Int(50),
                    meta,
                }],
            }],
            ota_support: false,
        }
    }

    #[test]
    fn a_new_device_is_admitted_under_the_same_lock_and_a_moved_one_needs_no_admission() {
        let table = DeviceTable::default();
        let at_most_one = |held: usize| if held < 1 { Ok(()) } else { Err("full") };
        let mut first = bulb(100.0).info;
        assert_eq!(table.upsert(&first, at_most_one), Ok(true));
        let mut second = first.clone();
        second.identity = "bulb-2".into();
        assert_eq!(table.upsert(&second, at_most_one), Err("full"));
        first.address = "127.0.0.9:55443".into();
        assert_eq!(table.upsert(&first, at_most_one), Ok(true), "moved");
        assert_eq!(table.upsert(&first, at_most_one), Ok(false), "unchanged");
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn metadata_is_rebuilt_only_when_the_device_declares_another() {
        let table = DeviceTable::default();
        assert_eq!(
            table.upsert(&bulb(100.0).info, |_| Ok::<_, ()>(())),
            Ok(true)
        );
        let first = table.learn(&bulb(100.0));
        let same = table.learn(&bulb(100.0));
        assert!(Arc::ptr_eq(&first, &same), "unchanged metadata is reused");
        let changed = table.learn(&bulb(80.0));
        assert_eq!(changed[&0]["brightness"].max, Some(80.0));
        let stored = table
            .get("bulb-1")
            .and_then(|r| r.meta)
            .map(|m| m[&0]["brightness"].max);
        assert_eq!(
            stored,
            Some(Some(80.0)),
            "writes are validated against the new one"
        );
    }
}
