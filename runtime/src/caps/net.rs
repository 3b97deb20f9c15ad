//! May this plugin open this socket? Checked by WASI on every bind, connect,
//! datagram sent and datagram received.

use super::limits::Quotas;
use super::quota::Rate;
use super::rules::{Capabilities, NetRule, Ports, Protocol, Scope, is_group};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime_wasi::sockets::SocketAddrUse;

/// The network an operator granted one plugin, and its connection rates.
pub struct NetPolicy {
    grant: Capabilities,
    /// Addresses the hub itself listens on: closed to plugins even inside
    /// a granted network.
    hub: Vec<SocketAddr>,
    connections: Rate,
    datagrams: Rate,
    /// Sockets opened (TCP connections, UDP sockets) and uses refused.
    opened: AtomicU64,
    refused: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(&'static str),
}

impl NetPolicy {
    pub fn new(grant: Capabilities, hub: Vec<SocketAddr>, quotas: &Quotas) -> Self {
        NetPolicy {
            grant,
            hub: hub.into_iter().map(canonical).collect(),
            connections: Rate::new(quotas.connections_per_second),
            datagrams: Rate::new(quotas.datagrams_per_second),
            opened: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    pub fn grant(&self) -> &Capabilities {
        &self.grant
    }

    /// Sockets opened and network uses refused since the plugin was loaded.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.opened.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }

    pub fn check(&self, addr: SocketAddr, use_: SocketAddrUse) -> Verdict {
        let verdict = self.judge(addr, use_);
        let counter = match (verdict, use_) {
            (Verdict::Deny(_), _) => Some(&self.refused),
            (Verdict::Allow, SocketAddrUse::TcpConnect | SocketAddrUse::UdpBind) => {
                Some(&self.opened)
            }
            _ => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        verdict
    }

    /// The rule an operator would grant so that `use_` of `addr` passes
    /// the grant; `None` where no grant can allow it (the hub's own
    /// address, the unspecified one) or the grant already does.
    pub fn rule_allowing(&self, addr: SocketAddr, use_: SocketAddrUse) -> Option<String> {
        let addr = canonical(addr);
        if self.decide(addr, use_) == Verdict::Allow
            || self.is_hub(addr)
            || addr.ip().is_unspecified()
        {
            return None;
        }
        let protocol = match use_ {
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind | SocketAddrUse::TcpListen => {
                return Some("listen".into());
            }
            SocketAddrUse::TcpConnect | SocketAddrUse::TcpAccept => Protocol::Tcp,
            SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => Protocol::Udp,
        };
        let rule = NetRule {
            cidr: Scope::Net(addr.ip().into()),
            protocol,
            ports: Ports {
                first: addr.port(),
                last: addr.port(),
            },
        };
        Some(rule.to_string())
    }

    fn judge(&self, addr: SocketAddr, use_: SocketAddrUse) -> Verdict {
        let addr = canonical(addr);
        let verdict = self.decide(addr, use_);
        match (verdict, use_) {
            (Verdict::Allow, SocketAddrUse::TcpConnect) if !self.connections.take() => {
                Verdict::Deny("over the quota of new connections per second")
            }
            (Verdict::Allow, SocketAddrUse::UdpSend) if !self.datagrams.take() => {
                Verdict::Deny("over the quota of datagrams per second")
            }
            _ => verdict,
        }
    }

    fn decide(&self, addr: SocketAddr, use_: SocketAddrUse) -> Verdict {
        match use_ {
            // WASI binds to the wildcard address, port 0, before every
            // outgoing connection or datagram; that bind is all we allow
            // unless the plugin was granted listening.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                if addr.ip().is_unspecified() && addr.port() == 0 || self.grant.listen {
                    Verdict::Allow
                } else {
                    Verdict::Deny("plugins may not bind to a chosen address or port")
                }
            }
            SocketAddrUse::TcpListen if self.grant.listen => Verdict::Allow,
            SocketAddrUse::TcpListen => Verdict::Deny("listening was not granted"),
            SocketAddrUse::TcpConnect | SocketAddrUse::TcpAccept => {
                self.destination(Protocol::Tcp, addr)
            }
            // Replies are filtered like requests: a datagram from outside
            // the grant never reaches the plugin.
            SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                self.destination(Protocol::Udp, addr)
            }
        }
    }

