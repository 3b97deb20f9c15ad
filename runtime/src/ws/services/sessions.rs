//! `domain: "hub"`: the browsers signed in to the console, for operator
//! tokens: who, from where, since when; and ending one, which closes its
//! connections at once.

use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::gate::Door;
use crate::ws::request::Request;
use crate::ws::responder::Responder;
use serde_json::{Value, json};

/// The services of `domain: "hub"`, as `hello` lists them to operators.
pub const HUB_SERVICES: [&str; 2] = ["sessions", "end_session"];

pub enum Sessions {
    List,
    End { actor: String, session: u64 },
}

impl Sessions {
    pub fn parse(request: Request, caller: &Caller) -> Result<Self, HubError> {
        caller.operator_only(&request.service)?;
        match request.service.as_str() {
            "sessions" => Ok(Sessions::List),
            "end_session" => {
                let session = request.service_data.get("session").and_then(Value::as_u64);
                let session = session.ok_or_else(|| {
                    HubError::new(
                        ErrorCode::InvalidFormat,
                        "service_data.session is required: a session's number from \"sessions\"",
                    )
                })?;
                Ok(Sessions::End {
                    actor: caller.name.clone(),
                    session,
                })
            }
            other => Err(super::unknown_service(other)),
        }
    }

    pub fn apply(self, door: &Door, out: &Responder) {
        out.send(match self {
            Sessions::List => Ok(json!({"sessions": door.sessions.list()})),
            Sessions::End { actor, session } => match door.sessions.end_number(session) {
                Some(ended) => {
                    let detail =
                        json!({"session": ended.session, "name": ended.name, "peer": ended.peer});
                    door.hub.audit().record(&actor, None, "end_session", detail);
                    Ok(Value::Null)
                }
                None => Err(HubError::new(
                    ErrorCode::NotFound,
                    format!("no session {session} is open"),
                )),
            },
        });
    }
}
