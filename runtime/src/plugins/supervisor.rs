//! A plugin's health: crashes, back-off before the next instance, and the
//! state operators see.

use crate::error::{ErrorCode, HubError};
use crate::sync::MutexHeld;
use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive crashes after which a plugin is reported `failed` (it is
/// still retried, at the longest back-off).
const FAILED_AFTER: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Supervisor(Mutex<Health>);

#[derive(Default)]
struct Health {
    consecutive: u32,
    total: u64,
    retry_at: Option<Instant>,
    last_crash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Restarting,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub state: State,
    pub crashes: u64,
    pub consecutive_crashes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_crash: Option<String>,
}

impl Supervisor {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.0.held()
    }

    /// Refuses a new instance while the plugin is backing off.
    pub fn admit(&self, plugin: &str) -> Result<(), HubError> {
        let health = self.health();
        match health
            .retry_at
            .map(|at| at.saturating_duration_since(Instant::now()))
        {
            Some(wait) if !wait.is_zero() => Err(HubError::new(
                ErrorCode::PluginFailed,
                format!(
                    "plugin {plugin} is restarting after {} crashes in a row (last: {}); retry in {} ms",
                    health.consecutive,
                    health.last_crash.as_deref().unwrap_or("unknown"),
                    wait.as_millis().max(1)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// How long until an instance may be created again.
    pub fn wait(&self) -> Duration {
        self.health().retry_at.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    pub fn crashed(&self, plugin: &str, message: &str) {
        let mut health = self.health();
        health.consecutive += 1;
        health.total += 1;
        health.last_crash = Some(message.to_string());
        let backoff = match health.consecutive {
            1 => Duration::ZERO,
            n => FIRST_BACKOFF
                .saturating_mul(1 << (n - 2).min(16))
                .min(MAX_BACKOFF),
        };
        health.retry_at = Some(Instant::now() + backoff);
        tracing::warn!(
            plugin,
            crashes = health.consecutive,
            backoff_ms = backoff.as_millis() as u64,
            "plugin crashed: {message}"
        );
    }

    pub fn succeeded(&self) {
        let mut health = self.health();
        health.consecutive = 0;
        health.retry_at = None;
    }

    pub fn status(&self) -> Status {
        let health = self.health();
        let retry_in = health
            .retry_at
            .map(|at| at.saturating_duration_since(Instant::now()))
            .filter(|d| !d.is_zero());
        let state = match (health.consecutive, retry_in) {
            (n, _) if n >= FAILED_AFTER => State::Failed,
            (_, Some(_)) => State::Restarting,
            _ => State::Running,
        };
        Status {
            state,
            crashes: health.total,
            consecutive_crashes: health.consecutive,
            retry_in_ms: retry_in.map(|d| d.as_millis() as u64),
            last_crash: health.last_crash.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_after_repeated_crashes_and_recovers_on_success() {
        let s = Supervisor::default();
        s.crashed("p", "trap");
        assert!(s.admit("p").is_ok(), "the first crash restarts at once");
        s.crashed("p", "trap");
        let refused = s.admit("p").unwrap_err();
        assert_eq!(refused.code, ErrorCode::PluginFailed);
        assert!(refused.message.contains("retry in"), "{}", refused.message);
        assert_eq!(s.status().state, State::Restarting);
        for _ in 0..3 {
            s.crashed("p", "trap");
        }
        assert_eq!(s.status().state, State::Failed);
        s.succeeded();
        assert_eq!(s.status().state, State::Running);
        assert_eq!(s.status().crashes, 5);
        assert!(s.admit("p").is_ok());
    }
}
