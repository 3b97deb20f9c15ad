//! One client connection: frames in, each request run at once and, if it
//! has to wait, on a task of its own; responses and events out through one
//! writer, a flush for whatever is ready together.

use super::outbox::{OUTBOX_BYTES, Outbox, Outgoing, Queued, SHARED_OUTBOX_BYTES, outbox};
use super::render;
use super::request::Request;
use super::responder::Responder;
use super::services;
use super::session::Session;
use crate::deadline::within;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::gate::Door;
use crate::gate::traffic::Traffic;
use crate::plugins::Event;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Requests one connection may have in flight; more are answered `busy`.
const MAX_IN_FLIGHT: usize = 256;
/// A client whose socket takes no more for this long is gone or not
/// reading: the connection is dropped rather than hold what it was sent.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a connection checks that its peer is alive.
const KEEPALIVE_TICK: Duration = Duration::from_secs(15);
/// A ping goes out when a connection has been quiet this long...
const PING_AFTER: Duration = Duration::from_secs(30);
/// ...and a peer not heard from for this long (no frame, no pong) is dead.
const DEAD_AFTER: Duration = Duration::from_secs(75);
/// Frames written out together with one flush, at most.
const BATCH: usize = 64;
/// Frames read, at most, while responses wait to be written.
const READ_AHEAD: usize = 16;

pub async fn run<S>(
    ws: WebSocketStream<S>,
    door: Arc<Door>,
    caller: Caller,
    mut shutdown: watch::Receiver<bool>,
    shared_outbox: Arc<Semaphore>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut frames) = ws.split();
    let mut session = Session::new(caller);
    let (outbox, mut outgoing) = outbox(OUTBOX_BYTES, shared_outbox);
    let mut events = door.hub.events().subscribe();
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE_TICK, KEEPALIVE_TICK);
    // Ticks since a frame arrived: counted, not timed, so that a frame
    // costs no clock reading.
    let mut quiet_ticks = 0u32;
    // Frames read since the last write: requests answered at once queue
    // their responses, which then go out with one flush.
    let mut streak = 0;
    let close = 'connection: loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break Some(shutting_down()),
            event = events.recv() => {
                match within(WRITE_TIMEOUT, send_events(&mut sink, event, &mut events, |e| session.frame(e, &door.hub), &door.traffic)).await {
                    Some(Ok(())) => {}
                    Some(Err(close)) => break close,
                    None => break None,
                }
            }
            frame = frames.next(), if streak < READ_AHEAD || outgoing.is_empty() => {
                quiet_ticks = 0;
                // Frames already read go through at once, without another
                // round of the select: a pipelining client sends many.
                let mut frame = frame;
                loop {
                    streak += 1;
                    if let Err(close) = on_frame(frame, &mut sink, &door, &mut session, &outbox, &in_flight).await {
                        break 'connection close;
                    }
                    if streak >= READ_AHEAD {
                        break;
                    }
                    match frames.next().now_or_never() {
                        Some(next) => frame = next,
                        None => break,
                    }
                }
            },
            Some(queued) = outgoing.recv() => {
                streak = 0;
                match within(WRITE_TIMEOUT, send_ready(&mut sink, queued, &mut outgoing)).await {
                    Some(Ok(Flushed::All)) => {}
                    Some(Ok(Flushed::Overflowed)) => break Some((
                        CloseCode::Policy,
                        format!(
                            "too slow: its answers waiting to be read passed the hub's bound ({} MiB a connection, {} MiB in all)",
                            OUTBOX_BYTES >> 20,
                            SHARED_OUTBOX_BYTES >> 20
                        ),
                    )),
                    _ => break None,
                }
            }
            _ = keepalive.tick() => {
                quiet_ticks += 1;
                let quiet = KEEPALIVE_TICK * quiet_ticks;
                if quiet >= DEAD_AFTER {
                    break Some((CloseCode::Away, format!("no sign of life for {} s", quiet.as_secs())));
                }
                if quiet >= PING_AFTER && !written(&mut sink, Message::Ping(Default::default())).await {
                    break None;
                }
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = written(&mut sink, Message::Close(Some(frame))).await;
    }
}

