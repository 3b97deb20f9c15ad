//! From a request to the service that answers it.

use super::outbox::Outbox;
use super::protocol::{self, Request};
use super::server::Caller;
use super::services;
use crate::config::TokenScope;
use crate::error::{ErrorCode, HubError};
use crate::plugins::{Hub, Plugin};
use serde_json::Value as Json;
use std::sync::Arc;

/// Where a request's answers go: the connection's outbox, tagged with its id.
pub struct Responder {
    id: i64,
    outbox: Outbox,
}

impl Responder {
    pub fn new(id: i64, outbox: Outbox) -> Self {
        Responder { id, outbox }
    }

    pub async fn send(&self, result: Result<impl serde::Serialize, HubError>) {
        let frame = match result {
            Ok(result) => protocol::success(self.id, &result),
            Err(error) => protocol::failure(Some(self.id), &error),
        };
        self.outbox.push(frame);
    }
}

pub async fn dispatch(hub: &Arc<Hub>, caller: &Caller, request: Request, out: Responder) {
    if request.service == "discover" {
        return services::discover::run(hub, &request, &out).await;
    }
    let result: Result<Json, HubError> = match request.domain.as_deref() {
        Some("plugin") if caller.scope != TokenScope::Operator => Err(HubError::new(
            ErrorCode::Forbidden,
            format!(
                "{:?} needs an operator token; {} is a user token",
                request.service, caller.name
            ),
        )),
        Some("plugin") => services::plugins::run(hub, caller, &request).await,
        Some(_) => return on_device(hub, &request, &out).await,
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

async fn on_device(hub: &Hub, request: &Request, out: &Responder) {
    let service = request.service.as_str();
    let (plugin, identity) = match target(hub, request) {
        Ok(target) if services::DEVICE_SERVICES.contains(&service) => target,
        Ok(_) => return out.send(Err::<Json, _>(unknown_service(service))).await,
        Err(e) => return out.send(Err::<Json, _>(e)).await,
    };
    match service {
        "get_attributes" => services::get_attributes::run(&plugin, identity, out).await,
        "set_attributes" => {
            out.send(services::set_attributes::run(&plugin, identity, request).await)
                .await
        }
        "check_update" => {
            out.send(services::check_update::run(&plugin, identity).await)
                .await
        }
        "ota" => out.send(services::ota::run(&plugin, identity).await).await,
        _ => out.send(Err::<Json, _>(unknown_service(service))).await,
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