    fn destination(&self, protocol: Protocol, addr: SocketAddr) -> Verdict {
        if self.is_hub(addr) {
            return Verdict::Deny("the hub's own listening address");
        }
        if addr.ip().is_unspecified() {
            return Verdict::Deny("the unspecified address");
        }
        let (ip, port) = (addr.ip(), addr.port());
        let by_rule = self
            .grant
            .network
            .iter()
            .any(|r| r.allows(protocol, &ip, port));
        // A discovery target opens only a group address: a unicast one is
        // reached through a network rule or not at all.
        let by_discovery = protocol == Protocol::Udp
            && is_group(&ip)
            && self
                .grant
                .discovery
                .iter()
                .any(|d| d.address.to_canonical() == ip && d.port == port);
        if by_rule || by_discovery {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::rules::{DiscoveryTarget, NetRule};

    fn grant(rules: &[(&str, Protocol, &str)]) -> Capabilities {
        Capabilities {
            network: rules
                .iter()
                .map(|(cidr, protocol, ports)| NetRule {
                    cidr: cidr.parse().unwrap(),
                    protocol: *protocol,
                    ports: ports.parse().unwrap(),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn policy(caps: Capabilities, hub: &[&str]) -> NetPolicy {
        let quotas = Quotas {
            connections_per_second: 1000,
            datagrams_per_second: 1000,
            ..Quotas::default()
        };
        NetPolicy::new(
            caps,
            hub.iter().map(|a| a.parse().unwrap()).collect(),
            &quotas,
        )
    }

    fn check(p: &NetPolicy, addr: &str, use_: SocketAddrUse) -> Verdict {
        p.check(addr.parse().unwrap(), use_)
    }

    fn denied(v: Verdict) -> bool {
        matches!(v, Verdict::Deny(_))
    }

    #[test]
    fn connects_only_inside_the_grant_with_its_protocol_and_ports() {
        let p = policy(grant(&[("192.168.31.0/24", Protocol::Tcp, "55443")]), &[]);
        assert_eq!(
            check(&p, "192.168.31.20:55443", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
        assert!(
            denied(check(&p, "192.168.31.20:22", SocketAddrUse::TcpConnect)),
            "another port"
        );
        assert!(
            denied(check(&p, "192.168.31.20:55443", SocketAddrUse::UdpSend)),
            "another protocol"
        );
        assert!(
            denied(check(&p, "192.168.32.20:55443", SocketAddrUse::TcpConnect)),
            "another subnet"
        );
        assert!(denied(check(
            &p,
            "10.0.0.1:55443",
            SocketAddrUse::UdpReceive
        )));
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let p = policy(Capabilities::default(), &[]);
        for addr in ["127.0.0.1:1", "192.168.1.1:80", "[::1]:80", "8.8.8.8:53"] {
            assert!(denied(check(&p, addr, SocketAddrUse::TcpConnect)), "{addr}");
            assert!(denied(check(&p, addr, SocketAddrUse::UdpSend)), "{addr}");
        }
    }

    #[test]
    fn discovery_targets_open_only_their_group_and_port() {
        let caps = Capabilities {
            discovery: vec![DiscoveryTarget {
                address: "239.255.255.250".parse().unwrap(),
                port: 1982,
            }],
            ..Default::default()
        };
        let p = policy(caps, &[]);
        assert_eq!(
            check(&p, "239.255.255.250:1982", SocketAddrUse::UdpSend),
            Verdict::Allow
        );
        assert!(denied(check(
            &p,
            "239.255.255.250:1900",
            SocketAddrUse::UdpSend
        )));
        assert!(denied(check(
            &p,
            "239.255.255.250:1982",
            SocketAddrUse::TcpConnect
        )));
    }

    #[test]
    fn a_unicast_discovery_target_opens_nothing() {
        let caps = Capabilities {
            discovery: vec![DiscoveryTarget {
                address: "203.0.113.7".parse().unwrap(),
                port: 53,
            }],
            ..Default::default()
        };
        let p = policy(caps, &[]);
        assert!(denied(check(&p, "203.0.113.7:53", SocketAddrUse::UdpSend)));
        assert!(denied(check(
            &p,
            "203.0.113.7:53",
            SocketAddrUse::UdpReceive
        )));
    }

    #[test]
    fn approving_local_reaches_neither_loopback_nor_link_local() {
        let p = policy(
            grant(&[
                ("local", Protocol::Tcp, "any"),
                ("local", Protocol::Udp, "any"),
            ]),
            &[],
        );
        assert_eq!(
            check(&p, "192.168.1.20:80", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
        for outside in [
            "127.0.0.1:22",
            "127.0.0.53:53",
            "[::1]:5432",
            "169.254.169.254:80",
            "[fe80::1]:80",
            "[::ffff:127.0.0.1]:6379",
        ] {
            assert!(
                denied(check(&p, outside, SocketAddrUse::TcpConnect)),
                "{outside}"
            );
            assert!(
                denied(check(&p, outside, SocketAddrUse::UdpSend)),
                "{outside}"
            );
        }
    }

    #[test]
    fn ipv4_mapped_ipv6_cannot_sneak_past() {
        let p = policy(grant(&[("192.168.31.0/24", Protocol::Tcp, "any")]), &[]);
        assert!(denied(check(
            &p,
            "[::ffff:10.0.0.1]:80",
            SocketAddrUse::TcpConnect
        )));
        assert_eq!(
            check(&p, "[::ffff:192.168.31.7]:80", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
    }

    #[test]
    fn the_hubs_own_port_is_closed_inside_a_granted_network() {
        let p = policy(
            grant(&[("127.0.0.0/8", Protocol::Tcp, "any")]),
            &["127.0.0.1:8080"],
        );
        assert!(denied(check(
            &p,
            "127.0.0.1:8080",
            SocketAddrUse::TcpConnect
        )));
        assert!(denied(check(
            &p,
            "[::ffff:127.0.0.1]:8080",
            SocketAddrUse::TcpConnect
        )));
        assert_eq!(
            check(&p, "127.0.0.1:8081", SocketAddrUse::TcpConnect),
            Verdict::Allow
        );
        let wildcard = policy(
            grant(&[("127.0.0.0/8", Protocol::Tcp, "any")]),
            &["0.0.0.0:8080"],
        );
        assert!(denied(check(
            &wildcard,
            "127.0.0.2:8080",
            SocketAddrUse::TcpConnect
        )));
    }

    #[test]
    fn only_the_implicit_wildcard_bind_is_allowed_without_listen() {
        let p = policy(grant(&[("0.0.0.0/0", Protocol::Tcp, "any")]), &[]);
        assert_eq!(
            check(&p, "0.0.0.0:0", SocketAddrUse::TcpBind),
            Verdict::Allow
        );
        assert_eq!(check(&p, "[::]:0", SocketAddrUse::UdpBind), Verdict::Allow);
        assert!(denied(check(&p, "0.0.0.0:1982", SocketAddrUse::UdpBind)));
        assert!(denied(check(&p, "127.0.0.1:0", SocketAddrUse::TcpBind)));
        assert!(denied(check(&p, "0.0.0.0:0", SocketAddrUse::TcpListen)));
        assert!(denied(check(&p, "0.0.0.0:0", SocketAddrUse::TcpConnect)));
    }

    #[test]
    fn connection_floods_are_cut_at_the_quota() {
        let quotas = Quotas {
            connections_per_second: 3,
            ..Quotas::default()
        };
        let p = NetPolicy::new(
            grant(&[("10.0.0.0/8", Protocol::Tcp, "any")]),
            vec![],
            &quotas,
        );
        let allowed = (0..50)
            .filter(|_| check(&p, "10.0.0.1:80", SocketAddrUse::TcpConnect) == Verdict::Allow)
            .count();
        assert_eq!(allowed, 3);
    }
}
