//! `hub:device@0.1.0`, frozen: a device travels as five strings on every
//! call and get-attributes answers metadata with every value. Adapted here
//! onto the current types, so the rest of the hub speaks one version.

wasmtime::component::bindgen!({
    path: "../wit/v0.1",
    world: "hub:device/plugin",
    exports: { default: async },
    with: { "wasi": wasmtime_wasi::p2::bindings },
});

use self::exports::hub::device::driver::Guest;
use self::hub::device::host::LogLevel;
use self::hub::device::types as old;
use super::{Answer, Config, current};
use crate::plugins::bounds;
use crate::plugins::events::{self, Emitted};
use crate::plugins::linker::{log, stop_a_flood};
use crate::plugins::state::HostState;
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime::{Store, StoreContextMut};

pub struct Driver {
    bindings: Plugin,
    /// The last device called, in this version's shape.
    device: Option<(Arc<current::DeviceInfo>, old::DeviceInfo)>,
}

impl Driver {
    pub fn new(bindings: Plugin) -> Self {
        Driver {
            bindings,
            device: None,
        }
    }

    /// Runs `call` with `device` in this version's shape: an instance
    /// usually serves one device, so it is converted once, not at every call.
    async fn with_old_info<T>(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
        call: impl AsyncFnOnce(
            &Guest,
            &mut Store<HostState>,
            &old::DeviceInfo,
        ) -> wasmtime::Result<Result<T, old::PluginError>>,
    ) -> Answer<T> {
        self.device.take_if(|(d, _)| !Arc::ptr_eq(d, device));
        let (_, info) = self
            .device
            .get_or_insert_with(|| (device.clone(), info_from(device)));
        let answer = call(self.bindings.hub_device_driver(), store, info).await?;
        Ok(answer.map_err(Into::into))
    }

    pub async fn init(&mut self, store: &mut Store<HostState>, config: &Config) -> Answer<()> {
        let answer = self
            .bindings
            .hub_device_driver()
            .call_init(store, config)
            .await?;
        Ok(answer.map_err(current::PluginError::from))
    }

    pub async fn discover(
        &mut self,
        store: &mut Store<HostState>,
        ms: u32,
    ) -> Answer<Vec<current::DeviceInfo>> {
        let answer = self
            .bindings
            .hub_device_driver()
            .call_discover(store, ms)
            .await?;
        Ok(answer
            .map(|found| found.iter().map(info_into).collect())
            .map_err(Into::into))
    }

    /// get-attributes, split into the metadata and the values.
    pub async fn read(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
    ) -> Answer<current::Reading> {
        let answer = self.get_attributes(store, device).await?;
        Ok(answer.map(|(meta, values)| current::Reading {
            meta: Some(meta),
            values,
        }))
    }

    /// get-attributes, its values dropped.
    pub async fn describe(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
    ) -> Answer<current::DeviceMeta> {
        let answer = self.get_attributes(store, device).await?;
        Ok(answer.map(|(meta, _)| meta))
    }

    async fn get_attributes(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
    ) -> Answer<(current::DeviceMeta, Vec<current::Value>)> {
        let call = async |d: &Guest, s: &mut Store<HostState>, info: &old::DeviceInfo| {
            d.call_get_attributes(s, info).await
        };
        let answer = self.with_old_info(store, device, call).await?;
        Ok(answer.map(split))
    }

    /// set-attributes, each write named by its slot's instance and attribute.
    pub async fn write(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
        meta: &current::DeviceMeta,
        writes: &[current::Write],
    ) -> Answer<()> {
        let writes: Vec<old::AttributeWrite> = writes
            .iter()
            .map(|w| {
                let (instance_id, attribute) = match meta.attributes.get(w.slot as usize) {
                    Some(attr) => (attr.instance_id, attr.name.clone()),
                    // Only `hub plugin test` writes a slot the device does not
                    // declare, to see the plugin refuse it: a name no device has.
                    None => (0, format!("undeclared-slot-{}", w.slot)),
                };
                old::AttributeWrite {
                    instance_id,
                    attribute,
                    value: value_into(&w.value),
                }
            })
            .collect();
        let call = async |d: &Guest, s: &mut Store<HostState>, info: &old::DeviceInfo| {
            d.call_set_attributes(s, info, &writes).await
        };
        self.with_old_info(store, device, call).await
    }

