//! What a plugin may consume: the hub's defaults (its configuration's
//! `[limits]`), what a manifest asks instead, and what an operator approved.
//! A manifest may always ask for less; more than the default is a request
//! that waits for an operator, like a network rule.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What one plugin may consume. Every field has a default an operator can
/// override in the hub's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel (roughly, WebAssembly instructions) for one call.
    pub fuel_per_call: u64,
    /// Linear memory of one instance, in bytes.
    pub memory_bytes: u64,
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

/// The plugin's budget as a whole, across all its instances (what it may
/// hold at once), and the rates that protect the hub, the network and real
/// actuators from it (what it may spend over time). Over a quota, the
/// operation fails in the plugin and the audit log counts it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    /// Devices the plugin may register.
    pub max_devices: u64,
    /// Instances alive at once: device calls, watchers, discovery, updates.
    pub max_instances: u64,
    /// Linear memory of all its instances together, in bytes.
    pub total_memory_bytes: u64,
    /// Resources (sockets, their streams, timers) one instance may hold.
    pub max_resources: u64,
    /// Fuel that comes back each second for calls without a per-call budget
    /// (event watchers, firmware updates), shared by all of them.
    pub watch_fuel_per_second: u64,
    pub connections_per_second: u64,
    pub datagrams_per_second: u64,
    pub events_per_second: u64,
    pub event_bytes_per_second: u64,
    pub log_lines_per_second: u64,
    pub log_bytes_per_second: u64,
    /// set_attributes requests per device per second.
    pub writes_per_second: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            max_devices: 64,
            max_instances: 160,
            total_memory_bytes: 256 << 20,
            max_resources: 256,
            watch_fuel_per_second: 50_000_000,
            connections_per_second: 50,
            datagrams_per_second: 200,
            events_per_second: 200,
            event_bytes_per_second: 64 << 10,
            log_lines_per_second: 20,
            log_bytes_per_second: 8 << 10,
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

/// A limit a manifest may ask to change, named as in its `[limits]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    FuelPerCall,
    MemoryBytes,
    TotalMemoryBytes,
    MaxDevices,
    MaxInstances,
    MaxResources,
    WatchFuelPerSecond,
    ConnectionsPerSecond,
    DatagramsPerSecond,
    EventsPerSecond,
    EventBytesPerSecond,
    LogLinesPerSecond,
    LogBytesPerSecond,
}

/// Limits by name, as a manifest asks for them or an operator approved them.
pub type LimitRequest = BTreeMap<Limit, u64>;

/// The most memory one instance can ever have: the instance pool reserves this much.
pub const MAX_INSTANCE_MEMORY: u64 = 256 << 20;

impl Limit {
    fn of(self, limits: &mut Limits) -> &mut u64 {
        let q = &mut limits.quotas;
        match self {
            Limit::FuelPerCall => &mut limits.fuel_per_call,
            Limit::MemoryBytes => &mut limits.memory_bytes,
            Limit::TotalMemoryBytes => &mut q.total_memory_bytes,
            Limit::MaxDevices => &mut q.max_devices,
            Limit::MaxInstances => &mut q.max_instances,
            Limit::MaxResources => &mut q.max_resources,
            Limit::WatchFuelPerSecond => &mut q.watch_fuel_per_second,
            Limit::ConnectionsPerSecond => &mut q.connections_per_second,
            Limit::DatagramsPerSecond => &mut q.datagrams_per_second,
            Limit::EventsPerSecond => &mut q.events_per_second,
            Limit::EventBytesPerSecond => &mut q.event_bytes_per_second,
            Limit::LogLinesPerSecond => &mut q.log_lines_per_second,
            Limit::LogBytesPerSecond => &mut q.log_bytes_per_second,
        }
    }

    /// The most any operator of this hub can approve.
    fn ceiling(self) -> u64 {
        match self {
            Limit::MemoryBytes => MAX_INSTANCE_MEMORY,
            // The instance pool holds 4000 for all plugins together.
            Limit::MaxInstances => 2000,
            // Beyond this one call could hold a core for minutes.
            Limit::FuelPerCall => 100_000_000_000,
            _ => u64::MAX,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The name serde reads in `[limits]`, so both always agree.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => write!(f, "{self:?}"),
        }
    }
}

