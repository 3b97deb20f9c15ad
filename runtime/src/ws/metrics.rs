//! `/metrics`, in Prometheus' text format, for operator tokens (sent as a
//! bearer token, the seed's header or `?token=`): each running plugin's
//! devices, instances, memory, state, crashes, device calls and their
//! errors by code, and the hub's open connections.

use crate::plugins::{Hub, Plugin, State};
use std::fmt::Write;
use std::sync::Arc;

/// The metrics as Prometheus reads them.
pub fn render(hub: &Hub, connections: usize) -> String {
    let plugins = hub.plugins();
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Plugin) -> u64| {
        family(out, name, "gauge", help);
        for plugin in &plugins {
            let _ = writeln!(
                out,
                "{name}{{plugin=\"{}\"}} {}",
                plugin.id(),
                value(plugin)
            );
        }
    };
    gauge(
        &mut out,
        "hub_plugin_devices",
        "Devices the plugin reported.",
        &|p| p.budget_use().devices,
    );
    gauge(
        &mut out,
        "hub_plugin_instances",
        "Instances of the plugin alive now.",
        &|p| p.budget_use().instances,
    );
    gauge(
        &mut out,
        "hub_plugin_memory_bytes",
        "Linear memory of all the plugin's instances.",
        &|p| p.budget_use().memory_bytes,
    );
    gauge(
        &mut out,
        "hub_plugin_up",
        "1 while the plugin runs, 0 while it restarts or failed.",
        &|p| u64::from(p.status().state == State::Running),
    );
    family(
        &mut out,
        "hub_plugin_crashes_total",
        "counter",
        "Traps, fuel or memory exhaustion and timeouts of the plugin since it was loaded.",
    );
    for plugin in &plugins {
        let _ = writeln!(
            out,
            "hub_plugin_crashes_total{{plugin=\"{}\"}} {}",
            plugin.id(),
            plugin.status().crashes
        );
    }
    device_calls(&mut out, &plugins);
    family(
        &mut out,
        "hub_websocket_connections",
        "gauge",
        "Connections open on the listening port.",
    );
    let _ = writeln!(out, "hub_websocket_connections {connections}");
    out
}

fn device_calls(out: &mut String, plugins: &[Arc<Plugin>]) {
    family(
        out,
        "hub_plugin_calls_total",
        "counter",
        "Device calls (get, set, check_update) since the plugin was loaded.",
    );
    for plugin in plugins {
        let _ = writeln!(
            out,
            "hub_plugin_calls_total{{plugin=\"{}\"}} {}",
            plugin.id(),
            plugin.counters().calls()
        );
    }
    family(
        out,
        "hub_plugin_errors_total",
        "counter",
        "Device calls that failed, by error code.",
    );
    for plugin in plugins {
        for (code, n) in plugin.counters().errors() {
            let _ = writeln!(
                out,
                "hub_plugin_errors_total{{plugin=\"{}\",code=\"{}\"}} {n}",
                plugin.id(),
                code.as_str()
            );
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
