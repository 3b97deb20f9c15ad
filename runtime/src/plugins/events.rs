//! Attribute changes and OTA progress on their way from plugins to
//! subscribed connections.

use super::bindings::{AttributeChange, OtaProgress, ValType, Value};
use super::bounds;
use super::devices::DeviceTable;
use super::ota::{OtaStatus, RunningOtas};
use crate::audit::AuditLog;
use crate::caps::PluginBudget;
use std::sync::{Arc, OnceLock};
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it is cut off.
/// Every event is capped in size (`bounds::MAX_EVENT`, twice: as the
/// plugin sent it and as rendered once for all clients), so the backlog the
/// bus keeps is bounded in bytes whatever clients do: under 20 MiB.
pub const EVENT_BACKLOG: usize = 1024;
const _: () = assert!(EVENT_BACKLOG * 2 * bounds::MAX_EVENT <= 20 << 20);

pub struct Event {
    pub plugin: Arc<str>,
    pub kind: EventKind,
    /// Rendered once, however many clients receive it.
    rendered: OnceLock<String>,
}

pub enum EventKind {
    Change(AttributeChange),
    Ota { identity: String, status: OtaStatus },
}

impl Event {
    pub fn new(plugin: Arc<str>, kind: EventKind) -> Self {
        Event {
            plugin,
            kind,
            rendered: OnceLock::new(),
        }
    }

    pub fn rendered(&self, render: impl FnOnce(&Event) -> String) -> &str {
        self.rendered.get_or_init(|| render(self))
    }
}

#[derive(Clone)]
pub struct EventBus(broadcast::Sender<Arc<Event>>);

impl EventBus {
    pub fn new() -> Self {
        EventBus(broadcast::channel(EVENT_BACKLOG).0)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.0.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

/// A plugin's handle on the bus: events are stamped with the plugin's id,
/// and only for devices the plugin has reported.
#[derive(Clone)]
pub struct EventSink {
    pub plugin: Arc<str>,
    pub bus: EventBus,
    pub devices: Arc<DeviceTable>,
    /// Events and bytes of events per second the plugin may emit.
    pub budget: Arc<PluginBudget>,
    pub audit: Arc<AuditLog>,
    pub otas: Arc<RunningOtas>,
}

pub enum Emitted {
    Accepted,
    /// Unknown device or mistyped value: logged, not delivered.
    Dropped,
    /// Over the plugin's events quota: why.
    OverQuota(String),
}

impl EventSink {
    pub fn emit(&self, change: AttributeChange) -> Emitted {
        if let Err(over) = self.admit(change_bytes(&change)) {
            return over;
        }
        if let Err(why) = bounds::check_change(&change) {
            tracing::warn!(plugin = %self.plugin, "dropped an event: {why}");
            return Emitted::Dropped;
        }
        if !self.devices.contains(&change.identity) {
            tracing::warn!(plugin = %self.plugin, identity = %change.identity,
                "dropped an event for a device the plugin never reported");
            return Emitted::Dropped;
        }
        if !value_fits(&change.attribute.value, change.attribute.meta.val_type) {
            tracing::warn!(plugin = %self.plugin, identity = %change.identity, attribute = %change.attribute.name.escape_debug(),
                "dropped an event whose value does not match its declared type");
            return Emitted::Dropped;
        }
        self.publish(EventKind::Change(change));
        Emitted::Accepted
    }

    /// A plugin's progress report, accepted only while the hub runs `ota`
    /// for that device in the reporting instance.
    pub fn progress(&self, progress: OtaProgress, running_for: Option<&str>) -> Emitted {
        if let Err(over) = self.admit(progress.identity.len() as u64 + EVENT_OVERHEAD) {
            return over;
        }
        if running_for != Some(progress.identity.as_str()) {
            // Its identity is not one the hub knows to be safe to print.
            tracing::warn!(plugin = %self.plugin,
                "dropped OTA progress from an instance not running ota for that device");
            return Emitted::Dropped;
        }
        let status = OtaStatus::from(&progress);
        self.otas.note(&progress.identity, &status);
        self.publish_ota(progress.identity, status);
        Emitted::Accepted
    }

    fn admit(&self, bytes: u64) -> Result<(), Emitted> {
        self.budget.admit_event(bytes).map_err(|over| {
            self.audit.quota(&self.plugin, &over.quota.to_string());
            Emitted::OverQuota(over.message)
        })
    }

    /// The hub's own OTA reports: the final `done` or `failed`.
    pub fn publish_ota(&self, identity: String, status: OtaStatus) {
        self.publish(EventKind::Ota { identity, status });
    }

    fn publish(&self, kind: EventKind) {
        let event = Event::new(self.plugin.clone(), kind);
        // No receivers means no connected client: nothing to deliver.
        let _ = self.bus.0.send(Arc::new(event));
    }
}

/// What an event costs in the plugin's bytes-per-second budget: roughly
/// its size as clients receive it.
fn change_bytes(change: &AttributeChange) -> u64 {
    let value = match &change.attribute.value {
        Value::Text(text) => text.len(),
        _ => 8,
    };
    (change.identity.len() + change.attribute.name.len() + value) as u64 + EVENT_OVERHEAD
}

/// The JSON around an event's own strings.
const EVENT_OVERHEAD: u64 = 100;

fn value_fits(value: &Value, declared: ValType) -> bool {
    matches!(
        (value, declared),
        (Value::Text(_), ValType::String | ValType::Enum)
            | (Value::Int(_), ValType::Int | ValType::Float)
            | (Value::Float(_), ValType::Float)
            | (Value::Boolean(_), ValType::Bool)
    )
}
