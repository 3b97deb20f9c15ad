//! What a plugin's device calls came to, counted for `/metrics`: a few
//! relaxed atomics, so counting costs the hot path next to nothing.

use crate::error::{ErrorCode, HubError};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct CallCounters {
    calls: AtomicU64,
    /// By `ErrorCode::ALL`'s order.
    errors: [AtomicU64; ErrorCode::ALL.len()],
}

impl CallCounters {
    pub fn count<T>(&self, outcome: &Result<T, HubError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = outcome {
            let at = ErrorCode::ALL.iter().position(|code| *code == e.code);
            if let Some(errors) = at.and_then(|at| self.errors.get(at)) {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Each error code with how many calls failed with it, the ones that
    /// did not left out.
    pub fn errors(&self) -> impl Iterator<Item = (ErrorCode, u64)> + '_ {
        let counted = ErrorCode::ALL.iter().zip(&self.errors);
        counted
            .map(|(code, n)| (*code, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
    }
}
