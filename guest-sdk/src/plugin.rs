use crate::bindings::exports::hub::device::driver;
use crate::bindings::hub::device::host;
use crate::bindings::hub::device::types::{Reading, Write};
use crate::{Change, Config, DeviceInfo, DeviceMeta, OtaStage, PluginError, UpdateInfo, Value};
use std::cell::{OnceCell, RefCell};
use std::time::Duration;

/// A device driver. The hub creates instances of the plugin as it needs
/// them (several may run at once) and calls [`Plugin::init`] on each before
/// anything else, so state kept in `self` is a cache, never the only copy.
pub trait Plugin: Sized + 'static {
    /// A device opened for calls. The hub opens each device in an instance
    /// of its own and keeps it open for that instance's life: a connection
    /// to the device belongs here.
    type Device: Device;

    fn init(config: Config) -> Result<Self, PluginError>;

    /// Devices that answer within `timeout`.
    fn discover(&mut self, timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError>;

    /// Opens a device discover reported (its address as reported then).
    fn open(&mut self, info: DeviceInfo) -> Result<Self::Device, PluginError>;
}

/// One device, called one call at a time.
pub trait Device: 'static {
    /// The device's instances and attributes, declared once: the SDK sends
    /// them to the hub with the first read, and the hub keeps them.
    fn describe(&mut self) -> Result<DeviceMeta, PluginError>;

    /// The current values, one per attribute `declared` (what
    /// [`Device::describe`] returned), in the same order:
    /// [`DeviceMeta::values`] builds them by attribute.
    fn read(&mut self, declared: &DeviceMeta) -> Result<Vec<Value>, PluginError>;

    /// The hub has already checked each write against the attribute's
    /// metadata (type, range, choices, writable).
    fn write(&mut self, writes: &[AttributeWrite]) -> Result<(), PluginError>;

    fn check_update(&mut self) -> Result<UpdateInfo, PluginError> {
        Err(PluginError::Unsupported(
            "this plugin does not check for firmware updates".into(),
        ))
    }

    /// Updates the firmware, calling [`report_ota`] as it goes, and returns
    /// once the device runs the new version. The hub reports `done` or
    /// `failed` itself; an error message should name the step that failed.
    fn ota(&mut self) -> Result<(), PluginError> {
        Err(PluginError::Unsupported(
            "this plugin does not update firmware".into(),
        ))
    }

    /// Blocks while the device pushes changes, calling [`emit`] for them
    /// (built with `declared`'s [`DeviceMeta::change`]); returns when the
    /// connection is lost.
    fn watch(&mut self, declared: &DeviceMeta) -> Result<(), PluginError> {
        let _ = declared;
        Err(PluginError::Unsupported(
            "this plugin does not push changes".into(),
        ))
    }
}

/// A client's write, named as the device declared the attribute.
#[derive(Debug, Clone)]
pub struct AttributeWrite {
    pub instance_id: u32,
    pub attribute: String,
    pub value: Value,
}

/// Tells the hub that attributes of the device being watched changed; each
/// reaches every connected client. Build them with [`DeviceMeta::change`].
pub fn emit(changes: &[Change]) {
    host::emit_changes(changes);
}

/// Tells the clients how the running `ota` is going; `percent` of the
/// current stage, where the device tells.
pub fn report_ota(stage: OtaStage, percent: Option<u8>) {
    host::report_ota_progress(stage, percent);
}

#[doc(hidden)]
pub mod __export {
    use super::*;
    use std::any::Any;

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

    pub fn discover<P: Plugin>(timeout_ms: u32) -> Result<Vec<DeviceInfo>, PluginError> {
        let timeout = Duration::from_millis(timeout_ms.into());
        with(|p: &mut P| p.discover(timeout))
    }

    /// An open device and the metadata it declared to the hub.
    pub struct Opened<D> {
        device: RefCell<D>,
        declared: OnceCell<DeviceMeta>,
    }

