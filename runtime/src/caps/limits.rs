use serde::Deserialize;
use std::time::Duration;

/// What one plugin may consume. Every field has a default an operator can
/// override per plugin in the hub's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel (roughly, WebAssembly instructions) for one call.
    pub fuel_per_call: u64,
    /// Linear memory of one instance, in bytes.
    pub memory_bytes: usize,
    /// Bytes the plugin may hand the hub in one host call.
    pub hostcall_bytes: usize,
    /// The largest HTTP response body a plugin may receive.
    pub http_response_bytes: usize,
    /// get_attributes, set_attributes and check_update.
    #[serde(rename = "call_deadline_ms", with = "millis")]
    pub call_deadline: Duration,
    #[serde(rename = "discover_deadline_ms", with = "millis")]
    pub discover_deadline: Duration,
    /// How long the plugin listens for discovery answers.
    #[serde(rename = "discover_window_ms", with = "millis")]
    pub discover_window: Duration,
    #[serde(rename = "ota_deadline_ms", with = "millis")]
    pub ota_deadline: Duration,
    pub quotas: Quotas,
}

/// Rates and counts that protect the hub, the network and real actuators
/// from a runaway plugin. Over a quota, the operation fails in the plugin
/// and the audit log counts it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    /// Resources (sockets, their streams, timers) one instance may hold.
    pub max_resources: usize,
    pub connections_per_second: u32,
    pub datagrams_per_second: u32,
    pub events_per_second: u32,
    /// set_attributes requests per device per second.
    pub writes_per_second: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            max_resources: 256,
            connections_per_second: 50,
            datagrams_per_second: 200,
            events_per_second: 200,
            writes_per_second: 5,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_call: 2_000_000_000,
            memory_bytes: 32 << 20,
            hostcall_bytes: 1 << 20,
            http_response_bytes: 1 << 20,
            call_deadline: Duration::from_secs(10),
            discover_deadline: Duration::from_secs(30),
            discover_window: Duration::from_secs(2),
            ota_deadline: Duration::from_secs(600),
            quotas: Quotas::default(),
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
