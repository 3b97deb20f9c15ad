//! Attribute changes and OTA progress on their way from plugins to
//! subscribed connections.

use super::AuditLog;
use super::bounds;
use super::ota::{OtaStatus, RunningOtas};
use super::registry::{Availability, Registry};
use super::wit::{AttributeMeta, Change, DeviceInfo, DeviceMeta, OtaStage, ValType, Value};
use crate::caps::PluginBudget;
use crate::error::{ErrorCode, HubError};
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
    /// Rendered once for each API version, however many clients receive it.
    rendered: [OnceLock<String>; 2],
}

pub enum EventKind {
    Change(AttributeChange),
    Ota {
        identity: String,
        status: OtaStatus,
    },
    Availability {
        identity: String,
        availability: Availability,
    },
    /// How a plugin was held back: for operators who asked to hear it.
    Capability(CapabilityUse),
}

pub enum CapabilityUse {
    /// The network policy refused a use; `allowing`, the rule whose grant
    /// would let it through, if one would.
    Refused {
        use_: String,
        address: String,
        reason: &'static str,
        allowing: Option<String>,
    },
    /// A quota stopped an operation (its first time in a minute).
    QuotaHit { quota: String },
}

/// One attribute's new value, with what clients are told of its type.
/// It holds its own few fields rather than the device's metadata, so that
/// the bus's backlog stays bounded by `bounds::MAX_EVENT` per event.
pub struct AttributeChange {
    pub device: Arc<DeviceInfo>,
    pub instance_id: u32,
    pub attribute: String,
    pub val_type: ValType,
    pub value: Value,
}

impl Event {
    pub fn new(plugin: Arc<str>, kind: EventKind) -> Self {
        Event {
            plugin,
            kind,
            rendered: Default::default(),
        }
    }

    /// The device the event is about.
    pub fn identity(&self) -> &str {
        match &self.kind {
            EventKind::Change(change) => &change.device.identity,
            EventKind::Ota { identity, .. } | EventKind::Availability { identity, .. } => identity,
            EventKind::Capability(_) => "",
        }
    }

    /// Only operators who subscribed to its type receive it.
    pub fn for_operators(&self) -> bool {
        matches!(self.kind, EventKind::Capability(_))
    }

