//! Browsers' sign-ins. A token is exchanged once for two random secrets:
//! a session id in an `HttpOnly; SameSite=Strict` cookie, which no script
//! can read and no other site's page can send, and a key the console's
//! page keeps in its origin's storage. Both are needed: browsers send a
//! host's cookies to every port of it, so a server on another port (a
//! plugin granted `listen`, say) receives the cookie, but never the key,
//! which only pages of the hub's own origin can read. Sessions live in
//! memory: a restarted hub signs everyone out.

use super::Caller;
use crate::sync::MutexHeld;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const COOKIE: &str = "hub_session";
/// A session unused this long, with no console connected, ends.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions one token may hold; its next sign-in ends its least recently used.
pub const PER_TOKEN: usize = 8;
/// Sessions held at once, whatever the tokens: past it, sign-ins wait for
/// sign-outs, and no one's session is ended to make room.
pub const MAX_SESSIONS: usize = 256;

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
    /// The page's half of the secret.
    key: String,
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

/// A new session's secrets, and what operators see of it.
pub struct Opened {
    /// For the cookie.
    pub id: String,
    /// For the page.
    pub key: String,
    pub view: SessionView,
}

/// A signed-in browser's request: who, and what ends when the session does.
pub struct Holder {
    pub caller: Caller,
    /// Its `changed()` fails once the session has ended.
    pub ended: watch::Receiver<()>,
}

impl Sessions {
    /// Starts a session for `caller`: its id (for the cookie) and its key
    /// (for the page); `None` while `MAX_SESSIONS` are open (or, never
    /// seen, without the system's random numbers).
    pub fn open(&self, mut caller: Caller, peer: IpAddr) -> Option<Opened> {
        let mut by_id = self.by_id();
        expire(&mut by_id);
        let of_token = |s: &&SignedIn| s.caller.name == caller.name;
        if by_id.values().filter(of_token).count() >= PER_TOKEN
            && let Some(oldest) = by_id
                .iter()
                .filter(|(_, s)| of_token(s))
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone())
        {
            by_id.remove(&oldest);
        }
        if by_id.len() >= MAX_SESSIONS {
            return None;
        }
        let number = {
            let mut n = self.numbered.held();
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
        let opened = Opened {
            id: random_id()?,
            key: random_id()?,
            view,
        };
        let signed_in = SignedIn {
            view: opened.view.clone(),
            key: opened.key.clone(),
            caller,
            last_used: Instant::now(),
            ended: watch::channel(()).0,
        };
        by_id.insert(opened.id.clone(), signed_in);
        Some(opened)
    }

    /// The holder of session `id` if it is open and `key` is its key; the
    /// session counts as used.
    pub fn holder(&self, id: &str, key: &str) -> Option<Holder> {
        let mut by_id = self.by_id();
        expire(&mut by_id);
        let session = by_id.get_mut(id).filter(|s| same(&s.key, key))?;
        session.last_used = Instant::now();
        Some(Holder {
            caller: session.caller.clone(),
            ended: session.ended.subscribe(),
        })
    }

    /// Ends session `id` (a browser signing out, with its key); what it was.
    pub fn end(&self, id: &str, key: &str) -> Option<SessionView> {
        let mut by_id = self.by_id();
        by_id.get(id).filter(|s| same(&s.key, key))?;
        by_id.remove(id).map(|s| s.view())
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
        self.by_id.held()
    }
}

/// Ends sessions unused for `IDLE`; one whose console is connected is in use.
fn expire(by_id: &mut HashMap<String, SignedIn>) {
    by_id.retain(|_, s| s.ended.receiver_count() > 0 || s.last_used.elapsed() < IDLE);
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// 256 random bits from the operating system, in hex; `None` without them.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(crate::digest::hex(&bytes))
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
    fn a_session_needs_both_its_id_and_its_key() {
        let sessions = Sessions::default();
        let a = sessions.open(operator(), peer()).unwrap();
        let b = sessions.open(operator(), peer()).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, a.key);
        assert_eq!(a.id.len(), 64);
        let holder = sessions.holder(&a.id, &a.key).unwrap();
        assert_eq!(holder.caller.session, Some(a.view.session));
        assert!(
            sessions.holder(&a.id, &b.key).is_none(),
            "another session's key"
        );
        assert!(sessions.holder(&a.id, "").is_none(), "the cookie alone");
        assert!(sessions.holder(&a.id[..63], &a.key).is_none());
        assert!(
            sessions.end(&a.id, &b.key).is_none(),
            "signed out without the key"
        );
        assert!(sessions.holder(&a.id, &a.key).is_some());
    }

    #[test]
    fn an_ended_session_is_refused_and_its_connections_hear_of_it() {
        let sessions = Sessions::default();
        let opened = sessions.open(operator(), peer()).unwrap();
        let holder = sessions.holder(&opened.id, &opened.key).unwrap();
        let ended = sessions.end_number(opened.view.session).unwrap();
        assert_eq!(ended.name, "alice");
        assert!(sessions.holder(&opened.id, &opened.key).is_none());
        assert!(holder.ended.has_changed().is_err(), "the sender is gone");
        assert!(sessions.end(&opened.id, &opened.key).is_none());
    }

    #[test]
    fn one_token_signing_in_again_and_again_ends_only_its_own_sessions() {
        let sessions = Sessions::default();
        let other = Caller {
            name: "bob".into(),
            ..operator()
        };
        let kept = sessions.open(other, peer()).unwrap();
        let first = sessions.open(operator(), peer()).unwrap();
        for _ in 0..MAX_SESSIONS * 2 {
            sessions.open(operator(), peer()).unwrap();
        }
        assert!(sessions.holder(&kept.id, &kept.key).is_some());
        assert!(sessions.holder(&first.id, &first.key).is_none());
        assert_eq!(sessions.list().len(), PER_TOKEN + 1);
    }
}
