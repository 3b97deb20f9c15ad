//! HTTP on the listening socket: `/ws` upgrades to a WebSocket for a client
//! with the right token, or with none (it then signs in with its first
//! message, `ws::auth`); everything else gets a clear HTTP error.

mod metrics;

use crate::config::ServerLimits;
use crate::config::{Token, TokenScope};
use crate::console;
use crate::gate::Door;
use crate::gate::admission::{Admission, Admitted};
use crate::gate::caller::{self, Caller};
use crate::gate::reply::{self, error, listed, waiting};
use crate::plugins::Hub;
use crate::ws::auth;
use crate::ws::connection;
use crate::ws::outbox::SHARED_OUTBOX_BYTES;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The largest frame a client may send; a larger one closes the connection with 1009.
pub const MAX_FRAME: usize = 64 << 10;

#[derive(Clone)]
pub struct ServerSettings {
    pub tokens: Vec<Token>,
    pub limits: ServerLimits,
}

impl ServerSettings {
    /// `tokens` with the default limits.
    pub fn new(tokens: Vec<Token>) -> Self {
        ServerSettings {
            tokens,
            limits: ServerLimits::default(),
        }
    }
}

pub struct Server {
    listener: TcpListener,
    door: Arc<Door>,
    settings: Arc<ServerSettings>,
    admission: Arc<Admission>,
    /// The bytes of answers all connections together may hold for slow clients.
    shared_outbox: Arc<Semaphore>,
}

/// After a failed accept (out of file descriptors, most often) the loop
/// waits this long, doubling up to `ACCEPT_BACKOFF_MAX`, instead of spinning.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

impl Server {
    pub fn new(listener: TcpListener, door: Arc<Door>, settings: ServerSettings) -> Self {
        Server {
            listener,
            door,
            admission: Admission::new(settings.limits.clone()),
            shared_outbox: Arc::new(Semaphore::new(SHARED_OUTBOX_BYTES)),
            settings: Arc::new(settings),
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then closes every connection with 1001.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (closing, closed) = watch::channel(false);
        tokio::pin!(shutdown);
        let mut backoff = ACCEPT_BACKOFF_FIRST;
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accept failed, pausing {} ms: {e}", backoff.as_millis());
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            backoff = ACCEPT_BACKOFF_FIRST;
            let admitted = match self.admission.admit(peer.ip()) {
                Ok(admitted) => Arc::new(admitted),
                Err(why) => {
                    tracing::debug!(%peer, "connection refused: {why}");
                    continue;
                }
            };
            // Responses and events are small frames: send them at once.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, "cannot set TCP_NODELAY: {e}");
            }
            let connection = Connection {
                door: self.door.clone(),
                settings: self.settings.clone(),
                admission: self.admission.clone(),
                shared_outbox: self.shared_outbox.clone(),
                closed: closed.clone(),
                peer,
                _admitted: admitted,
            };
            let header_timeout = self.settings.limits.header_timeout;
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let connection = connection.clone();
                    async move {
                        let mut response = handle(request, connection).await;
                        crate::console::protect(response.headers_mut());
                        Ok::<_, Infallible>(response)
                    }
                });
                let served = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
                if let Err(e) = served {
                    tracing::debug!(%peer, "http connection ended: {e}");
                }
            });
        }
        let _ = closing.send(true);
    }
}

/// What a request on one TCP connection needs; the connection's place in
/// the admission count is held as long as any clone of this lives,
/// through an upgrade to a WebSocket.
#[derive(Clone)]
struct Connection {
    door: Arc<Door>,
    settings: Arc<ServerSettings>,
    admission: Arc<Admission>,
    shared_outbox: Arc<Semaphore>,
    closed: watch::Receiver<bool>,
    peer: SocketAddr,
    _admitted: Arc<Admitted>,
}

