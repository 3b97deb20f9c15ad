//! The devices a plugin has reported, and what the hub knows of each:
//! where it is (for routing) and its attribute metadata (for validation).

use super::bindings::{AttributeMeta, Device, DeviceInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Attribute metadata by `(instance id, attribute name)`.
pub type MetaMap = HashMap<(u32, String), AttributeMeta>;

#[derive(Clone)]
pub struct DeviceRecord {
    pub info: DeviceInfo,
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

    /// Records a discovered device; true when it is new or has moved.
    pub fn upsert(&self, info: &DeviceInfo) -> bool {
        let mut devices = self.lock();
        match devices.get_mut(&info.identity) {
            Some(record) if record.info == *info => false,
            Some(record) => {
                record.info = info.clone();
                true
            }
            None => {
                devices.insert(
                    info.identity.clone(),
                    DeviceRecord {
                        info: info.clone(),
                        meta: None,
                    },
                );
                true
            }
        }
    }

    pub fn learn(&self, device: &Device) -> Arc<MetaMap> {
        let meta: MetaMap = device
            .instances
            .iter()
            .flat_map(|i| {
                i.attrs
                    .iter()
                    .map(|a| ((i.instance_id, a.name.clone()), a.meta.clone()))
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
