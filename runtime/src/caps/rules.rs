//! Capabilities as a plugin requests them and an operator grants them:
//! network rules, discovery targets, listening, HTTP hosts. A grant must lie
//! within the request; the difference is what an operator still has to approve.

use super::limits::LimitRequest;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Where a rule reaches: a CIDR, or `local` (the private ranges), which
/// manifests use when they cannot know the owner's subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Local,
    Net(IpNet),
}

/// What `local` grants: the private ranges, where home devices live.
const LOCAL: [&str; 4] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

/// What an operator may name explicitly from a `local` request, but which
/// approving `local` as it is never grants: the hub's own machine
/// (loopback) and link-local addresses (cloud metadata services among them).
const NAMED_ONLY: [&str; 4] = ["127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"];

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().filter_map(|n| n.parse().ok()).collect()
}

impl Scope {
    fn nets(&self) -> Vec<IpNet> {
        match self {
            Scope::Local => nets(&LOCAL),
            Scope::Net(net) => vec![*net],
        }
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.nets().iter().any(|n| n.contains(ip))
    }

    /// Every address of `other` is in `self`.
    pub fn covers(&self, other: &Scope) -> bool {
        other
            .nets()
            .iter()
            .all(|o| self.nets().iter().any(|s| s.contains(o)))
    }

    /// An operator narrowing this request may name `net`: inside it, or,
    /// for `local`, loopback or link-local named explicitly.
    fn may_narrow_to(&self, net: &Scope) -> bool {
        let named_only = nets(&NAMED_ONLY);
        self.covers(net)
            || *self == Scope::Local
                && net
                    .nets()
                    .iter()
                    .all(|n| named_only.iter().any(|s| s.contains(n)))
    }
}

impl From<IpNet> for Scope {
    fn from(net: IpNet) -> Self {
        Scope::Net(net.trunc())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "local" => Ok(Scope::Local),
            other => other
                .parse::<IpNet>()
                .or_else(|_| other.parse::<IpAddr>().map(IpNet::from))
                .map(|n| Scope::Net(n.trunc()))
                .map_err(|_| format!("{other:?} is neither a CIDR nor \"local\"")),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Local => f.write_str("local"),
            Scope::Net(n) => write!(f, "{n}"),
        }
    }
}

/// Inclusive port range; `any` is 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub first: u16,
    pub last: u16,
}

impl Ports {
    pub const ANY: Ports = Ports {
        first: 1,
        last: 65535,
    };

    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    fn covers(&self, other: &Ports) -> bool {
        self.first <= other.first && other.last <= self.last
    }
}

impl FromStr for Ports {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a port, a range like 1-1024, or \"any\"");
        match s.trim() {
            "any" => Ok(Ports::ANY),
            range => {
                let (first, last) = range.split_once('-').unwrap_or((range, range));
                let first: u16 = first.trim().parse().map_err(|_| bad())?;
                let last: u16 = last.trim().parse().map_err(|_| bad())?;
                (first <= last)
                    .then_some(Ports { first, last })
                    .ok_or_else(bad)
            }
        }
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Ports::ANY => f.write_str("any"),
            Ports { first, last } if first == last => write!(f, "{first}"),
            Ports { first, last } => write!(f, "{first}-{last}"),
        }
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(Scope);
string_serde!(Ports);

fn any_port() -> Ports {
    Ports::ANY
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetRule {
    pub cidr: Scope,
    pub protocol: Protocol,
    #[serde(default = "any_port")]
    pub ports: Ports,
}

impl NetRule {
    pub fn allows(&self, protocol: Protocol, ip: &IpAddr, port: u16) -> bool {
        self.protocol == protocol && self.cidr.contains(ip) && self.ports.contains(port)
    }

    fn covers(&self, other: &NetRule) -> bool {
        self.protocol == other.protocol
            && self.cidr.covers(&other.cidr)
            && self.ports.covers(&other.ports)
    }
}

impl fmt::Display for NetRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{protocol} {} ports {}", self.cidr, self.ports)
    }
}

/// A UDP destination for discovery, typically a multicast group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryTarget {
    pub address: IpAddr,
    pub port: u16,
}

impl fmt::Display for DiscoveryTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "discovery udp {}",
            std::net::SocketAddr::new(self.address, self.port)
        )
    }
}

