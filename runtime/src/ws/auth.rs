//! Signing in over the WebSocket. A token travels in the
//! `smart-assistant-token` header or `?token=` (the seed's ways, checked by
//! `gate::caller` at the upgrade), or, so that browsers keep it out of
//! URLs and logs, in the connection's first message:
//! `{"id":1,"service":"auth","service_data":{"token":"..."}}`. A wrong
//! token is refused either way, and counts against the address's
//! sign-in attempts.

use super::render;
use super::request::Request;
use crate::config::Token;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::gate::admission::Admission;
use crate::gate::caller::caller;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A connection opened without a token must sign in within this.
pub const SIGN_IN_WITHIN: Duration = Duration::from_secs(10);

/// Waits for the `auth` message of a connection opened without a token
/// and answers it; the caller, or `None` once the connection is closed
/// with the reason.
pub async fn first_message<S>(
    ws: &mut WebSocketStream<S>,
    tokens: &[Token],
    admission: &Admission,
    peer: IpAddr,
) -> Option<Caller>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let first = async {
        // A client's keep-alive ping is not a message.
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return other,
            }
        }
    };
    let frame = match tokio::time::timeout(SIGN_IN_WITHIN, first).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Ok(_))) => {
            return refuse(
                ws,
                (admission, peer),
                None,
                "sign in first: send the auth message as text",
            )
            .await;
        }
        Ok(_) => return None,
        Err(_) => {
            let reason = format!("no sign-in within {} s", SIGN_IN_WITHIN.as_secs());
            return close(ws, reason).await;
        }
    };
    let request = match Request::parse(frame.as_str()) {
        Ok(request) if request.service == "auth" => request,
        Ok(request) => {
            let why = r#"sign in first: {"id":1,"service":"auth","service_data":{"token":"..."}}"#;
            return refuse(ws, (admission, peer), Some(request.id), why).await;
        }
        Err(rejected) => {
            return refuse(ws, (admission, peer), rejected.id, &rejected.error.message).await;
        }
    };
    let given = request.service_data.get("token").and_then(|t| t.as_str());
    let Some(caller) = given.and_then(|given| caller(given.as_bytes(), tokens)) else {
        return refuse(
            ws,
            (admission, peer),
            Some(request.id),
            "wrong or missing service_data.token",
        )
        .await;
    };
    let welcome = json!({ "caller": caller.summary() });
    let answer = render::success(request.id, &welcome);
    ws.send(Message::text(answer)).await.ok()?;
    Some(caller)
}

/// Answers `unauthorized`, counts a failed sign-in of the address, and
/// closes the connection.
async fn refuse<S>(
    ws: &mut WebSocketStream<S>,
    (admission, peer): (&Admission, IpAddr),
    id: Option<i64>,
    why: &str,
) -> Option<Caller>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    admission.failed_sign_in(peer);
    let error = HubError::new(ErrorCode::Unauthorized, why);
    let _ = ws.send(Message::text(render::failure(id, &error))).await;
    close(ws, "unauthorized".into()).await
}

async fn close<S>(ws: &mut WebSocketStream<S>, reason: String) -> Option<Caller>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::Policy,
        reason: reason.into(),
    };
    let _ = ws.close(Some(frame)).await;
    None
}
