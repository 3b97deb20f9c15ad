//! Where a connection's answers wait for its writer, bounded in bytes: a
//! client that sends requests and does not read the answers would otherwise
//! make the hub hold them for it. Past the bound (its own, or the pool all
//! connections share, so that many connections cannot multiply it) the
//! client is disconnected with the reason; the answers it did not read are
//! not kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Bytes of answers one connection may have waiting for its writer.
pub const OUTBOX_BYTES: usize = 4 << 20;
/// Bytes of answers all connections together may have waiting.
pub const SHARED_OUTBOX_BYTES: usize = 64 << 20;

#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::UnboundedSender<Queued>,
    bytes: Arc<Semaphore>,
    shared: Arc<Semaphore>,
    overflowed: Arc<AtomicBool>,
}

/// A frame's bytes, of its connection's outbox and of the shared pool,
/// freed when the frame is written (dropped).
pub struct Held {
    _own: OwnedSemaphorePermit,
    _shared: OwnedSemaphorePermit,
}

/// What waits for the writer: a frame holding its bytes, or word that one
/// did not fit and the connection must close.
pub enum Queued {
    Frame(String, Held),
    Overflowed,
}

/// The writer's end.
pub struct Outgoing {
    frames: mpsc::UnboundedReceiver<Queued>,
}

/// An outbox of `bytes`, drawing on `shared` too.
pub fn outbox(bytes: usize, shared: Arc<Semaphore>) -> (Outbox, Outgoing) {
    let (tx, rx) = mpsc::unbounded_channel();
    let outbox = Outbox {
        frames: tx,
        bytes: Arc::new(Semaphore::new(bytes)),
        shared,
        overflowed: Arc::default(),
    };
    (outbox, Outgoing { frames: rx })
}

impl Outbox {
    /// Queues `frame` for the writer, or, when the answers already waiting
    /// fill the outbox, drops it and tells the connection to close.
    pub fn push(&self, frame: String) {
        let bytes = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let held = self
            .bytes
            .clone()
            .try_acquire_many_owned(bytes)
            .and_then(|own| {
                let shared = self.shared.clone().try_acquire_many_owned(bytes)?;
                Ok(Held {
                    _own: own,
                    _shared: shared,
                })
            });
        let queued = match held {
            Ok(held) => Queued::Frame(frame, held),
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
        let (outbox, mut outgoing) = outbox(1000, Arc::new(Semaphore::new(1 << 20)));
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
    fn many_connections_cannot_multiply_the_bound() {
        let shared = Arc::new(Semaphore::new(1500));
        let (first, mut first_out) = outbox(1000, shared.clone());
        let (second, mut second_out) = outbox(1000, shared.clone());
        first.push("a".repeat(900));
        second.push("b".repeat(900));
        assert!(matches!(first_out.try_recv(), Some(Queued::Frame(..))));
        assert!(
            matches!(second_out.try_recv(), Some(Queued::Overflowed)),
            "the pool all connections share is spent"
        );
    }

    #[test]
    fn written_answers_free_their_bytes() {
        let (outbox, mut outgoing) = outbox(1000, Arc::new(Semaphore::new(1 << 20)));
        for _ in 0..5 {
            outbox.push("d".repeat(600));
            assert!(matches!(outgoing.try_recv(), Some(Queued::Frame(..))));
        }
    }
}