impl Limits {
    /// The limits one plugin runs with: these defaults, lowered where its
    /// manifest asks for less, raised only as far as an operator approved.
    pub fn for_plugin(&self, asked: &LimitRequest, approved: &LimitRequest) -> Limits {
        let mut limits = self.clone();
        for (&limit, &want) in asked {
            let default = *limit.of(&mut limits);
            let allowed = approved.get(&limit).map_or(default, |&a| a.max(default));
            *limit.of(&mut limits) = want.min(allowed);
        }
        limits
    }

    /// What `asked` wants above these defaults: the part an operator must approve.
    pub fn above(&self, asked: &LimitRequest) -> LimitRequest {
        let mut defaults = self.clone();
        asked
            .iter()
            .filter(|&(&limit, &want)| want > *limit.of(&mut defaults))
            .map(|(&limit, &want)| (limit, want))
            .collect()
    }

    /// Refuses a request beyond what this hub could ever grant.
    pub fn check_ceiling(asked: &LimitRequest) -> Result<(), String> {
        match asked.iter().find(|&(&limit, &want)| want > limit.ceiling()) {
            Some((limit, want)) => Err(format!(
                "[limits] {limit} = {want} is more than this hub allows any plugin ({})",
                limit.ceiling()
            )),
            None => Ok(()),
        }
    }
}

/// Durations written in milliseconds (`*_ms`) in the hub's configuration.
pub(crate) mod millis {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(Limit, u64)]) -> LimitRequest {
        pairs.iter().copied().collect()
    }

    #[test]
    fn a_manifest_cannot_raise_its_own_limits() {
        let defaults = Limits::default();
        let asked = request(&[(Limit::MemoryBytes, 256 << 20), (Limit::MaxDevices, 1000)]);
        let limits = defaults.for_plugin(&asked, &LimitRequest::new());
        assert_eq!(limits.memory_bytes, defaults.memory_bytes);
        assert_eq!(limits.quotas.max_devices, defaults.quotas.max_devices);
        assert_eq!(defaults.above(&asked), asked, "both wait for an operator");
    }

    #[test]
    fn approval_raises_a_limit_up_to_what_is_asked() {
        let defaults = Limits::default();
        let asked = request(&[(Limit::MaxDevices, 500)]);
        let approved = request(&[(Limit::MaxDevices, 1000)]);
        let limits = defaults.for_plugin(&asked, &approved);
        assert_eq!(limits.quotas.max_devices, 500, "never more than asked");
    }

    #[test]
    fn asking_for_less_needs_no_approval() {
        let defaults = Limits::default();
        let asked = request(&[(Limit::MemoryBytes, 4 << 20)]);
        assert!(defaults.above(&asked).is_empty());
        let limits = defaults.for_plugin(&asked, &LimitRequest::new());
        assert_eq!(limits.memory_bytes, 4 << 20);
    }

    #[test]
    fn requests_beyond_the_hubs_ceiling_are_refused() {
        let asked = request(&[(Limit::MemoryBytes, 1 << 30)]);
        let refused = Limits::check_ceiling(&asked).unwrap_err();
        assert!(refused.contains("memory_bytes"), "{refused}");
        assert!(Limits::check_ceiling(&request(&[(Limit::MaxDevices, 10_000)])).is_ok());
    }

    #[test]
    fn limit_names_read_as_in_the_manifest() {
        assert_eq!(Limit::TotalMemoryBytes.to_string(), "total_memory_bytes");
        let parsed: LimitRequest = toml::from_str("max_devices = 5\nmemory_bytes = 7").unwrap();
        assert_eq!(
            parsed,
            request(&[(Limit::MaxDevices, 5), (Limit::MemoryBytes, 7)])
        );
        let unknown = toml::from_str::<LimitRequest>("max_everything = 5").unwrap_err();
        assert!(unknown.to_string().contains("max_devices"), "{unknown}");
    }
}
