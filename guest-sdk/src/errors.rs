use crate::PluginError;
use std::fmt;
use std::io;

impl PluginError {
    /// The same error with `context` in front of its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        let wrap = |m: String| format!("{context}: {m}");
        match self {
            PluginError::NotFound(m) => PluginError::NotFound(wrap(m)),
            PluginError::InvalidArgument(m) => PluginError::InvalidArgument(wrap(m)),
            PluginError::Unsupported(m) => PluginError::Unsupported(wrap(m)),
            PluginError::Timeout(m) => PluginError::Timeout(wrap(m)),
            PluginError::Unreachable(m) => PluginError::Unreachable(wrap(m)),
            PluginError::Internal(m) => PluginError::Internal(wrap(m)),
        }
    }
}

impl From<io::Error> for PluginError {
    fn from(e: io::Error) -> Self {
        use io::ErrorKind::*;
        match e.kind() {
            TimedOut | WouldBlock => PluginError::Timeout(e.to_string()),
            PermissionDenied => {
                PluginError::Unreachable(format!("refused by the hub's network grant ({e})"))
            }
            ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe
            | UnexpectedEof | HostUnreachable | NetworkUnreachable | AddrNotAvailable => {
                PluginError::Unreachable(e.to_string())
            }
            InvalidInput | InvalidData => PluginError::InvalidArgument(e.to_string()),
            _ => PluginError::Internal(e.to_string()),
        }
    }
}
