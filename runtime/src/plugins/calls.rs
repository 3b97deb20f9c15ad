//! Per-device work: a device's calls run one at a time in the device's own
//! instance, which its queue owns, so a hung device delays only its own
//! requests; its event watcher runs beside them in another instance. A
//! plugin whose manifest asks for shared instances has its devices' queues
//! take turns in a few instances instead: a hung device then delays the
//! devices sharing its instance, up to the call deadline.

use super::Plugin;
use super::instance::Instance;
use super::wit::DeviceInfo;
use crate::error::{ErrorCode, HubError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Requests that may wait for one device before new ones are refused as busy.
const QUEUE: usize = 32;
/// A call left less time than this by its wait is not started: it could
/// only time out, and would cost the device its instance.
const LEAST_TIME_TO_RUN: Duration = Duration::from_millis(50);
const WATCH_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A watch that lasted this long was healthy: the back-off starts over.
const WATCH_HEALTHY: Duration = Duration::from_secs(60);
/// A device with nothing to watch is asked again this often: its
/// description may change (a bulb that reported little while booting).
const WATCH_RECHECK: Duration = Duration::from_secs(60);

/// How one watch ended, when the plugin did not fail it.
pub enum WatchEnd {
    /// The plugin returned: the device connection was lost.
    Returned,
    /// No attribute of the device notifies: no watch was started.
    NothingToWatch,
}

/// The device's call queue and its event watcher; dropping it stops the
/// watcher.
pub struct DeviceWorker {
    pub queue: Arc<DeviceQueue>,
    watcher: JoinHandle<()>,
}

impl Drop for DeviceWorker {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl DeviceWorker {
    pub fn spawn(plugin: Weak<Plugin>, info: Arc<DeviceInfo>, instance: Arc<InstanceSlot>) -> Self {
        DeviceWorker {
            queue: Arc::new(DeviceQueue {
                instance,
                waiting: AtomicUsize::new(0),
            }),
            watcher: tokio::spawn(watch(plugin, info)),
        }
    }
}

/// An instance that calls take turns in, in the order they came (tokio's
/// mutex is fair); absent until the first call, and after a call that
/// poisoned it.
pub type InstanceSlot = Mutex<Option<Instance>>;

/// The device's instance, lent to one call at a time. A call that finds
/// the instance idle runs at once on its requester's own task: no
/// hand-over to another task.
pub struct DeviceQueue {
    instance: Arc<InstanceSlot>,
    /// This device's requests waiting, however many devices share its instance.
    waiting: AtomicUsize,
}

/// The right to run the device's calls, with its instance.
pub type Turn<'a> = MutexGuard<'a, Option<Instance>>;

impl DeviceQueue {
    /// The instance this device's calls run in.
    pub fn slot(&self) -> Arc<InstanceSlot> {
        self.instance.clone()
    }

    /// Waits for the device's earlier calls, within `deadline`; the turn,
    /// and what is left of `deadline` to run `call` in. An idle device's
    /// turn is taken at once, without reading the clock.
    pub async fn turn(
        &self,
        call: &str,
        deadline: Duration,
    ) -> Result<(Turn<'_>, Duration), HubError> {
        if let Ok(idle) = self.instance.try_lock() {
            return Ok((idle, deadline));
        }
        let _waiting = Waiting::enter(&self.waiting)?;
        let until = Instant::now() + deadline;
        let Ok(turn) = tokio::time::timeout_at(until, self.instance.lock()).await else {
            return Err(waited_too_long(call));
        };
        let left = until.saturating_duration_since(Instant::now());
        if left < LEAST_TIME_TO_RUN {
            return Err(waited_too_long(call));
        }
        Ok((turn, left))
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

async fn watch(plugin: Weak<Plugin>, info: Arc<DeviceInfo>) {
    let mut backoff = WATCH_BACKOFF_FIRST;
    loop {
        let Some(strong) = plugin.upgrade() else {
            return;
        };
        let started = Instant::now();
        match strong.watch_once(&info).await {
            Err(e) if e.code == ErrorCode::Unsupported => {
                tracing::debug!(plugin = %strong.id(), identity = %info.identity, "no events: {}", e.message);
                return;
            }
            Err(e) => {
                tracing::info!(plugin = %strong.id(), identity = %info.identity, "watch ended: {e}")
            }
            Ok(WatchEnd::Returned) => {
                tracing::info!(plugin = %strong.id(), identity = %info.identity, "watch ended")
            }
            Ok(WatchEnd::NothingToWatch) => {
                drop(strong);
                tokio::time::sleep(WATCH_RECHECK).await;
                continue;
            }
        }
        drop(strong);
        if started.elapsed() >= WATCH_HEALTHY {
            backoff = WATCH_BACKOFF_FIRST;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(WATCH_BACKOFF_MAX);
    }
}