    /// The event as clients of API `version` (1 or 2) receive it.
    pub fn rendered(&self, version: usize, render: impl FnOnce(&Event) -> String) -> &str {
        self.rendered[version - 1].get_or_init(|| render(self))
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

    pub fn publish(&self, event: Arc<Event>) {
        // No receivers means no connected client: nothing to deliver.
        let _ = self.0.send(event);
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
    /// The devices the plugin reported: 0.1 changes name theirs.
    pub registry: Arc<Registry>,
    /// Events and bytes of events per second the plugin may emit.
    pub budget: Arc<PluginBudget>,
    pub audit: Arc<AuditLog>,
    pub otas: Arc<RunningOtas>,
}

/// The device a watching instance serves, and the metadata its handle
/// declared: what its changes' slots mean.
pub struct Watched {
    pub device: Arc<DeviceInfo>,
    pub meta: Arc<DeviceMeta>,
}

pub enum Emitted {
    Accepted,
    /// From an instance that watches no device, for an unknown slot, or a
    /// mistyped value: logged, not delivered.
    Dropped,
    /// Over the plugin's events quota: why.
    OverQuota(String),
}

impl EventSink {
    /// Changes of the device the reporting instance watches, by slot of
    /// the metadata that instance declared. Every call and every change is
    /// charged to the plugin's event budget before it is looked at, so that
    /// even refused ones cannot be sent for free.
    pub fn emit(&self, watching: Option<&Watched>, changes: Vec<Change>) -> Emitted {
        if let Err(over) = self.admit(EVENT_OVERHEAD) {
            return over;
        }
        let Some(watched) = watching else {
            tracing::warn!(plugin = %self.plugin, "dropped changes from an instance that watches no device");
            return Emitted::Dropped;
        };
        let mut emitted = Emitted::Dropped;
        let mut stray = 0;
        for change in changes {
            let Some(attribute) = watched.meta.attributes.get(change.slot as usize) else {
                if let Err(over) = self.admit(EVENT_OVERHEAD) {
                    return over;
                }
                stray += 1;
                continue;
            };
            emitted = self.publish_change(&watched.device, attribute, change.value);
            if let Emitted::OverQuota(_) = emitted {
                return emitted;
            }
        }
        if stray > 0 {
            tracing::warn!(plugin = %self.plugin, identity = %watched.device.identity,
                "dropped {stray} changes of slots the device does not declare ({} attributes)",
                watched.meta.attributes.len());
        }
        emitted
    }

    /// Checks one change against the budget, its attribute's type and the
    /// size caps, then delivers it.
    pub(super) fn publish_change(
        &self,
        device: &Arc<DeviceInfo>,
        attribute: &AttributeMeta,
        value: Value,
    ) -> Emitted {
        if let Err(over) = self.admit(change_bytes(&device.identity, &attribute.name, &value)) {
            return over;
        }
        if let Err(why) = bounds::check_value(&attribute.name, &value) {
            tracing::warn!(plugin = %self.plugin, "dropped an event: {why}");
            return Emitted::Dropped;
        }
        if !value_fits(&value, attribute.val_type) {
            tracing::warn!(plugin = %self.plugin, identity = %device.identity, attribute = %attribute.name.escape_debug(),
                "dropped an event whose value does not match its declared type");
            return Emitted::Dropped;
        }
        if self
            .registry
            .remember_change(&device.identity, attribute, &value)
        {
            self.announce(&device.identity, Availability::Online);
        }
        self.publish(EventKind::Change(AttributeChange {
            device: device.clone(),
            instance_id: attribute.instance_id,
            attribute: attribute.name.clone(),
            val_type: attribute.val_type,
            value,
        }));
        Emitted::Accepted
    }

    /// A plugin's progress report, accepted only from the instance running
    /// `ota`, for its device.
    pub fn progress(
        &self,
        running: Option<&Arc<DeviceInfo>>,
        stage: OtaStage,
        percent: Option<u8>,
    ) -> Emitted {
        let identity = running.map_or(0, |d| d.identity.len());
        if let Err(over) = self.admit(identity as u64 + EVENT_OVERHEAD) {
            return over;
        }
        let Some(device) = running else {
            tracing::warn!(plugin = %self.plugin,
                "dropped OTA progress from an instance not running ota for that device");
            return Emitted::Dropped;
        };
        let status = OtaStatus::progress(stage, percent);
        self.otas.note(&device.identity, &status);
        self.publish_ota(device.identity.clone(), status);
        Emitted::Accepted
    }

    pub fn admit(&self, bytes: u64) -> Result<(), Emitted> {
        self.budget.admit_event(bytes).map_err(|over| {
            self.audit.quota(&self.plugin, &over.quota.to_string());
            Emitted::OverQuota(over.message)
        })
    }

    /// Notes whether the device answers, telling clients when that changed.
    pub fn mark(&self, identity: &str, availability: Availability) {
        if self.registry.mark(identity, availability) {
            self.announce(identity, availability);
        }
    }

    /// A device that timed out or could not be reached is offline; other
    /// failures (the plugin's, a refused value) say nothing of it.
    pub fn note_failure(&self, identity: &str, error: &HubError) {
        if matches!(error.code, ErrorCode::Timeout | ErrorCode::Unreachable) {
            self.mark(identity, Availability::Offline);
        }
    }

    /// Tells clients a device's availability changed.
    pub fn announce(&self, identity: &str, availability: Availability) {
        self.publish(EventKind::Availability {
            identity: identity.to_string(),
            availability,
        });
    }

    /// The hub's own OTA reports: the final `done` or `failed`.
    pub fn publish_ota(&self, identity: String, status: OtaStatus) {
        self.publish(EventKind::Ota { identity, status });
    }

    fn publish(&self, kind: EventKind) {
        self.bus
            .publish(Arc::new(Event::new(self.plugin.clone(), kind)));
    }
}

/// What an event costs in the plugin's bytes-per-second budget: roughly
/// its size as clients receive it.
pub fn change_bytes(identity: &str, attribute: &str, value: &Value) -> u64 {
    let value = match value {
        Value::Text(text) => text.len(),
        _ => 8,
    };
    (identity.len() + attribute.len() + value) as u64 + EVENT_OVERHEAD
}

/// The JSON around an event's own strings.
const EVENT_OVERHEAD: u64 = 100;

pub fn value_fits(value: &Value, declared: ValType) -> bool {
    matches!(
        (value, declared),
        (Value::Text(_), ValType::String | ValType::Enum)
            | (Value::Int(_), ValType::Int | ValType::Float)
            | (Value::Float(_), ValType::Float)
            | (Value::Boolean(_), ValType::Bool)
    )
}
