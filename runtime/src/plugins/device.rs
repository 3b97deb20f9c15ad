//! Per-device work: calls for one device run one at a time in the device's
//! own instance, so a hung device delays only its own requests; its event
//! watcher runs beside them in another instance.

use super::Plugin;
use super::bindings::DeviceInfo;
use super::instance::{Call, Instance, Reply};
use crate::error::{ErrorCode, HubError};
use std::sync::Weak;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Requests that may wait for one device before new ones are refused as busy.
const QUEUE: usize = 32;
const WATCH_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A watch that lasted this long was healthy: the back-off starts over.
const WATCH_HEALTHY: Duration = Duration::from_secs(60);

struct Job {
    call: Call,
    deadline: Instant,
    reply: oneshot::Sender<Result<Reply, HubError>>,
}

/// Owns the device's tasks: dropping it stops them.
pub struct DeviceWorker {
    handle: DeviceHandle,
    tasks: [JoinHandle<()>; 2],
}

/// Where calls for the device are queued.
#[derive(Clone)]
pub struct DeviceHandle {
    jobs: mpsc::Sender<Job>,
}

impl Drop for DeviceWorker {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl DeviceWorker {
    pub fn spawn(plugin: Weak<Plugin>, info: DeviceInfo) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let calls = tokio::spawn(serve_calls(plugin.clone(), queue));
        let watcher = tokio::spawn(watch(plugin, info));
        DeviceWorker {
            handle: DeviceHandle { jobs },
            tasks: [calls, watcher],
        }
    }

    pub fn handle(&self) -> DeviceHandle {
        self.handle.clone()
    }
}

impl DeviceHandle {
    /// Runs `call` once the device's earlier calls are done; the whole wait
    /// and the call itself must fit in `deadline`.
    pub async fn submit(&self, call: Call, deadline: Duration) -> Result<Reply, HubError> {
        let name = call.name();
        let (reply, answer) = oneshot::channel();
        let job = Job {
            call,
            deadline: Instant::now() + deadline,
            reply,
        };
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => HubError::new(
                ErrorCode::Busy,
                format!("{QUEUE} requests are already waiting for this device; retry later"),
            ),
            mpsc::error::TrySendError::Closed(_) => stopped(),
        })?;
        // The worker answers by the deadline; the margin only guards against a bug there.
        match tokio::time::timeout(deadline + Duration::from_secs(1), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(stopped()),
            Err(_) => Err(HubError::new(
                ErrorCode::Timeout,
                format!("{name} did not finish in time"),
            )),
        }
    }
}

fn stopped() -> HubError {
    HubError::new(ErrorCode::Internal, "the device's worker stopped; retry")
}

async fn serve_calls(plugin: Weak<Plugin>, mut queue: mpsc::Receiver<Job>) {
    let mut instance: Option<Instance> = None;
    while let Some(job) = queue.recv().await {
        let Some(plugin) = plugin.upgrade() else {
            return;
        };
        let left = job.deadline.saturating_duration_since(Instant::now());
        let result = if left.is_zero() {
            Err(HubError::new(
                ErrorCode::Timeout,
                format!(
                    "{} waited its whole deadline behind earlier calls to the device",
                    job.call.name()
                ),
            ))
        } else {
            plugin.run(&mut instance, job.call, left).await
        };
        // The requester may have given up; then nobody needs the answer.
        let _ = job.reply.send(result);
    }
}

async fn watch(plugin: Weak<Plugin>, info: DeviceInfo) {
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
            Ok(()) => {
                tracing::info!(plugin = %strong.id(), identity = %info.identity, "watch ended")
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
