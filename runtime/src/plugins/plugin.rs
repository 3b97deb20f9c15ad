//! One loaded plugin: what its instances are made from, its devices'
//! queues and watchers, its limits, and what operators see of it. A
//! client's device call enters here once, to find the device's queue.

use super::AuditLog;
use super::counters::CallCounters;
use super::engine::{Metering, Ticking};
use super::events::{EventBus, EventSink};
use super::http::HttpSender;
use super::instance::Template;
use super::ota::{self, OtaStatus, RunningOtas};
use super::queue::{DeviceQueue, InstanceSlot};
use super::registry::{DeviceRecord, Known, Registry};
use super::state::Sandbox;
use super::supervisor::{Status, Supervisor};
use super::usage::CallUsage;
use super::validate::{WriteRequest, validate};
use super::watcher::DeviceWorker;
use super::wit::{Config, Device, DeviceInfo, DeviceMeta, Pre, UpdateInfo, Version, Write};
use crate::caps::{DeviceWrites, HttpPolicy, Limits, NetPolicy, PluginBudget, WriteLimit};
use crate::error::{ErrorCode, HubError};
use crate::store::Store;
use crate::sync::MutexHeld;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use wasmtime::Engine;

pub struct Plugin {
    pub(super) template: Arc<Template>,
    workers: Mutex<HashMap<String, DeviceWorker>>,
    /// Its device calls and their errors, for `/metrics`.
    counters: CallCounters,
    /// The instances its devices' calls share, when its manifest asks;
    /// empty, each device has its own.
    pub(super) shared: Vec<Arc<InstanceSlot>>,
    /// set_attributes per device.
    writes: Mutex<HashMap<String, Arc<DeviceWrites>>>,
    fingerprint: String,
    pub(super) store: Arc<Store>,
    /// Set when the plugin is stopped (removed, disabled, or reloaded with
    /// another grant): long calls still running under the old grant end.
    stopping: watch::Sender<bool>,
}

pub struct PluginParts {
    pub id: Arc<str>,
    pub engine: Engine,
    pub ticking: Arc<Ticking>,
    pub pre: Pre,
    pub config: Config,
    pub policy: Arc<NetPolicy>,
    pub limits: Limits,
    pub fingerprint: String,
    pub store: Arc<Store>,
    pub audit: Arc<AuditLog>,
    pub http: Arc<HttpPolicy>,
    pub metering: Metering,
    pub under_test: bool,
    /// From the manifest: how many instances its devices share, if any.
    pub shared_instances: Option<u8>,
}

impl Plugin {
    /// Starts the plugin with the devices it reported before, so requests
    /// route before a new discover.
    pub fn new(parts: PluginParts, bus: EventBus) -> anyhow::Result<Arc<Self>> {
        let known = parts.store.devices(&parts.id)?;
        let budget = PluginBudget::new(&parts.limits.quotas);
        let events = EventSink {
            plugin: parts.id.clone(),
            bus,
            registry: Arc::new(Registry::default()),
            budget: budget.clone(),
            audit: parts.audit.clone(),
            otas: Arc::new(RunningOtas::default()),
        };
        let http_sender = HttpSender {
            plugin: parts.id.clone(),
            policy: parts.http,
            audit: parts.audit.clone(),
            max_response_bytes: parts.limits.http_response_bytes,
        };
        let sandbox = Arc::new(Sandbox {
            plugin: parts.id.clone(),
            budget,
            policy: parts.policy,
            audit: parts.audit,
            limits: parts.limits,
            events,
            http_sender,
            metering: parts.metering,
            supervisor: Supervisor::default(),
            under_test: parts.under_test.then(Arc::default),
        });
        let template = Template::new(
            parts.engine,
            parts.ticking,
            parts.pre,
            parts.config,
            sandbox,
        );
        let plugin = Arc::new(Plugin {
            template: Arc::new(template),
            workers: Mutex::new(HashMap::new()),
            counters: CallCounters::default(),
            shared: (0..parts.shared_instances.unwrap_or(0))
                .map(|_| Arc::default())
                .collect(),
            writes: Mutex::new(HashMap::new()),
            fingerprint: parts.fingerprint,
            store: parts.store,
            stopping: watch::Sender::new(false),
        });
        for row in known {
            let info = DeviceInfo {
                identity: row.identity,
                name: row.name,
                model: row.model,
                manufacturer: row.manufacturer,
                address: row.address,
            };
            // A budget lowered since they were stored: the rest wait for a discover.
            if plugin.register(&info).is_err() {
                break;
            }
        }
        Ok(plugin)
    }

    pub fn id(&self) -> &str {
        &self.sandbox().plugin
    }

    /// The version of the device protocol its component targets.
    pub fn version(&self) -> Version {
        self.template.pre.version()
    }

