//! Simulated devices that speak their vendors' real LAN protocols, so that
//! plugins (and any third-party client) can be tested without hardware.
//! Each simulator runs on a tokio runtime, in-process or via `hub sim`.

pub mod shelly;
pub mod yeelight;

use anyhow::{Context, bail};
use ipnet::Ipv4Net;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

/// A /24 of the loopback range held by one simulator, so that its devices
/// can each have an address of their own at their protocol's real port, as
/// on a LAN, while other simulators (in this process or another) run too.
pub struct LoopbackBlock {
    net: Ipv4Net,
    /// Held while the block is in use: another simulator's claim fails.
    _claim: std::net::TcpListener,
}

/// The port the claim on a block is held at, on the block's `.250`.
const CLAIM_PORT: u16 = 47_999;

impl LoopbackBlock {
    /// A block no running simulator holds: 127.X.Y.0/24 with X and Y of
    /// three digits each, so that device addresses are always written with
    /// as many characters (a plugin's fuel figures then repeat from run to
    /// run), and never 127.0.0.0/24, where hubs and tests listen.
    pub fn claim() -> anyhow::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let start = std::process::id().wrapping_mul(97);
        for _ in 0..1024 {
            let n = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % (154 * 156);
            let (x, y) = (100 + (n / 156) as u8, 100 + (n % 156) as u8);
            let net = Ipv4Net::new(Ipv4Addr::new(127, x, y, 0), 24)?;
            if let Ok(claim) =
                std::net::TcpListener::bind((Ipv4Addr::new(127, x, y, 250), CLAIM_PORT))
            {
                return Ok(LoopbackBlock { net, _claim: claim });
            }
        }
        bail!("no free block of loopback addresses for simulated devices")
    }

    pub fn net(&self) -> Ipv4Net {
        self.net
    }

    /// The block's first address for `count` devices, `.1`; they take
    /// `.1` to `.249` at most (`.250` holds the claim).
    pub fn first_of(&self, count: usize) -> anyhow::Result<IpAddr> {
        if count > 249 {
            bail!("a block of loopback addresses holds 249 simulated devices, not {count}");
        }
        Ok(IpAddr::V4(Ipv4Addr::from(
            u32::from(self.net.network()) + 1,
        )))
    }
}

/// Where simulated device `index` listens: on `bind` at consecutive ports
/// from `port` (0: any free port), or, spread, each on its own address
/// from `bind` on, all at `port`, as devices on a LAN are.
fn nth_addr(bind: IpAddr, port: u16, spread: bool, index: usize) -> anyhow::Result<SocketAddr> {
    if !spread {
        return Ok(SocketAddr::new(bind, nth_port(port, index)?));
    }
    let IpAddr::V4(first) = bind else {
        bail!("devices spread over addresses need an IPv4 address to start from")
    };
    let nth = u32::from(first)
        .checked_add(u32::try_from(index)?)
        .context("addresses run past 255.255.255.255")?;
    Ok(SocketAddr::new(IpAddr::V4(nth.into()), port))
}

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