async fn handle(request: Request<Incoming>, connection: Connection) -> Response<Full<Bytes>> {
    match request.uri().path() {
        "/ws" => {}
        "/healthz" => return health(&connection.door.hub),
        "/metrics" => return metrics(&request, &connection),
        "/plugins" => return upload(request, &connection).await,
        path if console::serves(path) => {
            let cx = console::Context {
                door: &connection.door,
                tokens: &connection.settings.tokens,
                admission: &connection.admission,
                peer: connection.peer.ip(),
            };
            return console::handle(request, cx).await;
        }
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "the console is at /, the WebSocket endpoint at /ws, the hub's health at /healthz",
            );
        }
    }
    let peer = connection.peer.ip();
    // Without a token or a session, the connection's first message must sign in.
    let (caller, session_ended) = match opener(&request, &connection) {
        Ok(Opener::Token(caller)) => (caller, None),
        Ok(Opener::Session(caller, ended)) => (Some(caller), Some(ended)),
        Err(refused) => return *refused,
    };
    let Some(accept_key) = websocket_key(&request) else {
        return error(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "/ws speaks WebSocket (version 13) only",
        );
    };
    let protocol = console::key_protocol(request.headers());
    tokio::spawn(async move {
        match hyper::upgrade::on(request).await {
            Ok(upgraded) => {
                let config = crate::ws::config()
                    .max_message_size(Some(MAX_FRAME))
                    .max_frame_size(Some(MAX_FRAME));
                let mut ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                let caller = match caller {
                    Some(caller) => caller,
                    None => {
                        let tokens = &connection.settings.tokens;
                        let signing_in =
                            auth::first_message(&mut ws, tokens, &connection.admission, peer);
                        // Its answer must go out within the bound too.
                        match tokio::time::timeout(auth::SIGN_IN_WITHIN * 2, signing_in).await {
                            Ok(Some(caller)) => caller,
                            _ => return,
                        }
                    }
                };
                let closed = match session_ended {
                    Some(ended) => closed_with_session(connection.closed.clone(), ended),
                    None => connection.closed.clone(),
                };
                connection::run(
                    ws,
                    connection.door.clone(),
                    caller,
                    closed,
                    connection.shared_outbox.clone(),
                )
                .await;
            }
            Err(e) => tracing::debug!("websocket upgrade failed: {e}"),
        }
    });
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert("sec-websocket-accept", accept_key);
    if let Some(protocol) = protocol {
        headers.insert(hyper::header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
}

/// The `Sec-WebSocket-Accept` value for a well-formed upgrade request.
fn websocket_key(request: &Request<Incoming>) -> Option<HeaderValue> {
    let headers = request.headers();
    let has = |name, value: &str| listed(headers, name).any(|v| v.eq_ignore_ascii_case(value));
    let upgrade = has(CONNECTION, "upgrade")
        && has(UPGRADE, "websocket")
        && has(hyper::header::SEC_WEBSOCKET_VERSION, "13");
    let key = headers.get(hyper::header::SEC_WEBSOCKET_KEY)?;
    upgrade.then(|| HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok())?
}

/// Who opens a WebSocket.
enum Opener {
    /// A token's holder; `None` for a client that signs in with its first message.
    Token(Option<Caller>),
    /// A browser's session (from the hub's own page only), with what ends it.
    Session(Caller, watch::Receiver<()>),
}

fn opener(
    request: &Request<Incoming>,
    connection: &Connection,
) -> Result<Opener, Box<Response<Full<Bytes>>>> {
    let cookie = console::session_cookies(request.headers()).next();
    if caller::offered(request).is_some() || cookie.is_none() {
        return token_holder(request, connection).map(Opener::Token);
    }
    if !console::same_origin(request.headers()) {
        return Err(Box::new(console::foreign_origin()));
    }
    match console::holder(request.headers(), &connection.door.sessions) {
        Some(holder) => Ok(Opener::Session(holder.caller, holder.ended)),
        None => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "signed_out",
            "the console's session has ended: sign in again",
        ))),
    }
}

/// A receiver that changes when the server shuts down or `session` ends,
/// for a connection opened with a browser's session.
fn closed_with_session(
    mut server: watch::Receiver<bool>,
    mut session: watch::Receiver<()>,
) -> watch::Receiver<bool> {
    let (close, closed) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = server.changed() => {}
            _ = session.changed() => {}
            () = close.closed() => return,
        }
        let _ = close.send(true);
    });
    closed
}

/// Who the request's token names: `None` without a token; the answer to
/// send instead for a wrong one (a failed sign-in of the address), or
/// while the address must wait after too many.
fn token_holder(
    request: &Request<Incoming>,
    connection: &Connection,
) -> Result<Option<Caller>, Box<Response<Full<Bytes>>>> {
    let peer = connection.peer.ip();
    if let Some(refused) = waiting(&connection.admission, peer) {
        return Err(Box::new(refused));
    }
    let Some(given) = caller::offered(request) else {
        return Ok(None);
    };
    match caller::caller(&given, &connection.settings.tokens) {
        Some(caller) => Ok(Some(caller)),
        None => {
            connection.admission.failed_sign_in(peer);
            Err(Box::new(error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "wrong token: send a hub token as Authorization: Bearer, in the smart-assistant-token header, as ?token=, or (on /ws) in the first message",
            )))
        }
    }
}

/// `POST /plugins`: an operator's plugin upload, from a console session or
/// with an operator token.
async fn upload(request: Request<Incoming>, connection: &Connection) -> Response<Full<Bytes>> {
    if request.method() != hyper::Method::POST {
        let message = "POST /plugins installs an uploaded plugin";
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        );
    }
    let caller = match opener(&request, connection) {
        Ok(Opener::Token(Some(caller)) | Opener::Session(caller, _)) => caller,
        Ok(Opener::Token(None)) => {
            let message = "sign in to the console, or send an operator token";
            return error(StatusCode::UNAUTHORIZED, "unauthorized", message);
        }
        Err(refused) => return *refused,
    };
    if let Err(e) = caller.operator_only("install") {
        return error(StatusCode::FORBIDDEN, "forbidden", &e.message);
    }
    console::install(request, &connection.door.hub, &caller.name).await
}

/// `/metrics` for operator tokens.
fn metrics(request: &Request<Incoming>, connection: &Connection) -> Response<Full<Bytes>> {
    let caller = match token_holder(request, connection) {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            connection.admission.failed_sign_in(connection.peer.ip());
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "/metrics needs an operator token: Authorization: Bearer TOKEN",
            );
        }
        Err(refused) => return *refused,
    };
    if caller.scope != TokenScope::Operator {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "/metrics needs an operator token",
        );
    }
    let text = metrics::render(
        &connection.door.hub,
        &connection.door.traffic,
        connection.admission.open(),
    );
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `/healthz`, for anyone who can reach the port (a supervisor, a load
/// balancer): whether the hub serves and each running plugin's state, and
/// nothing an operator would keep from the LAN (no grants, devices or
/// errors). `degraded` while a plugin is restarting or failed.
fn health(hub: &Hub) -> Response<Full<Bytes>> {
    let plugins: Vec<_> = hub
        .plugins()
        .iter()
        .map(|p| serde_json::json!({"id": p.id(), "state": p.status().state}))
        .collect();
    let all_running = plugins.iter().all(|p| p["state"] == "running");
    let body = serde_json::json!({
        "status": if all_running { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "plugins": plugins,
    });
    reply::json(StatusCode::OK, &body)
}
