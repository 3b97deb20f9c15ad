//! The released versions of the device protocol (`wit/v0.*`), one module
//! each, as Zed's extension host keeps them: the newest, [`v0_2`], is the
//! hub's own vocabulary; older ones are adapted onto it, so a plugin built
//! against any released version keeps working.
//!
//! Adding a call to the protocol means a new version: a `wit/v0.N` folder,
//! a module here with its calls and host functions, and a row in
//! [`Version`] and [`Driver`].

pub mod v0_1;
pub mod v0_2;

/// The hub's own vocabulary: the newest version's types.
pub mod current {
    pub use super::v0_2::hub::device::host::LogLevel;
    pub use super::v0_2::hub::device::types::*;
}

pub use current::{
    AttributeMeta, Change, DeviceInfo, DeviceLimits, DeviceMeta, InstanceMeta, LogLevel, OtaStage,
    Permissions, PluginError, Reading, UpdateInfo, ValType, Value, Write,
};

use super::state::HostState;
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, Linker};

/// A released version of `hub:device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V0_1,
    V0_2,
}

/// The interface every plugin exports, without its version.
const DRIVER: &str = "hub:device/driver@";

impl Version {
    pub const RELEASED: [Version; 2] = [Version::V0_1, Version::V0_2];

    pub fn number(self) -> &'static str {
        match self {
            Version::V0_1 => "0.1.0",
            Version::V0_2 => "0.2.0",
        }
    }

    /// The version a component targets, from the driver it exports; a
    /// component exporting none, or one of a version this hub does not
    /// know, is refused naming what it exports.
    pub fn of(exports: &[String]) -> Result<Version, String> {
        let Some(number) = exports.iter().find_map(|e| e.strip_prefix(DRIVER)) else {
            return Err(format!(
                "the component exports no hub:device/driver interface (it exports: {}); build it with the hub's guest SDK",
                list(exports)
            ));
        };
        Self::RELEASED
            .into_iter()
            .find(|v| v.number() == number)
            .ok_or_else(|| {
                let known: Vec<_> = Self::RELEASED.iter().map(|v| v.number()).collect();
                format!(
                    "the component targets hub:device@{number}, which this hub does not know (it serves {})",
                    known.join(" and ")
                )
            })
    }

    /// Refuses imports of the hub's own interfaces in another version than
    /// the component exports: a 0.2 plugin importing the 0.1 host could emit
    /// changes for any device, from any instance, typed as it pleases.
    pub fn check_imports(self, imports: &[String]) -> Result<(), String> {
        let own = imports.iter().filter(|i| i.starts_with("hub:device/"));
        match own
            .into_iter()
            .find(|i| !i.ends_with(&format!("@{}", self.number())))
        {
            Some(other) => Err(format!(
                "the component exports {self} but imports {other}: a plugin speaks one version of the protocol"
            )),
            None => Ok(()),
        }
    }

    /// Its changes name a slot of the device's metadata, which the hub
    /// must hold before the device's watch starts.
    pub fn changes_by_slot(self) -> bool {
        self != Version::V0_1
    }

    pub fn host_interface(self) -> String {
        format!("hub:device/host@{}", self.number())
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hub:device@{}", self.number())
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}

/// A component linked and ready to instantiate, in its version's shape.
pub enum Pre {
    V0_1(v0_1::PluginPre<HostState>),
    V0_2(v0_2::PluginPre<HostState>),
}

impl Pre {
    pub fn new(
        version: Version,
        linker: &Linker<HostState>,
        component: &Component,
    ) -> wasmtime::Result<Self> {
        let pre: InstancePre<HostState> = linker.instantiate_pre(component)?;
        Ok(match version {
            Version::V0_1 => Pre::V0_1(v0_1::PluginPre::new(pre)?),
            Version::V0_2 => Pre::V0_2(v0_2::PluginPre::new(pre)?),
        })
    }

    pub fn version(&self) -> Version {
        match self {
            Pre::V0_1(_) => Version::V0_1,
            Pre::V0_2(_) => Version::V0_2,
        }
    }

    pub async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Driver> {
        Ok(match self {
            Pre::V0_1(pre) => Driver::V0_1(v0_1::Driver::new(pre.instantiate_async(store).await?)),
            Pre::V0_2(pre) => Driver::V0_2(v0_2::Driver::new(pre.instantiate_async(store).await?)),
        })
    }
}

