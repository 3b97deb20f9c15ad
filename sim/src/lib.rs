//! Simulated devices that speak their vendors' real LAN protocols, so that
//! plugins (and any third-party client) can be tested without hardware.
//! Each simulator runs on a tokio runtime, in-process or via `hub sim`.

pub mod shelly;
pub mod yeelight;

use anyhow::Context;

/// The port of simulated device `index` when devices take consecutive
/// ports from `base`; 0 (any free port) stays 0.
fn nth_port(base: u16, index: usize) -> anyhow::Result<u16> {
    match base {
        0 => Ok(0),
        base => base
            .checked_add(u16::try_from(index)?)
            .context("ports run past 65535"),
    }
}

/// Lower-case hex, as checksums are written.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
