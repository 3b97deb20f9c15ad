//! Where the hub itself may go when reading a registry. The registry an
//! operator named is reached as named (it may well be on the LAN). Anywhere
//! else a registry sends the hub (a redirect, a token realm) is a stranger's
//! choice: only over HTTPS, and never into the networks no plugin's HTTP
//! may reach either, whatever name leads there (the resolver checks every
//! address a name resolves to with `check_foreign_address`).

use super::http::default_blocked;
use ipnet::IpNet;
use reqwest::Url;
use std::net::IpAddr;
use std::sync::LazyLock;

/// How a URL is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// The registry itself: its token may go along.
    Own,
    /// Elsewhere: no token, and every address it resolves to is checked.
    Foreign,
}

/// May the hub, reading the registry at `registry`, follow it to `target`?
pub fn may_follow(registry: &Url, target: &Url) -> Result<Hop, String> {
    if registry.origin() == target.origin() {
        return Ok(Hop::Own);
    }
    if target.scheme() != "https" {
        return Err(format!(
            "the registry sends the hub to {target}: away from the registry, only https"
        ));
    }
    let host = target.host_str().unwrap_or_default();
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        check_foreign_address(ip)
            .map_err(|why| format!("the registry sends the hub to {target}: {why}"))?;
    }
    Ok(Hop::Foreign)
}

/// May the hub connect to `ip` for a registry's redirect or token realm?
pub fn check_foreign_address(ip: IpAddr) -> Result<(), &'static str> {
    static BLOCKED: LazyLock<Vec<IpNet>> = LazyLock::new(default_blocked);
    let ip = ip.to_canonical();
    if BLOCKED.iter().any(|net| net.contains(&ip)) {
        return Err(
            "an address in a network the hub keeps registries' redirects out of (loopback, private, link-local, ...)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow(registry: &str, target: &str) -> Result<Hop, String> {
        may_follow(&registry.parse().unwrap(), &target.parse().unwrap())
    }

    #[test]
    fn the_registry_itself_is_reached_as_the_operator_named_it() {
        let own = follow("http://127.0.0.1:5000/v2/x", "http://127.0.0.1:5000/token");
        assert_eq!(own, Ok(Hop::Own));
        let lan = follow("https://10.0.0.5/v2/x", "https://10.0.0.5/v2/blobs/y");
        assert_eq!(lan, Ok(Hop::Own));
    }

    #[test]
    fn a_public_https_host_elsewhere_is_foreign_and_gets_no_token() {
        let cdn = follow("https://registry.example/v2/x", "https://cdn.example/blob");
        assert_eq!(cdn, Ok(Hop::Foreign));
    }

    #[test]
    fn plain_http_away_from_the_registry_is_refused() {
        let metadata = follow(
            "https://registry.example/v2/x",
            "http://169.254.169.254/latest",
        );
        assert!(metadata.unwrap_err().contains("only https"));
        let other_port = follow("http://127.0.0.1:5000/v2/x", "http://127.0.0.1:5001/");
        assert!(other_port.is_err(), "another port is another origin");
    }

    #[test]
    fn https_into_the_hubs_own_networks_is_refused() {
        for target in [
            "https://169.254.169.254/",
            "https://10.1.2.3/",
            "https://127.0.0.1:8443/",
            "https://[::1]/",
            "https://[::ffff:192.168.1.1]/",
        ] {
            let refused = follow("https://registry.example/v2/x", target);
            assert!(refused.is_err(), "{target} was followed");
        }
    }

    #[test]
    fn names_resolving_into_those_networks_are_refused_address_by_address() {
        assert!(check_foreign_address("192.168.0.10".parse().unwrap()).is_err());
        assert!(check_foreign_address("::ffff:127.0.0.1".parse().unwrap()).is_err());
        assert!(check_foreign_address("93.184.215.14".parse().unwrap()).is_ok());
    }
}