/// A live instance's exports, in its version's shape.
pub enum Driver {
    V0_1(v0_1::Driver),
    V0_2(v0_2::Driver),
}

/// What a call into a plugin gives: the plugin's own answer, or a trap.
pub type Answer<T> = wasmtime::Result<Result<T, PluginError>>;

/// Runs the same call on whichever version the instance speaks.
macro_rules! each_version {
    ($driver:expr, $call:ident($($arg:expr),*)) => {
        match $driver {
            Driver::V0_1(d) => d.$call($($arg),*).await,
            Driver::V0_2(d) => d.$call($($arg),*).await,
        }
    };
}

impl Driver {
    pub async fn init(&mut self, store: &mut Store<HostState>, config: &Config) -> Answer<()> {
        each_version!(self, init(store, config))
    }

    pub async fn discover(
        &mut self,
        store: &mut Store<HostState>,
        ms: u32,
    ) -> Answer<Vec<DeviceInfo>> {
        each_version!(self, discover(store, ms))
    }

    pub async fn read(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<Reading> {
        each_version!(self, read(store, device))
    }

    pub async fn describe(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<DeviceMeta> {
        each_version!(self, describe(store, device))
    }

    /// `meta` names each write's slot for versions that write by name.
    pub async fn write(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
        meta: &DeviceMeta,
        writes: &[Write],
    ) -> Answer<()> {
        each_version!(self, write(store, device, meta, writes))
    }

    pub async fn check_update(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<UpdateInfo> {
        each_version!(self, check_update(store, device))
    }

    pub async fn ota(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<()> {
        each_version!(self, ota(store, device))
    }

    pub async fn watch(
        &mut self,
        store: &mut Store<HostState>,
        device: &Arc<DeviceInfo>,
    ) -> Answer<()> {
        each_version!(self, watch(store, device))
    }
}

pub type Config = Vec<(String, String)>;

/// Adds every released version's `host` interface to `linker`.
pub fn add_hosts(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    v0_1::add_host(linker)?;
    v0_2::add_host(linker)
}

/// What get_attributes answers: the device as the hub knows it, its
/// declared metadata and the values just read, in slot order.
#[derive(Debug, Clone)]
pub struct Device {
    pub info: Arc<DeviceInfo>,
    pub meta: Arc<DeviceMeta>,
    pub values: Vec<Value>,
}

impl Device {
    /// Each attribute with its value, in slot order.
    pub fn attributes(&self) -> impl Iterator<Item = (&AttributeMeta, &Value)> {
        self.meta.attributes.iter().zip(&self.values)
    }

    /// The attributes of instance `instance_id`, in slot order.
    pub fn of_instance(&self, instance_id: u32) -> impl Iterator<Item = (&AttributeMeta, &Value)> {
        self.attributes()
            .filter(move |(meta, _)| meta.instance_id == instance_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_component_is_served_in_the_version_it_exports() {
        assert_eq!(
            Version::of(&exports(&["hub:device/driver@0.1.0"])),
            Ok(Version::V0_1)
        );
        assert_eq!(
            Version::of(&exports(&["wasi:cli/run@0.2.0", "hub:device/driver@0.2.0"])),
            Ok(Version::V0_2)
        );
    }

    #[test]
    fn a_plugin_imports_the_host_of_the_version_it_exports_only() {
        let imports = exports(&["wasi:io/poll@0.2.12", "hub:device/host@0.2.0"]);
        assert_eq!(Version::V0_2.check_imports(&imports), Ok(()));
        let mixed = exports(&["hub:device/host@0.2.0", "hub:device/host@0.1.0"]);
        let why = Version::V0_2.check_imports(&mixed).unwrap_err();
        assert!(why.contains("imports hub:device/host@0.1.0"), "{why}");
    }

    #[test]
    fn an_unknown_version_is_refused_naming_it() {
        let why = Version::of(&exports(&["hub:device/driver@0.3.0"])).unwrap_err();
        assert!(why.contains("hub:device@0.3.0"), "{why}");
        assert!(why.contains("0.1.0 and 0.2.0"), "{why}");
        let why = Version::of(&exports(&["wasi:cli/run@0.2.0"])).unwrap_err();
        assert!(why.contains("no hub:device/driver"), "{why}");
    }
}
