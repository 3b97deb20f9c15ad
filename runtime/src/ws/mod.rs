//! The WebSocket API: `/ws`, token auth, JSON requests routed to plugins,
//! attribute changes pushed to every connection.

mod connection;
pub mod protocol;
mod router;
mod server;
mod services;

pub use server::{Caller, Server, ServerSettings};