    pub async fn check_update(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
    ) -> Answer<current::UpdateInfo> {
        let call = async |d: &Guest, s: &mut Store<HostState>, info: &old::DeviceInfo| {
            d.call_check_update(s, info).await
        };
        let answer = self.with_old_info(store, device, call).await?;
        Ok(answer.map(update_from))
    }

    pub async fn ota(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
    ) -> Answer<()> {
        let call = async |d: &Guest, s: &mut Store<HostState>, info: &old::DeviceInfo| {
            d.call_ota(s, info).await
        };
        self.with_old_info(store, device, call).await
    }

    pub async fn watch(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<current::DeviceInfo>,
    ) -> Answer<()> {
        let call = async |d: &Guest, s: &mut Store<HostState>, info: &old::DeviceInfo| {
            d.call_watch(s, info).await
        };
        self.with_old_info(store, device, call).await
    }
}

pub fn add_host(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    let mut host = linker.instance(&super::Version::V0_1.host_interface())?;
    host.func_wrap(
        "emit-attribute-change",
        |store: StoreContextMut<'_, HostState>, (change,): (old::AttributeChange,)| {
            stop_a_flood(emit(store.data(), change))
        },
    )?;
    host.func_wrap(
        "report-ota-progress",
        |store: StoreContextMut<'_, HostState>, (progress,): (old::OtaProgress,)| {
            stop_a_flood(progress_of(store.data(), progress))
        },
    )?;
    host.func_wrap(
        "log",
        |store: StoreContextMut<'_, HostState>, (level, message): (LogLevel, String)| {
            log(store.data(), level.into(), &message);
            Ok(())
        },
    )?;
    Ok(())
}

/// A 0.1 change names its device and carries its attribute whole: it may
/// come from any instance, for any device the plugin reported, and is
/// delivered with the type it declares.
fn emit(state: &HostState, change: old::AttributeChange) -> Emitted {
    let events = &state.sandbox.events;
    let value = value_from(&change.attribute.value);
    if let Err(over) = events.admit(events::change_bytes(
        &change.identity,
        &change.attribute.name,
        &value,
    )) {
        return over;
    }
    if let Err(why) = bounds::check_identity(&change.identity) {
        tracing::warn!(plugin = %events.plugin, "dropped an event: {why}");
        return Emitted::Dropped;
    }
    let attribute = attribute_meta(change.instance_id, &change.attribute);
    if let Err(why) = bounds::check_attribute(&attribute, &value) {
        tracing::warn!(plugin = %events.plugin, "dropped an event: {why}");
        return Emitted::Dropped;
    }
    let Some(record) = events.registry.get(&change.identity) else {
        tracing::warn!(plugin = %events.plugin, identity = %change.identity,
            "dropped an event for a device the plugin never reported");
        return Emitted::Dropped;
    };
    events.publish_change(&record.info, &attribute, value)
}

/// A 0.1 report names its device: accepted only for the device whose `ota`
/// the reporting instance runs.
fn progress_of(state: &HostState, progress: old::OtaProgress) -> Emitted {
    let events = &state.sandbox.events;
    let running = state
        .ota
        .as_ref()
        .filter(|d| d.identity == progress.identity);
    let stage = match progress.stage {
        old::OtaStage::Downloading => current::OtaStage::Downloading,
        old::OtaStage::Verifying => current::OtaStage::Verifying,
        old::OtaStage::Installing => current::OtaStage::Installing,
        old::OtaStage::Rebooting => current::OtaStage::Rebooting,
    };
    events.progress(running, stage, progress.percent)
}

