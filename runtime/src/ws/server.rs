//! HTTP on the listening socket: `/ws` upgrades to a WebSocket for a client
//! with the right token; everything else gets a clear HTTP error.

use super::connection;
use crate::config::{Token, TokenScope};
use crate::plugins::Hub;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The largest frame a client may send; a larger one closes the connection with 1009.
pub const MAX_FRAME: usize = 64 << 10;
const TOKEN_HEADER: &str = "smart-assistant-token";

#[derive(Clone)]
pub struct ServerSettings {
    pub tokens: Vec<Token>,
}

/// Who sent a request: the token's name and scope.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub scope: TokenScope,
}

pub struct Server {
    listener: TcpListener,
    hub: Arc<Hub>,
    settings: Arc<ServerSettings>,
}

impl Server {
    pub fn new(listener: TcpListener, hub: Arc<Hub>, settings: ServerSettings) -> Self {
        Server {
            listener,
            hub,
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
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // Responses and events are small frames: send them at once.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, "cannot set TCP_NODELAY: {e}");
            }
            let (hub, settings, closed) = (self.hub.clone(), self.settings.clone(), closed.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (hub, settings, closed) = (hub.clone(), settings.clone(), closed.clone());
                    async move { Ok::<_, Infallible>(handle(request, hub, &settings, closed)) }
                });
                let served = http1::Builder::new()
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

fn handle(
    request: Request<Incoming>,
    hub: Arc<Hub>,
    settings: &ServerSettings,
    closed: watch::Receiver<bool>,
) -> Response<Full<Bytes>> {
    if request.uri().path() != "/ws" {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "the WebSocket endpoint is /ws",
        );
    }
    let Some(caller) = authorized(&request, &settings.tokens) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong token: send it in the smart-assistant-token header or ?token=",
        );
    };
    let Some(accept_key) = websocket_key(&request) else {
        return error(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "/ws speaks WebSocket (version 13) only",
        );
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(request).await {
            Ok(upgraded) => {
                let config = super::config()
                    .max_message_size(Some(MAX_FRAME))
                    .max_frame_size(Some(MAX_FRAME));
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                connection::run(ws, hub, caller, closed).await;
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
    response
}

fn authorized(request: &Request<Incoming>, tokens: &[Token]) -> Option<Caller> {
    let from_header = request
        .headers()
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes().to_vec());
    let from_query = request.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned().into_bytes())
    });
    let given = from_header.or(from_query)?;
    let token = tokens
        .iter()
        .find(|t| constant_time_eq(&given, t.token.as_bytes()))?;
    Some(Caller {
        name: token.name.clone(),
        scope: token.scope,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Sec-WebSocket-Accept` value for a well-formed upgrade request.
fn websocket_key(request: &Request<Incoming>) -> Option<HeaderValue> {
    let headers = request.headers();
    let has = |name, value: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(value))
    };
    let upgrade = has(CONNECTION, "upgrade")
        && has(UPGRADE, "websocket")
        && has(hyper::header::SEC_WEBSOCKET_VERSION, "13");
    let key = headers.get(hyper::header::SEC_WEBSOCKET_KEY)?;
    upgrade.then(|| HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok())?
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"success": false, "code": code, "error": message}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
