//! What the front door's clients asked and were sent, counted where it
//! happens with relaxed atomics, and rendered for `/metrics`.

use std::fmt::Write;
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

    /// The WebSocket side, for `/metrics`: connections, requests and their latency, events.
    pub fn render(&self, out: &mut String, connections: usize) {
        let read = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let gauge = [(
            "hub_websocket_connections",
            "Connections open on the listening port.",
            connections as u64,
        )];
        let by_bucket: Vec<u64> = self.latency.iter().map(read).collect();
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
                read(&self.events_delivered),
            ),
            (
                "hub_events_dropped_total",
                "Events connections missed because they fell too far behind (and were cut off).",
                read(&self.events_dropped),
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
        let sum = read(&self.latency_micros) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {requests}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {requests}");
    }
}

/// A metric family's Prometheus header.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
