//! A plugin's discover, and the devices it registers: each gets a call
//! queue and a watcher, as far as the plugin's budget of devices allows.

use super::Plugin;
use super::bounds;
use super::queue::{DeviceQueue, InstanceSlot};
use super::watcher::DeviceWorker;
use super::wit::DeviceInfo;
use crate::caps::OverBudget;
use crate::error::{ErrorCode, HubError};
use crate::store::DeviceRow;
use std::sync::Arc;

/// The devices a discover registered, and why others were refused.
#[derive(Default)]
pub struct Discovery {
    pub devices: Vec<DeviceInfo>,
    /// One error per kind of refusal, each said once however many devices it hit.
    pub refused: Vec<HubError>,
}

impl Discovery {
    /// Records `error` unless one of its kind is there; true if recorded.
    fn refuse(&mut self, error: HubError) -> bool {
        let new = !self.refused.iter().any(|e| e.code == error.code);
        if new {
            self.refused.push(error);
        }
        new
    }
}

impl Plugin {
    /// Runs the plugin's discover in an instance of its own and registers
    /// what it found, as far as its budget allows; what it had to refuse is
    /// said beside the devices.
    pub async fn discover(&self) -> Result<Discovery, HubError> {
        let limits = &self.template.sandbox.limits;
        let found = self
            .template
            .run(&mut None, limits.discover_deadline, async |i, budget| {
                i.discover(limits.discover_window, budget).await
            })
            .await?;
        let mut discovery = Discovery::default();
        for info in found {
            if let Err(why) = bounds::check_info(&info) {
                discovery.refuse(HubError::new(
                    ErrorCode::PluginFailed,
                    format!("plugin {} reported a device with {why}", self.id()),
                ));
                continue;
            }
            match self.register(&info) {
                // Only new or moved devices are written: a discover of many
                // unchanged devices costs no disk writes.
                Ok(true) => self.remember(&info),
                Ok(false) => {}
                Err(over) => {
                    let refusal = HubError::new(
                        ErrorCode::QuotaExceeded,
                        format!(
                            "plugin {} {}; the others were not registered (an operator can approve a larger max_devices)",
                            self.id(),
                            over.message
                        ),
                    );
                    // Once per discover, however many devices it reported.
                    if discovery.refuse(refusal) {
                        self.over_budget(&over);
                    }
                    continue;
                }
            }
            discovery.devices.push(info);
        }
        Ok(discovery)
    }

    /// Starts serving a device; true when it is new or has moved. A new
    /// device past the plugin's budget of devices is refused.
    pub(super) fn register(&self, info: &DeviceInfo) -> Result<bool, OverBudget> {
        let budget = &self.template.sandbox.budget;
        if !self
            .registry()
            .upsert(info, |held| budget.admit_device(held))?
        {
            return Ok(false);
        }
        let slot = self.slot(&info.identity);
        let queue = DeviceQueue::new(Arc::new(info.clone()), slot, self.template.clone());
        let shared = !self.shared.is_empty();
        let worker = DeviceWorker::spawn(Arc::new(queue), shared);
        self.workers().insert(info.identity.clone(), worker);
        Ok(true)
    }

    /// Where a device's calls run: where they ran before it moved (its
    /// instance opens it anew), else an instance of its own, or the shared
    /// one with the fewest devices.
    fn slot(&self, identity: &str) -> Arc<InstanceSlot> {
        if let Some(worker) = self.workers().get(identity) {
            return worker.queue.slot();
        }
        let least_shared = self
            .shared
            .iter()
            .min_by_key(|slot| Arc::strong_count(slot));
        least_shared.cloned().unwrap_or_default()
    }

    fn over_budget(&self, over: &OverBudget) {
        tracing::warn!(plugin = %self.id(), "over its budget: {}", over.message);
        let audit = &self.template.sandbox.audit;
        audit.quota(self.id(), &over.quota.to_string());
    }

    fn remember(&self, info: &DeviceInfo) {
        let row = DeviceRow {
            identity: info.identity.clone(),
            name: info.name.clone(),
            model: info.model.clone(),
            manufacturer: info.manufacturer.clone(),
            address: info.address.clone(),
            last_seen: crate::store::now(),
        };
        if let Err(e) = self.store.put_device(self.id(), &row) {
            tracing::error!(plugin = %self.id(), "cannot save device {}: {e:#}", info.identity);
        }
    }
}
