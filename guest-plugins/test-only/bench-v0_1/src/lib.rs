//! TEST ONLY. The benchmark plugin as written for hub:device@0.1.0, built
//! unchanged with the frozen SDK: `hub bench` times its calls beside the 0.2 one.

use hub_guest_sdk::*;
use std::time::Duration;

struct Bench {
    count: u32,
    brightness: i64,
}

impl Plugin for Bench {
    fn init(config: Config) -> Result<Self, PluginError> {
        Ok(Bench {
            count: config.parse_or("count", 1)?,
            brightness: 50,
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

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        let attrs = vec![
            attr("power", "on").one_of(&["on", "off"]).writable(),
            attr("brightness", self.brightness)
                .range(1.0, 100.0)
                .writable(),
        ];
        Ok(Device::new(
            device,
            vec![Instance::new("light_bulb", 0, attrs)],
        ))
    }

    fn set_attributes(
        &mut self,
        _device: &DeviceInfo,
        writes: &[AttributeWrite],
    ) -> Result<(), PluginError> {
        for write in writes {
            self.brightness = write.value.as_int().unwrap_or(self.brightness);
        }
        Ok(())
    }
}

export_plugin!(Bench);
