//! Talking to devices over the sockets the hub grants: lines over TCP,
//! datagram exchanges, HTTP/1.1 requests and WebSocket clients.
//!
//! Every connect, datagram and bind goes through the hub's network policy;
//! a refused one fails here as `PluginError::Unreachable` naming the grant.

pub mod http;
mod line;
mod udp;
mod websocket;

/// The 0.1 SDK's names, frozen with it.
#[cfg(feature = "v0_1")]
pub use http::{Response as HttpResponse, get as http_get};

/// The earlier name of [`http::Response`].
#[cfg(not(feature = "v0_1"))]
#[deprecated(note = "use net::http::Response")]
pub type HttpResponse = http::Response;

/// The earlier name of [`http::get`].
#[cfg(not(feature = "v0_1"))]
#[deprecated(note = "use net::http::get")]
pub fn http_get(
    peer: SocketAddr,
    target: &str,
    timeout: Duration,
) -> Result<http::Response, PluginError> {
    http::get(peer, target, timeout)
}
pub use line::{LineConn, MAX_LINE};
pub use udp::udp_exchange;
pub use websocket::WebSocket;

use crate::PluginError;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Parses `ip:port`; host names are refused because plugins cannot resolve them.
pub fn parse_addr(text: &str) -> Result<SocketAddr, PluginError> {
    text.trim()
        .parse()
        .map_err(|_| PluginError::InvalidArgument(format!("not an ip:port address: {text:?}")))
}

/// Connects within `timeout`; reads and writes then time out after `timeout` too.
fn connect(peer: SocketAddr, timeout: Duration) -> Result<TcpStream, PluginError> {
    let stream = TcpStream::connect_timeout(&peer, timeout)
        .map_err(|e| PluginError::from(e).context(format!("connect to {peer}")))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// On an open connection any failure but a timeout means the device is
/// gone (wasip2 reports a reset as a bare I/O error).
fn io_error(e: std::io::Error, doing: &str, peer: SocketAddr) -> PluginError {
    match PluginError::from(e) {
        PluginError::Internal(m) => {
            PluginError::Unreachable(format!("{doing} {peer}: the connection was dropped ({m})"))
        }
        other => other.context(format!("{doing} {peer}")),
    }
}
