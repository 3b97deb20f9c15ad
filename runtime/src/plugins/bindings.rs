//! Host-side bindings for the `hub:device/plugin` world.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "hub:device/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: { "wasi": wasmtime_wasi::p2::bindings },
    additional_derives: [PartialEq],
});

pub use self::hub::device::host::LogLevel;
pub use self::hub::device::types::{
    Attribute, AttributeChange, AttributeMeta, AttributeWrite, Device, DeviceInfo, OtaProgress,
    OtaStage, Permissions, PluginError, UpdateInfo, ValType, Value,
};
