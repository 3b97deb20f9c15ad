//! TEST ONLY. `count` devices (config, default 1) that answer from memory:
//! what `hub bench` uses to measure the hub without device I/O.

use hub_guest_sdk::*;
use std::time::Duration;

struct Bench {
    count: u32,
}

/// A bulb that is always on, whose brightness is what was last written.
struct Bulb {
    brightness: i64,
}

impl Plugin for Bench {
    type Device = Bulb;

    fn init(config: Config) -> Result<Self, PluginError> {
        Ok(Bench {
            count: config.parse_or("count", 1)?,
        })
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        Ok((0..self.count)
            .map(|n| DeviceInfo {
                identity: format!("dev-{n}"),
                name: format!("bench {n}"),
                model: "bench".into(),
                manufacturer: "hub project".into(),
                address: String::new(),
            })
            .collect())
    }

    fn open(&mut self, _info: DeviceInfo) -> Result<Bulb, PluginError> {
        Ok(Bulb { brightness: 50 })
    }
}

impl Device for Bulb {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        let attrs = vec![
            attr::choice("power", &["on", "off"]).writable(),
            attr::int("brightness")
                .range(1.0, 100.0)
                .unit("%")
                .writable(),
        ];
        Ok(DeviceMeta::new().instance("light_bulb", 0, attrs))
    }

    fn read(&mut self, _declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        Ok(vec!["on".into(), self.brightness.into()])
    }

    fn write(&mut self, writes: &[AttributeWrite]) -> Result<(), PluginError> {
        for write in writes {
            self.brightness = write.value.as_int().unwrap_or(self.brightness);
        }
        Ok(())
    }
}

export_plugin!(Bench);
