//! Running plugins: the engine, the installed set (reconciled with the
//! store), one instance per device call stream, event watchers, crash
//! supervision.

mod audit_log;
mod bounds;
mod counters;
mod discovery;
mod engine;
mod events;
mod grants;
mod http;
mod install;
mod instance;
mod labels;
mod linker;
mod measure;
mod metadata;
mod operations;
mod ota;
mod plugin;
mod queue;
mod registry;
mod state;
mod supervisor;
mod usage;
mod validate;
mod watcher;
pub mod wit;

pub use self::wit::{
    AttributeMeta, Device, DeviceInfo, DeviceMeta, Permissions, UpdateInfo, ValType, Value,
    Version, Write,
};
pub use audit_log::{AuditLog, SUMMARY_EVERY, Totals};
pub use bounds::MAX_NAME;
pub use counters::CallCounters;
pub use discovery::Discovery;
pub use engine::{Metering, PluginEngine, Ticking};
pub use events::{AttributeChange, CapabilityUse, Event, EventBus, EventKind};
pub use grants::GrantView;
pub use install::{InstallReport, MAX_COMPONENT, MAX_MANIFEST, Provenance};
pub use measure::Measured;
pub use operations::PluginView;
pub use ota::{OtaState, OtaStatus};
pub use plugin::{BudgetUse, Plugin};
pub use registry::{Availability, Known};
pub use supervisor::{State, Status};
pub use usage::CallUsage;
pub use validate::{WriteRequest, type_name};

use crate::caps::{Capabilities, Grant, HttpPolicy, Limits, Manifest, NetPolicy, imports};
use crate::digest::sha256_hex;
use crate::error::{ErrorCode, HubError};
use crate::store::{InstalledPlugin, Label, Store};
use crate::sync::{MutexHeld, RwLockHeld};
use anyhow::{Context, bail};
use plugin::PluginParts;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use wasmtime::component::{Component, Linker};

pub struct HubSettings {
    /// `hub.db` and the installed plugins live here.
    pub data_dir: PathBuf,
    /// Compiled components; shareable between hubs of one wasmtime version.
    pub cache_dir: PathBuf,
    /// Where WebSocket clients may install plugins from; `None`: nowhere
    /// (operators install with the CLI).
    pub install_dir: Option<PathBuf>,
    /// Closed to every plugin.
    pub hub_addrs: Vec<SocketAddr>,
    /// Defaults for every plugin; a manifest may ask for less, and for more
    /// with an operator's approval.
    pub limits: Limits,
    /// Networks no plugin's HTTP request may reach, whatever name it uses.
    pub http_blocked: Vec<ipnet::IpNet>,
    /// CPU limits the engine enforces: all of them, except in benchmarks.
    pub metering: Metering,
    /// Plugins run under `hub plugin test`: they draw random numbers from a
    /// fixed seed, so that runs repeat, and what each call consumes is
    /// recorded. Never for serving.
    pub under_test: bool,
    /// The marketplace's bundle to fetch while serving, and how often.
    pub market: Option<crate::config::MarketConfig>,
}

impl HubSettings {
    pub fn new(data_dir: PathBuf) -> Self {
        HubSettings {
            cache_dir: data_dir.join("compiled"),
            install_dir: None,
            data_dir,
            hub_addrs: Vec::new(),
            limits: Limits::default(),
            http_blocked: crate::caps::http::default_blocked(),
            metering: Metering::default(),
            under_test: false,
            market: None,
        }
    }
}

/// The installed plugins that are enabled, loaded and running.
pub struct Hub {
    plugins: RwLock<BTreeMap<String, Arc<Plugin>>>,
    events: EventBus,
    engine: PluginEngine,
    linker: Linker<state::HostState>,
    /// For plugins granted outgoing HTTP: `linker` plus `wasi:http`.
    http_linker: Linker<state::HostState>,
    store: Arc<Store>,
    audit: Arc<AuditLog>,
    settings: HubSettings,
    /// Set while serving: changes then apply at once.
    live: AtomicBool,
    reconciling: std::sync::Mutex<()>,
    /// Operators' names and areas for devices.
    labels: labels::Labels,
    /// Held while a plugin is installed.
    installing: std::sync::Mutex<()>,
}

