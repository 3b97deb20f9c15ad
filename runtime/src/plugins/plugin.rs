//! One loaded plugin: its compiled component, its grant and limits, its
//! devices, and its health.

use super::AuditLog;
use super::bounds;
use super::calls::{DeviceQueue, DeviceWorker, InstanceSlot, WatchEnd};
use super::counters::CallCounters;
use super::engine::{Metering, Ticking};
use super::events::{EventBus, EventSink};
use super::http::HttpSender;
use super::instance::{Budget, CallFailure, Instance};
use super::ota::{OtaStatus, RunningOtas};
use super::registry::{Availability, DeviceRecord, Known, Registry};
use super::state::Sandbox;
use super::supervisor::{Status, Supervisor};
use super::usage::CallUsage;
use super::validate::{WriteRequest, validate};
use super::wit::{
    Config, Device, DeviceInfo, DeviceMeta, Permissions, Pre, Reading, UpdateInfo, Value, Version,
    Write,
};
use crate::caps::{
    DeviceWrites, HttpPolicy, Limits, NetPolicy, OverBudget, PluginBudget, WriteLimit,
};
use crate::error::{ErrorCode, HubError};
use crate::store::{DeviceRow, Store};
use crate::sync::MutexHeld;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use wasmtime::Engine;

pub struct Plugin {
    pub(super) engine: Engine,
    /// The epoch keeps moving while the plugin lives, so its instances
    /// keep meeting their deadlines and yielding.
    _ticking: Arc<Ticking>,
    pub(super) pre: Pre,
    config: Config,
    pub(super) sandbox: Arc<Sandbox>,
    /// The devices it reported, and their metadata.
    registry: Arc<Registry>,
    supervisor: Supervisor,
    workers: Mutex<HashMap<String, DeviceWorker>>,
    /// Its device calls and their errors, for `/metrics`.
    counters: CallCounters,
    /// The instances its devices' calls share, when its manifest asks;
    /// empty, each device has its own.
    shared: Vec<Arc<InstanceSlot>>,
    /// set_attributes per device.
    writes: Mutex<HashMap<String, Arc<DeviceWrites>>>,
    fingerprint: String,
    store: Arc<Store>,
    /// Set when the plugin is stopped (removed, disabled, or reloaded with
    /// another grant): long calls still running under the old grant end.
    stopping: watch::Sender<bool>,
    me: Weak<Plugin>,
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
        let registry = Arc::new(Registry::default());
        let events = EventSink {
            plugin: parts.id.clone(),
            bus,
            registry: registry.clone(),
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
            under_test: parts.under_test.then(Arc::default),
        });
        let plugin = Arc::new_cyclic(|me| Plugin {
            engine: parts.engine,
            _ticking: parts.ticking,
            pre: parts.pre,
            config: parts.config,
            sandbox,
            registry,
            supervisor: Supervisor::default(),
            workers: Mutex::new(HashMap::new()),
            counters: CallCounters::default(),
            shared: (0..parts.shared_instances.unwrap_or(0))
                .map(|_| Arc::default())
                .collect(),
            writes: Mutex::new(HashMap::new()),
            fingerprint: parts.fingerprint,
            store: parts.store,
            stopping: watch::Sender::new(false),
            me: me.clone(),
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
        &self.sandbox.plugin
    }

    /// The version of the device protocol its component targets.
    pub fn version(&self) -> Version {
        self.pre.version()
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
        self.supervisor.status()
    }

    pub fn policy(&self) -> &NetPolicy {
        &self.sandbox.policy
    }

    /// Fuel and memory by kind of call, since the plugin was loaded;
    /// recorded only under `hub plugin test`.
    pub fn usage(&self) -> std::collections::BTreeMap<&'static str, CallUsage> {
        self.sandbox
            .under_test
            .as_ref()
            .map(|usage| usage.snapshot())
            .unwrap_or_default()
    }

    /// Starts serving a device; true when it is new or has moved. A new
    /// device past the plugin's budget of devices is refused.
    fn register(&self, info: &DeviceInfo) -> Result<bool, OverBudget> {
        let budget = &self.sandbox.budget;
        if !self
            .registry
            .upsert(info, |held| budget.admit_device(held))?
        {
            return Ok(false);
        }
        let slot = self.slot(&info.identity);
        let worker = DeviceWorker::spawn(self.me.clone(), Arc::new(info.clone()), slot);
        self.workers().insert(info.identity.clone(), worker);
        Ok(true)
    }

    /// Where a device's calls run: where they ran before it moved (its
    /// instance opens it anew), else an instance of its own, or the shared
    /// one with the fewest devices.
    fn slot(&self, identity: &str) -> Arc<InstanceSlot> {
        if let Some(worker) = self.workers().get(identity) {
            return worker.queue.slot();
        }
        let least_shared = self
            .shared
            .iter()
            .min_by_key(|slot| Arc::strong_count(slot));
        least_shared.cloned().unwrap_or_default()
    }

    /// Every device it reported, with what the hub last knew of each:
    /// no device is asked.
    pub fn known(&self) -> Vec<Known> {
        self.registry.known()
    }

    /// Its device calls and their errors since it was loaded.
    pub fn counters(&self) -> &CallCounters {
        &self.counters
    }

    pub fn device_count(&self) -> usize {
        self.registry.len()
    }

    /// Fuel its instances burnt since it was loaded.
    pub fn fuel_spent(&self) -> u64 {
        self.sandbox.budget.fuel_spent()
    }

    /// What the plugin holds of its budget now, against its limits.
    pub fn budget_use(&self) -> BudgetUse {
        let (instances, memory_bytes) = self.sandbox.budget.held();
        let quotas = self.sandbox.budget.quotas();
        BudgetUse {
            devices: self.device_count() as u64,
            max_devices: quotas.max_devices,
            instances,
            max_instances: quotas.max_instances,
            memory_bytes,
            total_memory_bytes: quotas.total_memory_bytes,
        }
    }

    /// Runs the plugin's discover and registers what it found, as far as
    /// its budget allows; what it had to refuse is said beside the devices.
    pub async fn discover(&self) -> Result<Discovery, HubError> {
        let window = self.sandbox.limits.discover_window;
        let found = self
            .run(
                &mut None,
                self.sandbox.limits.discover_deadline,
                async |instance, budget| instance.discover(window, budget).await,
            )
            .await?;
        let mut discovery = Discovery::default();
        for info in found {
            if let Err(why) = bounds::check_info(&info) {
                discovery.refuse(HubError::new(
                    ErrorCode::PluginFailed,
                    format!("plugin {} reported a device with {why}", self.id()),
                ));
                continue;
            }
            match self.register(&info) {
                // Only new or moved devices are written: a discover of many
                // unchanged devices costs no disk writes.
                Ok(true) => self.remember(&info),
                Ok(false) => {}
                Err(over) => {
                    let refusal = HubError::new(
                        ErrorCode::QuotaExceeded,
                        format!(
                            "plugin {} {}; the others were not registered (an operator can approve a larger max_devices)",
                            self.id(),
                            over.message
                        ),
                    );
                    // Once per discover, however many devices it reported.
                    if discovery.refuse(refusal) {
                        self.over_budget(&over);
                    }
                    continue;
                }
            }
            discovery.devices.push(info);
        }
        Ok(discovery)
    }

    /// The device's values, read now, with the metadata its handle declared.
    pub async fn get_attributes(&self, identity: &str) -> Result<Device, HubError> {
        self.counted(self.read_device(identity)).await
    }

    async fn read_device(&self, identity: &str) -> Result<Device, HubError> {
        let info = self.device(identity)?.info;
        let (meta, values) = self
            .on_device("get_attributes", &info, async |i, budget| {
                let reading = i.read(&info, budget).await?;
                Ok(self.accept_reading(i, identity, reading))
            })
            .await??;
        self.remember_reading(identity, &meta, &values);
        Ok(Device { info, meta, values })
    }

    /// Pairs a reading with the metadata its instance's handle declared:
    /// the new one it carries (checked, then kept) or the one before.
    fn accept_reading(
        &self,
        instance: &mut Instance,
        identity: &str,
        reading: Reading,
    ) -> Result<(Arc<DeviceMeta>, Vec<Value>), HubError> {
        let Reading { meta, values } = reading;
        let fits = |meta: &DeviceMeta| {
            bounds::check_values(meta, &values)
                .map_err(|why| self.answered_badly("get_attributes", &why))
        };
        let meta = match meta {
            Some(meta) => {
                fits(&meta)?;
                self.declare(instance, identity, meta, "get_attributes")?
            }
            None => {
                let meta = instance.declared(identity).ok_or_else(|| {
                    self.answered_badly(
                        "get_attributes",
                        "values but no metadata, and its device has declared none",
                    )
                })?;
                fits(&meta)?;
                meta
            }
        };
        Ok((meta, values))
    }

    /// Checks what an instance's handle declared, keeps it in the registry
    /// (shared with what was declared before when it is the same) and
    /// remembers it as that instance's.
    fn declare(
        &self,
        instance: &mut Instance,
        identity: &str,
        meta: DeviceMeta,
        call: &str,
    ) -> Result<Arc<DeviceMeta>, HubError> {
        bounds::check_meta(&meta).map_err(|why| self.answered_badly(call, &why))?;
        let meta = self.registry.learn(identity, meta);
        instance.declare(identity, meta.clone());
        Ok(meta)
    }

    /// The metadata the device's handle in `instance` declared; a handle
    /// that has not declared any is asked, which declares it.
    async fn declared(
        &self,
        instance: &mut Instance,
        info: &Arc<DeviceInfo>,
        budget: Budget,
        ask: Ask,
    ) -> Result<Result<Arc<DeviceMeta>, HubError>, CallFailure> {
        if let Some(meta) = instance.declared(&info.identity) {
            return Ok(Ok(meta));
        }
        let identity = &info.identity;
        Ok(match ask {
            Ask::Describe => {
                let meta = instance.describe(info, budget).await?;
                self.declare(instance, identity, meta, "describe")
            }
            Ask::Read => {
                let reading = instance.read(info, budget).await?;
                let accepted = self.accept_reading(instance, identity, reading);
                accepted.map(|(meta, _)| meta)
            }
        })
    }

    /// Checks each write against the metadata of the instance that will
    /// carry it out, then hands them to the plugin.
    pub async fn set_attributes(
        &self,
        identity: &str,
        writes: &[WriteRequest],
    ) -> Result<(), HubError> {
        let checked = self.write(identity, |meta| {
            let writes = validate(writes, meta)?;
            self.take_write_quota(identity, meta)?;
            Ok(writes)
        });
        self.counted(checked).await
    }

    /// Hands `writes` to the plugin without the hub's validation: only for
    /// `hub plugin test`, which checks that a plugin refuses bad writes itself.
    pub async fn set_attributes_unchecked(
        &self,
        identity: &str,
        writes: Vec<Write>,
    ) -> Result<(), HubError> {
        self.write(identity, |_| Ok(writes)).await
    }

    /// The writes `prepare` makes of the metadata the device's instance
    /// declared, carried out by that instance.
    async fn write(
        &self,
        identity: &str,
        prepare: impl FnOnce(&DeviceMeta) -> Result<Vec<Write>, HubError>,
    ) -> Result<(), HubError> {
        let info = self.device(identity)?.info;
        let written = self.on_device("set_attributes", &info, async |i, budget| {
            let started = Instant::now();
            let meta = match self.declared(i, &info, budget, Ask::Read).await? {
                Ok(meta) => meta,
                Err(e) => return Ok(Err(e)),
            };
            match prepare(&meta) {
                Ok(writes) => i
                    .write(&info, &meta, &writes, budget.after(started))
                    .await
                    .map(Ok),
                Err(e) => Ok(Err(e)),
            }
        });
        let written = written.await?;
        // A write the hub refused before the plugin saw it says nothing.
        if written.is_ok() {
            self.answered(identity);
        }
        written
    }

    pub async fn check_update(&self, identity: &str) -> Result<UpdateInfo, HubError> {
        self.counted(self.ask_for_update(identity)).await
    }

    async fn ask_for_update(&self, identity: &str) -> Result<UpdateInfo, HubError> {
        let info = &self.device(identity)?.info;
        let update = self
            .on_device("check_update", info, async |i, budget| {
                i.check_update(info, budget).await
            })
            .await?;
        self.answered(identity);
        bounds::check_update(&update)
            .map(|()| update)
            .map_err(|why| self.answered_badly("check_update", &why))
    }

    /// Updates the device's firmware in an instance of its own, so the
    /// device keeps answering other calls; clients see `ota_progress`
    /// events, ending with `done` or `failed`.
    pub async fn ota(&self, identity: &str) -> Result<(), HubError> {
        let info = self.device(identity)?.info;
        let run = self.sandbox.events.otas.begin(identity)?;
        let result = self.run_ota(info).await.map_err(|e| run.explain(e));
        self.sandbox
            .events
            .publish_ota(identity.to_string(), OtaStatus::finished(&result));
        result
    }

    async fn run_ota(&self, info: Arc<DeviceInfo>) -> Result<(), HubError> {
        let deadline = self.sandbox.limits.ota_deadline;
        let started = tokio::time::Instant::now();
        let mut instance = self.metered_instance(deadline).await?;
        let budget = Budget {
            fuel: None,
            deadline: Some(deadline.saturating_sub(started.elapsed())),
        };
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            done = instance.ota(&info, budget) => self.settle(&mut None, instance, done),
            // The instance, and the sockets it opened under the old grant, go with this.
            _ = stopping.wait_for(|stopped| *stopped) => Err(HubError::new(
                ErrorCode::OtaFailed,
                format!("stopped: plugin {} was reloaded with another grant, disabled or removed", self.id()),
            )),
        }
    }

    /// One watch call in a fresh instance; ends when the plugin returns (the
    /// device connection was lost) or traps.
    pub(super) async fn watch_once(&self, info: &Arc<DeviceInfo>) -> Result<WatchEnd, HubError> {
        tokio::time::sleep(self.supervisor.wait()).await;
        let deadline = self.sandbox.limits.call_deadline;
        // Its calls spend the plugin's CPU rate, not a per-call budget.
        let metered = |deadline| Budget {
            fuel: None,
            deadline,
        };
        if self.version().changes_by_slot() && !self.worth_watching(info).await? {
            return Ok(WatchEnd::NothingToWatch);
        }
        let started = Instant::now();
        let mut slot = Some(self.metered_instance(deadline).await?);
        if self.version().changes_by_slot() {
            // Its changes name slots of what its handle declared: the hub
            // must hold that first.
            let left = Some(deadline.saturating_sub(started.elapsed()));
            let meta = self
                .run(&mut slot, deadline, async |i, _| {
                    self.declared(i, info, metered(left), Ask::Describe).await
                })
                .await??;
            if !notifies(&meta) {
                return Ok(WatchEnd::NothingToWatch);
            }
        }
        if self.registry.availability(&info.identity) == Availability::Offline {
            // Its watcher lost the device: read it before watching again,
            // to tell clients the moment it is back, with its state.
            let left = Some(deadline.saturating_sub(started.elapsed()));
            let read = self
                .run(&mut slot, deadline, async |i, _| {
                    let reading = i.read(info, metered(left)).await?;
                    Ok(self.accept_reading(i, &info.identity, reading))
                })
                .await;
            if let Err(e) = &read {
                self.note_failure(&info.identity, e);
            }
            let (meta, values) = read??;
            self.remember_reading(&info.identity, &meta, &values);
        }
        let watched = self
            .run(&mut slot, deadline, async |i, _| {
                i.watch(info, metered(None)).await
            })
            .await;
        match &watched {
            // Its connection is gone: offline until the device answers again.
            Ok(()) => self
                .sandbox
                .events
                .mark(&info.identity, Availability::Offline),
            Err(e) => self.note_failure(&info.identity, e),
        }
        watched.map(|()| WatchEnd::Returned)
    }

    /// False when what the hub knows of the device, or what a shared
    /// instance says of it, has no attribute that notifies: then the
    /// device never costs a watcher instance.
    async fn worth_watching(&self, info: &Arc<DeviceInfo>) -> Result<bool, HubError> {
        let known = self.registry.get(&info.identity).and_then(|r| r.meta);
        let meta = match known {
            Some(meta) => meta,
            None if !self.shared.is_empty() => {
                self.on_device("describe", info, async |i, budget| {
                    self.declared(i, info, budget, Ask::Describe).await
                })
                .await??
            }
            None => return Ok(true),
        };
        Ok(notifies(&meta))
    }

    /// A fresh instance (started within `deadline`) whose calls spend the
    /// plugin's shared CPU rate rather than a per-call budget.
    async fn metered_instance(&self, deadline: Duration) -> Result<Instance, HubError> {
        let budget = self.budget(deadline);
        let mut instance = self.instance(budget).await?;
        // Its init, run on a per-call budget, is spent from the rate too:
        // watchers restarted again and again must not run free.
        let spent = budget
            .fuel
            .map_or(0, |fuel| fuel.saturating_sub(instance.fuel_left()));
        if let Some(pause) = self.sandbox.budget.charge_cpu(spent) {
            tokio::time::sleep(pause).await;
        }
        instance.meter_cpu(self.sandbox.limits.fuel_per_call);
        Ok(instance)
    }

    /// Runs `work` in `slot`'s instance (a new one if there is none)
    /// within `deadline`, the instance's start included.
    async fn run<T>(
        &self,
        slot: &mut Option<Instance>,
        deadline: Duration,
        work: impl AsyncFnOnce(&mut Instance, Budget) -> Result<T, CallFailure>,
    ) -> Result<T, HubError> {
        let started = Instant::now();
        // Taken out for the call: if the call is given up half-way, the
        // instance goes with it rather than being used again.
        let mut instance = match slot.take() {
            Some(instance) => instance,
            None => self.instance(self.budget(deadline)).await?,
        };
        let left = deadline.saturating_sub(started.elapsed());
        let result = work(&mut instance, self.budget(left)).await;
        self.settle(slot, instance, result)
    }

    /// Puts `instance` back in `slot` unless the call poisoned it, and
    /// notes a crash.
    fn settle<T>(
        &self,
        slot: &mut Option<Instance>,
        instance: Instance,
        result: Result<T, CallFailure>,
    ) -> Result<T, HubError> {
        match result {
            Ok(answer) => {
                self.supervisor.succeeded();
                *slot = Some(instance);
                Ok(answer)
            }
            Err(failure) => {
                if !failure.poisoned {
                    *slot = Some(instance);
                }
                if failure.crashed {
                    self.crashed(&failure.error.message);
                }
                Err(failure.error)
            }
        }
    }

    fn crashed(&self, message: &str) {
        self.supervisor.crashed(self.id(), message);
        self.sandbox.audit.record(
            "hub",
            Some(self.id()),
            "crash",
            serde_json::json!({"error": message}),
        );
    }

    pub(super) async fn instance(&self, budget: Budget) -> Result<Instance, HubError> {
        self.supervisor.admit(self.id())?;
        Instance::start(&self.engine, &self.pre, &self.sandbox, &self.config, budget)
            .await
            .map_err(|failure| {
                if failure.crashed {
                    self.crashed(&failure.error.message);
                }
                failure.error
            })
    }

    /// Runs `work` in the device's instance, in turn with its other calls.
    async fn on_device<T>(
        &self,
        call: &str,
        info: &DeviceInfo,
        work: impl AsyncFnOnce(&mut Instance, Budget) -> Result<T, CallFailure>,
    ) -> Result<T, HubError> {
        let queue = self.queue(&info.identity)?;
        let outcome = match queue.turn(call, self.sandbox.limits.call_deadline).await {
            Ok((mut turn, left)) => self.run(&mut turn, left, work).await,
            Err(waited) => Err(waited),
        };
        // An answer is noted by the caller, with what it learned.
        if let Err(e) = &outcome {
            self.note_failure(&info.identity, e);
        }
        outcome
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

    /// The device answered a call.
    fn answered(&self, identity: &str) {
        self.sandbox.events.mark(identity, Availability::Online);
    }

    /// The device answered a read: its values are its last known state,
    /// and it is online (one lock for both, on the hottest path).
    fn remember_reading(&self, identity: &str, meta: &Arc<DeviceMeta>, values: &[Value]) {
        if self.registry.remember(identity, meta, values) {
            self.sandbox.events.announce(identity, Availability::Online);
        }
    }

    /// A device that timed out or could not be reached is offline; other
    /// failures (the plugin's, a refused value) say nothing of it.
    fn note_failure(&self, identity: &str, error: &HubError) {
        if matches!(error.code, ErrorCode::Timeout | ErrorCode::Unreachable) {
            self.sandbox.events.mark(identity, Availability::Offline);
        }
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
            let per_second = self.sandbox.limits.quotas.writes_per_second;
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
        self.sandbox.audit.quota(self.id(), quota);
        Err(HubError::new(
            ErrorCode::QuotaExceeded,
            format!("device {identity:?} accepts at most {most}; retry shortly"),
        ))
    }

    fn over_budget(&self, over: &OverBudget) {
        tracing::warn!(plugin = %self.id(), "over its budget: {}", over.message);
        self.sandbox.audit.quota(self.id(), &over.quota.to_string());
    }

    /// An answer past the hub's caps, or out of step with what the device
    /// declared, fails the call; the plugin is at fault.
    fn answered_badly(&self, call: &str, why: &str) -> HubError {
        HubError::new(
            ErrorCode::PluginFailed,
            format!("plugin {} answered {call} with {why}", self.id()),
        )
    }

    fn remember(&self, info: &DeviceInfo) {
        let row = DeviceRow {
            identity: info.identity.clone(),
            name: info.name.clone(),
            model: info.model.clone(),
            manufacturer: info.manufacturer.clone(),
            address: info.address.clone(),
            last_seen: crate::store::now(),
        };
        if let Err(e) = self.store.put_device(self.id(), &row) {
            tracing::error!(plugin = %self.id(), "cannot save device {}: {e:#}", info.identity);
        }
    }

    pub(super) fn device(&self, identity: &str) -> Result<DeviceRecord, HubError> {
        self.registry
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

    pub(super) fn budget(&self, deadline: Duration) -> Budget {
        let fuel = self
            .sandbox
            .metering
            .fuel
            .then_some(self.sandbox.limits.fuel_per_call);
        Budget {
            fuel,
            deadline: Some(deadline),
        }
    }

    fn workers(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceWorker>> {
        self.workers.held()
    }
}

/// How a handle that has declared nothing yet is asked for its metadata:
/// before a watch by `describe`, as the protocol says; before a write by a
/// read, which every plugin answers.
#[derive(Clone, Copy)]
enum Ask {
    Describe,
    Read,
}

/// Whether any attribute of the device notifies: a device none of whose
/// attributes does has nothing to watch.
fn notifies(meta: &DeviceMeta) -> bool {
    let mut attributes = meta.attributes.iter();
    attributes.any(|a| a.permissions.contains(Permissions::NOTIFY))
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

/// The devices a discover registered, and why others were refused.
#[derive(Default)]
pub struct Discovery {
    pub devices: Vec<DeviceInfo>,
    /// One error per kind of refusal, each said once however many devices it hit.
    pub refused: Vec<HubError>,
}

impl Discovery {
    /// Records `error` unless one of its kind is there; true if recorded.
    fn refuse(&mut self, error: HubError) -> bool {
        let new = !self.refused.iter().any(|e| e.code == error.code);
        if new {
            self.refused.push(error);
        }
        new
    }
}
