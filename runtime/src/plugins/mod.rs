//! Running plugins: the engine, one instance per device call stream, event
//! watchers, crash supervision.

mod bindings;
mod device;
mod devices;
mod engine;
mod events;
mod instance;
mod linker;
mod plugin;
mod state;
mod supervisor;
mod validate;

pub use bindings::{Attribute, Device, DeviceInfo, Permissions, UpdateInfo, ValType, Value};
pub use engine::{PluginEngine, hex};
pub use events::{Event, EventBus};
pub use plugin::Plugin;
pub use supervisor::{State, Status};
pub use validate::{WriteRequest, type_name};

use crate::caps::NetPolicy;
use crate::config::PluginSpec;
use crate::error::{ErrorCode, HubError};
use anyhow::Context;
use plugin::PluginParts;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Every loaded plugin, and the event bus they publish on.
pub struct Hub {
    plugins: BTreeMap<String, Arc<Plugin>>,
    events: EventBus,
    _engine: PluginEngine,
}

impl Hub {
    /// Compiles (or loads from the cache in `data_dir`) and pre-instantiates
    /// every plugin. `hub_addrs` are closed to all plugins.
    pub fn load(
        specs: &[PluginSpec],
        data_dir: &Path,
        hub_addrs: &[SocketAddr],
    ) -> anyhow::Result<Self> {
        let engine = PluginEngine::new(&data_dir.join("compiled"))?;
        let linker = linker::plugin_linker(engine.engine())?;
        let events = EventBus::new();
        let mut plugins = BTreeMap::new();
        for spec in specs {
            let bytes = std::fs::read(&spec.component).with_context(|| {
                format!("plugin {}: read {}", spec.id, spec.component.display())
            })?;
            let component = engine
                .load(&bytes)
                .with_context(|| format!("plugin {}: compile", spec.id))?;
            let pre = linker
                .instantiate_pre(&component)
                .and_then(bindings::PluginPre::new)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!(
                        "plugin {}: link (does it import only what the device world offers?)",
                        spec.id
                    )
                })?;
            let id: Arc<str> = spec.id.as_str().into();
            let parts = PluginParts {
                policy: NetPolicy::new(id.clone(), spec.allow.clone(), hub_addrs.to_vec()),
                id,
                engine: engine.engine().clone(),
                pre,
                config: spec
                    .config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                limits: spec.limits.clone(),
            };
            tracing::info!(plugin = %spec.id, allow = ?spec.allow, "plugin loaded");
            plugins.insert(spec.id.clone(), Plugin::new(parts, events.clone()));
        }
        Ok(Hub {
            plugins,
            events,
            _engine: engine,
        })
    }

    pub fn plugin(&self, id: &str) -> Result<&Arc<Plugin>, HubError> {
        self.plugins.get(id).ok_or_else(|| {
            HubError::new(
                ErrorCode::NotFound,
                format!("no plugin {id:?} is installed"),
            )
        })
    }

    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values()
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }
}
