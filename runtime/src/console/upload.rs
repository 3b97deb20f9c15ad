//! `POST /plugins`: installing a plugin by upload, for operators (a
//! console session or an operator token). The body is the manifest
//! (`plugin.toml`), one NUL byte, then the component: TOML can hold no NUL,
//! so the split is unambiguous, and one request carries both. Config
//! entries come in the `x-hub-config` header as `KEY=VALUE` pairs joined
//! with `&` and percent-encoded (a header, not the URL, which proxies log).
//!
//! An upload holds up to 64 MiB while it is compiled: one at a time, read
//! within a bound, its declared length refused at once when too large.

use crate::gate::reply::error;
use crate::plugins::Hub;
use crate::plugins::{MAX_COMPONENT, MAX_MANIFEST};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, HeaderMap};
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The most an upload may carry: the largest manifest, its separator and
/// the largest component.
pub const MAX_UPLOAD: usize = (MAX_MANIFEST + 1 + MAX_COMPONENT) as usize;
/// The whole body must arrive within this (64 MiB at half a MiB a second).
const UPLOAD_WITHIN: Duration = Duration::from_secs(120);
const CONFIG_HEADER: &str = "x-hub-config";

/// One upload at a time, hub-wide: each holds its component in memory.
static UPLOADING: Semaphore = Semaphore::const_new(1);

type Answer = Response<Full<Bytes>>;

pub async fn install(request: Request<Incoming>, hub: &Arc<Hub>, actor: &str) -> Answer {
    let config = match config(request.headers()) {
        Ok(config) => config,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid_format", &message),
    };
    if declared(request.headers()).is_some_and(|n| n > MAX_UPLOAD as u64) {
        return too_large();
    }
    let Ok(_uploading) = UPLOADING.try_acquire() else {
        let message = "another upload is being installed: try again when it is done";
        return error(StatusCode::SERVICE_UNAVAILABLE, "busy", message);
    };
    let mut body = match tokio::time::timeout(UPLOAD_WITHIN, read(request.into_body())).await {
        Ok(Ok(body)) => body,
        Ok(Err(answer)) => return *answer,
        Err(_) => {
            let message = format!(
                "the upload did not arrive within {} s",
                UPLOAD_WITHIN.as_secs()
            );
            return error(StatusCode::REQUEST_TIMEOUT, "timeout", &message);
        }
    };
    let Some(split) = body.iter().position(|&b| b == 0) else {
        let message = "send the manifest, one NUL byte, then the component";
        return error(StatusCode::BAD_REQUEST, "invalid_format", message);
    };
    let from = json!({"upload": {"bytes": body.len()}});
    let mut manifest: Vec<u8> = body.drain(..=split).collect();
    manifest.pop();
    let (hub, actor) = (hub.clone(), actor.to_string());
    let installed = tokio::task::spawn_blocking(move || {
        hub.install_bytes(&actor, manifest, &body, Some(config), from, None)
    })
    .await;
    match installed {
        Ok(Ok(report)) => super::json(StatusCode::OK, &report),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.message),
        Err(_) => {
            let message = "the install stopped unexpectedly";
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
        }
    }
}

/// The body, gathered into one buffer as it arrives; the answer to send
/// instead when it grows past `MAX_UPLOAD` or the client goes away.
async fn read(mut incoming: Incoming) -> Result<Vec<u8>, Box<Answer>> {
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| {
            let message = format!("the upload broke off: {e}");
            Box::new(error(StatusCode::BAD_REQUEST, "invalid_format", &message))
        })?;
        if let Ok(data) = frame.into_data() {
            if body.len() + data.len() > MAX_UPLOAD {
                return Err(Box::new(too_large()));
            }
            body.extend_from_slice(&data);
        }
    }
    Ok(body)
}

fn declared(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn too_large() -> Answer {
    let message = "an upload is at most a 64 KiB manifest and a 64 MiB component";
    error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
}

/// The `x-hub-config` header's `KEY=VALUE` pairs.
fn config(headers: &HeaderMap) -> Result<BTreeMap<String, String>, String> {
    let Some(header) = headers.get(CONFIG_HEADER) else {
        return Ok(BTreeMap::new());
    };
    let text = header
        .to_str()
        .map_err(|_| format!("{CONFIG_HEADER} must be ASCII, percent-encoded"))?;
    pairs(text)
}

fn pairs(text: &str) -> Result<BTreeMap<String, String>, String> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(key, value)| match key.is_empty() {
            false => Ok((key.into_owned(), value.into_owned())),
            true => Err(format!("config {value:?} has no key: send KEY=VALUE")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_comes_as_key_value_pairs() {
        let parsed = pairs("discovery=10.0.0.1%3A1982&a=b%3Dc").unwrap();
        assert_eq!(parsed["discovery"], "10.0.0.1:1982");
        assert_eq!(parsed["a"], "b=c");
        assert!(pairs("=x").is_err());
        assert!(pairs("").unwrap().is_empty());
    }
}
