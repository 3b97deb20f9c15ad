//! Where a connection's answers wait for its writer, bounded in bytes: a
//! client that sends requests and does not read the answers would otherwise
//! make the hub hold them for it. Past the bound the client is disconnected
//! with the reason; the answers it did not read are not kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Bytes of answers one connection may have waiting for its writer.
pub const OUTBOX_BYTES: usize = 4 << 20;

#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::UnboundedSender<Queued>,
    bytes: Arc<Semaphore>,
    overflowed: Arc<AtomicBool>,
}

/// What waits for the writer: a frame holding its bytes of the outbox, or
/// word that one did not fit and the connection must close.
pub enum Queued {
    Frame(String, OwnedSemaphorePermit),
    Overflowed,
}

/// The writer's end.
pub struct Outgoing {
    frames: mpsc::UnboundedReceiver<Queued>,
}

pub fn outbox(bytes: usize) -> (Outbox, Outgoing) {
    let (tx, rx) = mpsc::unbounded_channel();
    let outbox = Outbox {
        frames: tx,
        bytes: Arc::new(Semaphore::new(bytes)),
        overflowed: Arc::default(),
    };
    (outbox, Outgoing { frames: rx })
}

impl Outbox {
    /// Queues `frame` for the writer, or, when the answers already waiting
    /// fill the outbox, drops it and tells the connection to close.
    pub fn push(&self, frame: String) {
        let bytes = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let queued = match self.bytes.clone().try_acquire_many_owned(bytes) {
            Ok(permit) => Queued::Frame(frame, permit),
            // Said once: the connection closes at the first.
            Err(_) if !self.overflowed.swap(true, Ordering::Relaxed) => Queued::Overflowed,
            Err(_) => return,
        };
        // A closed channel means the client went away: nobody is left to answer.
        let _ = self.frames.send(queued);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_past_the_byte_bound_close_the_connection_instead_of_piling_up() {
        let (outbox, mut outgoing) = outbox(1000);
        for answer in ["a", "b", "c"] {
            outbox.push(answer.repeat(600));
        }
        let Some(Queued::Frame(first, _)) = outgoing.try_recv() else {
            panic!("the first is kept");
        };
        assert_eq!(first, "a".repeat(600));
        assert!(
            matches!(outgoing.try_recv(), Some(Queued::Overflowed)),
            "the second did not fit: the connection must close"
        );
        assert!(
            outgoing.try_recv().is_none(),
            "said once, nothing more kept"
        );
    }

    #[test]
    fn written_answers_free_their_bytes() {
        let (outbox, mut outgoing) = outbox(1000);
        for _ in 0..5 {
            outbox.push("d".repeat(600));
            assert!(matches!(outgoing.try_recv(), Some(Queued::Frame(..))));
        }
    }
}
