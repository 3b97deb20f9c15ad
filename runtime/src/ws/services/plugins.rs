//! `domain: "plugin"`: the hub's own view of its plugins.

use crate::error::HubError;
use crate::plugins::Hub;
use crate::ws::protocol::Request;
use crate::ws::router::unknown_service;
use serde_json::{Value, json};

pub fn run(hub: &Hub, request: &Request) -> Result<Value, HubError> {
    match request.service.as_str() {
        "list" => Ok(list(hub)),
        other => Err(unknown_service(other)),
    }
}

/// Each plugin's health (running, restarting, failed), devices and network grant.
fn list(hub: &Hub) -> Value {
    let plugins: Vec<Value> = hub
        .plugins()
        .map(|p| {
            json!({
                "id": &*p.id,
                "status": p.status(),
                "devices": p.device_count(),
                "allow": p.policy().allowed().iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"plugins": plugins})
}
