//! Write a device driver ("plugin") for the hub.
//!
//! A plugin is a type implementing [`Plugin`], exported with
//! [`export_plugin!`], built with `cargo build --target wasm32-wasip2`.
//! The hub runs it in a sandbox: every call has a fuel budget and a deadline,
//! and the network reaches only the addresses an operator granted.
//!
//! ```ignore
//! use hub_guest_sdk::*;
//!
//! struct Lamp;
//!
//! impl Plugin for Lamp {
//!     fn init(_config: Config) -> Result<Self, PluginError> {
//!         Ok(Lamp)
//!     }
//!     fn discover(&mut self, _timeout: std::time::Duration) -> Result<Vec<DeviceInfo>, PluginError> {
//!         Ok(vec![])
//!     }
//!     fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
//!         let power = attr("power", "on").one_of(&["on", "off"]).writable();
//!         Ok(Device::new(device, vec![Instance::new("light_bulb", 0, vec![power])]))
//!     }
//!     fn set_attributes(&mut self, _device: &DeviceInfo, _writes: &[AttributeWrite]) -> Result<(), PluginError> {
//!         Ok(())
//!     }
//! }
//!
//! export_plugin!(Lamp);
//! ```

mod attrs;
mod config;
mod errors;
pub mod log;
pub mod net;
mod plugin;

#[cfg(feature = "http")]
pub mod http;

#[doc(hidden)]
pub mod bindings {
    #[cfg(not(feature = "http"))]
    wit_bindgen::generate!({
        path: "../wit",
        world: "hub:device/plugin",
        pub_export_macro: true,
        default_bindings_module: "hub_guest_sdk::bindings",
        generate_all,
    });

    #[cfg(feature = "http")]
    wit_bindgen::generate!({
        path: "../wit",
        world: "hub:device/plugin-with-http",
        pub_export_macro: true,
        default_bindings_module: "hub_guest_sdk::bindings",
        generate_all,
    });
}

pub use attrs::attr;
pub use bindings::hub::device::types::{
    Attribute, AttributeChange, AttributeMeta, AttributeWrite, Device, DeviceInfo, Firmware,
    Instance, OtaProgress, OtaStage, Permissions, PluginError, UpdateInfo, ValType, Value,
};
pub use config::Config;
#[doc(hidden)]
pub use plugin::__export;
pub use plugin::{Plugin, emit, report_ota};
