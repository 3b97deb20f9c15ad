//! Per-plugin rates: a token bucket per quota.

use std::sync::Mutex;
use std::time::Instant;

pub struct Rate {
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl Rate {
    /// Allows `per_second` on average, and bursts of as many.
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Rate {
            per_second,
            state: Mutex::new((per_second, Instant::now())),
        }
    }

    /// Takes one token; false when the rate is exceeded.
    pub fn take(&self) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second)
            .min(self.per_second);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refuses() {
        let rate = Rate::new(5);
        assert_eq!((0..20).filter(|_| rate.take()).count(), 5);
    }
}
