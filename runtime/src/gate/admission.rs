//! Who may hold a connection to the hub, and for how long may an address
//! keep guessing tokens. The listening port faces the LAN: anyone there can
//! open connections without a token, so their number is bounded in total
//! and per address, and an address that keeps failing to sign in is made
//! to wait.

use crate::config::ServerLimits;
use crate::sync::MutexHeld;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The first wait after too many failed sign-ins; it doubles with each
/// further failure, up to `LONGEST_WAIT`.
const FIRST_WAIT: Duration = Duration::from_secs(1);
const LONGEST_WAIT: Duration = Duration::from_secs(300);
/// Failures older than this are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_secs(600);
/// Addresses whose failures are remembered, at most.
const REMEMBERED: usize = 10_000;

pub struct Admission {
    limits: ServerLimits,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    open: usize,
    per_address: HashMap<IpAddr, usize>,
    failures: HashMap<IpAddr, Failures>,
}

struct Failures {
    count: u32,
    last: Instant,
}

/// A connection's place; freed when dropped.
pub struct Admitted {
    admission: Arc<Admission>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.open -= 1;
        if let Some(n) = state.per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                state.per_address.remove(&self.address);
            }
        }
    }
}

impl Admission {
    pub fn new(limits: ServerLimits) -> Arc<Self> {
        Arc::new(Admission {
            limits,
            state: Mutex::default(),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    /// A place for one more connection from `peer`, or why not.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admitted, &'static str> {
        let address = group(peer);
        let mut state = self.lock();
        if state.open >= self.limits.max_connections {
            return Err("the hub's connection limit is reached");
        }
        let from_address = state.per_address.entry(address).or_default();
        if *from_address >= self.limits.max_connections_per_address {
            return Err("this address's connection limit is reached");
        }
        *from_address += 1;
        state.open += 1;
        Ok(Admitted {
            admission: self.clone(),
            address,
        })
    }

    /// How long `peer` must still wait before its next sign-in is looked at.
    pub fn wait(&self, peer: IpAddr) -> Option<Duration> {
        let state = self.lock();
        let failures = state.failures.get(&group(peer))?;
        let over = failures
            .count
            .checked_sub(self.limits.auth_failures_allowed + 1)?;
        let wait = FIRST_WAIT
            .saturating_mul(1 << over.min(16))
            .min(LONGEST_WAIT);
        let left = wait.saturating_sub(failures.last.elapsed());
        (!left.is_zero()).then_some(left)
    }

    pub fn failed_sign_in(&self, peer: IpAddr) {
        let mut state = self.lock();
        if state.failures.len() >= REMEMBERED {
            state
                .failures
                .retain(|_, f| f.last.elapsed() < FAILURE_MEMORY);
        }
        let now = Instant::now();
        let failures = state.failures.entry(group(peer)).or_insert(Failures {
            count: 0,
            last: now,
        });
        if failures.last.elapsed() >= FAILURE_MEMORY {
            failures.count = 0;
        }
        failures.count += 1;
        failures.last = now;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a counter or map operation: never half-done.
        self.state.held()
    }
}

/// Addresses are counted one by one (IPv4-mapped IPv6 as IPv4): on a home
/// LAN every IPv6 host shares one /64, so grouping by prefix would let one
/// attacker lock the whole LAN out.
fn group(peer: IpAddr) -> IpAddr {
    peer.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_address: usize) -> Arc<Admission> {
        Admission::new(ServerLimits {
            max_connections: total,
            max_connections_per_address: per_address,
            auth_failures_allowed: 3,
            ..ServerLimits::default()
        })
    }

    #[test]
    fn one_address_cannot_take_every_connection() {
        let a = admission(10, 3);
        let attacker: IpAddr = "192.168.1.66".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| a.admit(attacker).unwrap()).collect();
        assert!(a.admit(attacker).is_err());
        assert!(
            a.admit("192.168.1.10".parse().unwrap()).is_ok(),
            "others still get in"
        );
        drop(held);
        assert!(
            a.admit(attacker).is_ok(),
            "closed connections free their places"
        );
    }

    #[test]
    fn the_total_is_bounded_and_a_lan_neighbour_is_not_its_attacker() {
        let a = admission(4, 2);
        let host = |n: u16| IpAddr::from([0xfd00, 0, 0, 1, 0, 0, 0, n]);
        let _held: Vec<_> = (0..2).map(|_| a.admit(host(1)).unwrap()).collect();
        assert!(a.admit(host(1)).is_err());
        let _neighbour = a.admit(host(2)).expect("another host of the same /64");
        let _more = a.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            a.admit("10.0.0.3".parse().unwrap()).err(),
            Some("the hub's connection limit is reached")
        );
    }

    #[test]
    fn guessing_tokens_makes_an_address_wait_longer_and_longer() {
        let a = admission(10, 10);
        let guesser: IpAddr = "192.168.1.66".parse().unwrap();
        for _ in 0..3 {
            a.failed_sign_in(guesser);
        }
        assert_eq!(a.wait(guesser), None, "a few typos are free");
        a.failed_sign_in(guesser);
        let first = a.wait(guesser).expect("now it waits");
        a.failed_sign_in(guesser);
        let second = a.wait(guesser).expect("and longer");
        assert!(second > first, "{first:?} then {second:?}");
        assert_eq!(a.wait("192.168.1.10".parse().unwrap()), None);
    }
}
