//! The hub: runs untrusted WebAssembly device drivers in a sandbox and
//! bridges them to WebSocket clients.

pub mod bench;
pub mod caps;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod console;
mod deadline;
pub mod demo;
pub mod digest;
pub mod error;
pub mod gate;
pub mod http;
pub mod keys;
pub mod market;
pub mod plugins;
pub mod serve;
pub mod store;
pub mod sync;
pub mod ws;