impl Hub {
    /// Opens the store; nothing runs until [`Hub::reconcile`].
    pub fn open(settings: HubSettings) -> anyhow::Result<Arc<Self>> {
        let store = Arc::new(Store::open(&settings.data_dir.join("hub.db"))?);
        let engine = PluginEngine::new(&settings.cache_dir, settings.metering, store.clone())?;
        let linker = linker::plugin_linker(engine.engine(), false)?;
        let http_linker = linker::plugin_linker(engine.engine(), true)?;
        let events = EventBus::new();
        Ok(Arc::new(Hub {
            plugins: RwLock::new(BTreeMap::new()),
            audit: AuditLog::new(store.clone(), events.clone()),
            events,
            labels: labels::Labels::load(&store)?,
            engine,
            linker,
            http_linker,
            store,
            settings,
            live: AtomicBool::new(false),
            reconciling: std::sync::Mutex::new(()),
            installing: Default::default(),
        }))
    }

    /// Loads the enabled plugins and, from then on, applies every change.
    pub fn go_live(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.live.store(true, Ordering::Relaxed);
        self.reconcile()
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// What an operator called the device and where they placed it.
    pub fn label(&self, plugin: &str, identity: &str) -> Option<Arc<Label>> {
        self.labels.get(plugin, identity)
    }

    /// Names or places a device the plugin reported; audited.
    pub fn change_label(
        &self,
        actor: &str,
        plugin: &str,
        identity: &str,
        change: impl FnOnce(&mut Label),
    ) -> Result<(), HubError> {
        self.plugin(plugin)?.device(identity)?;
        let label = self.labels.change(&self.store, plugin, identity, change)?;
        let detail =
            serde_json::json!({"identity": identity, "name": label.name, "area": label.area});
        self.audit.record(actor, Some(plugin), "label", detail);
        Ok(())
    }

    pub fn plugin(&self, id: &str) -> Result<Arc<Plugin>, HubError> {
        self.read().get(id).cloned().ok_or_else(|| {
            HubError::new(
                ErrorCode::NotFound,
                format!("no plugin {id:?} is installed and enabled"),
            )
        })
    }

    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        self.read().values().cloned().collect()
    }

    /// Makes the running set match the store: loads what is enabled and new
    /// or changed (component or grant), stops what was removed or disabled.
    /// Returns the plugins that could not be loaded, with why.
    pub fn reconcile(&self) -> anyhow::Result<Vec<(String, String)>> {
        let _one_at_a_time = self.reconciling.held();
        let installed = self.store.plugins()?;
        // Enabled, and not revoked (by the stored status: it holds offline).
        // A vulnerable release stays enabled so that its fix runs once
        // installed, but it does not run itself.
        let revocations = self.revocations()?;
        let revoked = |p: &InstalledPlugin| {
            let key = p.publisher_key.as_deref();
            revocations
                .forbids(&p.id, &p.version, &p.digest(), key)
                .is_some()
        };
        for p in installed.iter().filter(|p| p.enabled && revoked(p)) {
            tracing::warn!(plugin = %p.id, "{} was revoked by the marketplace: not started", p.version);
        }
        let wanted: BTreeMap<_, _> = installed
            .iter()
            .filter(|p| p.enabled && !revoked(p))
            .map(|p| (p.id.as_str(), p))
            .collect();
        let current = |id: &str| self.read().get(id).map(|p| p.fingerprint().to_string());
        // Compiling can take a second: do it without holding the plugin map,
        // so that requests to other plugins keep flowing, and swap at the end.
        let mut loaded = BTreeMap::new();
        let mut failed = Vec::new();
        for (id, installed) in &wanted {
            if current(id).as_deref() == Some(fingerprint(installed).as_str()) {
                continue;
            }
            match self.load(installed) {
                Ok(plugin) => {
                    loaded.insert(id.to_string(), plugin);
                }
                Err(e) => {
                    tracing::error!(plugin = %id, "cannot load: {e:#}");
                    failed.push((id.to_string(), format!("{e:#}")));
                }
            }
        }
        let mut running = self.plugins.write_held();
        running.retain(|id, plugin| {
            let keep = wanted
                .get(id.as_str())
                .is_some_and(|p| plugin.fingerprint() == fingerprint(p));
            if !keep {
                plugin.stop();
                tracing::info!(plugin = %id, "plugin stopped");
            }
            keep
        });
        running.extend(loaded);
        Ok(failed)
    }

