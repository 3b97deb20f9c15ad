//! A device's event watcher: beside its call queue, in an instance of its
//! own, a `watch` call runs while the device pushes changes, and starts
//! again (backing off) when its connection is lost.

use super::instance::Budget;
use super::metadata::{self, Ask};
use super::queue::DeviceQueue;
use super::registry::Availability;
use super::wit::{DeviceMeta, Permissions};
use crate::error::{ErrorCode, HubError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const WATCH_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A watch that lasted this long was healthy: the back-off starts over.
const WATCH_HEALTHY: Duration = Duration::from_secs(60);
/// A device with nothing to watch is asked again this often: its
/// description may change (a bulb that reported little while booting).
const WATCH_RECHECK: Duration = Duration::from_secs(60);

/// The device's call queue and its event watcher; dropping it stops the
/// watcher, and the instance and sockets it holds.
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
    /// `shared`: the device's calls share an instance with other devices'.
    pub fn spawn(queue: Arc<DeviceQueue>, shared: bool) -> Self {
        let watcher = Watcher {
            queue: queue.clone(),
            shared,
        };
        DeviceWorker {
            queue,
            watcher: tokio::spawn(watcher.run()),
        }
    }
}

struct Watcher {
    queue: Arc<DeviceQueue>,
    shared: bool,
}

/// How one watch ended, when the plugin did not fail it.
enum WatchEnd {
    /// The plugin returned: the device connection was lost.
    Returned,
    /// No attribute of the device notifies: no watch was started.
    NothingToWatch,
}

impl Watcher {
    async fn run(self) {
        let (plugin, identity) = (self.queue.template().id(), &self.queue.info().identity);
        let mut backoff = WATCH_BACKOFF_FIRST;
        loop {
            let started = Instant::now();
            match self.watch_once().await {
                Err(e) if e.code == ErrorCode::Unsupported => {
                    tracing::debug!(plugin, identity, "no events: {}", e.message);
                    return;
                }
                Err(e) => tracing::info!(plugin, identity, "watch ended: {e}"),
                Ok(WatchEnd::Returned) => tracing::info!(plugin, identity, "watch ended"),
                Ok(WatchEnd::NothingToWatch) => {
                    tokio::time::sleep(WATCH_RECHECK).await;
                    continue;
                }
            }
            if started.elapsed() >= WATCH_HEALTHY {
                backoff = WATCH_BACKOFF_FIRST;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(WATCH_BACKOFF_MAX);
        }
    }

    /// One watch call in a fresh instance; ends when the plugin returns (the
    /// device connection was lost) or traps.
    async fn watch_once(&self) -> Result<WatchEnd, HubError> {
        let sandbox = &self.queue.template().sandbox;
        let info = self.queue.info();
        tokio::time::sleep(sandbox.supervisor.wait()).await;
        let by_slot = self.queue.template().pre.version().changes_by_slot();
        if by_slot && !self.worth_watching().await? {
            return Ok(WatchEnd::NothingToWatch);
        }
        let deadline = sandbox.limits.call_deadline;
        let started = Instant::now();
        let template = self.queue.template();
        let mut slot = Some(template.start_metered(deadline).await?);
        // Its calls spend the plugin's CPU rate, not a per-call budget.
        let metered = |deadline| Budget {
            fuel: None,
            deadline,
        };
        let left = || metered(Some(deadline)).after(started);
        let identity = &info.identity;
        if by_slot {
            // Its changes name slots of what its handle declared: the hub
            // must hold that first.
            let meta = template
                .run(&mut slot, deadline, async |i, _| {
                    metadata::declared(sandbox, i, info, left(), Ask::Describe).await
                })
                .await?;
            if !notifies(&meta) {
                return Ok(WatchEnd::NothingToWatch);
            }
        }
        let events = &sandbox.events;
        if events.registry.availability(identity) == Availability::Offline {
            // Its watcher lost the device: read it before watching again,
            // to tell clients the moment it is back, with its state.
            let read = template
                .run(&mut slot, deadline, async |i, _| {
                    let reading = i.read(info, left()).await?;
                    metadata::accept(sandbox, i, identity, reading)
                })
                .await;
            if let Err(e) = &read {
                events.note_failure(identity, e);
            }
            let (meta, values) = read?;
            metadata::remember(sandbox, identity, &meta, &values);
        }
        let watched = template
            .run(&mut slot, deadline, async |i, _| {
                i.watch(info, metered(None)).await
            })
            .await;
        match &watched {
            // Its connection is gone: offline until the device answers again.
            Ok(()) => events.mark(identity, Availability::Offline),
            Err(e) => events.note_failure(identity, e),
        }
        watched.map(|()| WatchEnd::Returned)
    }

    /// False when what the hub knows of the device, or what a shared
    /// instance says of it, has no attribute that notifies: then the
    /// device never costs a watcher instance.
    async fn worth_watching(&self) -> Result<bool, HubError> {
        let registry = &self.queue.template().sandbox.events.registry;
        let known = registry.get(&self.queue.info().identity);
        let meta = match known.and_then(|record| record.meta) {
            Some(meta) => meta,
            None if self.shared => self.queue.describe().await?,
            None => return Ok(true),
        };
        Ok(notifies(&meta))
    }
}

/// Whether any attribute of the device notifies: a device none of whose
/// attributes does has nothing to watch.
fn notifies(meta: &DeviceMeta) -> bool {
    let mut attributes = meta.attributes.iter();
    attributes.any(|a| a.permissions.contains(Permissions::NOTIFY))
}
