//! A device's calls, one at a time, in the instance its queue owns: a hung
//! device delays only its own requests. A plugin whose manifest asks for
//! shared instances has its devices' queues take turns in a few instances
//! instead: a hung device then delays the devices sharing its instance, up
//! to the call deadline. Each typed call is made here, in the device's
//! turn: `Template::run` lends it the instance, and its answer goes
//! through the metadata step.

use super::instance::{Budget, CallFailure, Instance, Template};
use super::metadata::{self, Ask};
use super::registry::Availability;
use super::wit::{Device, DeviceInfo, DeviceMeta, UpdateInfo, Write};
use crate::error::{ErrorCode, HubError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// Requests that may wait for one device before new ones are refused as busy.
const QUEUE: usize = 32;
/// A call left less time than this by its wait is not started: it could
/// only time out, and would cost the device its instance.
const LEAST_TIME_TO_RUN: Duration = Duration::from_millis(50);

/// An instance that calls take turns in, in the order they came (tokio's
/// mutex is fair); absent until the first call, and after a call that
/// poisoned it.
pub type InstanceSlot = Mutex<Option<Instance>>;

/// The device's instance, lent to one call at a time. A call that finds
/// the instance idle runs at once on its requester's own task: no
/// hand-over to another task.
pub struct DeviceQueue {
    info: Arc<DeviceInfo>,
    instance: Arc<InstanceSlot>,
    template: Arc<Template>,
    /// This device's requests waiting, however many devices share its instance.
    waiting: AtomicUsize,
}

/// The right to run the device's calls, and what is left of the call's
/// deadline once it came.
struct Turn<'a> {
    slot: MutexGuard<'a, Option<Instance>>,
    left: Duration,
}

impl DeviceQueue {
    pub fn new(
        info: Arc<DeviceInfo>,
        instance: Arc<InstanceSlot>,
        template: Arc<Template>,
    ) -> Self {
        DeviceQueue {
            info,
            instance,
            template,
            waiting: AtomicUsize::new(0),
        }
    }

    pub fn info(&self) -> &Arc<DeviceInfo> {
        &self.info
    }

    /// What the device's instances are made from.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The instance this device's calls run in.
    pub fn slot(&self) -> Arc<InstanceSlot> {
        self.instance.clone()
    }

    /// The device's values, read now, with the metadata its handle declared.
    pub async fn read(&self) -> Result<Device, HubError> {
        let sandbox = &self.template.sandbox;
        let identity = &self.info.identity;
        let (meta, values) = self
            .run("get_attributes", async |instance, budget| {
                let reading = instance.read(&self.info, budget).await?;
                metadata::accept(sandbox, instance, identity, reading)
            })
            .await?;
        metadata::remember(sandbox, identity, &meta, &values);
        let info = self.info.clone();
        Ok(Device { info, meta, values })
    }

    /// The metadata the device's handle declared, asked by `describe` if
    /// it has declared none.
    pub async fn describe(&self) -> Result<Arc<DeviceMeta>, HubError> {
        let sandbox = &self.template.sandbox;
        self.run("describe", async |instance, budget| {
            metadata::declared(sandbox, instance, &self.info, budget, Ask::Describe).await
        })
        .await
    }

    /// The writes `prepare` makes of the metadata the device's instance
    /// declared, carried out by that instance.
    pub async fn write(
        &self,
        prepare: impl FnOnce(&DeviceMeta) -> Result<Vec<Write>, HubError>,
    ) -> Result<(), HubError> {
        let sandbox = &self.template.sandbox;
        let written = self
            .run("set_attributes", async |instance, budget| {
                let started = Instant::now();
                let meta =
                    metadata::declared(sandbox, instance, &self.info, budget, Ask::Read).await?;
                let writes = prepare(&meta).map_err(CallFailure::refused)?;
                let budget = budget.after(started);
                instance.write(&self.info, &meta, &writes, budget).await
            })
            .await;
        self.answered(&written);
        written
    }

    pub async fn check_update(&self) -> Result<UpdateInfo, HubError> {
        let update = self
            .run("check_update", async |instance, budget| {
                instance.check_update(&self.info, budget).await
            })
            .await;
        self.answered(&update);
        let update = update?;
        let plugin = self.template.id();
        super::bounds::check_update(&update)
            .map_err(|why| metadata::answered_badly(plugin, "check_update", &why))?;
        Ok(update)
    }

    /// Runs `call` in the device's instance (a new one if there is none),
    /// in turn with its other calls and within the call deadline.
    async fn run<T>(
        &self,
        call: &str,
        work: impl AsyncFnOnce(&mut Instance, Budget) -> Result<T, CallFailure>,
    ) -> Result<T, HubError> {
        let deadline = self.template.sandbox.limits.call_deadline;
        let outcome = match self.turn(call, deadline).await {
            Ok(mut turn) => self.template.run(&mut turn.slot, turn.left, work).await,
            Err(waited) => Err(waited),
        };
        if let Err(e) = &outcome {
            let events = &self.template.sandbox.events;
            events.note_failure(&self.info.identity, e);
        }
        outcome
    }

    /// A device that answered is online (a call the hub refused before the
    /// plugin saw it says nothing).
    fn answered<T>(&self, answer: &Result<T, HubError>) {
        if answer.is_ok() {
            let events = &self.template.sandbox.events;
            events.mark(&self.info.identity, Availability::Online);
        }
    }

    /// Waits for the device's earlier calls, within `deadline`. An idle
    /// device's turn is taken at once, without reading the clock.
    async fn turn(&self, call: &str, deadline: Duration) -> Result<Turn<'_>, HubError> {
        if let Ok(slot) = self.instance.try_lock() {
            return Ok(Turn {
                slot,
                left: deadline,
            });
        }
        let _waiting = Waiting::enter(&self.waiting)?;
        let until = Instant::now() + deadline;
        let Ok(slot) = tokio::time::timeout_at(until, self.instance.lock()).await else {
            return Err(waited_too_long(call));
        };
        let left = until.saturating_duration_since(Instant::now());
        if left < LEAST_TIME_TO_RUN {
            return Err(waited_too_long(call));
        }
        Ok(Turn { slot, left })
    }
}

/// A place in a device's queue, given back when the wait ends either way.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(waiting: &'a AtomicUsize) -> Result<Self, HubError> {
        if waiting.fetch_add(1, Ordering::AcqRel) >= QUEUE {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(HubError::new(
                ErrorCode::Busy,
                format!("{QUEUE} requests are already waiting for this device; retry later"),
            ));
        }
        Ok(Waiting(waiting))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn waited_too_long(call: &str) -> HubError {
    HubError::new(
        ErrorCode::Timeout,
        format!("{call} waited its whole deadline behind earlier calls to the device"),
    )
}
