//! The errors a client can meet, each with a stable machine-readable code.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a request: bad JSON, missing or non-integer id, wrong types.
    InvalidFormat,
    UnknownService,
    /// No such plugin (domain) or device (identity).
    NotFound,
    /// A value the device or its metadata does not accept.
    InvalidArgument,
    Unsupported,
    Timeout,
    /// The device did not answer, or the network grant does not reach it.
    Unreachable,
    /// The plugin trapped, ran out of fuel or memory, or reported an internal error.
    PluginFailed,
    /// Too many requests already waiting; retry later.
    Busy,
    /// A per-plugin or per-device quota was reached; retry later.
    QuotaExceeded,
    /// A firmware update failed; the message names the step.
    OtaFailed,
    /// The token's scope does not allow this (operator services need an operator token).
    Forbidden,
    /// The id of a request still running on the same connection.
    DuplicateId,
    /// A connection's sign-in failed (wrong token, or another message first).
    Unauthorized,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::InvalidFormat,
        ErrorCode::UnknownService,
        ErrorCode::NotFound,
        ErrorCode::InvalidArgument,
        ErrorCode::Unsupported,
        ErrorCode::Timeout,
        ErrorCode::Unreachable,
        ErrorCode::PluginFailed,
        ErrorCode::Busy,
        ErrorCode::QuotaExceeded,
        ErrorCode::OtaFailed,
        ErrorCode::Forbidden,
        ErrorCode::DuplicateId,
        ErrorCode::Unauthorized,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidFormat => "invalid_format",
            ErrorCode::UnknownService => "unknown_service",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Unreachable => "unreachable",
            ErrorCode::PluginFailed => "plugin_failed",
            ErrorCode::Busy => "busy",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::OtaFailed => "ota_failed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::DuplicateId => "duplicate_id",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubError {
    pub code: ErrorCode,
    pub message: String,
}

impl HubError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HubError {
            code,
            message: message.into(),
        }
    }

    /// A value the hub, the plugin or the device does not accept.
    pub fn invalid(message: impl Into<String>) -> Self {
        HubError::new(ErrorCode::InvalidArgument, message)
    }

    /// A failure inside the hub (its database, a file) that no client can
    /// mend; `{:#}` so that an `anyhow` error keeps its causes.
    pub fn internal(error: impl fmt::Display) -> Self {
        HubError::new(ErrorCode::Internal, format!("{error:#}"))
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

impl std::error::Error for HubError {}
