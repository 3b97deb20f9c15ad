//! What a plugin's calls consumed: fuel per call and peak linear memory,
//! by kind of call. `hub plugin test` reports it to plugin authors.

use crate::caps::PluginBudget;
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
        let mut calls = self.0.lock().unwrap_or_else(|p| p.into_inner());
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
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The store's limits, and its share of the plugin's memory budget: every
/// growth is charged to the plugin as a whole, and given back when the
/// instance goes. Remembers the largest memory it allowed.
pub struct MeteredLimits {
    limits: StoreLimits,
    budget: Arc<PluginBudget>,
    /// Bytes charged to the plugin's budget by this store.
    held: u64,
    pub peak_memory: usize,
}

impl MeteredLimits {
    pub fn new(budget: Arc<PluginBudget>, limits: StoreLimits) -> Self {
        MeteredLimits {
            limits,
            budget,
            held: 0,
            peak_memory: 0,
        }
    }
}

impl Drop for MeteredLimits {
    fn drop(&mut self) {
        self.budget.release_memory(self.held);
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
        // Over the plugin's budget the instance traps with the reason,
        // rather than seeing a failed grow it may not handle.
        let more = desired.saturating_sub(current) as u64;
        self.budget
            .grow_memory(more)
            .map_err(|over| wasmtime::Error::msg(over.message))?;
        self.held += more;
        self.peak_memory = self.peak_memory.max(desired);
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
        self.limits.table_growing(current, desired, maximum)
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
