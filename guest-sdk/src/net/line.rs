use super::{connect, io_error};
use crate::PluginError;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The longest line a [`LineConn`] accepts: a device cannot make the plugin
/// buffer without bound.
pub const MAX_LINE: usize = 64 * 1024;

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
        Ok(LineConn {
            stream: connect(peer, timeout)?,
            peer,
            pending: Vec::new(),
        })
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

    fn io_error(&self, e: std::io::Error, doing: &str) -> PluginError {
        io_error(e, doing, self.peer)
    }
}
