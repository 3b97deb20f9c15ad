//! What goes into the audit log, and how often: every operator action and
//! the first refusals of each minute one by one; allowed network uses,
//! further refusals and quota hits as one summary per plugin per minute, so
//! that a flood costs a bounded number of writes.

use crate::caps::Verdict;
use crate::store::Store;
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
    minutes: Mutex<HashMap<String, Minute>>,
}

#[derive(Default)]
struct Minute {
    allowed: BTreeMap<String, u64>,
    refusals_logged: u32,
    refused_more: BTreeMap<String, u64>,
    quota: BTreeMap<String, u64>,
}

impl AuditLog {
    pub fn new(store: Arc<Store>) -> Arc<Self> {
        Arc::new(AuditLog {
            store,
            minutes: Mutex::new(HashMap::new()),
        })
    }

    /// Appends one entry; a failure to write is logged, never fatal to the caller.
    pub fn record(&self, actor: &str, plugin: Option<&str>, action: &str, detail: Value) {
        if let Err(e) = self.store.append(actor, plugin, action, detail) {
            tracing::error!(actor, plugin, action, "cannot write the audit log: {e:#}");
        }
    }

    /// A network access the policy decided: `use_` says how (`TcpConnect`,
    /// `UdpSend`, `HttpRequest`, ...), `address` where.
    pub fn access(&self, plugin: &str, use_: &str, address: &str, verdict: Verdict) {
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
            let detail = json!({"use": use_, "address": address, "reason": reason});
            self.record("hub", Some(plugin), "refused", detail);
        }
    }

    /// A quota stopped an operation (`what` names the quota).
    pub fn quota(&self, plugin: &str, what: &str) {
        count(
            &mut self.minutes().entry(plugin.to_string()).or_default().quota,
            what.to_string(),
        );
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

    fn minutes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Minute>> {
        self.minutes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn count(counts: &mut BTreeMap<String, u64>, key: String) {
    let key = if counts.len() >= DESTINATIONS && !counts.contains_key(&key) {
        "other".to_string()
    } else {
        key
    };
    *counts.entry(key).or_default() += 1;
}
