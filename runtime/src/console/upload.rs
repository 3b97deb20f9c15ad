//! `POST /plugins`: installing a plugin by upload, for operators (a
//! console session or an operator token). The body is the manifest
//! (`plugin.toml`), one NUL byte, then the component: TOML can hold no NUL,
//! so the split is unambiguous, and one request carries both. Config
//! entries come as `?config=KEY=VALUE`, repeated.

use crate::plugins::Hub;
use crate::plugins::operations::{MAX_COMPONENT, MAX_MANIFEST};
use crate::ws::server::error;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most an upload may carry: the largest manifest, its separator and
/// the largest component.
pub const MAX_UPLOAD: usize = (MAX_MANIFEST + 1 + MAX_COMPONENT) as usize;

pub async fn install(
    request: Request<Incoming>,
    hub: &Arc<Hub>,
    actor: &str,
) -> Response<Full<Bytes>> {
    let config = match config(request.uri().query().unwrap_or_default()) {
        Ok(config) => config,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid_format", &message),
    };
    let body = match Limited::new(request.into_body(), MAX_UPLOAD)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            let most = MAX_UPLOAD >> 20;
            let message =
                format!("an upload is at most {most} MiB (a 64 MiB component and its manifest)");
            return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &message);
        }
    };
    let Some(split) = body.iter().position(|&b| b == 0) else {
        let message = "send the manifest, one NUL byte, then the component";
        return error(StatusCode::BAD_REQUEST, "invalid_format", message);
    };
    let (hub, actor) = (hub.clone(), actor.to_string());
    let from = json!({"upload": {"bytes": body.len()}});
    let installed = tokio::task::spawn_blocking(move || {
        let (manifest, component) = (body[..split].to_vec(), &body[split + 1..]);
        hub.install_bytes(&actor, manifest, component, config, from)
    })
    .await;
    let (status, body) = match installed {
        Ok(Ok(report)) => (StatusCode::OK, json!(report)),
        Ok(Err(e)) => (
            StatusCode::BAD_REQUEST,
            json!({"success": false, "code": e.code.as_str(), "error": e.message}),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"success": false, "code": "internal", "error": format!("the install failed: {e}")}),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `config=KEY=VALUE` pairs of the query.
fn config(query: &str) -> Result<BTreeMap<String, String>, String> {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name == "config")
        .map(|(_, pair)| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(format!("config {pair:?} is not KEY=VALUE")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_comes_as_key_value_pairs() {
        let parsed = config("config=discovery%3D10.0.0.1%3A1982&config=a=b%3Dc").unwrap();
        assert_eq!(parsed["discovery"], "10.0.0.1:1982");
        assert_eq!(parsed["a"], "b=c");
        assert!(config("config=novalue").is_err());
        assert!(config("config==x").is_err());
        assert!(config("").unwrap().is_empty());
    }
}
