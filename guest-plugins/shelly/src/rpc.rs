//! The device's RPC: `GET /shelly`, `GET /rpc/<Method>?query`, and the
//! WebSocket at `/rpc`.

use hub_guest_sdk::PluginError;
use hub_guest_sdk::net::{self, WebSocket};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// What `GET /shelly` tells.
pub struct Identity {
    pub id: String,
    pub app: String,
    pub version: String,
}

pub struct Rpc {
    pub peer: SocketAddr,
    timeout: Duration,
}

impl Rpc {
    pub fn new(peer: SocketAddr, timeout: Duration) -> Self {
        Rpc { peer, timeout }
    }

    /// `GET /shelly`; `NotFound` when the peer answers but is no Gen2 Shelly.
    pub fn identify(&self) -> Result<Identity, PluginError> {
        let info = self.get("/shelly")?;
        let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_string);
        match (info.get("gen").and_then(Value::as_u64), text("id")) {
            (Some(generation), Some(id)) if generation >= 2 => Ok(Identity {
                id,
                app: text("app").unwrap_or_default(),
                version: text("ver").unwrap_or_default(),
            }),
            _ => Err(PluginError::NotFound(format!(
                "{} is not a Shelly Gen2 device",
                self.peer
            ))),
        }
    }

    /// `method` with URL-encoded `query` (e.g. `id=0&on=true`).
    pub fn call(&self, method: &str, query: &str) -> Result<Value, PluginError> {
        self.get(&format!("/rpc/{method}?{query}"))
            .map_err(|e| e.context(method))
    }

    /// The offered stable firmware as `(version, build_id)`.
    pub fn stable_update(&self) -> Result<Option<(String, String)>, PluginError> {
        let offer = self.call("Shelly.CheckForUpdate", "")?;
        let stable = &offer["stable"];
        Ok(stable["version"].as_str().map(|version| {
            let build = stable["build_id"].as_str().unwrap_or_default();
            (version.to_string(), build.to_string())
        }))
    }

    /// A WebSocket on which the device pushes `NotifyStatus` and
    /// `NotifyEvent`: it starts once a request names this client as `src`.
    pub fn notifications(&self, identity: &str) -> Result<WebSocket, PluginError> {
        let mut ws = WebSocket::connect(self.peer, "/rpc", self.timeout)?;
        let hello =
            json!({"id": 1, "src": format!("hub-{identity}"), "method": "Shelly.GetDeviceInfo"});
        ws.send_text(&hello.to_string())?;
        Ok(ws)
    }

    fn get(&self, target: &str) -> Result<Value, PluginError> {
        let response = net::http::get(self.peer, target, self.timeout)?;
        let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
            PluginError::InvalidArgument(format!(
                "{} answered {target} with bad JSON: {e}",
                self.peer
            ))
        })?;
        match response.status {
            200 => Ok(body),
            status => Err(device_error(status, &body)),
        }
    }
}

/// A request frame for the device's WebSocket, from this hub's client for
/// `identity` (the device pushes its notifications to that `src`).
pub fn ws_request(identity: &str, id: u64, method: &str, params: Value) -> String {
    json!({"id": id, "src": format!("hub-{identity}"), "method": method, "params": params})
        .to_string()
}

/// The device's `{"code", "message"}` as a plugin error.
fn device_error(status: u16, body: &Value) -> PluginError {
    let message = body["message"].as_str().unwrap_or("no message").to_string();
    let code = body["code"].as_i64().unwrap_or_default();
    let text = format!("the device answered {status} (code {code}): {message}");
    match code {
        -103 | -105 => PluginError::InvalidArgument(text),
        -114 | 404 => PluginError::Unsupported(text),
        _ => PluginError::Internal(text),
    }
}
