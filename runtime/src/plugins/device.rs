//! Per-device work: calls for one device run one at a time in the device's
//! own instance, so a hung device delays only its own requests; its event
//! watcher runs beside them in another instance.

use super::Plugin;
use super::bindings::DeviceInfo;
use super::instance::{Call, Instance, Reply};
use crate::error::{ErrorCode, HubError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Requests that may wait for one device before new ones are refused as busy.
const QUEUE: usize = 32;
/// A call left less time than this by its wait is not started: it could
/// only time out, and would cost the device its instance.
const LEAST_TIME_TO_RUN: Duration = Duration::from_millis(50);
const WATCH_BACKOFF_FIRST: Duration = Duration::from_secs(1);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A watch that lasted this long was healthy: the back-off starts over.
const WATCH_HEALTHY: Duration = Duration::from_secs(60);

struct Job {
    call: Call,
    deadline: Instant,
    reply: oneshot::Sender<Result<Reply, HubError>>,
}

/// The device's calls and its event watcher; dropping it stops the watcher.
pub struct DeviceWorker {
    calls: DeviceCalls,
    watcher: JoinHandle<()>,
}

/// Runs calls for one device one at a time, in the device's instance.
///
/// A call that finds the device idle runs on the requester's own task: a
/// hand-over to another task and the answer back cost two task wake-ups,
/// most of the hub's latency for a device that answers at once. Calls that
/// arrive meanwhile queue up, and a task drains them in order.
#[derive(Clone)]
pub struct DeviceCalls(Arc<Calls>);

struct Calls {
    plugin: Weak<Plugin>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// A call is running (on its requester's task or the drain task).
    running: bool,
    waiting: VecDeque<Job>,
    /// Taken out by whoever runs calls; absent until the first call.
    instance: Option<Instance>,
}

impl Drop for DeviceWorker {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl DeviceWorker {
    pub fn spawn(plugin: Weak<Plugin>, info: Arc<DeviceInfo>) -> Self {
        let calls = DeviceCalls(Arc::new(Calls {
            plugin: plugin.clone(),
            state: Mutex::default(),
        }));
        DeviceWorker {
            calls,
            watcher: tokio::spawn(watch(plugin, info)),
        }
    }

    pub fn calls(&self) -> DeviceCalls {
        self.calls.clone()
    }
}

#[expect(
    clippy::large_enum_variant,
    reason = "a return value moved once; boxing would allocate on every call"
)]
enum Entry {
    Now(Turn, Call),
    Queued(oneshot::Receiver<Result<Reply, HubError>>),
}

impl DeviceCalls {
    /// Runs `call` once the device's earlier calls are done; the whole wait
    /// and the call itself must fit in `deadline`.
    pub async fn run(
        &self,
        plugin: &Plugin,
        call: Call,
        deadline: Duration,
    ) -> Result<Reply, HubError> {
        let answer = match self.enter(call, deadline)? {
            Entry::Now(mut turn, call) => {
                return plugin.run(&mut turn.instance, call, deadline).await;
            }
            Entry::Queued(answer) => answer,
        };
        // The drain task answers by the deadline; the margin only guards against a bug there.
        match tokio::time::timeout(deadline + Duration::from_secs(1), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(stopped()),
            Err(_) => Err(HubError::new(
                ErrorCode::Timeout,
                "the device's earlier calls did not finish in time",
            )),
        }
    }

    /// Takes the device's turn when it is idle, or queues the call.
    fn enter(&self, call: Call, deadline: Duration) -> Result<Entry, HubError> {
        let mut state = self.0.lock();
        if !state.running {
            state.running = true;
            let turn = Turn {
                calls: self.0.clone(),
                instance: state.instance.take(),
            };
            return Ok(Entry::Now(turn, call));
        }
        if state.waiting.len() >= QUEUE {
            return Err(HubError::new(
                ErrorCode::Busy,
                format!("{QUEUE} requests are already waiting for this device; retry later"),
            ));
        }
        let (reply, answer) = oneshot::channel();
        state.waiting.push_back(Job {
            call,
            deadline: Instant::now() + deadline,
            reply,
        });
        Ok(Entry::Queued(answer))
    }
}

impl Calls {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update of the state is a single assignment or queue operation.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The right to run the device's calls. When it ends (the call finished, or
/// was given up half-way and its instance dropped with it) the calls that
/// queued meanwhile go to a drain task, or the device turns idle.
struct Turn {
    calls: Arc<Calls>,
    instance: Option<Instance>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut state = self.calls.lock();
        if state.waiting.is_empty() {
            state.running = false;
            state.instance = self.instance.take();
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime left to serve them: the requesters hear "stopped".
            state.waiting.clear();
            state.running = false;
            return;
        };
        drop(state);
        let turn = Turn {
            calls: self.calls.clone(),
            instance: self.instance.take(),
        };
        runtime.spawn(drain(turn));
    }
}

async fn drain(mut turn: Turn) {
    loop {
        let Some(job) = turn.calls.lock().waiting.pop_front() else {
            return;
        };
        let Some(plugin) = turn.calls.plugin.upgrade() else {
            turn.calls.lock().waiting.clear();
            return;
        };
        let left = job.deadline.saturating_duration_since(Instant::now());
        let result = if left < LEAST_TIME_TO_RUN {
            Err(HubError::new(
                ErrorCode::Timeout,
                format!(
                    "{} waited its whole deadline behind earlier calls to the device",
                    job.call.name()
                ),
            ))
        } else {
            plugin.run(&mut turn.instance, job.call, left).await
        };
        // The requester may have given up; then nobody needs the answer.
        let _ = job.reply.send(result);
    }
}

fn stopped() -> HubError {
    HubError::new(ErrorCode::Internal, "the device's calls stopped; retry")
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
