//! A plugin's budget as a whole, as a container has one cgroup: what all
//! its instances together may hold at once (instances, linear memory,
//! devices) and spend over time (CPU of calls without a per-call budget,
//! events, log output). A plugin decides how many instances and devices it
//! gets, so no limit may hold for one instance only.

use super::limits::{Limit, Quotas};
use super::quota::Rate;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct PluginBudget {
    quotas: Quotas,
    instances: AtomicU64,
    memory: AtomicU64,
    cpu: Rate,
    events: Rate,
    event_bytes: Rate,
    log_lines: Rate,
    log_bytes: Rate,
    logs_dropped: AtomicU64,
    /// Fuel all its instances burnt, for `/metrics`.
    fuel_spent: AtomicU64,
}

/// Which quota refused, and why, in words for the audit log and the plugin's author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    pub quota: Limit,
    pub message: String,
}

/// A place for one instance; the place is free again when this is dropped.
pub struct InstanceTicket(Arc<PluginBudget>);

impl Drop for InstanceTicket {
    fn drop(&mut self) {
        self.0.instances.fetch_sub(1, Ordering::Relaxed);
    }
}

pub enum LogAdmission {
    /// Write the line; `dropped_before` lines were dropped since the last one written.
    Write {
        dropped_before: u64,
    },
    Drop,
}

impl PluginBudget {
    pub fn new(quotas: &Quotas) -> Arc<Self> {
        Arc::new(PluginBudget {
            quotas: quotas.clone(),
            instances: AtomicU64::new(0),
            memory: AtomicU64::new(0),
            cpu: Rate::new(quotas.watch_fuel_per_second),
            events: Rate::new(quotas.events_per_second),
            event_bytes: Rate::new(quotas.event_bytes_per_second),
            log_lines: Rate::new(quotas.log_lines_per_second),
            log_bytes: Rate::new(quotas.log_bytes_per_second),
            logs_dropped: AtomicU64::new(0),
            fuel_spent: AtomicU64::new(0),
        })
    }

    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// Instances alive and the linear memory they hold, in bytes.
    pub fn held(&self) -> (u64, u64) {
        (
            self.instances.load(Ordering::Relaxed),
            self.memory.load(Ordering::Relaxed),
        )
    }

    pub fn admit_instance(self: &Arc<Self>) -> Result<InstanceTicket, OverBudget> {
        let most = self.quotas.max_instances;
        take_up_to(&self.instances, 1, most).map_err(|alive| OverBudget {
            quota: Limit::MaxInstances,
            message: format!("already runs {alive} instances at once, its budget"),
        })?;
        Ok(InstanceTicket(self.clone()))
    }

    /// Adds `bytes` to the linear memory its instances hold, or refuses.
    pub fn grow_memory(&self, bytes: u64) -> Result<(), OverBudget> {
        let most = self.quotas.total_memory_bytes;
        take_up_to(&self.memory, bytes, most).map_err(|held| OverBudget {
            quota: Limit::TotalMemoryBytes,
            message: format!(
                "its instances together hold {} MiB of linear memory; {} MiB more would pass its budget of {} MiB",
                held >> 20,
                bytes.div_ceil(1 << 20),
                most >> 20
            ),
        })
    }

