//! One live instance of a plugin and the calls into it, each under a fuel
//! budget and a deadline.

use super::engine::Ticking;
use super::events::Watched;
use super::state::{HostState, Sandbox};
use super::wit::Answer;
use super::wit::{
    Config, DeviceInfo, DeviceMeta, Driver, PluginError, Pre, Reading, UpdateInfo, Write,
};
use crate::deadline::within_deadline;
use crate::error::{ErrorCode, HubError};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Engine, Store, StoreContextMut, Trap, UpdateDeadline};

/// What one call may spend. `deadline: None` is for the event watcher;
/// `fuel: None` when the engine does not meter fuel (benchmarks only).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub fuel: Option<u64>,
    pub deadline: Option<Duration>,
}

impl Budget {
    /// The same budget, its deadline shortened by the time since `started`.
    pub fn after(self, started: tokio::time::Instant) -> Self {
        Budget {
            deadline: self.deadline.map(|d| d.saturating_sub(started.elapsed())),
            ..self
        }
    }
}

/// Why a call failed, and whether the instance survived it.
#[derive(Debug)]
pub struct CallFailure {
    pub error: HubError,
    /// The instance trapped or was interrupted: it must not be called again.
    pub poisoned: bool,
    /// The plugin's own code failed (a trap), as opposed to a slow device.
    pub crashed: bool,
}

impl CallFailure {
    /// A call refused, by the plugin or by the hub, that leaves the
    /// instance as it was.
    pub fn refused(error: HubError) -> Self {
        CallFailure {
            error,
            poisoned: false,
            crashed: false,
        }
    }
}

/// A live instance: its store, and its exports in its version's shape.
pub struct Instance {
    store: Store<HostState>,
    driver: Driver,
}

/// What a plugin's instances are made from: its component, ready to
/// instantiate, the operator's configuration, and the sandbox they share.
pub struct Template {
    pub engine: Engine,
    /// The epoch keeps moving while the plugin lives, so its instances
    /// keep meeting their deadlines and yielding.
    _ticking: Arc<Ticking>,
    pub pre: Pre,
    config: Config,
    pub sandbox: Arc<Sandbox>,
}

impl Template {
    pub fn new(
        engine: Engine,
        ticking: Arc<Ticking>,
        pre: Pre,
        config: Config,
        sandbox: Arc<Sandbox>,
    ) -> Self {
        Template {
            engine,
            _ticking: ticking,
            pre,
            config,
            sandbox,
        }
    }

    pub fn id(&self) -> &str {
        &self.sandbox.plugin
    }

    /// A call's budget within `deadline`: the per-call fuel, where the
    /// engine meters it.
    pub fn budget(&self, deadline: Duration) -> Budget {
        let metering = self.sandbox.metering;
        Budget {
            fuel: metering.fuel.then_some(self.sandbox.limits.fuel_per_call),
            deadline: Some(deadline),
        }
    }

    /// A new instance, its `init` run within `budget`; refused while the
    /// plugin backs off after crashes, and a crash in it is noted.
    pub async fn start(&self, budget: Budget) -> Result<Instance, HubError> {
        self.sandbox.supervisor.admit(self.id())?;
        Instance::init(self, budget).await.map_err(|failure| {
            if failure.crashed {
                self.sandbox.crashed(&failure.error.message);
            }
            failure.error
        })
    }

    /// Runs `work` in `slot`'s instance (a new one if there is none)
    /// within `deadline`, the instance's start included.
    pub async fn run<T>(
        &self,
        slot: &mut Option<Instance>,
        deadline: Duration,
        work: impl AsyncFnOnce(&mut Instance, Budget) -> Result<T, CallFailure>,
    ) -> Result<T, HubError> {
        let started = tokio::time::Instant::now();
        // Taken out for the call: if the call is given up half-way, the
        // instance goes with it rather than being used again.
        let mut instance = match slot.take() {
            Some(instance) => instance,
            None => self.start(self.budget(deadline)).await?,
        };
        let result = work(&mut instance, self.budget(deadline).after(started)).await;
        self.settle(slot, instance, result)
    }

    /// Puts `instance` back in `slot` unless the call poisoned it, and
    /// tells the plugin's health how the call went: once per call the hub
    /// made, however many calls into the plugin it took.
    pub fn settle<T>(
        &self,
        slot: &mut Option<Instance>,
        instance: Instance,
        result: Result<T, CallFailure>,
    ) -> Result<T, HubError> {
        match result {
            Ok(answer) => {
                self.sandbox.supervisor.succeeded();
                *slot = Some(instance);
                Ok(answer)
            }
            Err(failure) => {
                if !failure.poisoned {
                    *slot = Some(instance);
                }
                if failure.crashed {
                    self.sandbox.crashed(&failure.error.message);
                }
                Err(failure.error)
            }
        }
    }

