//! What a plugin's calls consumed: fuel per call and peak linear memory,
//! by kind of call. `hub plugin test` reports it to plugin authors.

use crate::caps::PluginBudget;
use crate::sync::MutexHeld;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use wasmtime::{ResourceLimiter, StoreLimits};

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CallUsage {
    pub calls: u64,
    pub fuel_min: u64,
    pub fuel_max: u64,
    /// The largest linear memory of an instance that ran this call, in bytes.
    pub peak_memory: usize,
}

#[derive(Default)]
pub struct Usage(Mutex<BTreeMap<&'static str, CallUsage>>);

impl Usage {
    pub fn record(&self, call: &'static str, fuel: Option<u64>, memory: usize) {
        let mut calls = self.0.held();
        let entry = calls.entry(call).or_default();
        if let Some(fuel) = fuel {
            entry.fuel_min = if entry.calls == 0 {
                fuel
            } else {
                entry.fuel_min.min(fuel)
            };
            entry.fuel_max = entry.fuel_max.max(fuel);
        }
        entry.calls += 1;
        entry.peak_memory = entry.peak_memory.max(memory);
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, CallUsage> {
        self.0.held().clone()
    }
}

/// The store's limits, and its share of the plugin's memory budget: every
/// growth of its linear memory or of a table is charged to the plugin as a
/// whole, and given back when the instance goes. Remembers the largest
/// memory it allowed.
pub struct MeteredLimits {
    limits: StoreLimits,
    budget: Arc<PluginBudget>,
    /// Bytes charged for the store's linear memory (it has one: see
    /// `memories(1)` in `state.rs`): the size it was last allowed to grow to.
    memory: u64,
    /// Bytes charged for tables, which are never given back before the end.
    tables: u64,
    pub peak_memory: usize,
}

/// What one table element costs the hub (a pointer).
const TABLE_ELEMENT_BYTES: u64 = 8;

impl MeteredLimits {
    pub fn new(budget: Arc<PluginBudget>, limits: StoreLimits) -> Self {
        MeteredLimits {
            limits,
            budget,
            memory: 0,
            tables: 0,
            peak_memory: 0,
        }
    }

    /// Charges `bytes` more to the plugin; over its budget the instance
    /// traps with the reason, rather than seeing a failed grow it may not
    /// handle.
    fn charge(&self, bytes: u64) -> wasmtime::Result<()> {
        self.budget
            .grow_memory(bytes)
            .map_err(|over| wasmtime::Error::msg(over.message))
    }
}

impl Drop for MeteredLimits {
    fn drop(&mut self) {
        self.budget.release_memory(self.memory + self.tables);
    }
}

impl ResourceLimiter for MeteredLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.limits.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        // `current` is the memory's true size: a growth allowed earlier
        // that then failed was charged but never happened.
        let (current, desired) = (current as u64, desired as u64);
        if self.memory > current {
            self.budget.release_memory(self.memory - current);
            self.memory = current;
        }
        self.charge(desired.saturating_sub(self.memory))?;
        self.memory = desired;
        self.peak_memory = self.peak_memory.max(desired as usize);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.limits.table_growing(current, desired, maximum)? {
            return Ok(false);
        }
        let bytes = desired.saturating_sub(current) as u64 * TABLE_ELEMENT_BYTES;
        self.charge(bytes)?;
        self.tables += bytes;
        Ok(true)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::Quotas;
    use wasmtime::StoreLimitsBuilder;

    fn limits(budget: &Arc<PluginBudget>) -> MeteredLimits {
        let store = StoreLimitsBuilder::new().memory_size(64 << 20).build();
        MeteredLimits::new(budget.clone(), store)
    }

    #[test]
    fn memory_and_tables_are_charged_to_the_plugin_and_given_back() {
        let budget = PluginBudget::new(&Quotas::default());
        let mut a = limits(&budget);
        assert!(a.memory_growing(0, 10 << 20, None).unwrap());
        assert!(a.table_growing(0, 1000, None).unwrap());
        assert_eq!(budget.held().1, (10 << 20) + 8000);
        // A growth allowed, then failed (the memory stayed at 10 MiB): the
        // next request starts from the true size.
        assert!(a.memory_growing(10 << 20, 30 << 20, None).unwrap());
        assert!(a.memory_growing(10 << 20, 12 << 20, None).unwrap());
        assert_eq!(budget.held().1, (12 << 20) + 8000);
        drop(a);
        assert_eq!(budget.held().1, 0);
    }

    #[test]
    fn instances_together_cannot_pass_the_budget() {
        let budget = PluginBudget::new(&Quotas {
            total_memory_bytes: 40 << 20,
            ..Quotas::default()
        });
        let (mut a, mut b) = (limits(&budget), limits(&budget));
        assert!(a.memory_growing(0, 30 << 20, None).unwrap());
        let refused = b.memory_growing(0, 20 << 20, None).unwrap_err();
        assert!(
            refused.to_string().contains("budget of 40 MiB"),
            "{refused}"
        );
        assert!(b.memory_growing(0, 10 << 20, None).unwrap());
    }
}