/// A 0.1 device's answer: the metadata it declares, and its values in slot order.
fn split(device: old::Device) -> (current::DeviceMeta, Vec<current::Value>) {
    let instances = device
        .instances
        .iter()
        .map(|i| current::InstanceMeta {
            instance_id: i.instance_id,
            kind: i.kind.clone(),
        })
        .collect();
    let attrs = || {
        device
            .instances
            .iter()
            .flat_map(|i| i.attrs.iter().map(move |a| (i.instance_id, a)))
    };
    let meta = current::DeviceMeta {
        instances,
        attributes: attrs().map(|(id, a)| attribute_meta(id, a)).collect(),
        ota_support: device.ota_support,
        limits: current::DeviceLimits {
            writes_per_minute: None,
        },
    };
    (meta, attrs().map(|(_, a)| value_from(&a.value)).collect())
}

fn attribute_meta(instance_id: u32, a: &old::Attribute) -> current::AttributeMeta {
    let m = &a.meta;
    current::AttributeMeta {
        instance_id,
        name: a.name.clone(),
        val_type: match m.val_type {
            old::ValType::String => current::ValType::String,
            old::ValType::Int => current::ValType::Int,
            old::ValType::Float => current::ValType::Float,
            old::ValType::Bool => current::ValType::Bool,
            old::ValType::Enum => current::ValType::Enum,
        },
        min: m.min,
        max: m.max,
        enum_values: m.enum_values.clone(),
        permissions: permissions_from(m.permissions),
        unit: None,
        device_class: None,
    }
}

fn permissions_from(old: old::Permissions) -> current::Permissions {
    let each = [
        (old::Permissions::READ, current::Permissions::READ),
        (old::Permissions::WRITE, current::Permissions::WRITE),
        (old::Permissions::NOTIFY, current::Permissions::NOTIFY),
    ];
    each.into_iter()
        .filter(|(flag, _)| old.contains(*flag))
        .fold(current::Permissions::empty(), |all, (_, flag)| all | flag)
}

fn value_from(v: &old::Value) -> current::Value {
    match v {
        old::Value::Text(s) => current::Value::Text(s.clone()),
        old::Value::Int(i) => current::Value::Int(*i),
        old::Value::Float(f) => current::Value::Float(*f),
        old::Value::Boolean(b) => current::Value::Boolean(*b),
    }
}

fn value_into(v: &current::Value) -> old::Value {
    match v {
        current::Value::Text(s) => old::Value::Text(s.clone()),
        current::Value::Int(i) => old::Value::Int(*i),
        current::Value::Float(f) => old::Value::Float(*f),
        current::Value::Boolean(b) => old::Value::Boolean(*b),
    }
}

fn info_from(d: &current::DeviceInfo) -> old::DeviceInfo {
    old::DeviceInfo {
        identity: d.identity.clone(),
        name: d.name.clone(),
        model: d.model.clone(),
        manufacturer: d.manufacturer.clone(),
        address: d.address.clone(),
    }
}

fn info_into(d: &old::DeviceInfo) -> current::DeviceInfo {
    current::DeviceInfo {
        identity: d.identity.clone(),
        name: d.name.clone(),
        model: d.model.clone(),
        manufacturer: d.manufacturer.clone(),
        address: d.address.clone(),
    }
}

fn update_from(u: old::UpdateInfo) -> current::UpdateInfo {
    current::UpdateInfo {
        current_version: u.current_version,
        latest_firmware: u.latest_firmware.map(|f| current::Firmware {
            version: f.version,
            url: f.url,
            info: f.info,
        }),
        update_available: u.update_available,
    }
}

impl From<old::PluginError> for current::PluginError {
    fn from(e: old::PluginError) -> Self {
        use current::PluginError as New;
        match e {
            old::PluginError::NotFound(m) => New::NotFound(m),
            old::PluginError::InvalidArgument(m) => New::InvalidArgument(m),
            old::PluginError::Unsupported(m) => New::Unsupported(m),
            old::PluginError::Timeout(m) => New::Timeout(m),
            old::PluginError::Unreachable(m) => New::Unreachable(m),
            old::PluginError::Internal(m) => New::Internal(m),
        }
    }
}

impl From<LogLevel> for current::LogLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => current::LogLevel::Trace,
            LogLevel::Debug => current::LogLevel::Debug,
            LogLevel::Info => current::LogLevel::Info,
            LogLevel::Warn => current::LogLevel::Warn,
            LogLevel::Error => current::LogLevel::Error,
        }
    }
}
