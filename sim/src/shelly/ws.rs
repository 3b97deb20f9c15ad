//! The WebSocket at `/rpc`: the same JSON-RPC frames as over HTTP. A
//! client's request carries `"src"`; from then on the device pushes it
//! `NotifyStatus` and `NotifyEvent` frames addressed to that `src`.

use super::device::ShellyDevice;
use super::http::{parse_error, rpc_frame};
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, HeaderValue, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

pub(super) fn upgrade(
    device: Arc<ShellyDevice>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let Some(key) = request.headers().get("sec-websocket-key") else {
        let mut refused = Response::new(Full::new(Bytes::from_static(
            b"{\"code\":-103,\"message\":\"GET /rpc needs a WebSocket upgrade; use /rpc/<Method> for plain HTTP\"}",
        )));
        *refused.status_mut() = StatusCode::BAD_REQUEST;
        return refused;
    };
    let accept = derive_accept_key(key.as_bytes());
    tokio::spawn(async move {
        match hyper::upgrade::on(request).await {
            Ok(upgraded) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                talk(ws, &device).await;
            }
            Err(e) => tracing::debug!("shelly websocket upgrade failed: {e}"),
        }
    });
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert("sec-websocket-accept", accept);
    }
    response
}

async fn talk(ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, device: &Arc<ShellyDevice>) {
    let (mut sink, mut frames) = ws.split();
    let mut pushes = device.pushes();
    let mut online = device.online();
    // Notifications go to the client's `src`, once it has named one.
    let mut client: Option<Value> = None;
    let mut listener = None;
    loop {
        // Pushes first: `ota_success` must reach the client before the
        // reboot it announces closes the connection.
        let outgoing = tokio::select! {
            biased;
            push = pushes.recv() => match push {
                Ok(mut push) => client.as_ref().map(|dst| {
                    push["src"] = Value::from(device.id());
                    push["dst"] = dst.clone();
                    push
                }),
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            },
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => Some(reply(device, text.as_str(), &mut client)),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => None,
            },
            _ = online.wait_for(|on| !on) => return,
        };
        if client.is_some() && listener.is_none() {
            listener = Some(device.listening());
        }
        if let Some(frame) = outgoing
            && sink.send(Message::text(frame.to_string())).await.is_err()
        {
            return;
        }
    }
}

fn reply(device: &Arc<ShellyDevice>, text: &str, client: &mut Option<Value>) -> Value {
    let frame: Value = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(e) => return parse_error(device, &e),
    };
    if let Some(src) = frame.get("src").filter(|s| s.is_string()) {
        *client = Some(src.clone());
    }
    let mut answer = rpc_frame(device, &frame);
    if let Some(dst) = client {
        answer["dst"] = dst.clone();
    }
    answer
}
