//! May this plugin open this socket? Checked by WASI on every bind, connect
//! and datagram a plugin attempts.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use wasmtime_wasi::sockets::SocketAddrUse;

/// The network a plugin was granted.
#[derive(Debug, Clone)]
pub struct NetPolicy {
    plugin: Arc<str>,
    allowed: Vec<IpNet>,
    /// Addresses the hub itself listens on: closed to plugins even inside
    /// a granted network.
    hub: Vec<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(&'static str),
}

impl NetPolicy {
    pub fn new(plugin: Arc<str>, allowed: Vec<IpNet>, hub: Vec<SocketAddr>) -> Self {
        NetPolicy {
            plugin,
            allowed: allowed.into_iter().map(canonical_net).collect(),
            hub: hub.into_iter().map(canonical).collect(),
        }
    }

    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// Decides, and logs every refusal with the plugin, address and use.
    pub fn check(&self, addr: SocketAddr, use_: SocketAddrUse) -> Verdict {
        let verdict = self.decide(canonical(addr), use_);
        if let Verdict::Deny(reason) = verdict {
            tracing::warn!(plugin = %self.plugin, %addr, use_ = ?use_, reason, "refused network access");
        }
        verdict
    }

    fn decide(&self, addr: SocketAddr, use_: SocketAddrUse) -> Verdict {
        match use_ {
            // WASI binds to the wildcard address, port 0, before every
            // outgoing connection or datagram; that bind is all we allow.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                if addr.ip().is_unspecified() && addr.port() == 0 {
                    Verdict::Allow
                } else {
                    Verdict::Deny("plugins may not bind to a chosen address or port")
                }
            }
            // Replies are filtered like requests: a datagram from outside
            // the grant never reaches the plugin.
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                self.decide_destination(addr)
            }
            _ => Verdict::Deny("plugins may not listen for connections"),
        }
    }

    fn decide_destination(&self, addr: SocketAddr) -> Verdict {
        if self.is_hub(addr) {
            return Verdict::Deny("the hub's own listening address");
        }
        if addr.ip().is_unspecified() {
            return Verdict::Deny("the unspecified address");
        }
        if self.allowed.iter().any(|net| net.contains(&addr.ip())) {
            Verdict::Allow
        } else {
            Verdict::Deny("outside the plugin's network grant")
        }
    }

    /// A hub listening on every interface is reachable on any local
    /// address, so its port is closed to plugins on every address.
    fn is_hub(&self, addr: SocketAddr) -> bool {
        self.hub.iter().any(|hub| {
            hub.port() == addr.port() && (hub.ip().is_unspecified() || hub.ip() == addr.ip())
        })
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is the IPv4 address it maps.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], hub: &[&str]) -> NetPolicy {
        NetPolicy::new(
            "test".into(),
            allowed.iter().map(|n| n.parse().unwrap()).collect(),
            hub.iter().map(|a| a.parse().unwrap()).collect(),
        )
    }

    fn check(p: &NetPolicy, addr: &str, use_: SocketAddrUse) -> Verdict {
        p.check(addr.parse().unwrap(), use_)
    }

    #[test]
    fn connects_only_inside_the_grant() {
        let p = policy(&["192.168.31.0/24"], &[]);
        assert_eq!(
            check(&p, "192.168.31.20:55443", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
        assert!(matches!(
            check(&p, "192.168.32.20:55443", SocketAddrUse::TcpConnect),
            Verdict::Deny(_)
        ));
        assert!(matches!(
            check(&p, "10.0.0.1:80", SocketAddrUse::UdpSend),
            Verdict::Deny(_)
        ));
        assert!(matches!(
            check(&p, "127.0.0.1:22", SocketAddrUse::UdpReceive),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let p = policy(&[], &[]);
        for addr in ["127.0.0.1:1", "192.168.1.1:80", "[::1]:80", "8.8.8.8:53"] {
            assert!(
                matches!(check(&p, addr, SocketAddrUse::TcpConnect), Verdict::Deny(_)),
                "{addr}"
            );
        }
    }

    #[test]
    fn ipv4_mapped_ipv6_cannot_sneak_past() {
        let p = policy(&["192.168.31.0/24"], &[]);
        assert!(matches!(
            check(&p, "[::ffff:10.0.0.1]:80", SocketAddrUse::TcpConnect),
            Verdict::Deny(_)
        ));
        assert_eq!(
            check(&p, "[::ffff:192.168.31.7]:80", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
        let mapped_grant = policy(&["::ffff:192.168.31.0/120"], &[]);
        assert_eq!(
            check(&mapped_grant, "192.168.31.7:80", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
    }

    #[test]
    fn the_hubs_own_port_is_closed_inside_a_granted_network() {
        let p = policy(&["127.0.0.0/8"], &["127.0.0.1:8080"]);
        assert!(matches!(
            check(&p, "127.0.0.1:8080", SocketAddrUse::TcpConnect),
            Verdict::Deny(_)
        ));
        assert!(matches!(
            check(&p, "[::ffff:127.0.0.1]:8080", SocketAddrUse::TcpConnect),
            Verdict::Deny(_)
        ));
        assert_eq!(
            check(&p, "127.0.0.1:8081", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
        let wildcard = policy(&["127.0.0.0/8"], &["0.0.0.0:8080"]);
        assert!(matches!(
            check(&wildcard, "127.0.0.2:8080", SocketAddrUse::TcpConnect),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn only_the_implicit_wildcard_bind_is_allowed() {
        let p = policy(&["0.0.0.0/0"], &[]);
        assert_eq!(
            check(&p, "0.0.0.0:0", SocketAddrUse::TcpBind),
            Verdict::Allow
        );
        assert_eq!(check(&p, "[::]:0", SocketAddrUse::UdpBind), Verdict::Allow);
        assert!(matches!(
            check(&p, "0.0.0.0:1982", SocketAddrUse::UdpBind),
            Verdict::Deny(_)
        ));
        assert!(matches!(
            check(&p, "127.0.0.1:0", SocketAddrUse::TcpBind),
            Verdict::Deny(_)
        ));
        assert!(matches!(
            check(&p, "0.0.0.0:0", SocketAddrUse::TcpListen),
            Verdict::Deny(_)
        ));
        assert!(matches!(
            check(&p, "0.0.0.0:0", SocketAddrUse::TcpConnect),
            Verdict::Deny(_)
        ));
    }
}