    fn load(&self, installed: &InstalledPlugin) -> anyhow::Result<Arc<Plugin>> {
        let manifest = Manifest::parse(&installed.manifest)?;
        let bytes = std::fs::read(self.component_path(&installed.id))?;
        if sha256_hex(&bytes) != installed.sha256 {
            bail!("the component on disk is not the one installed (sha256 differs); reinstall it");
        }
        let grant = Grant::parse(installed.granted.as_deref())?
            .map(|g| g.granted)
            .unwrap_or_default();
        let limits = self
            .settings
            .limits
            .for_plugin(&manifest.limits, &grant.limits);
        let (component, imported, version) = self.compile(&bytes, &manifest)?;
        imports::check_linkable(&imported, &grant).map_err(anyhow::Error::msg)?;
        let linker = if imports::links_http(&grant) {
            &self.http_linker
        } else {
            &self.linker
        };
        let pre = wit::Pre::new(version, linker, &component)
            .map_err(anyhow::Error::from)
            .context("link")?;
        let config: BTreeMap<String, String> =
            serde_json::from_str(&installed.config).context("stored config")?;
        let id: Arc<str> = installed.id.as_str().into();
        let hub_addrs = self.settings.hub_addrs.clone();
        let http = HttpPolicy::new(
            grant.http.clone(),
            self.settings.http_blocked.clone(),
            hub_addrs.clone(),
        );
        let parts = PluginParts {
            policy: Arc::new(NetPolicy::new(grant, hub_addrs, &limits.quotas)),
            http: Arc::new(http),
            id,
            engine: self.engine.engine().clone(),
            ticking: self.engine.ticking(),
            pre,
            config: config.into_iter().collect(),
            limits,
            fingerprint: fingerprint(installed),
            store: self.store.clone(),
            audit: self.audit.clone(),
            metering: self.settings.metering,
            under_test: self.settings.under_test,
            shared_instances: manifest.devices.shared_instances,
        };
        let plugin = Plugin::new(parts, self.events.clone())?;
        tracing::info!(plugin = %installed.id, version = %installed.version, grant = %plugin.policy().grant(), "plugin loaded");
        Ok(plugin)
    }

    /// Compiles (or loads from the cache) after checking the component's
    /// imports against its manifest: the component, the interfaces it
    /// imports, and the version of the device protocol it targets.
    fn compile(
        &self,
        bytes: &[u8],
        manifest: &Manifest,
    ) -> anyhow::Result<(Component, Vec<String>, Version)> {
        let component = self.engine.load(bytes)?;
        let (imported, exported) = self.engine.interfaces(&component);
        let version = Version::of(&exported).map_err(anyhow::Error::msg)?;
        version
            .check_imports(&imported)
            .map_err(anyhow::Error::msg)?;
        imports::check(&imported, &manifest.capabilities).map_err(anyhow::Error::msg)?;
        Ok((component, imported, version))
    }

    /// What a plugin asks an operator for: its capabilities, and its
    /// limits above this hub's defaults.
    pub(crate) fn request(&self, manifest: &Manifest) -> Capabilities {
        manifest.request(&self.settings.limits)
    }

    pub(crate) fn component_path(&self, id: &str) -> PathBuf {
        self.settings
            .data_dir
            .join("plugins")
            .join(id)
            .join("plugin.wasm")
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Plugin>>> {
        self.plugins.read_held()
    }
}

/// What makes a loaded plugin stale: its component, grant or config changed.
fn fingerprint(p: &InstalledPlugin) -> String {
    format!(
        "{}|{}|{}|{}",
        p.sha256,
        sha256_hex(p.manifest.as_bytes()),
        p.granted.as_deref().unwrap_or(""),
        p.config
    )
}