    impl<D: Device> Opened<D> {
        pub fn open<P: Plugin<Device = D>>(info: DeviceInfo) -> Result<Self, PluginError> {
            let device = with(|p: &mut P| p.open(info))?;
            Ok(Opened {
                device: RefCell::new(device),
                declared: OnceCell::new(),
            })
        }

        fn device(&self) -> std::cell::RefMut<'_, D> {
            self.device.borrow_mut()
        }

        /// The metadata, described at the first call on this handle.
        fn declared(&self) -> Result<&DeviceMeta, PluginError> {
            if let Some(meta) = self.declared.get() {
                return Ok(meta);
            }
            let meta = self.device().describe()?;
            Ok(self.declared.get_or_init(|| meta))
        }

        /// The values, with the metadata the first time (for the hub to keep).
        pub fn read(&self) -> Result<Reading, PluginError> {
            let first = self.declared.get().is_none();
            let declared = self.declared()?;
            let values = self.device().read(declared)?;
            let meta = first.then(|| declared.clone());
            Ok(Reading { meta, values })
        }

        pub fn describe(&self) -> Result<DeviceMeta, PluginError> {
            self.declared().cloned()
        }

        pub fn write(&self, writes: Vec<Write>) -> Result<(), PluginError> {
            let attributes = &self.declared()?.attributes;
            let named = writes
                .into_iter()
                .map(|w| {
                    let attr = attributes.get(w.slot as usize).ok_or_else(|| {
                        PluginError::NotFound(format!("no attribute in slot {}", w.slot))
                    })?;
                    Ok(AttributeWrite {
                        instance_id: attr.instance_id,
                        attribute: attr.name.clone(),
                        value: w.value,
                    })
                })
                .collect::<Result<Vec<_>, PluginError>>()?;
            self.device().write(&named)
        }

        pub fn check_update(&self) -> Result<UpdateInfo, PluginError> {
            self.device().check_update()
        }

        pub fn ota(&self) -> Result<(), PluginError> {
            self.device().ota()
        }

        pub fn watch(&self) -> Result<(), PluginError> {
            let declared = self.declared()?;
            self.device().watch(declared)
        }
    }

    pub type Handle = driver::Device;
}

/// Exports a [`Plugin`] implementation as the component's `driver` interface.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            use $crate::bindings::exports::hub::device::driver::{Guest, GuestDevice};
            use $crate::bindings::hub::device::types::{Reading, Write};
            use $crate::{__export, DeviceInfo, Plugin, PluginError, UpdateInfo};

            struct Export;

            struct OpenDevice(__export::Opened<<$plugin as Plugin>::Device>);

            impl Guest for Export {
                type Device = OpenDevice;

                fn init(config: Vec<(String, String)>) -> Result<(), PluginError> {
                    __export::init::<$plugin>(config)
                }
                fn discover(timeout_ms: u32) -> Result<Vec<DeviceInfo>, PluginError> {
                    __export::discover::<$plugin>(timeout_ms)
                }
            }

            impl GuestDevice for OpenDevice {
                fn open(info: DeviceInfo) -> Result<__export::Handle, PluginError> {
                    let opened = __export::Opened::open::<$plugin>(info)?;
                    Ok(__export::Handle::new(OpenDevice(opened)))
                }
                fn read(&self) -> Result<Reading, PluginError> {
                    self.0.read()
                }
                fn describe(&self) -> Result<$crate::DeviceMeta, PluginError> {
                    self.0.describe()
                }
                fn write(&self, writes: Vec<Write>) -> Result<(), PluginError> {
                    self.0.write(writes)
                }
                fn check_update(&self) -> Result<UpdateInfo, PluginError> {
                    self.0.check_update()
                }
                fn ota(&self) -> Result<(), PluginError> {
                    self.0.ota()
                }
                fn watch(&self) -> Result<(), PluginError> {
                    self.0.watch()
                }
            }

    $crate::bindings::export!(Export with_types_in $crate::bindings);
        };
    };
}