/// An outbound HTTP(S) destination, e.g. a vendor's firmware server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHost {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HttpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http {}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// What a manifest requests, and (the same shape) what an operator grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    pub network: Vec<NetRule>,
    pub discovery: Vec<DiscoveryTarget>,
    pub listen: bool,
    pub http: Vec<HttpHost>,
    /// Limits above the hub's defaults (see `caps::limits`).
    #[serde(skip_serializing_if = "LimitRequest::is_empty")]
    pub limits: LimitRequest,
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rules() {
            rules if rules.is_empty() => f.write_str("nothing"),
            rules => f.write_str(&rules.join(", ")),
        }
    }
}

impl Capabilities {
    pub fn is_empty(&self) -> bool {
        *self == Capabilities::default()
    }

    /// Every rule, one line each, as operators read them.
    pub fn rules(&self) -> Vec<String> {
        self.parts().into_iter().map(|(name, _)| name).collect()
    }

    /// Each rule alone, with its name as `rules` gives it.
    pub fn parts(&self) -> Vec<(String, Capabilities)> {
        let alone = |name: String, build: &dyn Fn(&mut Capabilities)| {
            let mut part = Capabilities::default();
            build(&mut part);
            (name, part)
        };
        let mut parts = Vec::new();
        for r in &self.network {
            parts.push(alone(r.to_string(), &|p| p.network.push(r.clone())));
        }
        for d in &self.discovery {
            parts.push(alone(d.to_string(), &|p| p.discovery.push(*d)));
        }
        for h in &self.http {
            parts.push(alone(h.to_string(), &|p| p.http.push(h.clone())));
        }
        if self.listen {
            parts.push(alone("listen".into(), &|p| p.listen = true));
        }
        for (&l, &v) in &self.limits {
            let name = format!("limit {l} = {v}");
            parts.push(alone(name, &|p| {
                p.limits.insert(l, v);
            }));
        }
        parts
    }

    /// The rule of this request named `rule` (as `rules` names it), alone.
    pub fn part(&self, rule: &str) -> Option<Capabilities> {
        let mut parts = self.parts().into_iter();
        parts.find(|(name, _)| name == rule).map(|(_, part)| part)
    }

    /// Whether `granted` lies within this request as an operator may grant
    /// it: covered by it, or its networks narrowed to ones the operator
    /// named (loopback and link-local among them, which `local` does not
    /// cover).
    pub fn grants_within(&self, granted: &Capabilities) -> bool {
        if self.uncovered(granted).is_empty() {
            return true;
        }
        let nets: Vec<Scope> = granted.network.iter().map(|r| r.cidr).collect();
        !nets.is_empty()
            && self
                .narrowed(&nets)
                .is_ok_and(|narrowed| narrowed.uncovered(granted).is_empty())
    }

    /// This grant and `more` together.
    pub fn merged(&self, more: &Capabilities) -> Capabilities {
        let mut all = self.clone();
        for (_, part) in more.parts() {
            for r in part.network {
                if !all.network.contains(&r) {
                    all.network.push(r);
                }
            }
            for d in part.discovery {
                if !all.discovery.contains(&d) {
                    all.discovery.push(d);
                }
            }
            for h in part.http {
                if !all.http.contains(&h) {
                    all.http.push(h);
                }
            }
            all.listen |= part.listen;
            all.limits.extend(part.limits);
        }
        all
    }

