//! The operator's console in the browser: static ES modules embedded in
//! the binary (`runtime/console/`, no build step), served at `/` beside
//! `/ws`, and the sign-in that trades a token for a session cookie.
//!
//! The page talks to the hub only over `/ws`, as any client does, with
//! the cookie instead of a token. What keeps other pages out: the cookie is
//! `SameSite=Strict` and `HttpOnly`, `/ws` and `/session` take a cookie
//! only with an `Origin` equal to the hub's own (a page on another port of
//! the same host is another origin), and every response forbids framing,
//! sniffing, referrers and scripts from anywhere but the hub.

mod assets;
mod upload;

use crate::config::Token;
use crate::gate::Door;
use crate::gate::admission::Admission;
use crate::gate::caller;
use crate::gate::reply::{self, error, json};
use crate::gate::sessions::{self, Holder, SessionView, Sessions};
use crate::plugins::Hub;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, HeaderMap, HeaderValue, ORIGIN,
    SEC_WEBSOCKET_PROTOCOL, SET_COOKIE,
};
use hyper::{Method, Request, Response, StatusCode};
use std::net::IpAddr;
pub use upload::install;

const KEY_HEADER: &str = "x-hub-session-key";
const KEY_PROTOCOL: &str = "hub-session.";

/// The largest sign-in request read: a token in a small JSON object.
const SIGN_IN_BYTES: usize = 4 << 10;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether `path` is the console's: its pages and its sign-in.
pub fn serves(path: &str) -> bool {
    path == "/" || path == "/session" || path.starts_with("/console/")
}

/// What the server needs to answer a console request.
pub struct Context<'a> {
    pub door: &'a Door,
    pub tokens: &'a [Token],
    pub admission: &'a Admission,
    pub peer: IpAddr,
}

pub async fn handle(request: Request<Incoming>, cx: Context<'_>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if path != "/session" {
        return match assets::find(path) {
            Some(asset) if [Method::GET, Method::HEAD].contains(request.method()) => {
                let mut response = Response::new(Full::new(Bytes::from_static(asset.body)));
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                response
            }
            Some(_) => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the console's files are read with GET",
            ),
            None => error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such page in the console",
            ),
        };
    }
    match *request.method() {
        Method::GET => who_signed_in(&request, &cx),
        Method::POST => sign_in(request, &cx).await,
        Method::DELETE => sign_out(&request, &cx),
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "/session: POST signs in, GET says who, DELETE signs out",
        ),
    }
}

/// The session a browser's request holds, if its cookie names an open one
/// and it carries that session's key.
pub fn holder(headers: &HeaderMap, sessions: &Sessions) -> Option<Holder> {
    sessions.holder(session_cookie(headers)?, session_key(headers)?)
}

/// The session id in the request's cookie, if it carries exactly one: a
/// page on another port may plant a second `hub_session` cookie, with a
/// narrower path, to shadow the real one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    let mut ids = session_cookies(headers);
    let id = ids.next()?;
    ids.next().is_none().then_some(id)
}

/// Every `hub_session` cookie the request carries.
pub fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == sessions::COOKIE)
        .map(|(_, value)| value)
}

/// The session's key, which only the console's own pages can read: in the
/// `x-hub-session-key` header, or (a browser's WebSocket can set no
/// header) as the offered subprotocol `hub-session.KEY`.
pub fn session_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get(KEY_HEADER) {
        return key.to_str().ok();
    }
    reply::listed(headers, SEC_WEBSOCKET_PROTOCOL).find_map(|p| p.strip_prefix(KEY_PROTOCOL))
}

/// The subprotocol a WebSocket opened with a session key is answered with.
pub fn key_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let key = session_key(headers)?;
    HeaderValue::from_str(&format!("{KEY_PROTOCOL}{key}")).ok()
}

/// Whether the request comes from a page of the hub itself: its `Origin`
/// is `http://` and the `Host` it was sent to. A page elsewhere, on
/// another port of the same host too, has another origin.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (headers.get(ORIGIN), headers.get(HOST)) else {
        return false;
    };
    origin
        .as_bytes()
        .strip_prefix(b"http://")
        .is_some_and(|o| o == host.as_bytes())
}

/// Adds the browser-facing protections to any answer of the server.
pub fn protect(headers: &mut HeaderMap) {
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

fn who_signed_in(request: &Request<Incoming>, cx: &Context<'_>) -> Response<Full<Bytes>> {
    match holder(request.headers(), &cx.door.sessions) {
        Some(holder) => json(StatusCode::OK, &holder.caller.summary()),
        None => error(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in"),
    }
}

/// `POST /session` with `{"token": "..."}` from the console's own page.
async fn sign_in(request: Request<Incoming>, cx: &Context<'_>) -> Response<Full<Bytes>> {
    if !same_origin(request.headers()) {
        return foreign_origin();
    }
    if let Some(refused) = reply::waiting(cx.admission, cx.peer) {
        return refused;
    }
    let body = match Limited::new(request.into_body(), SIGN_IN_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &format!("a sign-in is a token in at most {SIGN_IN_BYTES} bytes of JSON"),
            );
        }
    };
    let token = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("token")?.as_str().map(str::to_string));
    let Some(token) = token else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_format",
            "send {\"token\": \"...\"}",
        );
    };
    let Some(caller) = caller::caller(token.as_bytes(), cx.tokens) else {
        cx.admission.failed_sign_in(cx.peer);
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "wrong token");
    };
    let Some(opened) = cx.door.sessions.open(caller, cx.peer) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            &format!(
                "{} console sessions are open: sign out elsewhere first",
                sessions::MAX_SESSIONS
            ),
        );
    };
    audit(&cx.door.hub, "sign_in", &opened.view);
    let body = serde_json::json!({"session": opened.view, "key": opened.key});
    let mut response = json(StatusCode::OK, &body);
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        sessions::COOKIE,
        opened.id,
        sessions::IDLE.as_secs()
    );
    set_cookie(&mut response, &cookie);
    response
}

/// `DELETE /session`: ends the browser's session and closes its connections.
fn sign_out(request: &Request<Incoming>, cx: &Context<'_>) -> Response<Full<Bytes>> {
    if !same_origin(request.headers()) {
        return foreign_origin();
    }
    let headers = request.headers();
    let ended = session_cookie(headers)
        .zip(session_key(headers))
        .and_then(|(id, key)| cx.door.sessions.end(id, key));
    if let Some(view) = &ended {
        audit(&cx.door.hub, "sign_out", view);
    }
    let mut response = json(
        StatusCode::OK,
        &serde_json::json!({"signed_out": ended.is_some()}),
    );
    let cookie = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        sessions::COOKIE
    );
    set_cookie(&mut response, &cookie);
    response
}

/// Sign-ins and sign-outs go into the audit log under the token's name.
pub fn audit(hub: &Hub, action: &str, view: &SessionView) {
    let detail = serde_json::json!({"session": view.session, "peer": view.peer});
    hub.audit().record(&view.name, None, action, detail);
}

fn set_cookie(response: &mut Response<Full<Bytes>>, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
}

pub fn foreign_origin() -> Response<Full<Bytes>> {
    error(
        StatusCode::FORBIDDEN,
        "foreign_origin",
        "a browser session is accepted only from the hub's own pages (Origin differs from Host)",
    )
}
