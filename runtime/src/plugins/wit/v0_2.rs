//! `hub:device@0.2.0`, the current version: its types are the hub's own.
//! A device is opened once per instance and then called by handle.

wasmtime::component::bindgen!({
    path: "../wit/v0.2",
    world: "hub:device/plugin",
    exports: { default: async },
    with: { "wasi": wasmtime_wasi::p2::bindings },
    additional_derives: [PartialEq],
});

use self::exports::hub::device::driver::GuestDevice;
use self::hub::device::host::LogLevel;
use self::hub::device::types::{
    Change, DeviceInfo, DeviceMeta, OtaStage, Reading, UpdateInfo, Write,
};
use super::{Answer, Config};
use crate::plugins::linker::{log, stop_a_flood};
use crate::plugins::state::HostState;
use std::sync::Arc;
use wasmtime::component::{Linker, ResourceAny};
use wasmtime::{Store, StoreContextMut};

pub struct Driver {
    bindings: Plugin,
    /// The devices this instance serves (one, unless the plugin shares
    /// instances between devices), each opened at its first call.
    opened: Vec<Opened>,
}

struct Opened {
    device: Arc<DeviceInfo>,
    handle: ResourceAny,
}

impl Driver {
    pub fn new(bindings: Plugin) -> Self {
        Driver {
            bindings,
            opened: Vec::new(),
        }
    }

    /// The `device` resource's methods.
    fn methods(&self) -> GuestDevice<'_> {
        self.bindings.hub_device_driver().device()
    }

    pub async fn init(&mut self, store: &mut Store<HostState>, config: &Config) -> Answer<()> {
        self.bindings
            .hub_device_driver()
            .call_init(store, config)
            .await
    }

    pub async fn discover(
        &mut self,
        store: &mut Store<HostState>,
        ms: u32,
    ) -> Answer<Vec<DeviceInfo>> {
        self.bindings
            .hub_device_driver()
            .call_discover(store, ms)
            .await
    }

    /// The handle of `device`, opened on first use; a device that moved
    /// since (another address) is opened anew.
    async fn open(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<ResourceAny> {
        let held = self.opened.iter().position(|opened| {
            Arc::ptr_eq(&opened.device, device) || opened.device.identity == device.identity
        });
        if let Some(at) = held {
            let opened = &self.opened[at];
            if Arc::ptr_eq(&opened.device, device) || opened.device == *device {
                return Ok(Ok(opened.handle));
            }
            // What the old handle declared goes with it.
            let moved = self.opened.swap_remove(at);
            store.data_mut().declared.remove(&device.identity);
            moved.handle.resource_drop_async(&mut *store).await?;
        }
        let opened = self.methods().call_open(&mut *store, device).await?;
        Ok(opened.inspect(|handle| {
            self.opened.push(Opened {
                device: device.clone(),
                handle: *handle,
            });
        }))
    }

    /// Runs `call` on the handle of `device`, opened on first use.
    async fn on_handle<T>(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
        call: impl AsyncFnOnce(GuestDevice<'_>, &mut Store<HostState>, ResourceAny) -> Answer<T>,
    ) -> Answer<T> {
        Ok(match self.open(store, device).await? {
            Ok(handle) => call(self.methods(), store, handle).await?,
            Err(e) => Err(e),
        })
    }

    pub async fn read(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<Reading> {
        self.on_handle(store, device, async |m, s, h| m.call_read(s, h).await)
            .await
    }

    pub async fn describe(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<DeviceMeta> {
        self.on_handle(store, device, async |m, s, h| m.call_describe(s, h).await)
            .await
    }

    pub async fn write(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
        _meta: &DeviceMeta,
        writes: &[Write],
    ) -> Answer<()> {
        self.on_handle(store, device, async |m, s, h| {
            m.call_write(s, h, writes).await
        })
        .await
    }

    pub async fn check_update(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<UpdateInfo> {
        self.on_handle(store, device, async |m, s, h| {
            m.call_check_update(s, h).await
        })
        .await
    }

    pub async fn ota(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<()> {
        self.on_handle(store, device, async |m, s, h| m.call_ota(s, h).await)
            .await
    }

    pub async fn watch(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<()> {
        self.on_handle(store, device, async |m, s, h| m.call_watch(s, h).await)
            .await
    }
}

pub fn add_host(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    let mut host = linker.instance(&super::Version::V0_2.host_interface())?;
    host.func_wrap(
        "emit-changes",
        |store: StoreContextMut<'_, HostState>, (changes,): (Vec<Change>,)| {
            let state = store.data();
            stop_a_flood(state.sandbox.events.emit(state.watching.as_ref(), changes))
        },
    )?;
    host.func_wrap(
        "report-ota-progress",
        |store: StoreContextMut<'_, HostState>, (stage, percent): (OtaStage, Option<u8>)| {
            let state = store.data();
            stop_a_flood(
                state
                    .sandbox
                    .events
                    .progress(state.ota.as_ref(), stage, percent),
            )
        },
    )?;
    host.func_wrap(
        "log",
        |store: StoreContextMut<'_, HostState>, (level, message): (LogLevel, String)| {
            log(store.data(), level, &message);
            Ok(())
        },
    )?;
    Ok(())
}
