//! One device's state and its RPC methods, independent of the transport.

use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub const MODEL: &str = "SNSW-001P16EU";
pub const APP: &str = "Plus1PM";
pub const VERSION: &str = "1.4.4";

/// An RPC error as the device reports it: `{"code": ..., "message": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    fn invalid(message: impl Into<String>) -> Self {
        RpcError {
            code: -103,
            message: message.into(),
        }
    }
}

#[derive(Debug)]
struct State {
    output: bool,
    /// Watts drawn while on.
    load: f64,
    energy_wh: f64,
    version: String,
    offered: Option<String>,
}

pub struct ShellyDevice {
    id: String,
    mac: String,
    addr: SocketAddr,
    state: Mutex<State>,
}

impl ShellyDevice {
    pub(super) fn new(index: usize, addr: SocketAddr) -> Self {
        let mac = format!("A8032A{:06X}", 0x1000 + index);
        ShellyDevice {
            id: format!("shellyplus1pm-{}", mac.to_lowercase()),
            mac,
            addr,
            state: Mutex::new(State {
                output: false,
                load: 60.0,
                energy_wh: 0.0,
                version: VERSION.into(),
                offered: None,
            }),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn output(&self) -> bool {
        self.state().output
    }

    /// Makes `version` the stable firmware `Shelly.CheckForUpdate` offers.
    pub fn offer_update(&self, version: &str) {
        self.state().offered = Some(version.to_string());
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `GET /shelly`: identification, without authentication.
    pub fn identify(&self) -> Value {
        let version = self.state().version.clone();
        json!({
            "id": self.id, "mac": self.mac, "model": MODEL, "gen": 2,
            "fw_id": format!("20240101-000000/{version}-g0000000"), "ver": version,
            "app": APP, "auth_en": false, "auth_domain": null,
        })
    }

    /// Runs one RPC method with its parameters.
    pub fn call(&self, method: &str, params: &Map<String, Value>) -> Result<Value, RpcError> {
        match method {
            "Shelly.GetDeviceInfo" => Ok(self.identify()),
            "Shelly.GetStatus" => Ok(self.status()),
            "Shelly.GetConfig" => Ok(
                json!({"switch:0": {"id": 0, "name": null, "initial_state": "restore_last"}, "sys": {"device": {"name": null, "mac": self.mac}}}),
            ),
            "Switch.GetStatus" => {
                switch_id(params)?;
                Ok(self.switch_status())
            }
            "Switch.Set" => {
                switch_id(params)?;
                let on = params
                    .get("on")
                    .and_then(as_bool)
                    .ok_or_else(|| RpcError::invalid("on is required (true or false)"))?;
                let mut state = self.state();
                let was_on = state.output;
                state.output = on;
                Ok(json!({"was_on": was_on}))
            }
            "Shelly.CheckForUpdate" => Ok(match &self.state().offered {
                Some(version) => {
                    json!({"stable": {"version": version, "build_id": format!("20250101-000000/{version}-g1111111")}})
                }
                None => json!({}),
            }),
            _ => Err(RpcError {
                code: -114,
                message: format!("Method {method} failed: No handler for {method}"),
            }),
        }
    }

    fn switch_status(&self) -> Value {
        let state = self.state();
        let power = if state.output { state.load } else { 0.0 };
        json!({
            "id": 0, "source": "http", "output": state.output, "apower": power,
            "voltage": 230.1, "current": power / 230.1, "aenergy": {"total": state.energy_wh},
            "temperature": {"tC": 41.2},
        })
    }

    fn status(&self) -> Value {
        let updates = match &self.state().offered {
            Some(version) => json!({"stable": {"version": version}}),
            None => json!({}),
        };
        let unixtime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        json!({
            "switch:0": self.switch_status(),
            "sys": {"mac": self.mac, "restart_required": false, "unixtime": unixtime, "available_updates": updates},
        })
    }
}

fn switch_id(params: &Map<String, Value>) -> Result<(), RpcError> {
    match params
        .get("id")
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
    {
        Some(0) => Ok(()),
        Some(other) => Err(RpcError::invalid(format!(
            "Argument 'id', value {other} not found!"
        ))),
        None => Err(RpcError::invalid("Missing required argument 'id'!")),
    }
}

/// Query parameters arrive as strings (`on=true`), JSON-RPC ones as booleans.
fn as_bool(v: &Value) -> Option<bool> {
    v.as_bool().or_else(|| match v.as_str()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })
}
