//! Outgoing HTTP(S) (feature `http`). The hub sends each request itself,
//! only to hosts the operator granted, and refuses names that resolve into
//! the LAN or loopback.

use crate::PluginError;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use std::time::Duration;

/// Bodies larger than this are refused by the SDK (the hub bounds them too).
pub const MAX_BODY: usize = 1 << 20;

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET url`, waiting at most `timeout` for the connection and for the first byte.
pub fn get(url: &str, timeout: Duration) -> Result<Response, PluginError> {
    let (scheme, authority, path) = split(url)?;
    let request = OutgoingRequest::new(Fields::new());
    let set = request
        .set_scheme(Some(&scheme))
        .and(request.set_authority(Some(authority)))
        .and(request.set_path_with_query(Some(path)));
    set.map_err(|()| PluginError::InvalidArgument(format!("not a usable URL: {url}")))?;
    let options = RequestOptions::new();
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    // Both setters only fail for durations the host cannot represent.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let pending = outgoing_handler::handle(request, Some(options)).map_err(|e| refused(url, e))?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(refused(url, e)),
        Some(Err(())) | None => {
            return Err(PluginError::Internal(format!("GET {url}: no response")));
        }
    };
    let status = response.status();
    let incoming = response
        .consume()
        .map_err(|()| PluginError::Internal("response body taken twice".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| PluginError::Internal("response body taken twice".into()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(PluginError::Unreachable(format!(
                    "GET {url}: {}",
                    e.to_debug_string()
                )));
            }
        }
        if body.len() > MAX_BODY {
            return Err(PluginError::InvalidArgument(format!(
                "GET {url}: the body exceeds {MAX_BODY} bytes"
            )));
        }
    }
    Ok(Response { status, body })
}

fn split(url: &str) -> Result<(Scheme, &str, &str), PluginError> {
    let bad = || PluginError::InvalidArgument(format!("not an http(s) URL: {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(bad()),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    if authority.is_empty() {
        return Err(bad());
    }
    Ok((scheme, authority, path))
}

fn refused(url: &str, e: ErrorCode) -> PluginError {
    match e {
        ErrorCode::HttpRequestDenied => PluginError::Unreachable(format!(
            "GET {url}: the hub refused it (this host is not granted)"
        )),
        ErrorCode::DestinationIpProhibited => PluginError::Unreachable(format!(
            "GET {url}: the hub refused it (the host resolves into a blocked network)"
        )),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout => PluginError::Timeout(format!("GET {url}: {e:?}")),
        ErrorCode::HttpResponseBodySize(_) => PluginError::InvalidArgument(format!(
            "GET {url}: the response is larger than the hub allows"
        )),
        other => PluginError::Unreachable(format!("GET {url}: {other:?}")),
    }
}