    /// Identifies what the plugin was loaded from (component, manifest, grant, config).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Stops every device's watcher and any running update, closing their
    /// sockets, and drops idle instances; other calls' instances go once
    /// they return.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
        self.workers().clear();
        for slot in &self.shared {
            if let Ok(mut idle) = slot.try_lock() {
                idle.take();
            }
        }
    }

    pub fn status(&self) -> Status {
        self.sandbox().supervisor.status()
    }

    pub fn policy(&self) -> &NetPolicy {
        &self.sandbox().policy
    }

    /// Fuel and memory by kind of call, since the plugin was loaded;
    /// recorded only under `hub plugin test`.
    pub fn usage(&self) -> std::collections::BTreeMap<&'static str, CallUsage> {
        self.sandbox()
            .under_test
            .as_ref()
            .map(|usage| usage.snapshot())
            .unwrap_or_default()
    }

    /// Every device it reported, with what the hub last knew of each:
    /// no device is asked.
    pub fn known(&self) -> Vec<Known> {
        self.registry().known()
    }

    /// Its device calls and their errors since it was loaded.
    pub fn counters(&self) -> &CallCounters {
        &self.counters
    }

    pub fn device_count(&self) -> usize {
        self.registry().len()
    }

    /// Fuel its instances burnt since it was loaded.
    pub fn fuel_spent(&self) -> u64 {
        self.sandbox().budget.fuel_spent()
    }

    /// What the plugin holds of its budget now, against its limits.
    pub fn budget_use(&self) -> BudgetUse {
        let (instances, memory_bytes) = self.sandbox().budget.held();
        let quotas = self.sandbox().budget.quotas();
        BudgetUse {
            devices: self.device_count() as u64,
            max_devices: quotas.max_devices,
            instances,
            max_instances: quotas.max_instances,
            memory_bytes,
            total_memory_bytes: quotas.total_memory_bytes,
        }
    }

    /// The device's values, read now, with the metadata its handle declared.
    pub async fn get_attributes(&self, identity: &str) -> Result<Device, HubError> {
        self.counted(async { self.queue(identity)?.read().await })
            .await
    }

    /// Checks each write against the metadata of the instance that will
    /// carry it out, then hands them to the plugin.
    pub async fn set_attributes(
        &self,
        identity: &str,
        writes: &[WriteRequest],
    ) -> Result<(), HubError> {
        let written = async {
            let queue = self.queue(identity)?;
            let checked = |meta: &DeviceMeta| {
                let writes = validate(writes, meta)?;
                self.take_write_quota(identity, meta)?;
                Ok(writes)
            };
            queue.write(checked).await
        };
        self.counted(written).await
    }

    /// Hands `writes` to the plugin without the hub's validation: only for
    /// `hub plugin test`, which checks that a plugin refuses bad writes itself.
    pub async fn set_attributes_unchecked(
        &self,
        identity: &str,
        writes: Vec<Write>,
    ) -> Result<(), HubError> {
        self.queue(identity)?.write(|_| Ok(writes)).await
    }

    pub async fn check_update(&self, identity: &str) -> Result<UpdateInfo, HubError> {
        self.counted(async { self.queue(identity)?.check_update().await })
            .await
    }

    /// Updates the device's firmware in an instance of its own, so the
    /// device keeps answering other calls; clients see `ota_progress`
    /// events, ending with `done` or `failed`.
    pub async fn ota(&self, identity: &str) -> Result<(), HubError> {
        let info = self.device(identity)?.info;
        let events = &self.sandbox().events;
        let run = events.otas.begin(identity)?;
        let stopping = self.stopping.subscribe();
        let result = ota::update_firmware(&self.template, &info, stopping).await;
        let result = result.map_err(|e| run.explain(e));
        events.publish_ota(identity.to_string(), OtaStatus::finished(&result));
        result
    }

    /// Runs a client's device call, counting it and its error for `/metrics`.
    async fn counted<T>(
        &self,
        call: impl Future<Output = Result<T, HubError>>,
    ) -> Result<T, HubError> {
        let result = call.await;
        self.counters.count(&result);
        result
    }

    fn queue(&self, identity: &str) -> Result<Arc<DeviceQueue>, HubError> {
        let worker = self.workers().get(identity).map(|w| w.queue.clone());
        worker.ok_or_else(|| self.unknown(identity))
    }

    /// Protects real actuators from a runaway client or plugin: the hub's
    /// rate, and the device's own if it declares a stricter one.
    fn take_write_quota(&self, identity: &str, meta: &DeviceMeta) -> Result<(), HubError> {
        let writes = {
            let mut writes = self.writes.held();
            let per_second = self.sandbox().limits.quotas.writes_per_second;
            writes
                .entry(identity.to_string())
                .or_insert_with(|| Arc::new(DeviceWrites::new(per_second)))
                .clone()
        };
        let limit = match writes.take(meta.limits.writes_per_minute) {
            Ok(()) => return Ok(()),
            Err(limit) => limit,
        };
        let (quota, most) = match limit {
            WriteLimit::PerSecond(n) => {
                ("writes_per_second", format!("{n} set_attributes a second"))
            }
            WriteLimit::DeclaredPerMinute(n) => (
                "declared_writes_per_minute",
                format!("{n} writes a minute, as it declares"),
            ),
        };
        self.sandbox().audit.quota(self.id(), quota);
        Err(HubError::new(
            ErrorCode::QuotaExceeded,
            format!("device {identity:?} accepts at most {most}; retry shortly"),
        ))
    }

    pub(super) fn device(&self, identity: &str) -> Result<DeviceRecord, HubError> {
        self.registry()
            .get(identity)
            .ok_or_else(|| self.unknown(identity))
    }

    fn unknown(&self, identity: &str) -> HubError {
        HubError::new(
            ErrorCode::NotFound,
            format!(
                "plugin {} has no device {identity:?}; run discover first",
                self.id()
            ),
        )
    }

    fn sandbox(&self) -> &Sandbox {
        &self.template.sandbox
    }

    /// The devices it reported, their metadata and last known state.
    pub(super) fn registry(&self) -> &Registry {
        &self.sandbox().events.registry
    }

    pub(super) fn workers(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceWorker>> {
        self.workers.held()
    }
}

/// A plugin's budget as operators see it: what it holds, and the most it may.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BudgetUse {
    pub devices: u64,
    pub max_devices: u64,
    pub instances: u64,
    pub max_instances: u64,
    pub memory_bytes: u64,
    pub total_memory_bytes: u64,
}
