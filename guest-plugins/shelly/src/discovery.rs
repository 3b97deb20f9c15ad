//! Finding devices: a probe of `GET /shelly` on each configured address,
//! or on every host of a configured subnet.

use crate::rpc::Rpc;
use hub_guest_sdk::{DeviceInfo, PluginError, debug};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const HTTP_PORT: u16 = 80;
/// Larger subnets would take minutes to probe one address at a time.
const MIN_PREFIX: u8 = 22;

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Address(SocketAddr),
    Subnet { network: Ipv4Addr, prefix: u8 },
}

/// `ip`, `ip:port` or `a.b.c.d/len`, comma-separated.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, PluginError> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(parse_target)
        .collect()
}

fn parse_target(text: &str) -> Result<Target, PluginError> {
    let invalid = |why: &str| PluginError::InvalidArgument(format!("{text:?}: {why}"));
    if let Some((ip, prefix)) = text.split_once('/') {
        let network: Ipv4Addr = ip.parse().map_err(|_| invalid("not an IPv4 subnet"))?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid("bad prefix length"))?;
        if !(MIN_PREFIX..=32).contains(&prefix) {
            return Err(invalid("probe at most a /22 (1022 hosts)"));
        }
        return Ok(Target::Subnet { network, prefix });
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Target::Address(SocketAddr::new(ip, HTTP_PORT)));
    }
    text.parse()
        .map(Target::Address)
        .map_err(|_| invalid("not an ip, ip:port or subnet"))
}

/// Every address the targets name, hosts of subnets without their network
/// and broadcast addresses.
fn addresses(targets: &[Target]) -> Vec<SocketAddr> {
    let mut all = Vec::new();
    for target in targets {
        match *target {
            Target::Address(addr) => all.push(addr),
            Target::Subnet { network, prefix } => {
                let size = 1u32 << (32 - prefix);
                let base = u32::from(network) & !(size - 1);
                let hosts = if size <= 2 { 0..size } else { 1..size - 1 };
                all.extend(hosts.map(|i| SocketAddr::from((Ipv4Addr::from(base + i), HTTP_PORT))));
            }
        }
    }
    all
}

/// The Gen2 devices that answer `GET /shelly` within `timeout` each.
pub fn probe(targets: &[Target], timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
    if targets.is_empty() {
        return Err(PluginError::InvalidArgument(
            "config `discovery` is empty: set it to the addresses or subnet to probe, e.g. 192.168.1.0/24".into(),
        ));
    }
    let mut found: Vec<DeviceInfo> = Vec::new();
    for addr in addresses(targets) {
        match Rpc::new(addr, timeout).identify() {
            Ok(identity) if !found.iter().any(|d| d.identity == identity.id) => {
                let model = identity.app;
                found.push(DeviceInfo {
                    name: format!("Shelly {model}"),
                    identity: identity.id,
                    model,
                    manufacturer: "Shelly".into(),
                    address: addr.to_string(),
                })
            }
            Ok(_) => {}
            Err(e) => debug!("no Shelly at {addr}: {e:?}"),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_addresses_ports_and_subnets() {
        let targets = parse_targets("10.0.0.7, 127.0.0.1:8081,192.168.1.0/30").unwrap();
        let addrs: Vec<String> = addresses(&targets).iter().map(|a| a.to_string()).collect();
        assert_eq!(
            addrs,
            [
                "10.0.0.7:80",
                "127.0.0.1:8081",
                "192.168.1.1:80",
                "192.168.1.2:80"
            ]
        );
        assert!(parse_targets("10.0.0.0/8").is_err());
        assert!(parse_targets("shelly.local").is_err());
    }
}
