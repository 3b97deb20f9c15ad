//! What one connection remembers between its requests: the API version its
//! client speaks, its subscriptions, and the ids of its requests still
//! running. The requests about the connection itself (`hello`, `ping`,
//! `subscribe`, `unsubscribe`) are answered here, at once, in the order
//! they came: a `hello` changes how every later answer is written.

use super::render::{self, Api};
use super::request::Request;
use super::services;
use crate::config::TokenScope;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::plugins::{Event, Hub, MAX_NAME, Version};
use crate::sync::MutexHeld;
use serde_json::{Value as Json, json};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// Identities all of a connection's subscriptions may name together (of
/// 256 bytes at most: 64 KiB a connection; more devices are followed by
/// plugin, with `domain`).
pub const MAX_IDENTITIES: usize = 256;

/// The events a client may subscribe to, by their `type`.
pub const EVENT_TYPES: [&str; 5] = [
    "attribute_change",
    "ota_progress",
    "device_availability",
    "capability_refused",
    "quota_hit",
];
/// Of those, the ones for operators, sent only to a subscription that names them.
pub const OPERATOR_EVENTS: [&str; 2] = ["capability_refused", "quota_hit"];

/// The requests answered by the connection itself.
pub const SESSION_SERVICES: [&str; 4] = ["hello", "ping", "subscribe", "unsubscribe"];

pub struct Session {
    pub caller: Caller,
    pub api: Api,
    /// `None` until the first `subscribe`: a client that never subscribes
    /// receives every event it may see, as the seed's clients expect.
    subscriptions: Option<Vec<Subscription>>,
    next_subscription: u64,
    pub in_flight: InFlight,
}

impl Session {
    pub fn new(caller: Caller) -> Self {
        Session {
            caller,
            api: Api::default(),
            subscriptions: None,
            next_subscription: 1,
            in_flight: InFlight::default(),
        }
    }

    /// The answer to `request` when it is about the connection itself.
    pub fn answer(&mut self, request: &Request) -> Option<String> {
        let result = match request.service.as_str() {
            "hello" => self.hello(request),
            "ping" => Ok(json!("pong")),
            "auth" => Err(HubError::invalid(format!(
                "this connection is signed in as {} already; open another to sign in as someone else",
                self.caller.name
            ))),
            "subscribe" => self.subscribe(request),
            "unsubscribe" => self.unsubscribe(request),
            _ => return None,
        };
        Some(match result {
            Ok(result) => render::success(request.id, &result),
            Err(error) => render::failure(Some(request.id), &error),
        })
    }

    /// Says what the hub is and speaks; with `api`, switches this
    /// connection to that version of the API.
    fn hello(&mut self, request: &Request) -> Result<Json, HubError> {
        if let Some(asked) = request.service_data.get("api") {
            self.api = asked.as_u64().and_then(Api::from_number).ok_or_else(|| {
                let known: Vec<String> = Api::ALL.iter().map(|a| a.number().to_string()).collect();
                HubError::invalid(format!(
                    "service_data.api {asked}: this hub speaks API {}",
                    known.join(" and ")
                ))
            })?;
        }
        let (for_operators, management, market, hub) = match self.caller.scope {
            TokenScope::Operator => (
                &services::OPERATOR_SERVICES[..],
                &services::MANAGEMENT[..],
                &services::MARKET_SERVICES[..],
                &services::HUB_SERVICES[..],
            ),
            TokenScope::User => (&[][..], &[][..], &[][..], &[][..]),
        };
        let management: Vec<&str> = management.iter().chain(market).copied().collect();
        let services: Vec<&str> = SESSION_SERVICES
            .iter()
            .chain(&services::SERVICES)
            .chain(for_operators)
            .copied()
            .collect();
        Ok(json!({
            "hub_version": env!("CARGO_PKG_VERSION"),
            "api": self.api.number(),
            "api_versions": Api::ALL.map(Api::number),
            "wit_versions": Version::RELEASED.map(Version::number),
            "services": services,
            "plugin_services": management,
            "hub_services": hub,
            "events": EVENT_TYPES,
            "caller": self.caller.summary(),
        }))
    }