    /// Each rule of `granted` that this request does not cover. With an
    /// earlier request as `self` and a plugin update's request as `granted`,
    /// it is what the update asks for that an operator has not approved.
    pub fn uncovered(&self, granted: &Capabilities) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            granted
                .network
                .iter()
                .filter(|g| !self.network.iter().any(|r| r.covers(g)))
                .map(ToString::to_string),
        );
        out.extend(
            granted
                .discovery
                .iter()
                .filter(|g| !self.discovery.contains(g))
                .map(ToString::to_string),
        );
        out.extend(
            granted
                .http
                .iter()
                .filter(|g| !self.http.contains(g))
                .map(ToString::to_string),
        );
        if granted.listen && !self.listen {
            out.push("listen".into());
        }
        out.extend(
            granted
                .limits
                .iter()
                .filter(|&(l, v)| self.limits.get(l).is_none_or(|approved| approved < v))
                .map(|(l, v)| format!("limit {l} = {v}")),
        );
        out
    }

    /// Each discovery target must be a multicast or broadcast address, or
    /// lie inside a UDP network the plugin asks for: a unicast target
    /// anywhere would be a two-way channel to any host once approved.
    pub fn check_discovery(&self) -> Result<(), String> {
        for target in &self.discovery {
            let ip = target.address.to_canonical();
            let inside = self
                .network
                .iter()
                .any(|r| r.allows(Protocol::Udp, &ip, target.port));
            if !is_group(&ip) && !inside {
                return Err(format!(
                    "discovery target {}:{} is neither a multicast or broadcast address nor inside a UDP network the manifest requests",
                    target.address, target.port
                ));
            }
        }
        Ok(())
    }

    /// The grant as requested, with network rules narrowed to `nets` when given.
    pub fn narrowed(&self, nets: &[Scope]) -> Result<Capabilities, String> {
        let mut grant = self.clone();
        if nets.is_empty() {
            return Ok(grant);
        }
        for net in nets {
            if !self.network.iter().any(|r| r.cidr.may_narrow_to(net)) {
                return Err(format!(
                    "{net} is outside every network the plugin requested"
                ));
            }
        }
        grant.network = self
            .network
            .iter()
            .flat_map(|r| {
                nets.iter()
                    .filter(|n| r.cidr.may_narrow_to(n))
                    .map(|n| NetRule {
                        cidr: *n,
                        ..r.clone()
                    })
            })
            .collect();
        Ok(grant)
    }

    /// This grant without the rules `rule` names (`all`, one rule as
    /// `rules` names it, a CIDR, a discovery address `ip:port`, an HTTP
    /// host, `listen`, or `limits`: every raised limit back to the hub's
    /// default); `None` when it names none.
    pub fn without(&self, rule: &str) -> Option<Capabilities> {
        let mut left = self.clone();
        match rule {
            "all" => left = Capabilities::default(),
            "listen" => left.listen = false,
            "limits" => left.limits.clear(),
            named if self.part(named).is_some() => {
                left = Capabilities::default();
                for (_, part) in self.parts().into_iter().filter(|(n, _)| n != named) {
                    left = left.merged(&part);
                }
            }
            _ => {
                let scope = rule.parse::<Scope>().ok();
                left.network.retain(|r| Some(r.cidr) != scope);
                left.discovery
                    .retain(|d| std::net::SocketAddr::new(d.address, d.port).to_string() != rule);
                left.http.retain(|h| h.host != rule);
            }
        }
        (left != *self).then_some(left)
    }
}

