//! May this plugin send this HTTP request? Two checks: the destination
//! (scheme, host, port) must be granted, and every address the host name
//! resolves to must lie outside the blocked networks, so that a granted
//! name cannot be pointed at the LAN, loopback or the hub (DNS rebinding).

use super::rules::HttpHost;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Networks no plugin's HTTP request may reach, whatever name it used.
/// IPv6 ranges that embed IPv4 addresses (NAT64, 6to4, IPv4-compatible)
/// are blocked whole: they could carry any address above. 240.0.0.0/4
/// holds the broadcast address.
pub const BLOCKED_BY_DEFAULT: [&str; 19] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/96",
    "::1/128",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

pub fn default_blocked() -> Vec<IpNet> {
    BLOCKED_BY_DEFAULT
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

pub struct HttpPolicy {
    hosts: Vec<HttpHost>,
    blocked: Vec<IpNet>,
    hub: Vec<SocketAddr>,
}

impl HttpPolicy {
    pub fn new(hosts: Vec<HttpHost>, blocked: Vec<IpNet>, hub: Vec<SocketAddr>) -> Self {
        HttpPolicy {
            hosts,
            blocked,
            hub,
        }
    }

    pub fn check_destination(
        &self,
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Result<(), &'static str> {
        let granted = self.hosts.iter().any(|h| {
            h.scheme.eq_ignore_ascii_case(scheme)
                && h.host.eq_ignore_ascii_case(host)
                && h.port == port
        });
        if granted {
            Ok(())
        } else {
            Err("HTTP destination not granted")
        }
    }

    /// Checks one address the granted host resolved to.
    pub fn check_address(&self, addr: SocketAddr) -> Result<(), &'static str> {
        let ip: IpAddr = addr.ip().to_canonical();
        if self
            .hub
            .iter()
            .any(|h| h.port() == addr.port() && (h.ip().is_unspecified() || h.ip() == ip))
        {
            return Err("the hub's own listening address");
        }
        if self.blocked.iter().any(|net| net.contains(&ip)) {
            return Err("resolves into a blocked network");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> HttpPolicy {
        let host = HttpHost {
            scheme: "https".into(),
            host: "fw.example.com".into(),
            port: 443,
        };
        HttpPolicy::new(
            vec![host],
            default_blocked(),
            vec!["0.0.0.0:8080".parse().unwrap()],
        )
    }

    #[test]
    fn only_the_granted_scheme_host_and_port() {
        let p = policy();
        assert!(p.check_destination("https", "FW.example.com", 443).is_ok());
        assert!(p.check_destination("http", "fw.example.com", 443).is_err());
        assert!(
            p.check_destination("https", "fw.example.com", 8443)
                .is_err()
        );
        assert!(
            p.check_destination("https", "evil.example.com", 443)
                .is_err()
        );
    }

    #[test]
    fn a_granted_name_cannot_resolve_into_the_lan_loopback_or_the_hub() {
        let p = policy();
        assert!(
            p.check_address("93.184.216.34:443".parse().unwrap())
                .is_ok()
        );
        for blocked in [
            "127.0.0.1:443",
            "192.168.1.10:443",
            "10.1.2.3:443",
            "169.254.169.254:80",
            "[::1]:443",
            "[::ffff:192.168.1.1]:443",
            "[fd00::1]:443",
            "[64:ff9b::7f00:1]:443",
            "[64:ff9b:1::c0a8:101]:443",
            "[2002:c0a8:0101::1]:443",
            "[::7f00:1]:443",
            "192.0.0.170:443",
            "198.18.0.1:443",
            "240.0.0.1:443",
            "255.255.255.255:443",
        ] {
            assert!(
                p.check_address(blocked.parse().unwrap()).is_err(),
                "{blocked}"
            );
        }
        assert!(
            p.check_address("93.184.216.34:8080".parse().unwrap())
                .is_err(),
            "the hub's port on any address"
        );
    }
}
