//! The SDK for `hub:device@0.1.0`, frozen as it was released: built with
//! the `v0_1` feature, a plugin written against it builds unchanged and
//! the hub keeps serving it. New plugins use the default, 0.2.

mod attrs;
mod plugin;

pub use crate::bindings::hub::device::types::{
    Attribute, AttributeChange, AttributeMeta, AttributeWrite, Device, DeviceInfo, Firmware,
    Instance, OtaProgress, OtaStage, Permissions, PluginError, UpdateInfo, ValType, Value,
};
pub use attrs::attr;
#[doc(hidden)]
pub use plugin::__export;
pub use plugin::{Plugin, emit, report_ota};
