//! Rates: a token bucket per quota.

use crate::sync::MutexHeld;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Rate {
    per_second: f64,
    /// Tokens the bucket holds when full.
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Rate {
    /// Allows `per_second` on average, and bursts of as many.
    pub fn new(per_second: u64) -> Self {
        Self::with_burst(per_second, per_second)
    }

    /// Allows `per_second` on average, and bursts of `burst`.
    pub fn with_burst(per_second: u64, burst: u64) -> Self {
        let per_second = per_second.max(1) as f64;
        let burst = burst.max(1) as f64;
        Rate {
            per_second,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Allows `n` a minute, in bursts of as many.
    pub fn per_minute(n: u32) -> Self {
        let n = f64::from(n.max(1));
        Rate {
            per_second: n / 60.0,
            burst: n,
            state: Mutex::new((n, Instant::now())),
        }
    }

    /// Takes one token; false when the rate is exceeded.
    pub fn take(&self) -> bool {
        self.take_n(1)
    }

    /// Takes `n` tokens, or none and false when fewer are left.
    pub fn take_n(&self, n: u64) -> bool {
        self.with_tokens(|tokens| {
            let fits = *tokens >= n as f64;
            if fits {
                *tokens -= n as f64;
            }
            fits
        })
    }

    /// Spends `n` tokens even if that leaves the bucket in debt, and says
    /// how long the spender must then pause for the rate to hold.
    pub fn charge(&self, n: u64) -> Option<Duration> {
        self.with_tokens(|tokens| {
            *tokens -= n as f64;
            (*tokens < 0.0).then(|| Duration::from_secs_f64(-*tokens / self.per_second))
        })
    }

    fn with_tokens<R>(&self, use_tokens: impl FnOnce(&mut f64) -> R) -> R {
        let mut state = self.state.held();
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        use_tokens(tokens)
    }
}

/// Writes to one device (set_attributes): the hub's rate for every device,
/// and the stricter one a device may declare for itself (a Yeelight bulb
/// takes 60 commands a minute, then refuses its client).
pub struct DeviceWrites {
    hub: Rate,
    hub_per_second: u64,
    declared: Mutex<Option<(u32, Rate)>>,
}

/// Which rate refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteLimit {
    /// The hub's: `writes_per_second`.
    PerSecond(u64),
    /// The device's own, as it declared.
    DeclaredPerMinute(u32),
}

impl DeviceWrites {
    pub fn new(per_second: u64) -> Self {
        DeviceWrites {
            hub: Rate::new(per_second),
            hub_per_second: per_second,
            declared: Mutex::new(None),
        }
    }

    /// Takes one write under both rates; `declared` is what the device
    /// declares now (a new figure starts a new rate).
    pub fn take(&self, declared: Option<u32>) -> Result<(), WriteLimit> {
        if !self.hub.take() {
            return Err(WriteLimit::PerSecond(self.hub_per_second));
        }
        if let Some(per_minute) = declared {
            if per_minute == 0 {
                return Err(WriteLimit::DeclaredPerMinute(0));
            }
            let mut rate = self.declared.held();
            if rate.as_ref().is_none_or(|(n, _)| *n != per_minute) {
                *rate = Some((per_minute, Rate::per_minute(per_minute)));
            }
            if rate.as_ref().is_some_and(|(_, rate)| !rate.take()) {
                return Err(WriteLimit::DeclaredPerMinute(per_minute));
            }
        }
        Ok(())
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

    #[test]
    fn counts_bytes_not_only_calls() {
        let rate = Rate::new(1000);
        assert!(rate.take_n(600));
        assert!(!rate.take_n(600), "a second 600 would pass 1000 a second");
        assert!(rate.take_n(300));
    }

    #[test]
    fn a_spender_in_debt_pauses_in_proportion() {
        let rate = Rate::with_burst(1_000_000, 1_000_000);
        assert_eq!(rate.charge(500_000), None);
        let pause = rate.charge(2_500_000).expect("in debt");
        assert!(
            pause > Duration::from_millis(1900) && pause <= Duration::from_secs(2),
            "{pause:?}"
        );
    }

    #[test]
    fn a_device_declaring_a_stricter_rate_gets_it() {
        let writes = DeviceWrites::new(100);
        let taken = (0..10).filter(|_| writes.take(Some(3)).is_ok()).count();
        assert_eq!(taken, 3, "3 a minute, though the hub allows 100 a second");
        assert_eq!(writes.take(Some(3)), Err(WriteLimit::DeclaredPerMinute(3)));
        let lenient = DeviceWrites::new(5);
        assert_eq!(
            (0..10).filter(|_| lenient.take(Some(600)).is_ok()).count(),
            5
        );
        assert_eq!(lenient.take(None), Err(WriteLimit::PerSecond(5)));
        let read_only = DeviceWrites::new(5);
        assert_eq!(
            read_only.take(Some(0)),
            Err(WriteLimit::DeclaredPerMinute(0))
        );
    }
}
