//! A WebSocket client to a device on the LAN (the Shelly Gen2 `/rpc`
//! channel, say), for devices that push their state that way.

use super::connect;
use crate::PluginError;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error, Message};

/// Larger messages are refused.
const MAX_MESSAGE: usize = 256 << 10;

pub struct WebSocket {
    socket: tungstenite::WebSocket<TcpStream>,
    peer: SocketAddr,
}

impl WebSocket {
    /// Connects to `ws://peer{path}`; the connect and the handshake must each
    /// finish within `timeout`.
    pub fn connect(peer: SocketAddr, path: &str, timeout: Duration) -> Result<Self, PluginError> {
        let stream = connect(peer, timeout)?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let url = format!("ws://{peer}{path}");
        let (socket, _) =
            tungstenite::client::client_with_config(url.as_str(), stream, Some(config)).map_err(
                |e| match e {
                    tungstenite::HandshakeError::Failure(e) => failure(e, peer),
                    tungstenite::HandshakeError::Interrupted(_) => PluginError::Timeout(format!(
                        "{peer} did not finish the WebSocket handshake in time"
                    )),
                },
            )?;
        Ok(WebSocket { socket, peer })
    }

    pub fn send_text(&mut self, text: &str) -> Result<(), PluginError> {
        self.socket
            .send(Message::text(text))
            .map_err(|e| failure(e, self.peer))
    }

    /// The next text message; `timeout: None` waits as long as the device
    /// keeps the connection open. A closed connection is `Unreachable`.
    pub fn read_text(&mut self, timeout: Option<Duration>) -> Result<String, PluginError> {
        self.socket.get_ref().set_read_timeout(timeout)?;
        loop {
            match self.socket.read().map_err(|e| failure(e, self.peer))? {
                Message::Text(text) => return Ok(text.as_str().to_string()),
                Message::Close(_) => {
                    return Err(PluginError::Unreachable(format!(
                        "{} closed the WebSocket",
                        self.peer
                    )));
                }
                // Pings are answered by the next read or send.
                _ => {}
            }
        }
    }
}

fn failure(e: Error, peer: SocketAddr) -> PluginError {
    match e {
        Error::Io(e) => super::io_error(e, "WebSocket with", peer),
        Error::ConnectionClosed | Error::AlreadyClosed => {
            PluginError::Unreachable(format!("{peer} closed the WebSocket"))
        }
        Error::Capacity(e) => PluginError::InvalidArgument(format!("{peer} sent too much: {e}")),
        other => PluginError::Unreachable(format!("WebSocket with {peer} failed: {other}")),
    }
}