    /// A fresh instance (started within `deadline`) whose calls spend the
    /// plugin's shared CPU rate rather than a per-call budget.
    pub async fn start_metered(&self, deadline: Duration) -> Result<Instance, HubError> {
        let budget = self.budget(deadline);
        let mut instance = self.start(budget).await?;
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
}

impl Instance {
    /// Instantiates and runs `init` with the operator's configuration.
    async fn init(template: &Template, budget: Budget) -> Result<Self, CallFailure> {
        let Template {
            engine,
            pre,
            sandbox,
            config,
            ..
        } = template;
        let plugin = sandbox.plugin.clone();
        let mut instance = within_deadline(
            budget.deadline,
            Self::instantiate(engine, pre, sandbox, budget.fuel),
        )
        .await
        .unwrap_or_else(|| Err(timed_out(&plugin, "instantiate", budget.deadline)))?;
        let init = within_deadline(
            budget.deadline,
            instance.driver.init(&mut instance.store, config),
        )
        .await;
        instance.count_fuel(budget);
        match init {
            Some(Ok(Ok(()))) => Ok(instance),
            Some(Ok(Err(e))) => Err(CallFailure {
                error: HubError::new(
                    ErrorCode::PluginFailed,
                    format!(
                        "plugin {plugin} refused its configuration: {}",
                        describe(&e)
                    ),
                ),
                poisoned: true,
                crashed: true,
            }),
            Some(Err(e)) => Err(trapped(&plugin, "init", budget.fuel, e)),
            None => Err(timed_out(&plugin, "init", budget.deadline)),
        }
    }

    /// An instance without `init`: what `hub bench` times.
    pub async fn bare(template: &Template) -> Result<Self, CallFailure> {
        let Template {
            engine,
            pre,
            sandbox,
            ..
        } = template;
        Self::instantiate(engine, pre, sandbox, None).await
    }

    async fn instantiate(
        engine: &Engine,
        pre: &Pre,
        sandbox: &Arc<Sandbox>,
        fuel: Option<u64>,
    ) -> Result<Self, CallFailure> {
        let ticket = sandbox.budget.admit_instance().map_err(|over| {
            sandbox
                .audit
                .quota(&sandbox.plugin, &over.quota.to_string());
            CallFailure {
                error: HubError::new(
                    ErrorCode::QuotaExceeded,
                    format!("plugin {} {}", sandbox.plugin, over.message),
                ),
                poisoned: true,
                crashed: false,
            }
        })?;
        let mut store = Store::new(engine, HostState::new(sandbox, ticket));
        store.limiter(|state| &mut state.limits);
        store.set_hostcall_fuel(sandbox.limits.hostcall_bytes);
        // Yield to the runtime on every epoch tick, so that a busy guest
        // never starves other tasks and deadlines can fire.
        if sandbox.metering.epoch {
            store.epoch_deadline_async_yield_and_update(1);
        }
        set_fuel(
            &mut store,
            fuel.or(sandbox.metering.fuel.then_some(u64::MAX)),
        )?;
        match pre.instantiate(&mut store).await {
            Ok(driver) => Ok(Instance { store, driver }),
            Err(e) => {
                if let (Some(fuel), Ok(left)) = (fuel, store.get_fuel()) {
                    sandbox.budget.spent(fuel.saturating_sub(left));
                }
                Err(trapped(&sandbox.plugin, "instantiate", fuel, e))
            }
        }
    }
    pub async fn discover(
        &mut self,
        window: Duration,
        budget: Budget,
    ) -> Result<Vec<DeviceInfo>, CallFailure> {
        let ms = u32::try_from(window.as_millis()).unwrap_or(u32::MAX);
        self.call("discover", budget, async |d, s| d.discover(s, ms).await)
            .await
    }

    /// The device's values, with its metadata when the plugin declares it.
    pub async fn read(
        &mut self,
        device: &Arc<DeviceInfo>,
        budget: Budget,
    ) -> Result<Reading, CallFailure> {
        self.call("get_attributes", budget, async |d, s| {
            d.read(s, device).await
        })
        .await
    }

    /// The device's metadata, without its values.
    pub async fn describe(
        &mut self,
        device: &Arc<DeviceInfo>,
        budget: Budget,
    ) -> Result<DeviceMeta, CallFailure> {
        self.call("describe", budget, async |d, s| d.describe(s, device).await)
            .await
    }

