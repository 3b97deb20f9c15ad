//! What goes into the audit log, and how often: every operator action and
//! the first refusals of each minute one by one; allowed network uses,
//! further refusals and quota hits as one summary per plugin per minute, so
//! that a flood costs a bounded number of writes. What is written one by
//! one (refusals) and each quota's first hit of a minute are also pushed to
//! operators' connections as they happen, bounded the same way.

use super::{CapabilityUse, Event, EventBus, EventKind};
use crate::caps::Verdict;
use crate::store::Store;
use crate::sync::MutexHeld;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Refusals per plugin per minute written one by one; later ones are counted.
const REFUSALS_LOGGED: u32 = 20;
/// Distinct destinations counted per plugin per minute; the rest are "other".
const DESTINATIONS: usize = 256;
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

pub struct AuditLog {
    store: Arc<Store>,
    events: EventBus,
    minutes: Mutex<HashMap<String, Minute>>,
    /// Refusals and quota hits since the hub started, by plugin, for `/metrics`.
    totals: Mutex<HashMap<String, Totals>>,
}

/// One plugin's refused uses and quota hits since the hub started.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub refused: u64,
    /// By quota: a handful of names.
    pub quota_hits: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Minute {
    allowed: BTreeMap<String, u64>,
    refusals_logged: u32,
    refused_more: BTreeMap<String, u64>,
    quota: BTreeMap<String, u64>,
}

impl AuditLog {
    pub fn new(store: Arc<Store>, events: EventBus) -> Arc<Self> {
        Arc::new(AuditLog {
            store,
            events,
            minutes: Mutex::new(HashMap::new()),
            totals: Mutex::new(HashMap::new()),
        })
    }

    /// Appends one entry; a failure to write is logged, never fatal to the caller.
    pub fn record(&self, actor: &str, plugin: Option<&str>, action: &str, detail: Value) {
        if let Err(e) = self.store.append(actor, plugin, action, detail) {
            tracing::error!(actor, plugin, action, "cannot write the audit log: {e:#}");
        }
    }

    /// A network access the policy decided: `use_` says how (`TcpConnect`,
    /// `UdpSend`, `HttpRequest`, ...), `address` where; `allowing`, the rule
    /// whose grant would let a refused use through, if one would.
    pub fn access(
        &self,
        plugin: &str,
        use_: &str,
        address: &str,
        verdict: Verdict,
        allowing: impl FnOnce() -> Option<String>,
    ) {
        if let Verdict::Deny(_) = verdict {
            self.totals(plugin, |t| t.refused += 1);
        }
        let individual = {
            let mut minutes = self.minutes();
            let minute = minutes.entry(plugin.to_string()).or_default();
            match verdict {
                Verdict::Allow => {
                    count(&mut minute.allowed, format!("{use_} {address}"));
                    None
                }
                Verdict::Deny(reason) if minute.refusals_logged < REFUSALS_LOGGED => {
                    minute.refusals_logged += 1;
                    Some(reason)
                }
                Verdict::Deny(reason) => {
                    count(
                        &mut minute.refused_more,
                        format!("{use_} {address}: {reason}"),
                    );
                    None
                }
            }
        };
        if let Some(reason) = individual {
            tracing::warn!(plugin, address, use_, reason, "refused network access");
            let allowing = allowing();
            let detail =
                json!({"use": use_, "address": address, "reason": reason, "allowing": allowing});
            self.record("hub", Some(plugin), "refused", detail);
            self.tell_operators(
                plugin,
                CapabilityUse::Refused {
                    use_: use_.into(),
                    address: address.into(),
                    reason,
                    allowing,
                },
            );
        }
    }

    /// A quota stopped an operation (`what` names the quota). Its first
    /// hit of a minute is pushed to operators; the count goes in the summary.
    pub fn quota(&self, plugin: &str, what: &str) {
        self.totals(plugin, |t| {
            *t.quota_hits.entry(what.to_string()).or_default() += 1
        });
        let first = {
            let mut minutes = self.minutes();
            let hits = &mut minutes.entry(plugin.to_string()).or_default().quota;
            count(hits, what.to_string()) == 1
        };
        if first {
            self.tell_operators(plugin, CapabilityUse::QuotaHit { quota: what.into() });
        }
    }

    fn tell_operators(&self, plugin: &str, used: CapabilityUse) {
        let event = Event::new(plugin.into(), EventKind::Capability(used));
        self.events.publish(Arc::new(event));
    }

    /// Writes each plugin's summary of the minute that ended and starts a new one.
    pub fn summarize(&self) {
        let ended = std::mem::take(&mut *self.minutes());
        for (plugin, minute) in ended {
            if !minute.allowed.is_empty() {
                self.record(
                    "hub",
                    Some(&plugin),
                    "allowed_summary",
                    json!({"per_destination": minute.allowed}),
                );
            }
            if !minute.refused_more.is_empty() || !minute.quota.is_empty() {
                let detail = json!({"refused_not_itemized": minute.refused_more, "quota_hits": minute.quota});
                self.record("hub", Some(&plugin), "refused_summary", detail);
            }
        }
    }

    /// `plugin`'s refusals and quota hits since the hub started.
    pub fn totals_of(&self, plugin: &str) -> Totals {
        let totals = self.totals.held();
        totals.get(plugin).cloned().unwrap_or_default()
    }

    fn totals(&self, plugin: &str, count: impl FnOnce(&mut Totals)) {
        let mut totals = self.totals.held();
        match totals.get_mut(plugin) {
            Some(t) => count(t),
            None => count(totals.entry(plugin.to_string()).or_default()),
        }
    }

    fn minutes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Minute>> {
        self.minutes.held()
    }
}

/// Counts one more of `key` (or of "other", past `DESTINATIONS` keys); the new count.
fn count(counts: &mut BTreeMap<String, u64>, key: String) -> u64 {
    let key = if counts.len() >= DESTINATIONS && !counts.contains_key(&key) {
        "other".to_string()
    } else {
        key
    };
    let n = counts.entry(key).or_default();
    *n += 1;
    *n
}
