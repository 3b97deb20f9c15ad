//! Browsers' sign-ins. A token is exchanged once for a random session id
//! that lives in an `HttpOnly; SameSite=Strict` cookie: the token never
//! stays in the browser, a script cannot read the id, and another site's
//! page cannot send it. Sessions live in memory: a restarted hub signs
//! everyone out.

use crate::ws::Caller;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const COOKIE: &str = "hub_session";
/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions held at once; a new one ends the least recently used.
pub const MAX_SESSIONS: usize = 64;

/// What operators see of a session: never its id.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub session: u64,
    pub name: String,
    pub scope: crate::config::TokenScope,
    pub peer: IpAddr,
    pub signed_in_at: String,
    /// Seconds since the session was last used.
    pub idle_seconds: u64,
}

struct SignedIn {
    view: SessionView,
    caller: Caller,
    last_used: Instant,
    /// Dropped when the session ends: its connections close.
    ended: watch::Sender<()>,
}

impl SignedIn {
    fn view(&self) -> SessionView {
        SessionView {
            idle_seconds: self.last_used.elapsed().as_secs(),
            ..self.view.clone()
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, SignedIn>>,
    numbered: Mutex<u64>,
}

/// A signed-in browser's request: who, and what ends when the session does.
pub struct Holder {
    pub caller: Caller,
    /// Its `changed()` fails once the session has ended.
    pub ended: watch::Receiver<()>,
}

impl Sessions {
    /// Starts a session for `caller`; its id, for the cookie.
    pub fn open(&self, mut caller: Caller, peer: IpAddr) -> (String, SessionView) {
        let id = random_id();
        let number = {
            let mut n = self.numbered.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            *n
        };
        caller.session = Some(number);
        let view = SessionView {
            session: number,
            name: caller.name.clone(),
            scope: caller.scope,
            peer,
            signed_in_at: crate::store::now(),
            idle_seconds: 0,
        };
        let mut by_id = self.by_id();
        expire(&mut by_id);
        if by_id.len() >= MAX_SESSIONS
            && let Some(oldest) = by_id
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone())
        {
            by_id.remove(&oldest);
        }
        let signed_in = SignedIn {
            view: view.clone(),
            caller,
            last_used: Instant::now(),
            ended: watch::channel(()).0,
        };
        by_id.insert(id.clone(), signed_in);
        (id, view)
    }

    /// The holder of session `id`, if it is open; the session counts as used.
    pub fn holder(&self, id: &str) -> Option<Holder> {
        let mut by_id = self.by_id();
        expire(&mut by_id);
        let session = by_id.get_mut(id)?;
        session.last_used = Instant::now();
        Some(Holder {
            caller: session.caller.clone(),
            ended: session.ended.subscribe(),
        })
    }

    /// Ends session `id` (a browser signing out); what it was.
    pub fn end(&self, id: &str) -> Option<SessionView> {
        self.by_id().remove(id).map(|s| s.view())
    }

    /// Ends session number `number` (an operator signing someone out).
    pub fn end_number(&self, number: u64) -> Option<SessionView> {
        let mut by_id = self.by_id();
        let id = by_id
            .iter()
            .find(|(_, s)| s.view.session == number)
            .map(|(id, _)| id.clone())?;
        by_id.remove(&id).map(|s| s.view())
    }

    /// Every open session, oldest first.
    pub fn list(&self) -> Vec<SessionView> {
        let mut by_id = self.by_id();
        expire(&mut by_id);
        let mut views: Vec<SessionView> = by_id.values().map(SignedIn::view).collect();
        views.sort_by_key(|v| v.session);
        views
    }

    fn by_id(&self) -> std::sync::MutexGuard<'_, HashMap<String, SignedIn>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn expire(by_id: &mut HashMap<String, SignedIn>) {
    by_id.retain(|_, s| s.last_used.elapsed() < IDLE);
}

/// 256 random bits from the operating system, in hex.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random numbers");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::Reach;
    use crate::config::TokenScope;

    fn operator() -> Caller {
        Caller {
            name: "alice".into(),
            scope: TokenScope::Operator,
            reach: Reach::Everywhere,
            session: None,
        }
    }

    fn peer() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn ids_are_random_and_name_their_session_only() {
        let sessions = Sessions::default();
        let (a, first) = sessions.open(operator(), peer());
        let (b, second) = sessions.open(operator(), peer());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(
            sessions.holder(&a).unwrap().caller.session,
            Some(first.session)
        );
        assert_eq!(
            sessions.holder(&b).unwrap().caller.session,
            Some(second.session)
        );
        assert!(sessions.holder(&a[..63]).is_none());
        assert!(sessions.holder("").is_none());
    }

    #[test]
    fn an_ended_session_is_refused_and_its_connections_hear_of_it() {
        let sessions = Sessions::default();
        let (id, view) = sessions.open(operator(), peer());
        let holder = sessions.holder(&id).unwrap();
        assert_eq!(sessions.end_number(view.session).unwrap().name, "alice");
        assert!(sessions.holder(&id).is_none());
        assert!(holder.ended.has_changed().is_err(), "the sender is gone");
        assert!(sessions.end(&id).is_none());
    }

    #[test]
    fn a_flood_of_sign_ins_keeps_the_most_recently_used() {
        let sessions = Sessions::default();
        let (kept, _) = sessions.open(operator(), peer());
        for _ in 0..MAX_SESSIONS * 2 {
            sessions.open(operator(), peer());
            assert!(sessions.holder(&kept).is_some());
        }
        assert_eq!(sessions.list().len(), MAX_SESSIONS);
    }
}