    pub async fn write(
        &mut self,
        device: &Arc<DeviceInfo>,
        meta: &DeviceMeta,
        writes: &[Write],
        budget: Budget,
    ) -> Result<(), CallFailure> {
        let call =
            async |d: &mut Driver, s: &mut Store<HostState>| d.write(s, device, meta, writes).await;
        self.call("set_attributes", budget, call).await
    }

    pub async fn check_update(
        &mut self,
        device: &Arc<DeviceInfo>,
        budget: Budget,
    ) -> Result<UpdateInfo, CallFailure> {
        self.call("check_update", budget, async |d, s| {
            d.check_update(s, device).await
        })
        .await
    }

    /// Updates the device's firmware; this instance alone may report its progress.
    pub async fn ota(
        &mut self,
        device: &Arc<DeviceInfo>,
        budget: Budget,
    ) -> Result<(), CallFailure> {
        self.store.data_mut().ota = Some(device.clone());
        self.call("ota", budget, async |d, s| d.ota(s, device).await)
            .await
    }

    /// Runs while the device pushes changes; this instance alone may emit
    /// them, by slot of the metadata it declared.
    pub async fn watch(
        &mut self,
        device: &Arc<DeviceInfo>,
        budget: Budget,
    ) -> Result<(), CallFailure> {
        let state = self.store.data_mut();
        state.watching = state.declared.get(&device.identity).map(|meta| Watched {
            device: device.clone(),
            meta: meta.clone(),
        });
        self.call("watch", budget, async |d, s| d.watch(s, device).await)
            .await
    }

    /// The metadata the device's handle in this instance declared, if it has.
    pub fn declared(&self, identity: &str) -> Option<Arc<DeviceMeta>> {
        self.store.data().declared.get(identity).cloned()
    }

    /// Records what the device's handle in this instance declared (checked,
    /// and kept by the registry).
    pub fn declare(&mut self, identity: &str, meta: Arc<DeviceMeta>) {
        self.store.data_mut().declared.insert(identity, meta);
    }

    /// Runs one call into the plugin under `budget`.
    async fn call<T>(
        &mut self,
        name: &'static str,
        budget: Budget,
        work: impl AsyncFnOnce(&mut Driver, &mut Store<HostState>) -> Answer<T>,
    ) -> Result<T, CallFailure> {
        set_fuel(&mut self.store, budget.fuel)?;
        // Counted from now: a call yields at the first epoch tick it lives
        // through, not at once because ticks went by since the last call.
        self.store.set_epoch_deadline(1);
        let outcome =
            within_deadline(budget.deadline, work(&mut self.driver, &mut self.store)).await;
        self.count_fuel(budget);
        self.record_usage(name, budget);
        let plugin = || self.store.data().plugin();
        match outcome {
            Some(Ok(Ok(answer))) => Ok(answer),
            Some(Ok(Err(e))) => Err(CallFailure::refused(from_plugin(&e))),
            Some(Err(e)) => Err(trapped(plugin(), name, budget.fuel, e)),
            None => Err(timed_out(plugin(), name, budget.deadline)),
        }
    }

    pub fn fuel_left(&self) -> u64 {
        self.store.get_fuel().unwrap_or_default()
    }

    /// Charges what a call (or instantiating and `init`) with a budget
    /// burnt to its plugin's count (metered calls are charged at every
    /// epoch tick).
    fn count_fuel(&self, budget: Budget) {
        let state = self.store.data();
        if let (None, Some(fuel), Ok(left)) = (state.metered, budget.fuel, self.store.get_fuel()) {
            state.sandbox.budget.spent(fuel.saturating_sub(left));
        }
    }

    /// Only under `hub plugin test`, off the serving path. Metered calls
    /// (the watcher, ota) have no per-call figure.
    fn record_usage(&self, name: &'static str, budget: Budget) {
        let state = self.store.data();
        let under_test = state.sandbox.under_test.as_ref();
        let Some(usage) = under_test.filter(|_| state.metered.is_none()) else {
            return;
        };
        let used = budget
            .fuel
            .and_then(|fuel| Some(fuel - self.store.get_fuel().ok()?.min(fuel)));
        usage.record(name, used, state.limits.peak_memory);
    }

