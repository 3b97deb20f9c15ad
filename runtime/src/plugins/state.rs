//! What a plugin's store holds: its WASI context, its limits, and the way
//! back to the hub for events and logs.

use super::events::EventSink;
use crate::audit::AuditLog;
use crate::caps::{Limits, NetPolicy, Verdict};
use std::sync::Arc;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

pub struct HostState {
    pub plugin: Arc<str>,
    pub events: EventSink,
    pub limits: StoreLimits,
    /// Fuel restored on every emitted event, for calls without a per-call
    /// budget (the event watcher).
    pub refuel: Option<u64>,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    pub fn new(
        plugin: Arc<str>,
        policy: Arc<NetPolicy>,
        audit: Arc<AuditLog>,
        limits: &Limits,
        events: EventSink,
    ) -> Self {
        let mut table = ResourceTable::new();
        // Every socket holds a few resources (streams, pollables): this caps open sockets.
        table.set_max_capacity(limits.quotas.max_resources);
        HostState {
            wasi: sandboxed_wasi(plugin.clone(), policy, audit),
            table,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .memories(1)
                .instances(32)
                .tables(32)
                .table_elements(100_000)
                .build(),
            plugin,
            events,
            refuel: None,
        }
    }
}

/// No arguments, no environment, no files, stdin at end of file; sockets
/// only through the network policy; no name lookup.
fn sandboxed_wasi(plugin: Arc<str>, policy: Arc<NetPolicy>, audit: Arc<AuditLog>) -> WasiCtx {
    WasiCtxBuilder::new()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(false)
        .socket_addr_check(move |addr, use_| {
            let verdict = policy.check(addr, use_);
            audit.network(&plugin, addr, use_, verdict);
            Box::pin(async move { verdict == Verdict::Allow })
        })
        .build()
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
