//! From a request to the service that answers it.

use super::protocol::{self, Request};
use super::server::Caller;
use super::services;
use crate::config::Scope;
use crate::error::{ErrorCode, HubError};
use crate::plugins::{Hub, Plugin};
use serde_json::Value as Json;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where a request's answers go: the connection's outbox, tagged with its id.
pub struct Responder {
    id: i64,
    outbox: mpsc::Sender<String>,
}

impl Responder {
    pub fn new(id: i64, outbox: mpsc::Sender<String>) -> Self {
        Responder { id, outbox }
    }

    pub async fn send(&self, result: Result<Json, HubError>) {
        let frame = match result {
            Ok(result) => protocol::success(self.id, result),
            Err(error) => protocol::failure(Some(self.id), &error),
        };
        // A closed outbox means the client went away: nobody is left to answer.
        let _ = self.outbox.send(frame).await;
    }
}

pub async fn dispatch(hub: &Arc<Hub>, caller: &Caller, request: Request, out: Responder) {
    if request.service == "discover" {
        return services::discover::run(hub, &request, &out).await;
    }
    let result = match request.domain.as_deref() {
        Some("plugin") if caller.scope != Scope::Operator => Err(HubError::new(
            ErrorCode::Forbidden,
            format!(
                "{:?} needs an operator token; {} is a user token",
                request.service, caller.name
            ),
        )),
        Some("plugin") => services::plugins::run(hub, caller, &request).await,
        Some(_) => on_device(hub, &request).await,
        None => Err(HubError::new(
            ErrorCode::InvalidFormat,
            format!(
                "\"domain\" is required for {:?}: a plugin id, or \"plugin\"",
                request.service
            ),
        )),
    };
    out.send(result).await;
}

async fn on_device(hub: &Hub, request: &Request) -> Result<Json, HubError> {
    let service = request.service.as_str();
    if !services::DEVICE_SERVICES.contains(&service) {
        return Err(unknown_service(service));
    }
    let (plugin, identity) = target(hub, request)?;
    match service {
        "get_attributes" => services::get_attributes::run(&plugin, identity).await,
        "set_attributes" => services::set_attributes::run(&plugin, identity, request).await,
        "check_update" => services::check_update::run(&plugin, identity).await,
        "ota" => services::ota::run(&plugin, identity).await,
        _ => Err(unknown_service(service)),
    }
}

fn target<'a>(hub: &Hub, request: &'a Request) -> Result<(Arc<Plugin>, &'a str), HubError> {
    let plugin = hub.plugin(request.domain.as_deref().unwrap_or_default())?;
    let identity = request
        .identity
        .as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            HubError::new(
                ErrorCode::InvalidFormat,
                format!("\"identity\" is required for {}", request.service),
            )
        })?;
    Ok((plugin, identity))
}

pub fn unknown_service(service: &str) -> HubError {
    HubError::new(
        ErrorCode::UnknownService,
        format!("no service {service:?} here"),
    )
}