    fn subscribe(&mut self, request: &Request) -> Result<Json, HubError> {
        if self.subscriptions.as_ref().map_or(0, Vec::len) >= MAX_SUBSCRIPTIONS {
            return Err(HubError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "a connection may hold {MAX_SUBSCRIPTIONS} subscriptions; unsubscribe first"
                ),
            ));
        }
        let id = self.next_subscription;
        let subscription = Subscription::parse(id, request)?;
        if let Some(wanted) = &subscription.events
            && let Some(kind) = OPERATOR_EVENTS.iter().find(|e| wanted.contains(*e))
        {
            self.caller.operator_only(&format!("{kind} events"))?;
        }
        let named = |s: &Subscription| s.identities.as_ref().map_or(0, HashSet::len);
        let held = self
            .subscriptions
            .iter()
            .flatten()
            .map(named)
            .sum::<usize>();
        if held + named(&subscription) > MAX_IDENTITIES {
            return Err(HubError::new(
                ErrorCode::QuotaExceeded,
                format!("a connection's subscriptions may name {MAX_IDENTITIES} identities in all"),
            ));
        }
        self.next_subscription += 1;
        let held = self.subscriptions.get_or_insert_with(Vec::new);
        held.push(subscription);
        Ok(json!({"subscription": id}))
    }

    fn unsubscribe(&mut self, request: &Request) -> Result<Json, HubError> {
        let id = request.service_data.get("subscription");
        let Some(id) = id.and_then(Json::as_u64) else {
            return Err(HubError::invalid(
                "service_data.subscription is required: the id subscribe answered",
            ));
        };
        let removed = self.subscriptions.as_mut().and_then(|held| {
            let at = held.iter().position(|s| s.id == id)?;
            Some(held.remove(at))
        });
        if removed.is_none() {
            return Err(HubError::new(
                ErrorCode::NotFound,
                format!("no subscription {id} on this connection"),
            ));
        }
        Ok(Json::Null)
    }

    /// The frame `event` becomes on this connection, if any: none for a
    /// device out of the caller's reach, nor, once it subscribed, for an
    /// event no subscription asks for (operators' events only then); one otherwise, naming the
    /// subscriptions it answers (however many, the event goes out once).
    pub fn frame(&self, event: &Event, hub: &Hub) -> Option<String> {
        // Operators' events go only to a subscription that names them.
        if event.for_operators() && self.subscriptions.is_none() {
            return None;
        }
        let reach = &self.caller.reach;
        if !services::reaches(hub, reach, &event.plugin, event.identity()) {
            return None;
        }
        let api = self.api;
        let rendered = event.rendered(api.number() as usize, |e| render::event(e, api));
        let Some(subscriptions) = &self.subscriptions else {
            return Some(rendered.to_string());
        };
        let answered: Vec<String> = subscriptions
            .iter()
            .filter(|s| s.wants(event))
            .map(|s| s.id.to_string())
            .collect();
        if answered.is_empty() {
            return None;
        }
        // The rendering is a JSON object: the list goes in as its first field.
        let rest = &rendered[1..];
        Some(format!(
            "{{\"subscriptions\":[{}],{rest}",
            answered.join(",")
        ))
    }
}

/// Which events one subscription answers; an absent filter lets all through.
struct Subscription {
    id: u64,
    domain: Option<String>,
    identities: Option<HashSet<String>>,
    events: Option<HashSet<&'static str>>,
}