/// A multicast group, or the limited broadcast address.
pub fn is_group(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidr: &str, protocol: Protocol, ports: &str) -> NetRule {
        NetRule {
            cidr: cidr.parse().unwrap(),
            protocol,
            ports: ports.parse().unwrap(),
        }
    }

    fn request() -> Capabilities {
        Capabilities {
            network: vec![
                rule("local", Protocol::Tcp, "55443"),
                rule("local", Protocol::Udp, "any"),
            ],
            discovery: vec![DiscoveryTarget {
                address: "239.255.255.250".parse().unwrap(),
                port: 1982,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_operator_can_narrow_local_to_one_subnet() {
        let grant = request()
            .narrowed(&["192.168.31.0/24".parse().unwrap()])
            .unwrap();
        assert_eq!(
            grant.network,
            vec![
                rule("192.168.31.0/24", Protocol::Tcp, "55443"),
                rule("192.168.31.0/24", Protocol::Udp, "any")
            ]
        );
        assert!(request().uncovered(&grant).is_empty());
        assert!(grant.network[0].allows(Protocol::Tcp, &"192.168.31.7".parse().unwrap(), 55443));
        assert!(!grant.network[0].allows(Protocol::Tcp, &"192.168.31.7".parse().unwrap(), 22));
        assert!(!grant.network[0].allows(Protocol::Udp, &"192.168.31.7".parse().unwrap(), 55443));
    }

    #[test]
    fn a_grant_cannot_exceed_the_request() {
        assert!(
            request()
                .narrowed(&["8.8.8.0/24".parse().unwrap()])
                .is_err()
        );
        let mut wider = request();
        wider.network.push(rule("0.0.0.0/0", Protocol::Tcp, "any"));
        wider.listen = true;
        assert_eq!(
            request().uncovered(&wider),
            vec!["tcp 0.0.0.0/0 ports any", "listen"]
        );
    }

    #[test]
    fn an_update_asking_more_shows_only_the_difference() {
        let mut update = request();
        update.http.push(HttpHost {
            scheme: "https".into(),
            host: "fw.example.com".into(),
            port: 443,
        });
        assert_eq!(
            request().uncovered(&update),
            vec!["http https://fw.example.com:443"]
        );
        assert!(request().uncovered(&request()).is_empty());
    }

    #[test]
    fn loopback_and_link_local_are_granted_only_when_named() {
        let everything = request().narrowed(&[]).unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(
            !everything
                .network
                .iter()
                .any(|r| r.cidr.contains(&loopback))
        );
        let named = request()
            .narrowed(&["127.0.0.1/32".parse().unwrap()])
            .unwrap();
        assert!(named.network[0].allows(Protocol::Tcp, &loopback, 55443));
        assert!(
            request()
                .narrowed(&["169.254.169.254/32".parse().unwrap()])
                .is_ok(),
            "an operator may name link-local explicitly"
        );
        assert!(request().narrowed(&["0.0.0.0/0".parse().unwrap()]).is_err());
    }

    #[test]
    fn discovery_targets_must_be_groups_or_inside_a_requested_network() {
        assert!(request().check_discovery().is_ok());
        let mut unicast = request();
        unicast.discovery.push(DiscoveryTarget {
            address: "8.8.8.8".parse().unwrap(),
            port: 53,
        });
        let refused = unicast.check_discovery().unwrap_err();
        assert!(refused.contains("8.8.8.8:53"), "{refused}");
        let mut inside = request();
        inside.discovery.push(DiscoveryTarget {
            address: "192.168.1.255".parse().unwrap(),
            port: 1982,
        });
        assert!(
            inside.check_discovery().is_ok(),
            "a subnet broadcast inside local"
        );
    }

    #[test]
    fn raised_limits_wait_for_approval_like_rules() {
        use crate::caps::limits::Limit;
        let mut asked = request();
        asked.limits.insert(Limit::MaxDevices, 500);
        assert_eq!(request().uncovered(&asked), vec!["limit max_devices = 500"]);
        let mut approved = asked.clone();
        assert!(approved.uncovered(&asked).is_empty());
        approved.limits.insert(Limit::MaxDevices, 400);
        assert_eq!(approved.uncovered(&asked), vec!["limit max_devices = 500"]);
        let reset = asked.without("limits").unwrap();
        assert!(reset.limits.is_empty() && reset.network == asked.network);
    }

    #[test]
    fn revoking_a_rule_by_name() {
        let grant = request()
            .narrowed(&["192.168.31.0/24".parse().unwrap()])
            .unwrap();
        let left = grant.without("192.168.31.0/24").unwrap();
        assert!(left.network.is_empty());
        assert_eq!(left.discovery.len(), 1);
        assert!(grant.without("10.0.0.0/8").is_none());
        assert!(grant.without("all").unwrap().is_empty());
    }

    #[test]
    fn rules_are_approved_and_revoked_one_at_a_time_by_the_name_operators_read() {
        let asked = request();
        let names = asked.rules();
        assert_eq!(names[0], "tcp local ports 55443");
        let first = Capabilities::default().merged(&asked.part(&names[0]).unwrap());
        assert_eq!(first.rules(), [names[0].clone()]);
        assert_eq!(first.uncovered(&asked), names[1..]);
        let all = names
            .iter()
            .fold(first.clone(), |g, n| g.merged(&asked.part(n).unwrap()));
        assert_eq!(all, asked, "merging is idempotent");
        let without_tcp = all.without(&names[0]).unwrap();
        assert_eq!(without_tcp.rules(), names[1..]);
        assert!(asked.part("tcp local ports 1-65535").is_none());
        assert!(first.without(&names[1]).is_none(), "not granted");
    }

    #[test]
    fn a_rule_narrowed_to_a_named_network_is_within_its_request() {
        let tcp = request().part("tcp local ports 55443").unwrap();
        for net in ["192.168.31.0/24", "127.1.2.0/24"] {
            let granted = tcp.narrowed(&[net.parse().unwrap()]).unwrap();
            assert!(tcp.grants_within(&granted), "{net}");
        }
        let udp = request().part("udp local ports any").unwrap();
        let other_protocol = udp.narrowed(&["127.1.2.0/24".parse().unwrap()]).unwrap();
        assert!(!tcp.grants_within(&other_protocol));
        let discovery = request()
            .part("discovery udp 239.255.255.250:1982")
            .unwrap();
        assert!(!tcp.grants_within(&discovery));
    }
}
