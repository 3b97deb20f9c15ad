//! What every entrance of the front door stands on: who a caller is
//! (`caller`), who may hold a connection and who must wait after failed
//! sign-ins (`admission`), browsers signed in to the console (`sessions`),
//! what clients asked and were sent (`traffic`), and the HTTP answers all
//! entrances give alike (`reply`). The WebSocket, the console and the HTTP
//! router all sit above it; it knows none of them.

pub mod admission;
pub mod caller;
pub mod reply;
pub mod sessions;
pub mod traffic;

pub use caller::Caller;

use crate::market::Market;
use crate::plugins::Hub;
use std::sync::Arc;

/// The hub as the front door serves it: the running plugins, the
/// marketplace beside them, and the state only the front door keeps.
pub struct Door {
    pub hub: Arc<Hub>,
    pub market: Arc<Market>,
    /// Browsers signed in to the console.
    pub sessions: sessions::Sessions,
    /// What WebSocket clients asked and were sent, for `/metrics`.
    pub traffic: traffic::Traffic,
}

impl Door {
    /// The front door of `market`'s hub: one per serving hub, so that
    /// every entrance shares its marketplace's one refresh and cache.
    pub fn new(market: Arc<Market>) -> Arc<Self> {
        Arc::new(Door {
            hub: market.hub().clone(),
            market,
            sessions: Default::default(),
            traffic: Default::default(),
        })
    }
}
