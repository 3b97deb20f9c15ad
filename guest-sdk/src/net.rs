//! Request/response helpers over the sockets the hub grants.
//!
//! Every connect, datagram and bind goes through the hub's network policy;
//! a refused one fails here as `PluginError::Unreachable` naming the grant.

use crate::PluginError;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// The longest line a [`LineConn`] accepts: a device cannot make the plugin
/// buffer without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// How often [`udp_exchange`] looks for replies.
const UDP_POLL: Duration = Duration::from_millis(5);

/// Parses `ip:port`; host names are refused because plugins cannot resolve them.
pub fn parse_addr(text: &str) -> Result<SocketAddr, PluginError> {
    text.trim()
        .parse()
        .map_err(|_| PluginError::InvalidArgument(format!("not an ip:port address: {text:?}")))
}

/// A TCP connection carrying one message per line (`\r\n`-terminated on the
/// way out), as many LAN protocols do.
pub struct LineConn {
    stream: TcpStream,
    peer: SocketAddr,
    pending: Vec<u8>,
}

impl LineConn {
    /// Connects within `timeout`; reads and writes then time out after `timeout` too.
    pub fn connect(peer: SocketAddr, timeout: Duration) -> Result<Self, PluginError> {
        let stream = TcpStream::connect_timeout(&peer, timeout)
            .map_err(|e| PluginError::from(e).context(format!("connect to {peer}")))?;
        let conn = LineConn {
            stream,
            peer,
            pending: Vec::new(),
        };
        conn.set_timeout(Some(timeout))?;
        Ok(conn)
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// `None` blocks until data arrives or the peer closes.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), PluginError> {
        self.stream.set_read_timeout(timeout)?;
        self.stream.set_write_timeout(timeout)?;
        Ok(())
    }

    pub fn send_line(&mut self, line: &str) -> Result<(), PluginError> {
        let framed = format!("{line}\r\n");
        self.stream
            .write_all(framed.as_bytes())
            .map_err(|e| self.io_error(e, "send to"))
    }

    /// The next non-empty line without its terminator. A closed connection
    /// is `Unreachable`, a silent one `Timeout`.
    pub fn read_line(&mut self) -> Result<String, PluginError> {
        loop {
            if let Some(line) = self.take_line()? {
                return Ok(line);
            }
            self.fill()?;
        }
    }

    /// The complete lines that have already arrived, without waiting: how a
    /// plugin catches up on notifications the device pushed between calls.
    pub fn drain_lines(&mut self) -> Result<Vec<String>, PluginError> {
        self.stream.set_nonblocking(true)?;
        let filled = loop {
            match self.fill() {
                Ok(()) => continue,
                Err(PluginError::Timeout(_)) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.stream.set_nonblocking(false)?;
        filled?;
        let mut lines = Vec::new();
        while let Some(line) = self.take_line()? {
            lines.push(line);
        }
        Ok(lines)
    }

    fn take_line(&mut self) -> Result<Option<String>, PluginError> {
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw).trim().to_string();
            if !line.is_empty() {
                return Ok(Some(line));
            }
        }
        if self.pending.len() > MAX_LINE {
            return Err(PluginError::InvalidArgument(format!(
                "{} sent a line longer than {MAX_LINE} bytes",
                self.peer
            )));
        }
        Ok(None)
    }

    fn fill(&mut self) -> Result<(), PluginError> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(PluginError::Unreachable(format!(
                "{} closed the connection",
                self.peer
            ))),
            Ok(n) => {
                self.pending.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(self.io_error(e, "read from")),
        }
    }

    /// On an open connection any failure but a timeout means the device is
    /// gone (wasip2 reports a reset as a bare I/O error).
    fn io_error(&self, e: std::io::Error, doing: &str) -> PluginError {
        let error = match PluginError::from(e) {
            PluginError::Internal(m) => PluginError::Unreachable(m),
            other => other,
        };
        error.context(format!("{doing} {}", self.peer))
    }
}

/// Sends `payload` to `target` from an ephemeral port and collects every
/// reply that arrives within `window` (as discovery protocols answer).
pub fn udp_exchange(
    target: SocketAddr,
    payload: &[u8],
    window: Duration,
) -> Result<Vec<(SocketAddr, Vec<u8>)>, PluginError> {
    let bind = match target {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let socket = UdpSocket::bind(bind)?;
    socket
        .send_to(payload, target)
        .map_err(|e| PluginError::from(e).context(format!("send to {target}")))?;
    // wasip2 has no receive timeout on UDP sockets: poll without blocking.
    socket.set_nonblocking(true)?;
    let end = Instant::now() + window;
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => replies.push((from, buf[..n].to_vec())),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(replies);
                }
                std::thread::sleep(left.min(UDP_POLL));
            }
            Err(e) => return Err(e.into()),
        }
    }
}
