//! TEST ONLY. Attacks through what hub:device@0.2.0 added: slots, handles
//! and metadata declared once. One device per attack:
//! - `stray`: its watch emits changes of a slot it never declared, as fast
//!   as it can;
//! - `twice`: declares instance 0 twice (its attributes would be sent twice
//!   over for every read);
//! - `short`: declares two attributes and reads one value;
//! - `well`: behaves, so that the others can be told apart from a hub fault.

use hub_guest_sdk::*;
use std::time::Duration;

struct Hostile;

struct Attack {
    name: String,
}

const ATTACKS: [&str; 4] = ["stray", "twice", "short", "well"];

impl Plugin for Hostile {
    type Device = Attack;

    fn init(_config: Config) -> Result<Self, PluginError> {
        Ok(Hostile)
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        Ok(ATTACKS
            .iter()
            .map(|name| DeviceInfo {
                identity: name.to_string(),
                name: format!("hostile {name}"),
                model: "test".into(),
                manufacturer: "hub tests".into(),
                address: String::new(),
            })
            .collect())
    }

    fn open(&mut self, info: DeviceInfo) -> Result<Attack, PluginError> {
        Ok(Attack {
            name: info.identity,
        })
    }
}

impl Device for Attack {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        let level = || vec![attr::int("level").range(0.0, 100.0).notifies()];
        let meta = DeviceMeta::new().instance("sensor", 0, level());
        Ok(match self.name.as_str() {
            "twice" => meta.instance("sensor", 0, vec![attr::int("other")]),
            "short" => meta.instance("sensor", 1, level()),
            _ => meta,
        })
    }

    fn read(&mut self, declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        Ok(match self.name.as_str() {
            "short" => vec![Value::Int(1)],
            _ => declared.attributes.iter().map(|_| Value::Int(1)).collect(),
        })
    }

    fn write(&mut self, _writes: &[AttributeWrite]) -> Result<(), PluginError> {
        Ok(())
    }

    fn watch(&mut self, _declared: &DeviceMeta) -> Result<(), PluginError> {
        if self.name != "stray" {
            return Err(PluginError::Unsupported("only stray pushes".into()));
        }
        let stray = [Change {
            slot: 9999,
            value: Value::Int(0),
        }];
        loop {
            emit(&stray);
        }
    }
}

export_plugin!(Hostile);
