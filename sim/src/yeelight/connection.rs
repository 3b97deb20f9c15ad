//! A bulb's TCP control port: one JSON command per line in, replies and
//! `props` notifications out.

use super::{Bulb, Fault};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::RecvError;

/// Real bulbs serve at most four clients at once (and `commands_per_minute` from each).
const MAX_CONNECTIONS: usize = 4;

pub(super) async fn serve(listener: TcpListener, bulb: Arc<Bulb>) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        if bulb.fault() == Fault::DropConnections {
            continue;
        }
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            tracing::debug!(bulb = bulb.id(), %peer, "refused a fifth connection");
            continue;
        }
        // Replies are single lines: send them at once, as bulbs do.
        let _ = stream.set_nodelay(true);
        let (bulb, open) = (bulb.clone(), open.clone());
        tokio::spawn(async move {
            if let Err(e) = converse(stream, &bulb).await {
                tracing::debug!(bulb = bulb.id(), %peer, "connection ended: {e}");
            }
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn converse(stream: TcpStream, bulb: &Bulb) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut changes = bulb.subscribe();
    let mut faults = bulb.faults();
    let mut sent = VecDeque::new();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line? else { return Ok(()) };
                for reply in replies(bulb, &line, &mut sent) {
                    if bulb.fault() == Fault::None {
                        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
                    }
                }
            }
            change = changes.recv() => match change {
                Ok(params) if bulb.fault() == Fault::None => {
                    let note = json!({"method": "props", "params": params});
                    write.write_all(format!("{note}\r\n").as_bytes()).await?;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Ok(()),
            },
            changed = faults.changed() => {
                if changed.is_err() || *faults.borrow() == Fault::DropConnections {
                    return Ok(());
                }
            }
        }
    }
}

/// The replies to every command on one line: whitespace between commands,
/// and several commands on a line, are tolerated.
fn replies(bulb: &Bulb, line: &str, sent: &mut VecDeque<Instant>) -> Vec<Value> {
    serde_json::Deserializer::from_str(line)
        .into_iter::<Value>()
        .map(|command| match command {
            Ok(command) => reply(bulb, &command, sent),
            Err(_) => error(&Value::Null, "invalid command"),
        })
        .collect()
}

fn reply(bulb: &Bulb, command: &Value, sent: &mut VecDeque<Instant>) -> Value {
    let id = command
        .get("id")
        .filter(|id| id.is_u64())
        .cloned()
        .unwrap_or(Value::Null);
    let (Some(method), false) = (command.get("method").and_then(Value::as_str), id.is_null())
    else {
        return error(&id, "invalid command");
    };
    if !take_quota(sent, bulb.commands_per_minute) {
        return error(&id, "client quota exceeded");
    }
    let no_params = Vec::new();
    let params = command
        .get("params")
        .and_then(Value::as_array)
        .unwrap_or(&no_params);
    match bulb.execute(method, params) {
        Ok(result) => json!({"id": id, "result": result}),
        Err(message) => error(&id, &message),
    }
}

fn error(id: &Value, message: &str) -> Value {
    json!({"id": id, "error": {"code": -1, "message": message}})
}

fn take_quota(sent: &mut VecDeque<Instant>, quota: usize) -> bool {
    let now = Instant::now();
    while sent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        sent.pop_front();
    }
    if sent.len() >= quota {
        return false;
    }
    sent.push_back(now);
    true
}
