//! The device's HTTP side: `/shelly`, `GET /rpc/<Method>?params`,
//! `POST /rpc` carrying JSON-RPC frames, and the WebSocket at `/rpc`.

use super::device::{RpcError, ShellyDevice};
use super::ws;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Larger request bodies are refused, as a small device would.
const MAX_BODY: usize = 16 << 10;
/// How long a silent device holds a connection without answering.
const SILENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// Serves until dropped. While the device reboots, new connections are
/// closed at once and open ones are cut, as a restarting device's are.
pub(super) async fn serve(listener: TcpListener, device: Arc<ShellyDevice>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if !device.is_online() {
            continue;
        }
        if device.is_silent() {
            tokio::spawn(async move {
                let _held = stream;
                tokio::time::sleep(SILENCE).await;
            });
            continue;
        }
        let device = device.clone();
        tokio::spawn(async move {
            let mut online = device.online();
            let service = service_fn(move |request| {
                let device = device.clone();
                async move { Ok::<_, Infallible>(answer(&device, request).await) }
            });
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                ended = connection => if let Err(e) = ended {
                    tracing::debug!("shelly connection ended: {e}");
                },
                _ = online.wait_for(|on| !on) => {}
            }
        });
    }
}

async fn answer(device: &Arc<ShellyDevice>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    match (request.method().clone(), path.as_str()) {
        (Method::GET, "/shelly") => respond(StatusCode::OK, &device.identify()),
        (Method::GET, "/rpc") => ws::upgrade(device.clone(), request),
        (Method::POST, "/rpc") => match Limited::new(request.into_body(), MAX_BODY).collect().await
        {
            Ok(body) => respond(StatusCode::OK, &json_rpc(device, &body.to_bytes())),
            Err(_) => respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"code": -103, "message": "request too large"}),
            ),
        },
        (Method::GET, rpc) if rpc.starts_with("/rpc/") => {
            let params: Map<String, Value> =
                form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
            match device.call(&rpc["/rpc/".len()..], &params) {
                Ok(result) => respond(StatusCode::OK, &result),
                Err(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, &error(&e)),
            }
        }
        _ => respond(
            StatusCode::NOT_FOUND,
            &json!({"code": 404, "message": "Not Found"}),
        ),
    }
}

/// One JSON-RPC frame in, one out, tagged with the device as `src`.
fn json_rpc(device: &Arc<ShellyDevice>, body: &[u8]) -> Value {
    match serde_json::from_slice(body) {
        Ok(frame) => rpc_frame(device, &frame),
        Err(e) => parse_error(device, &e),
    }
}

pub(super) fn parse_error(device: &ShellyDevice, e: &serde_json::Error) -> Value {
    json!({"id": null, "src": device.id(), "error": {"code": -32700, "message": format!("parse error: {e}")}})
}

pub(super) fn rpc_frame(device: &Arc<ShellyDevice>, frame: &Value) -> Value {
    let id = frame.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = frame.get("method").and_then(Value::as_str) else {
        return json!({"id": id, "src": device.id(), "error": {"code": -32600, "message": "method is required"}});
    };
    let params = frame
        .get("params")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match device.call(method, &params) {
        Ok(result) => json!({"id": id, "src": device.id(), "result": result}),
        Err(e) => json!({"id": id, "src": device.id(), "error": error(&e)}),
    }
}

fn error(e: &RpcError) -> Value {
    json!({"code": e.code, "message": e.message})
}

fn respond(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