/// Runs one frame off the socket: a request, or what ends the connection
/// (`Err`, with the close frame to send, if any).
async fn on_frame<S>(
    frame: Option<Result<Message, WsError>>,
    sink: &mut S,
    door: &Arc<Door>,
    session: &mut Session,
    outbox: &Outbox,
    in_flight: &Arc<Semaphore>,
) -> Result<(), Option<(CloseCode, String)>>
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    let answer = match frame {
        Some(Ok(Message::Text(text))) => {
            match accept(text.as_str(), door, session, outbox, in_flight) {
                Accepted::Answered => return Ok(()),
                // Let it run before the frames behind it, which may be for the same device.
                Accepted::Waiting => {
                    tokio::task::yield_now().await;
                    return Ok(());
                }
                Accepted::Now(answer) => answer,
            }
        }
        Some(Ok(Message::Binary(_))) => {
            let error = HubError::new(
                ErrorCode::InvalidFormat,
                "binary frames are not requests: send JSON text",
            );
            render::failure(None, &error)
        }
        Some(Ok(Message::Close(_))) | None => return Err(None),
        Some(Ok(_)) => return Ok(()),
        Some(Err(WsError::Capacity(e))) => {
            return Err(Some((CloseCode::Size, format!("frame too large: {e}"))));
        }
        Some(Err(e)) => {
            tracing::debug!("connection dropped: {e}");
            return Err(None);
        }
    };
    if written(sink, Message::text(answer)).await {
        Ok(())
    } else {
        Err(None)
    }
}

/// Sends one frame; false when the client is gone or has not taken it in time.
async fn written<S>(sink: &mut S, message: Message) -> bool
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    matches!(
        within(WRITE_TIMEOUT, sink.send(message)).await,
        Some(Ok(()))
    )
}

/// Writes `first` and whatever other responses are already waiting, then
/// flushes once: under pipelined load, one system call and one TCP segment
/// carry many responses instead of one each.
async fn send_ready<S>(
    sink: &mut S,
    first: Queued,
    outgoing: &mut Outgoing,
) -> Result<Flushed, WsError>
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    let mut queued = first;
    for fed in 1.. {
        match queued {
            Queued::Frame(frame, _bytes) => sink.feed(Message::text(frame)).await?,
            Queued::Overflowed => return Ok(Flushed::Overflowed),
        }
        if fed == BATCH {
            break;
        }
        match outgoing.try_recv() {
            Some(next) => queued = next,
            None => break,
        }
    }
    sink.flush().await?;
    Ok(Flushed::All)
}

/// How a batch of answers ended.
enum Flushed {
    All,
    /// An answer did not fit in the outbox: the client is not reading.
    Overflowed,
}

/// Writes the event `first` and the events already queued behind it, then
/// flushes once (a device often changes several attributes at a time).
/// `Err` ends the connection, with the close frame to send, if any.
async fn send_events<S>(
    sink: &mut S,
    first: Result<Arc<Event>, RecvError>,
    events: &mut broadcast::Receiver<Arc<Event>>,
    frame: impl Fn(&Event) -> Option<String>,
    traffic: &Traffic,
) -> Result<(), Option<(CloseCode, String)>>
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    let mut next = first;
    let mut written = 0;
    for fed in 1.. {
        match next {
            Ok(event) => {
                if let Some(frame) = frame(&event) {
                    sink.feed(Message::text(frame)).await.map_err(|_| None)?;
                    written += 1;
                }
            }
            Err(RecvError::Lagged(missed)) => {
                traffic.dropped(missed);
                let reason = format!("too slow: fell {missed} events behind");
                return Err(Some((CloseCode::Policy, reason)));
            }
            Err(RecvError::Closed) => return Err(Some(shutting_down())),
        }
        if fed == BATCH {
            break;
        }
        next = match events.try_recv() {
            Ok(event) => Ok(event),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
    }
    sink.flush().await.map_err(|_| None)?;
    traffic.delivered(written);
    Ok(())
}

fn shutting_down() -> (CloseCode, String) {
    (CloseCode::Away, "hub shutting down".into())
}

/// What became of a request frame.
enum Accepted {
    /// Already answered (through the outbox).
    Answered,
    /// Still running, in a task of its own.
    Waiting,
    /// Answered by the connection itself, or refused (malformed, a
    /// duplicate id, over the connection's limit): this answer goes out now.
    Now(String),
}