    /// Calls on this instance spend the plugin's shared CPU rate instead of
    /// a per-call budget: for calls that run as long as a device is
    /// connected (watch) or minutes (ota). The fuel they burn is charged at
    /// every epoch tick; a plugin whose instances together run ahead of its
    /// rate is paused until the rate holds again, however many there are.
    ///
    /// Between two ticks an instance may spend at most `slice` (the
    /// per-call budget): should the epoch ever stop, it runs out of fuel
    /// rather than spin for ever.
    pub fn meter_cpu(&mut self, slice: u64) {
        if self.store.get_fuel().is_err() {
            return; // The engine meters no fuel (benchmarks only).
        }
        let _ = self.store.set_fuel(slice);
        self.store.data_mut().metered = Some(Metered { slice, from: slice });
        self.store.epoch_deadline_callback(charge_cpu);
    }
}

/// A metered instance's fuel: `slice` is refilled at every epoch tick,
/// `from` is what it held after the last refill.
#[derive(Debug, Clone, Copy)]
pub struct Metered {
    slice: u64,
    from: u64,
}

/// At every epoch tick: charges what a metered instance spent since the
/// last to its plugin's CPU rate, refills its slice, and pauses it if the
/// plugin ran ahead of its rate.
fn charge_cpu(mut store: StoreContextMut<'_, HostState>) -> wasmtime::Result<UpdateDeadline> {
    let fuel = store.get_fuel()?;
    let Some(metered) = store.data().metered else {
        return Ok(UpdateDeadline::Yield(1));
    };
    store.set_fuel(metered.slice)?;
    let state = store.data_mut();
    state.metered = Some(Metered {
        from: metered.slice,
        ..metered
    });
    Ok(
        match state
            .sandbox
            .budget
            .charge_cpu(metered.from.saturating_sub(fuel))
        {
            None => UpdateDeadline::Yield(1),
            Some(pause) => {
                state
                    .sandbox
                    .audit
                    .quota(&state.sandbox.plugin, "watch_fuel_per_second");
                UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(pause)))
            }
        },
    )
}

fn set_fuel(store: &mut Store<HostState>, fuel: Option<u64>) -> Result<(), CallFailure> {
    let Some(fuel) = fuel else { return Ok(()) };
    store.set_fuel(fuel).map_err(|e| CallFailure {
        error: HubError::new(ErrorCode::Internal, format!("cannot set fuel: {e}")),
        poisoned: true,
        crashed: false,
    })
}

fn timed_out(plugin: &str, call: &str, deadline: Option<Duration>) -> CallFailure {
    let after = deadline.map_or_else(String::new, |d| format!(" within {:.1} s", d.as_secs_f64()));
    CallFailure {
        error: HubError::new(
            ErrorCode::Timeout,
            format!("plugin {plugin} did not finish {call}{after}"),
        ),
        poisoned: true,
        crashed: false,
    }
}

fn trapped(plugin: &str, call: &str, fuel: Option<u64>, error: wasmtime::Error) -> CallFailure {
    let why = match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!("used up its fuel budget of {}", fuel.unwrap_or_default()),
        Some(Trap::StackOverflow) => "overflowed its stack".to_string(),
        Some(Trap::MemoryOutOfBounds) => {
            "accessed memory out of bounds (its own stack overflowed, or a bug)".to_string()
        }
        Some(Trap::UnreachableCodeReached) => {
            "panicked or aborted (out of memory, or a bug)".to_string()
        }
        Some(trap) => format!("trapped: {trap}"),
        // The hub's own reasons (a budget, a flood) without wasmtime's backtrace.
        None => format!("was stopped: {}", error.root_cause()),
    };
    CallFailure {
        error: HubError::new(
            ErrorCode::PluginFailed,
            format!("plugin {plugin} {why} during {call}"),
        ),
        poisoned: true,
        crashed: true,
    }
}

fn from_plugin(e: &PluginError) -> HubError {
    let code = match e {
        PluginError::NotFound(_) => ErrorCode::NotFound,
        PluginError::InvalidArgument(_) => ErrorCode::InvalidArgument,
        PluginError::Unsupported(_) => ErrorCode::Unsupported,
        PluginError::Timeout(_) => ErrorCode::Timeout,
        PluginError::Unreachable(_) => ErrorCode::Unreachable,
        PluginError::Internal(_) => ErrorCode::PluginFailed,
    };
    HubError::new(code, describe(e))
}

/// A plugin's own words, bounded and on one line: they reach clients and the hub's log.
fn describe(e: &PluginError) -> String {
    match e {
        PluginError::NotFound(m)
        | PluginError::InvalidArgument(m)
        | PluginError::Unsupported(m)
        | PluginError::Timeout(m)
        | PluginError::Unreachable(m)
        | PluginError::Internal(m) => super::bounds::one_line(m, super::bounds::MAX_TEXT),
    }
}
