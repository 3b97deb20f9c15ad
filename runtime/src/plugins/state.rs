//! What a plugin's store holds: its WASI context, its limits, and the way
//! back to the hub for events and logs.

use super::AuditLog;
use super::engine::Metering;
use super::events::EventSink;
use super::events::Watched;
use super::http::HttpSender;
use super::instance::Metered;
use super::supervisor::Supervisor;
use super::usage::{MeteredLimits, Usage};
use super::wit::{DeviceInfo, DeviceMeta};
use crate::caps::budget::InstanceTicket;
use crate::caps::{Limits, NetPolicy, PluginBudget, Verdict};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use wasmtime::StoreLimitsBuilder;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct HostState {
    /// The plugin's sandbox, shared by all its instances: its id, budget,
    /// policy and the way back to the hub for events.
    pub sandbox: Arc<Sandbox>,
    pub limits: MeteredLimits,
    /// For calls without a per-call fuel budget (watch, ota): their fuel,
    /// charged to the plugin's shared CPU rate at every epoch tick.
    pub metered: Option<Metered>,
    /// The device whose `ota` this instance runs: the only one it may
    /// report progress for.
    pub ota: Option<Arc<DeviceInfo>>,
    /// The metadata each device's handle in this instance declared to the
    /// hub, by identity: what the slots of its reads, writes and changes mean.
    pub declared: Declared,
    /// The device whose `watch` this instance runs: the only one whose
    /// changes it may emit (in 0.2, where changes name no device).
    pub watching: Option<Watched>,
    wasi: WasiCtx,
    table: ResourceTable,
    /// This instance's place in the plugin's budget of instances.
    _ticket: InstanceTicket,
    http: WasiHttpCtx,
    /// Used only when `wasi:http` is linked, that is, when it was granted.
    http_sender: HttpSender,
}

/// What one plugin's stores are made from.
pub struct Sandbox {
    pub plugin: Arc<str>,
    /// The plugin's budget as a whole, shared by all its instances.
    pub budget: Arc<PluginBudget>,
    pub policy: Arc<NetPolicy>,
    pub audit: Arc<AuditLog>,
    pub limits: Limits,
    pub events: EventSink,
    pub http_sender: HttpSender,
    pub metering: Metering,
    /// Its health: crashes, and the back-off before its next instance.
    pub supervisor: Supervisor,
    /// Set under `hub plugin test` (`HubSettings::under_test`): random
    /// numbers from a fixed seed, and each call's consumption recorded here.
    pub under_test: Option<Arc<Usage>>,
}

/// What each device's handle in an instance declared, by identity: one
/// entry in most instances, a few where devices share one, so found by
/// comparing identities (cheaper than hashing them, on every read).
#[derive(Default)]
pub struct Declared(Vec<(String, Arc<DeviceMeta>)>);

impl Declared {
    pub fn get(&self, identity: &str) -> Option<&Arc<DeviceMeta>> {
        let mut held = self.0.iter();
        held.find(|(id, _)| id == identity).map(|(_, meta)| meta)
    }

    pub fn insert(&mut self, identity: &str, meta: Arc<DeviceMeta>) {
        match self.0.iter_mut().find(|(id, _)| id == identity) {
            Some((_, held)) => *held = meta,
            None => self.0.push((identity.to_string(), meta)),
        }
    }

    pub fn remove(&mut self, identity: &str) {
        self.0.retain(|(id, _)| id != identity);
    }
}

impl Sandbox {
    /// Notes that the plugin's own code failed (a trap, a refused
    /// configuration), for its health and in the audit log.
    pub fn crashed(&self, message: &str) {
        self.supervisor.crashed(&self.plugin, message);
        self.audit.record(
            "hub",
            Some(&self.plugin),
            "crash",
            serde_json::json!({"error": message}),
        );
    }
}

impl HostState {
    pub fn new(sandbox: &Arc<Sandbox>, ticket: InstanceTicket) -> Self {
        let limits = &sandbox.limits;
        let mut table = ResourceTable::new();
        // Every socket holds a few resources (streams, pollables): this caps open sockets.
        table.set_max_capacity(limits.quotas.max_resources as usize);
        HostState {
            wasi: sandboxed_wasi(sandbox),
            table,
            http: WasiHttpCtx::new(),
            http_sender: sandbox.http_sender.clone(),
            limits: MeteredLimits::new(
                sandbox.budget.clone(),
                StoreLimitsBuilder::new()
                    .memory_size(limits.memory_bytes as usize)
                    .memories(1)
                    .instances(32)
                    .tables(32)
                    .table_elements(100_000)
                    .build(),
            ),
            sandbox: sandbox.clone(),
            metered: None,
            ota: None,
            declared: Declared::default(),
            watching: None,
            _ticket: ticket,
        }
    }

    pub fn plugin(&self) -> &str {
        &self.sandbox.plugin
    }
}

/// No arguments, no environment, no files, stdin at end of file; sockets
/// only through the network policy; no name lookup.
fn sandboxed_wasi(sandbox: &Sandbox) -> WasiCtx {
    let (plugin, policy, audit) = (
        sandbox.plugin.clone(),
        sandbox.policy.clone(),
        sandbox.audit.clone(),
    );
    let mut builder = WasiCtxBuilder::new();
    if sandbox.under_test.is_some() {
        builder
            .secure_random(StdRng::seed_from_u64(0))
            .insecure_random(StdRng::seed_from_u64(1))
            .insecure_random_seed(2);
    }
    builder
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(false)
        .socket_addr_check(move |addr, use_| {
            let verdict = policy.check(addr, use_);
            let allowing = || policy.rule_allowing(addr, use_);
            audit.access(
                &plugin,
                &format!("{use_:?}"),
                &addr.to_string(),
                verdict,
                allowing,
            );
            Box::pin(async move { verdict == Verdict::Allow })
        })
        .build()
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.http_sender,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