/// Parses a frame and starts its request; the answer to write at once when
/// the frame is malformed or the connection has too many requests in flight.
///
/// The request is first run right here, and most finish in that one step
/// (a device that answers at once): no hand-over between tasks at all. One
/// that has to wait (device I/O, a busy device) goes on in a task of its own,
/// so that it never depends on this connection's writes.
fn accept(
    text: &str,
    door: &Arc<Door>,
    session: &mut Session,
    outbox: &Outbox,
    in_flight: &Arc<Semaphore>,
) -> Accepted {
    let request = match Request::parse(text) {
        Ok(request) => request,
        Err(rejected) => return Accepted::Now(render::failure(rejected.id, &rejected.error)),
    };
    let id = request.id;
    if let Err(error) = session.in_flight.check(id) {
        return Accepted::Now(render::failure(Some(id), &error));
    }
    if let Some(answer) = session.answer(&request) {
        return Accepted::Now(answer);
    }
    let Ok(permit) = in_flight.clone().try_acquire_owned() else {
        let error = HubError::new(
            ErrorCode::Busy,
            format!("{MAX_IN_FLIGHT} requests already in flight on this connection"),
        );
        return Accepted::Now(render::failure(Some(id), &error));
    };
    let (door, caller, out) = (
        door.clone(),
        session.caller.clone(),
        Responder::new(id, outbox.clone(), session.api),
    );
    let started = Instant::now();
    let mut running = Box::pin(async move {
        services::serve(&door, &caller, request, out).await;
        door.traffic.answered(started.elapsed());
        drop(permit);
    });
    if (&mut running).now_or_never().is_some() {
        return Accepted::Answered;
    }
    // Its id is taken until its last answer, or until its task ends.
    let held = session.in_flight.hold(id);
    tokio::spawn(async move {
        running.await;
        drop(held);
    });
    Accepted::Waiting
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::{EventKind, OtaStatus};
    use std::convert::Infallible;

    fn event(n: usize) -> Arc<Event> {
        let kind = EventKind::Ota {
            identity: format!("dev-{n}"),
            status: OtaStatus::finished(&Ok(())),
        };
        Arc::new(Event::new("bench".into(), kind))
    }

    /// Each event as one frame, as a connection that never subscribed has it.
    fn every(event: &Event) -> Option<String> {
        Some(render::event(event, render::Api::V1))
    }

    fn written(sink: &[Message]) -> Vec<String> {
        let identity = |m: &Message| {
            let json: serde_json::Value =
                serde_json::from_str(m.to_text().unwrap_or_default()).unwrap_or_default();
            json["identity"].as_str().unwrap_or_default().to_string()
        };
        sink.iter().map(identity).collect()
    }

    #[tokio::test]
    async fn queued_events_go_out_together_in_order_and_none_is_skipped() {
        let (bus, mut events) = broadcast::channel(256);
        for n in 0..BATCH + 5 {
            assert!(bus.send(event(n)).is_ok(), "a subscriber");
        }
        let mut sink = Vec::new().sink_map_err(|e: Infallible| -> WsError { match e {} });
        let first = events.recv().await;
        assert!(
            send_events(&mut sink, first, &mut events, every, &Traffic::default())
                .await
                .is_ok()
        );
        let expected: Vec<String> = (0..BATCH).map(|n| format!("dev-{n}")).collect();
        assert_eq!(written(sink.get_ref()), expected, "one batch, in order");
        let next = events.recv().await;
        assert!(
            send_events(&mut sink, next, &mut events, every, &Traffic::default())
                .await
                .is_ok()
        );
        assert_eq!(
            sink.get_ref().len(),
            BATCH + 5,
            "the rest in the next batch"
        );
    }

    #[tokio::test]
    async fn a_client_that_fell_behind_is_told_why_and_cut_off() {
        let (bus, mut events) = broadcast::channel(4);
        let mut sink = Vec::new().sink_map_err(|e: Infallible| -> WsError { match e {} });
        let first = events.recv();
        for n in 0..10 {
            assert!(bus.send(event(n)).is_ok(), "a subscriber");
        }
        let traffic = Traffic::default();
        let closed = send_events(&mut sink, first.await, &mut events, every, &traffic).await;
        let Err(Some((code, reason))) = closed else {
            panic!("not cut off: {closed:?}");
        };
        assert_eq!(code, CloseCode::Policy);
        assert_eq!(reason, "too slow: fell 6 events behind");
        let mut metrics = String::new();
        traffic.render(&mut metrics, 0);
        assert!(
            metrics.contains("hub_events_dropped_total 6\n"),
            "{metrics}"
        );
    }
}
