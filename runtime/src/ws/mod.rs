//! The WebSocket API: `/ws`, token auth, JSON requests routed to plugins,
//! attribute changes pushed to every connection.

pub(crate) mod admission;
pub(crate) mod auth;
mod connection;
pub(crate) mod metrics;
mod outbox;
pub mod protocol;
mod responder;
pub(crate) mod server;
mod services;
mod session;

pub use admission::ServerLimits;
pub use server::{Caller, Server, ServerSettings};

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
