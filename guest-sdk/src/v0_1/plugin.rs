use crate::bindings::hub::device::host;
use crate::{
    Attribute, AttributeChange, AttributeWrite, Config, Device, DeviceInfo, OtaProgress, OtaStage,
    PluginError, UpdateInfo,
};
use std::time::Duration;

/// A device driver. The hub creates instances of the plugin as it needs
/// them (several may run at once) and calls [`Plugin::init`] on each before
/// anything else, so state kept in `self` is a cache, never the only copy.
pub trait Plugin: Sized + 'static {
    fn init(config: Config) -> Result<Self, PluginError>;

    /// Devices that answer within `timeout`.
    fn discover(&mut self, timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError>;

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError>;

    /// The hub has already checked each write against the attribute's
    /// metadata (type, range, enumeration, writable).
    fn set_attributes(
        &mut self,
        device: &DeviceInfo,
        writes: &[AttributeWrite],
    ) -> Result<(), PluginError>;

    fn check_update(&mut self, device: &DeviceInfo) -> Result<UpdateInfo, PluginError> {
        let _ = device;
        Err(PluginError::Unsupported(
            "this plugin does not check for firmware updates".into(),
        ))
    }

    /// Updates the firmware, calling [`report_ota`] as it goes, and returns
    /// once the device runs the new version. The hub reports `done` or
    /// `failed` itself; an error message should name the step that failed.
    fn ota(&mut self, device: &DeviceInfo) -> Result<(), PluginError> {
        let _ = device;
        Err(PluginError::Unsupported(
            "this plugin does not update firmware".into(),
        ))
    }

    /// Blocks while the device pushes changes, calling [`emit`] for each;
    /// returns when the connection is lost.
    fn watch(&mut self, device: &DeviceInfo) -> Result<(), PluginError> {
        let _ = device;
        Err(PluginError::Unsupported(
            "this plugin does not push changes".into(),
        ))
    }
}

/// Tells the hub that an attribute changed; it reaches every connected
/// client. Build `attribute` as for get_attributes, so its type matches.
pub fn emit(identity: &str, instance_id: u32, attribute: Attribute) {
    host::emit_attribute_change(&AttributeChange {
        identity: identity.to_string(),
        instance_id,
        attribute,
    });
}

/// Tells the clients how the running `ota` is going; `percent` of the
/// current stage, where the device tells. The hub accepts it only from the
/// `ota` call for `identity`.
pub fn report_ota(identity: &str, stage: OtaStage, percent: Option<u8>) {
    host::report_ota_progress(&OtaProgress {
        identity: identity.to_string(),
        stage,
        percent,
    });
}

#[doc(hidden)]
pub mod __export {
    use super::*;
    use std::any::Any;
    use std::cell::RefCell;

    thread_local! {
        static PLUGIN: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    }

    pub fn init<P: Plugin>(config: Vec<(String, String)>) -> Result<(), PluginError> {
        let plugin = P::init(Config::new(config))?;
        PLUGIN.with(|slot| *slot.borrow_mut() = Some(Box::new(plugin)));
        Ok(())
    }

    pub fn with<P: Plugin, R>(
        call: impl FnOnce(&mut P) -> Result<R, PluginError>,
    ) -> Result<R, PluginError> {
        PLUGIN.with(|slot| {
            let mut slot = slot.borrow_mut();
            match slot.as_mut().and_then(|p| p.downcast_mut::<P>()) {
                Some(plugin) => call(plugin),
                None => Err(PluginError::Internal("called before init".into())),
            }
        })
    }
}

/// Exports a [`Plugin`] implementation as the component's `driver` interface.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            use $crate::bindings::exports::hub::device::driver::Guest;
            use $crate::{
                __export, AttributeWrite, Device, DeviceInfo, Plugin, PluginError, UpdateInfo,
            };

            struct Export;

            impl Guest for Export {
                fn init(config: Vec<(String, String)>) -> Result<(), PluginError> {
                    __export::init::<$plugin>(config)
                }
                fn discover(timeout_ms: u32) -> Result<Vec<DeviceInfo>, PluginError> {
                    let timeout = ::std::time::Duration::from_millis(timeout_ms.into());
                    __export::with(|p: &mut $plugin| p.discover(timeout))
                }
                fn get_attributes(device: DeviceInfo) -> Result<Device, PluginError> {
                    __export::with(|p: &mut $plugin| p.get_attributes(&device))
                }
                fn set_attributes(
                    device: DeviceInfo,
                    writes: Vec<AttributeWrite>,
                ) -> Result<(), PluginError> {
                    __export::with(|p: &mut $plugin| p.set_attributes(&device, &writes))
                }
                fn check_update(device: DeviceInfo) -> Result<UpdateInfo, PluginError> {
                    __export::with(|p: &mut $plugin| p.check_update(&device))
                }
                fn ota(device: DeviceInfo) -> Result<(), PluginError> {
                    __export::with(|p: &mut $plugin| p.ota(&device))
                }
                fn watch(device: DeviceInfo) -> Result<(), PluginError> {
                    __export::with(|p: &mut $plugin| p.watch(&device))
                }
            }

    $crate::bindings::export!(Export with_types_in $crate::bindings);
        };
    };
}
