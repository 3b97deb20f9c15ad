//! `/metrics`, in Prometheus' text format, for operator tokens (sent as a
//! bearer token, the seed's header or `?token=`): each running plugin's
//! devices, instances, memory, state, crashes, fuel, device calls and
//! their errors by code, refused uses and quota hits; the hub's open
//! connections, requests and their latency, events delivered and dropped.

use crate::gate::traffic::{Traffic, family};
use crate::plugins::Totals;
use crate::plugins::{BudgetUse, Hub, Plugin, State};
use std::fmt::Write;
use std::sync::Arc;

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
pub fn render(hub: &Hub, traffic: &Traffic, connections: usize) -> String {
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
    traffic.render(&mut out, connections);
    out
}
