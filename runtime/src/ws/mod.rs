//! The WebSocket API at `/ws`: a connection signs in (`auth`), then its
//! JSON requests are read (`request`), served (`services`) and
//! answered (`render`), and the events it subscribed to are pushed to it
//! (`connection`, `session`, `outbox`). The HTTP router upgrades to it.

pub(crate) mod auth;
pub(crate) mod connection;
pub(crate) mod outbox;
pub mod render;
pub(crate) mod request;
mod responder;
mod services;
mod session;

/// tungstenite zeroes its whole read buffer before every read, whether data
/// is waiting or not: at the default 128 KiB that memset was the largest
/// cost of a small frame. 8 KiB holds most frames whole.
const READ_BUFFER: usize = 8 << 10;

/// The WebSocket settings of the hub, and of the benchmark's other ends so
/// that comparisons stay fair.
pub fn config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
}
