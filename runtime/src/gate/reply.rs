//! The HTTP answers every entrance of the front door gives in one shape:
//! `{"success": false, "code", "error"}` with a status, and the wait after
//! too many failed sign-ins.

use super::admission::Admission;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use std::net::IpAddr;

pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"success": false, "code": code, "error": message});
    json(status, &body)
}

/// `body` as JSON, with `status`.
pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer to a sign-in from `peer` while it must wait after failed
/// ones; `None` when it may try.
pub fn waiting(admission: &Admission, peer: IpAddr) -> Option<Response<Full<Bytes>>> {
    let seconds = admission.wait(peer)?.as_secs().max(1);
    let mut refused = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failures",
        &format!("too many failed sign-ins from this address; retry in {seconds} s"),
    );
    refused
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    Some(refused)
}

/// The comma-separated values of every `name` header, trimmed.
pub fn listed(
    headers: &hyper::HeaderMap,
    name: hyper::header::HeaderName,
) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}