    pub fn release_memory(&self, bytes: u64) {
        self.memory.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// May the plugin hold one more device, having `registered` already?
    pub fn admit_device(&self, registered: usize) -> Result<(), OverBudget> {
        let most = self.quotas.max_devices;
        if (registered as u64) < most {
            return Ok(());
        }
        Err(OverBudget {
            quota: Limit::MaxDevices,
            message: format!("reported more than {most} devices, its budget"),
        })
    }

    /// Charges fuel spent by a call without a per-call budget; the pause
    /// that brings its watchers back to their rate, if they ran ahead.
    pub fn charge_cpu(&self, fuel: u64) -> Option<Duration> {
        self.spent(fuel);
        self.cpu.charge(fuel)
    }

    /// Counts fuel a call burnt.
    pub fn spent(&self, fuel: u64) {
        self.fuel_spent.fetch_add(fuel, Ordering::Relaxed);
    }

    /// Fuel burnt since the plugin was loaded.
    pub fn fuel_spent(&self) -> u64 {
        self.fuel_spent.load(Ordering::Relaxed)
    }

    pub fn admit_event(&self, bytes: u64) -> Result<(), OverBudget> {
        if !self.events.take() {
            let most = self.quotas.events_per_second;
            return Err(OverBudget {
                quota: Limit::EventsPerSecond,
                message: format!("emitted more than {most} events a second"),
            });
        }
        if !self.event_bytes.take_n(bytes) {
            let most = self.quotas.event_bytes_per_second;
            return Err(OverBudget {
                quota: Limit::EventBytesPerSecond,
                message: format!("emitted more than {most} bytes of events a second"),
            });
        }
        Ok(())
    }

    /// Lines past the plugin's rate are dropped and counted, so that the
    /// next line written can say how many went missing.
    pub fn admit_log(&self, bytes: u64) -> LogAdmission {
        if self.log_lines.take() && self.log_bytes.take_n(bytes) {
            let dropped_before = self.logs_dropped.swap(0, Ordering::Relaxed);
            LogAdmission::Write { dropped_before }
        } else {
            self.logs_dropped.fetch_add(1, Ordering::Relaxed);
            LogAdmission::Drop
        }
    }
}

/// Adds `n` to `counter` unless that passes `most`; the count it found otherwise.
fn take_up_to(counter: &AtomicU64, n: u64, most: u64) -> Result<(), u64> {
    counter
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
            held.checked_add(n).filter(|&after| after <= most)
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(change: impl FnOnce(&mut Quotas)) -> Arc<PluginBudget> {
        let mut quotas = Quotas::default();
        change(&mut quotas);
        PluginBudget::new(&quotas)
    }

    #[test]
    fn instances_are_counted_across_the_plugin_and_freed_on_drop() {
        let b = budget(|q| q.max_instances = 3);
        let held: Vec<_> = (0..3).map(|_| b.admit_instance().unwrap()).collect();
        let refused = b.admit_instance().err().unwrap();
        assert_eq!(refused.quota, Limit::MaxInstances);
        assert!(
            refused.message.contains("3 instances"),
            "{}",
            refused.message
        );
        drop(held);
        assert!(b.admit_instance().is_ok());
    }

    #[test]
    fn memory_is_one_counter_for_all_instances() {
        let b = budget(|q| q.total_memory_bytes = 64 << 20);
        for _ in 0..4 {
            b.grow_memory(16 << 20).unwrap();
        }
        let refused = b.grow_memory(1).unwrap_err();
        assert_eq!(refused.quota, Limit::TotalMemoryBytes);
        assert!(refused.message.contains("64 MiB"), "{}", refused.message);
        b.release_memory(16 << 20);
        assert!(b.grow_memory(16 << 20).is_ok());
        assert_eq!(b.held().1, 64 << 20);
    }

    #[test]
    fn devices_stop_at_the_budget() {
        let b = budget(|q| q.max_devices = 2);
        assert!(b.admit_device(1).is_ok());
        assert_eq!(b.admit_device(2).unwrap_err().quota, Limit::MaxDevices);
    }

    #[test]
    fn big_events_are_refused_by_bytes_not_only_by_count() {
        let b = budget(|q| q.event_bytes_per_second = 10_000);
        assert!(b.admit_event(6_000).is_ok());
        let refused = b.admit_event(6_000).unwrap_err();
        assert_eq!(refused.quota, Limit::EventBytesPerSecond);
    }

    #[test]
    fn a_log_flood_is_dropped_and_counted() {
        let b = budget(|q| q.log_lines_per_second = 5);
        let written = (0..100)
            .filter(|_| matches!(b.admit_log(10), LogAdmission::Write { .. }))
            .count();
        assert_eq!(written, 5);
        std::thread::sleep(Duration::from_millis(250));
        match b.admit_log(10) {
            LogAdmission::Write { dropped_before } => assert_eq!(dropped_before, 95),
            LogAdmission::Drop => panic!("the rate came back"),
        }
    }

    #[test]
    fn watchers_running_ahead_of_their_cpu_rate_are_paused() {
        let b = budget(|q| q.watch_fuel_per_second = 1_000_000);
        assert_eq!(b.charge_cpu(900_000), None);
        let pause = b.charge_cpu(1_100_000).expect("ran ahead");
        assert!(pause >= Duration::from_millis(900), "{pause:?}");
    }
}
