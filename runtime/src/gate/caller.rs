//! Who a client is: the token it offers (in the seed's header, as a bearer
//! token, or in the query), compared in constant time with every token the
//! hub knows. The WebSocket and the console both sign in through here.

use crate::caps::Reach;
use crate::config::{Token, TokenScope};
use crate::error::{ErrorCode, HubError};
use hyper::Request;
use hyper::body::Incoming;

const TOKEN_HEADER: &str = "smart-assistant-token";

/// Who sent a request: the token's name, scope and reach.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub scope: TokenScope,
    /// The devices it may see and control.
    pub reach: Reach,
    /// The browser session it signed in with, if it is the console.
    pub session: Option<u64>,
}

impl Caller {
    /// Refuses `what` (a service) unless the caller holds an operator token.
    pub fn operator_only(&self, what: &str) -> Result<(), HubError> {
        if self.scope == TokenScope::Operator {
            return Ok(());
        }
        Err(HubError::new(
            ErrorCode::Forbidden,
            format!(
                "{what:?} needs an operator token; {} is a user token",
                self.name
            ),
        ))
    }

    /// Who the hub takes the client for, as `auth` and `hello` tell it.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "scope": self.scope,
            "areas": self.reach.areas(),
            "session": self.session,
        })
    }
}

/// The token the request carries, if any: in the seed's header, as a
/// bearer token (how Prometheus sends one), or in the query.
pub fn offered(request: &Request<Incoming>) -> Option<Vec<u8>> {
    let headers = request.headers();
    let bearer = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .map(<[u8]>::to_vec);
    let from_header = headers
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes().to_vec())
        .or(bearer);
    let from_query = request.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned().into_bytes())
    });
    from_header.or(from_query)
}

/// The caller `given` names, compared in constant time with every token.
pub fn caller(given: &[u8], tokens: &[Token]) -> Option<Caller> {
    let token = tokens
        .iter()
        .find(|t| constant_time_eq(given, t.token.as_bytes()))?;
    Some(Caller {
        name: token.name.clone(),
        scope: token.scope,
        reach: Reach::from_config(token.areas.as_deref()),
        session: None,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
