//! Simulated devices that speak their vendors' real LAN protocols, so that
//! plugins (and any third-party client) can be tested without hardware.
//! Each simulator runs on a tokio runtime, in-process or via `hub sim`.

pub mod shelly;
pub mod yeelight;
