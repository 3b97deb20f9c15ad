//! `domain: "plugin"`: plugin management for operator tokens. Every change
//! is audited with the token's name and applies without a restart.

use super::unknown_service;
use crate::caps::rules::Scope;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::plugins::Hub;
use crate::store::AuditFilter;
use crate::ws::request::Request;
use crate::ws::responder::Responder;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The services of `domain: "plugin"`, as `hello` lists them to operators.
pub const MANAGEMENT: [&str; 10] = [
    "list", "install", "remove", "enable", "disable", "grants", "approve", "revoke", "audit",
    "verify",
];

/// Entries one `audit` request answers at most: about 2 MiB of JSON, well
/// within what a connection may hold unread; a reader pages with `after`.
const MAX_AUDIT_ENTRIES: u64 = 5_000;

pub struct Manage {
    actor: String,
    service: String,
    data: Map<String, Value>,
}

impl Manage {
    /// Plugin management is for operator tokens only.
    pub fn parse(request: Request, caller: &Caller) -> Result<Self, HubError> {
        caller.operator_only(&request.service)?;
        Ok(Manage {
            actor: caller.name.clone(),
            service: request.service,
            data: request.service_data,
        })
    }

    pub async fn apply(self, hub: &Arc<Hub>, out: &Responder) {
        let done = super::blocking(hub, move |hub| {
            operate(hub, &self.actor, &self.service, &self.data)
        });
        out.send(done.await);
    }
}

fn operate(
    hub: &Hub,
    actor: &str,
    service: &str,
    data: &Map<String, Value>,
) -> Result<Value, HubError> {
    match service {
        "list" => json(hub.list()?),
        "install" => {
            let component = PathBuf::from(text(data, "component")?);
            let manifest = match data.get("manifest") {
                Some(_) => PathBuf::from(text(data, "manifest")?),
                None => component.with_file_name("plugin.toml"),
            };
            let config: BTreeMap<String, String> = match data.get("config") {
                Some(c) => serde_json::from_value(c.clone())
                    .map_err(|e| format_error(format!("config: {e}")))?,
                None => BTreeMap::new(),
            };
            json(hub.install_from_client(actor, &component, &manifest, config)?)
        }
        "remove" => hub
            .remove(actor, text(data, "plugin")?)
            .map(|()| Value::Null),
        "enable" => hub
            .set_enabled(actor, text(data, "plugin")?, true)
            .map(|()| Value::Null),
        "disable" => hub
            .set_enabled(actor, text(data, "plugin")?, false)
            .map(|()| Value::Null),
        "grants" => json(hub.grants(text(data, "plugin")?)?),
        "approve" if data.contains_key("rule") => {
            let narrow = match data.get("net") {
                None => None,
                Some(_) => Some(text(data, "net")?.parse::<Scope>().map_err(format_error)?),
            };
            let (plugin, rule) = (text(data, "plugin")?, text(data, "rule")?);
            if data.get("dry_run") == Some(&Value::Bool(true)) {
                let adds = hub.rule_would_add(plugin, rule, narrow)?;
                return Ok(json!({"adds": adds}));
            }
            json(hub.approve_rule(actor, plugin, rule, narrow)?)
        }
        "approve" => {
            let nets: Vec<Scope> = match data.get("net") {
                None => Vec::new(),
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|e| format_error(format!("net: {e}")))?,
            };
            json(hub.approve(actor, text(data, "plugin")?, &nets)?)
        }
        "revoke" => {
            let rule = data.get("rule").map(|_| text(data, "rule")).transpose()?;
            json(hub.revoke(actor, text(data, "plugin")?, rule)?)
        }
        "audit" => {
            let given = |field: &str| data.get(field).and_then(Value::as_str).map(str::to_string);
            let limit = data.get("limit").and_then(Value::as_u64).unwrap_or(100);
            let filter = AuditFilter {
                plugin: given("plugin"),
                actor: given("actor"),
                action: given("action"),
                since: given("since"),
                until: given("until"),
                after: data.get("after").and_then(Value::as_i64),
                limit: Some(limit.min(MAX_AUDIT_ENTRIES) as usize),
            };
            let entries = hub
                .store()
                .audit(&filter)
                .map_err(|e| HubError::new(ErrorCode::Internal, format!("{e:#}")))?;
            Ok(json!({"entries": entries}))
        }
        "verify" => match hub
            .store()
            .verify()
            .map_err(|e| HubError::new(ErrorCode::Internal, format!("{e:#}")))?
        {
            Ok(entries) => Ok(json!({"intact": true, "entries": entries})),
            Err(broken) => Ok(json!({"intact": false, "seq": broken.seq, "reason": broken.reason})),
        },
        other => Err(unknown_service(other)),
    }
}

pub(super) fn json(value: impl serde::Serialize) -> Result<Value, HubError> {
    serde_json::to_value(value).map_err(|e| HubError::new(ErrorCode::Internal, e.to_string()))
}

fn text<'a>(data: &'a Map<String, Value>, field: &str) -> Result<&'a str, HubError> {
    data.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format_error(format!("service_data.{field} is required (a string)")))
}

fn format_error(message: String) -> HubError {
    HubError::new(ErrorCode::InvalidFormat, message)
}