impl Subscription {
    fn parse(id: u64, request: &Request) -> Result<Self, HubError> {
        let identities = match (request.service_data.get("identities"), &request.identity) {
            (Some(list), _) => Some(strings(list, "identities", MAX_IDENTITIES)?),
            (None, Some(one)) => Some(HashSet::from([one.clone()])),
            (None, None) => None,
        };
        let events = match request.service_data.get("events") {
            Some(list) => Some(
                strings(list, "events", EVENT_TYPES.len())?
                    .iter()
                    .map(|name| event_type(name))
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        Ok(Subscription {
            id,
            domain: request.domain.clone(),
            identities,
            events,
        })
    }

    fn wants(&self, event: &Event) -> bool {
        if event.for_operators() {
            let named = |types: &HashSet<&str>| types.contains(render::event_type(event));
            return self.events.as_ref().is_some_and(named)
                && self.domain.as_deref().is_none_or(|d| d == &*event.plugin);
        }
        self.domain.as_deref().is_none_or(|d| d == &*event.plugin)
            && self
                .identities
                .as_ref()
                .is_none_or(|ids| ids.contains(event.identity()))
            && self
                .events
                .as_ref()
                .is_none_or(|types| types.contains(render::event_type(event)))
    }
}

fn strings(list: &Json, field: &str, most: usize) -> Result<HashSet<String>, HubError> {
    let Some(items) = list.as_array() else {
        return Err(HubError::invalid(format!(
            "service_data.{field} must be a list of strings"
        )));
    };
    if items.len() > most {
        return Err(HubError::invalid(format!(
            "service_data.{field} names more than {most}"
        )));
    }
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(text) if text.len() <= MAX_NAME => Ok(text.to_string()),
            _ => Err(HubError::invalid(format!(
                "service_data.{field} must be a list of strings of at most {MAX_NAME} bytes, not {item}"
            ))),
        })
        .collect()
}

fn event_type(name: &str) -> Result<&'static str, HubError> {
    EVENT_TYPES
        .into_iter()
        .find(|known| *known == name)
        .ok_or_else(|| {
            HubError::invalid(format!(
                "no event type {name:?}: subscribe to {}",
                EVENT_TYPES.join(", ")
            ))
        })
}

/// The ids of a connection's requests still running. An id is the
/// client's name for a request until its answer (the last one, for
/// `discover`): reusing it before then is refused, as every answer
/// would otherwise be ambiguous. Requests answered at once are never
/// held here.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Held>);

#[derive(Default)]
struct Held {
    ids: Mutex<HashSet<i64>>,
    /// How many: none is the common case, checked without the lock.
    count: AtomicUsize,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, HashSet<i64>> {
        self.0.ids.held()
    }

    pub fn check(&self, id: i64) -> Result<(), HubError> {
        if self.0.count.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        if self.lock().contains(&id) {
            return Err(HubError::new(
                ErrorCode::DuplicateId,
                format!("request {id} is still running on this connection: use another id"),
            ));
        }
        Ok(())
    }

    /// Takes `id` until the returned guard is dropped: when the request
    /// is answered, or its task ends any other way.
    pub fn hold(&self, id: i64) -> HeldId {
        self.lock().insert(id);
        self.0.count.fetch_add(1, Ordering::AcqRel);
        HeldId {
            ids: self.clone(),
            id,
        }
    }
}

pub struct HeldId {
    ids: InFlight,
    id: i64,
}

impl Drop for HeldId {
    fn drop(&mut self) {
        self.ids.lock().remove(&self.id);
        self.ids.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::Reach;

    #[test]
    fn every_session_service_hello_lists_is_answered_here() {
        let mut session = Session::new(Caller {
            name: "test".into(),
            scope: TokenScope::User,
            reach: Reach::Everywhere,
            session: None,
        });
        for service in SESSION_SERVICES {
            let request = Request::parse(&format!(r#"{{"id":1,"service":"{service}"}}"#));
            let answer = request.ok().and_then(|r| session.answer(&r));
            let answer = answer.unwrap_or_default();
            assert!(
                !answer.contains("unknown_service") && !answer.is_empty(),
                "{service}: {answer}"
            );
        }
    }
}
