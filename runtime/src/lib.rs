//! The hub: runs untrusted WebAssembly device drivers in a sandbox and
//! bridges them to WebSocket clients.

pub mod caps;
pub mod config;
pub mod demo;
pub mod error;
pub mod plugins;
pub mod store;
pub mod ws;
