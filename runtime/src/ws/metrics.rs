//! `/metrics`, in Prometheus' text format, for operator tokens (sent as a
//! bearer token, the seed's header or `?token=`): each running plugin's
//! devices, instances, memory, state, crashes, fuel, device calls and
//! their errors by code, refused uses and quota hits; the hub's open
//! connections, requests and their latency, events delivered and dropped.

use crate::audit::Totals;
use crate::plugins::{BudgetUse, Hub, Plugin, State};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request latency buckets, in seconds: from a
/// cached answer to an OTA's ten minutes.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
    60.0, 600.0,
];

/// What the hub's WebSocket clients asked and were sent, counted with
/// relaxed atomics where it happens.
#[derive(Default)]
pub struct Traffic {
    /// Requests by the first bucket their time fits in; the last, beyond
    /// all. Their sum is the count of requests: one source for both.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_micros: AtomicU64,
    events_delivered: AtomicU64,
    events_dropped: AtomicU64,
}

impl Traffic {
    /// A service request answered in `took`.
    pub fn answered(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&b| seconds <= b);
        self.latency[bucket.unwrap_or(BUCKETS.len())].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn delivered(&self, events: u64) {
        self.events_delivered.fetch_add(events, Ordering::Relaxed);
    }

    /// Events a connection missed: it fell behind the bus and was cut off.
    pub fn dropped(&self, events: u64) {
        self.events_dropped.fetch_add(events, Ordering::Relaxed);
    }
}

/// One running plugin's figures, read once.
struct Sample {
    plugin: Arc<Plugin>,
    budget: BudgetUse,
    up: bool,
    crashes: u64,
    totals: Totals,
}

/// One figure of every running plugin.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&Sample) -> u64,
}

const FAMILIES: [Family; 8] = [
    Family {
        name: "hub_plugin_devices",
        kind: "gauge",
        help: "Devices the plugin reported.",
        value: |s| s.budget.devices,
    },
    Family {
        name: "hub_plugin_instances",
        kind: "gauge",
        help: "Instances of the plugin alive now.",
        value: |s| s.budget.instances,
    },
    Family {
        name: "hub_plugin_memory_bytes",
        kind: "gauge",
        help: "Linear memory of all the plugin's instances.",
        value: |s| s.budget.memory_bytes,
    },
    Family {
        name: "hub_plugin_up",
        kind: "gauge",
        help: "1 while the plugin runs, 0 while it restarts or failed.",
        value: |s| u64::from(s.up),
    },
    Family {
        name: "hub_plugin_crashes_total",
        kind: "counter",
        help: "Traps, fuel or memory exhaustion and timeouts since the plugin was loaded.",
        value: |s| s.crashes,
    },
    Family {
        name: "hub_plugin_calls_total",
        kind: "counter",
        help: "Device calls (get, set, check_update) since the plugin was loaded.",
        value: |s| s.plugin.counters().calls(),
    },
    Family {
        name: "hub_plugin_fuel_total",
        kind: "counter",
        help: "Fuel (WebAssembly instructions, roughly) the plugin's instances burnt since it was loaded.",
        value: |s| s.plugin.fuel_spent(),
    },
    Family {
        name: "hub_plugin_refused_total",
        kind: "counter",
        help: "Network and HTTP uses the plugin's grant refused since the hub started.",
        value: |s| s.totals.refused,
    },
];

/// The metrics as Prometheus reads them.
pub fn render(hub: &Hub, connections: usize) -> String {
    let samples: Vec<Sample> = hub
        .plugins()
        .into_iter()
        .map(|plugin| {
            let status = plugin.status();
            Sample {
                budget: plugin.budget_use(),
                up: status.state == State::Running,
                crashes: status.crashes,
                totals: hub.audit().totals_of(plugin.id()),
                plugin,
            }
        })
        .collect();
    let mut out = String::new();
    for Family {
        name,
        kind,
        help,
        value,
    } in FAMILIES
    {
        family(&mut out, name, kind, help);
        for sample in &samples {
            let _ = writeln!(
                out,
                "{name}{{plugin=\"{}\"}} {}",
                sample.plugin.id(),
                value(sample)
            );
        }
    }
    family(
        &mut out,
        "hub_plugin_errors_total",
        "counter",
        "Device calls that failed, by error code.",
    );
    for sample in &samples {
        for (code, n) in sample.plugin.counters().errors() {
            let (plugin, code) = (sample.plugin.id(), code.as_str());
            let _ = writeln!(
                out,
                "hub_plugin_errors_total{{plugin=\"{plugin}\",code=\"{code}\"}} {n}"
            );
        }
    }
    family(
        &mut out,
        "hub_plugin_quota_hits_total",
        "counter",
        "Operations a quota stopped, by quota, since the hub started.",
    );
    for sample in &samples {
        for (quota, n) in &sample.totals.quota_hits {
            let plugin = sample.plugin.id();
            let _ = writeln!(
                out,
                "hub_plugin_quota_hits_total{{plugin=\"{plugin}\",quota=\"{quota}\"}} {n}"
            );
        }
    }
    traffic(&mut out, hub.traffic(), connections);
    out
}

/// The WebSocket side: connections, requests and their latency, events.
pub(super) fn traffic(out: &mut String, traffic: &Traffic, connections: usize) {
    let read = |n: &AtomicU64| n.load(Ordering::Relaxed);
    let gauge = [(
        "hub_websocket_connections",
        "Connections open on the listening port.",
        connections as u64,
    )];
    let by_bucket: Vec<u64> = traffic.latency.iter().map(read).collect();
    let requests = by_bucket.iter().sum::<u64>();
    let counters = [
        (
            "hub_websocket_requests_total",
            "Service requests answered.",
            requests,
        ),
        (
            "hub_events_delivered_total",
            "Event frames written to connections.",
            read(&traffic.events_delivered),
        ),
        (
            "hub_events_dropped_total",
            "Events connections missed because they fell too far behind (and were cut off).",
            read(&traffic.events_dropped),
        ),
    ];
    for (kind, figures) in [("gauge", &gauge[..]), ("counter", &counters[..])] {
        for (name, help, value) in figures {
            family(out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
    let name = "hub_websocket_request_seconds";
    family(
        out,
        name,
        "histogram",
        "Time from a service request to its (last) answer.",
    );
    let mut cumulative = 0;
    for (bound, count) in BUCKETS.iter().zip(&by_bucket) {
        cumulative += count;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let sum = read(&traffic.latency_micros) as f64 / 1e6;
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {requests}");
    let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {requests}");
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
