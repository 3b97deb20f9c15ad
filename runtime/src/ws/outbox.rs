//! Where a connection's answers wait for its writer, bounded in bytes: a
//! client that sends requests and does not read the answers would otherwise
//! make the hub hold them for it. Past the bound the client is disconnected
//! with the reason; the answers it did not read are not kept.

use std::sync::Arc;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

/// Bytes of answers one connection may have waiting for its writer.
pub const OUTBOX_BYTES: usize = 4 << 20;

#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::UnboundedSender<Queued>,
    bytes: Arc<Semaphore>,
    overflowed: Arc<Notify>,
}

/// A frame waiting for the writer, holding its bytes of the outbox.
pub struct Queued {
    pub frame: String,
    _bytes: OwnedSemaphorePermit,
}

/// The writer's end.
pub struct Outgoing {
    frames: mpsc::UnboundedReceiver<Queued>,
    overflowed: Arc<Notify>,
}

pub fn outbox(bytes: usize) -> (Outbox, Outgoing) {
    let (tx, rx) = mpsc::unbounded_channel();
    let overflowed = Arc::new(Notify::new());
    let outbox = Outbox {
        frames: tx,
        bytes: Arc::new(Semaphore::new(bytes)),
        overflowed: overflowed.clone(),
    };
    (
        outbox,
        Outgoing {
            frames: rx,
            overflowed,
        },
    )
}

impl Outbox {
    /// Queues `frame` for the writer, or, when the answers already waiting
    /// fill the outbox, drops it and tells the connection to close.
    pub fn push(&self, frame: String) {
        let bytes = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        match self.bytes.clone().try_acquire_many_owned(bytes) {
            // A closed channel means the client went away: nobody is left to answer.
            Ok(permit) => drop(self.frames.send(Queued {
                frame,
                _bytes: permit,
            })),
            Err(_) => self.overflowed.notify_one(),
        }
    }
}

impl Outgoing {
    pub async fn recv(&mut self) -> Option<Queued> {
        self.frames.recv().await
    }

    pub fn try_recv(&mut self) -> Option<Queued> {
        self.frames.try_recv().ok()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Notified once an answer did not fit.
    pub fn overflow(&self) -> Arc<Notify> {
        self.overflowed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_past_the_byte_bound_close_the_connection_instead_of_piling_up() {
        let (outbox, mut outgoing) = outbox(1000);
        outbox.push("a".repeat(600));
        outbox.push("b".repeat(600));
        let overflow = outgoing.overflow();
        let closing = tokio::time::timeout(std::time::Duration::from_secs(1), overflow.notified());
        assert!(closing.await.is_ok(), "the second answer did not fit");
        let first = outgoing.try_recv().expect("the first is kept");
        assert_eq!(first.frame.len(), 600);
        assert!(outgoing.try_recv().is_none(), "the second was not kept");
        drop(first);
        outbox.push("c".repeat(600));
        assert!(
            outgoing.try_recv().is_some(),
            "written answers free their bytes"
        );
    }
}
