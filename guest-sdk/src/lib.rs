#![cfg_attr(
    not(feature = "v0_1"),
    doc = r#"Write a device driver ("plugin") for the hub.

A plugin is a type implementing [`Plugin`], which opens each device it
discovers as a [`Device`], exported with [`export_plugin!`], built with
`cargo build --target wasm32-wasip2`. The hub runs it in a sandbox:
every call has a fuel budget and a deadline, and the network reaches
only the addresses an operator granted.

A device declares its attributes once ([`Device::describe`]); reads
return values only, in the same order, and changes name an
attribute's slot in that order.

```ignore
use hub_guest_sdk::*;

struct Lamps;
struct Lamp { on: bool }

impl Plugin for Lamps {
    type Device = Lamp;
    fn init(_config: Config) -> Result<Self, PluginError> {
        Ok(Lamps)
    }
    fn discover(&mut self, _timeout: std::time::Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        Ok(vec![])
    }
    fn open(&mut self, _info: DeviceInfo) -> Result<Lamp, PluginError> {
        Ok(Lamp { on: false })
    }
}

impl Device for Lamp {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        let power = attr::choice("power", &["on", "off"]).writable();
        Ok(DeviceMeta::new().instance("light_bulb", 0, vec![power]))
    }
    fn read(&mut self, _declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        Ok(vec![if self.on { "on" } else { "off" }.into()])
    }
    fn write(&mut self, writes: &[AttributeWrite]) -> Result<(), PluginError> {
        self.on = writes.iter().any(|w| w.value.as_text() == Some("on"));
        Ok(())
    }
}

export_plugin!(Lamps);
```

Plugins written for the first version of the protocol build unchanged
with the `v0_1` feature, which builds the frozen 0.1 SDK (`src/v0_1/`)
in place of this one."#
)]
#![cfg_attr(
    feature = "v0_1",
    doc = "The hub's guest SDK, frozen as it was for `hub:device@0.1.0` (the `v0_1` \
           feature): a plugin written against it builds unchanged, and the hub keeps \
           serving it. New plugins use the default, `hub:device@0.2.0`."
)]

mod config;
mod errors;
pub mod log;
pub mod net;
mod value;

#[cfg(feature = "http")]
pub mod http;

#[cfg(not(feature = "v0_1"))]
pub mod attr;
#[cfg(not(feature = "v0_1"))]
mod plugin;
#[cfg(feature = "v0_1")]
pub mod v0_1;

/// The bindings of the protocol version and world this build targets.
#[doc(hidden)]
pub mod bindings {
    macro_rules! world {
        ($path:tt, $world:tt) => {
            wit_bindgen::generate!({
                path: $path,
                world: $world,
                pub_export_macro: true,
                default_bindings_module: "hub_guest_sdk::bindings",
                generate_all,
            });
        };
    }

    #[cfg(all(not(feature = "v0_1"), not(feature = "http")))]
    world!("../wit/v0.2", "hub:device/plugin");
    #[cfg(all(not(feature = "v0_1"), feature = "http"))]
    world!("../wit/v0.2", "hub:device/plugin-with-http");
    #[cfg(all(feature = "v0_1", not(feature = "http")))]
    world!("../wit/v0.1", "hub:device/plugin");
    #[cfg(all(feature = "v0_1", feature = "http"))]
    world!("../wit/v0.1", "hub:device/plugin-with-http");
}

#[cfg(not(feature = "v0_1"))]
pub use bindings::hub::device::types::{
    AttributeMeta, Change, DeviceInfo, DeviceLimits, DeviceMeta, Firmware, InstanceMeta, OtaStage,
    Permissions, PluginError, UpdateInfo, ValType, Value,
};
pub use config::Config;
#[cfg(not(feature = "v0_1"))]
#[doc(hidden)]
pub use plugin::__export;
#[cfg(not(feature = "v0_1"))]
pub use plugin::{AttributeWrite, Device, Plugin, emit, report_ota};
#[cfg(feature = "v0_1")]
pub use v0_1::*;
