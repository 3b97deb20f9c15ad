//! Which interfaces a component may import, given what its manifest declares.

use super::rules::Capabilities;

/// Why an import is allowed, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportUse {
    /// Every plugin has it.
    Baseline,
    /// Allowed when the manifest declares this capability.
    Declared(&'static str),
    /// Needs a capability the manifest does not declare.
    Undeclared(&'static str),
    /// No plugin ever gets it.
    Never(&'static str),
}

pub fn classify(import: &str, caps: &Capabilities) -> ImportUse {
    let interface = import.split('@').next().unwrap_or(import);
    let baseline = ["wasi:io/", "wasi:clocks/", "wasi:random/", "hub:device/"];
    let inert_cli = ["environment", "exit", "stdin", "stdout", "stderr"];
    if baseline.iter().any(|p| interface.starts_with(p)) {
        return ImportUse::Baseline;
    }
    let inert = |cli: &str| inert_cli.contains(&cli) || cli.starts_with("terminal-");
    if interface.strip_prefix("wasi:cli/").is_some_and(inert) {
        return ImportUse::Baseline;
    }
    if interface == "wasi:sockets/ip-name-lookup" {
        return ImportUse::Never("plugins cannot resolve names; devices are reached by address");
    }
    if interface.starts_with("wasi:sockets/") {
        let declared = !caps.network.is_empty() || !caps.discovery.is_empty() || caps.listen;
        return needs(declared, "network, discovery or listen");
    }
    if interface.starts_with("wasi:http/") {
        return needs(!caps.http.is_empty(), "http");
    }
    if interface.starts_with("wasi:filesystem/") {
        return ImportUse::Never("the hub gives plugins no filesystem");
    }
    ImportUse::Never("not an interface the hub offers plugins")
}

fn needs(declared: bool, capability: &'static str) -> ImportUse {
    if declared {
        ImportUse::Declared(capability)
    } else {
        ImportUse::Undeclared(capability)
    }
}

/// Refuses a component whose imports its manifest does not account for,
/// naming the first offending interface.
pub fn check(imports: &[String], caps: &Capabilities) -> Result<(), String> {
    for import in imports {
        match classify(import, caps) {
            ImportUse::Baseline | ImportUse::Declared(_) => {}
            ImportUse::Undeclared(capability) => {
                return Err(format!(
                    "the component imports {import}, but its manifest requests no {capability} capability"
                ));
            }
            ImportUse::Never(why) => return Err(format!("the component imports {import}: {why}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::rules::{NetRule, Protocol};

    #[test]
    fn imports_must_be_declared_or_baseline() {
        let none = Capabilities::default();
        let net = Capabilities {
            network: vec![NetRule {
                cidr: "local".parse().unwrap(),
                protocol: Protocol::Tcp,
                ports: "any".parse().unwrap(),
            }],
            ..Default::default()
        };
        let imports = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(
            check(
                &imports(&[
                    "wasi:io/poll@0.2.0",
                    "wasi:cli/stderr@0.2.6",
                    "hub:device/host@0.1.0"
                ]),
                &none
            )
            .is_ok()
        );
        let tcp = imports(&["wasi:sockets/tcp@0.2.6"]);
        assert!(
            check(&tcp, &none)
                .unwrap_err()
                .contains("wasi:sockets/tcp@0.2.6")
        );
        assert!(check(&tcp, &net).is_ok());
        assert!(
            check(&imports(&["wasi:sockets/ip-name-lookup@0.2.0"]), &net)
                .unwrap_err()
                .contains("resolve names")
        );
        assert!(
            check(&imports(&["wasi:filesystem/preopens@0.2.0"]), &net)
                .unwrap_err()
                .contains("no filesystem")
        );
        assert!(
            check(&imports(&["wasi:http/outgoing-handler@0.2.0"]), &net)
                .unwrap_err()
                .contains("no http")
        );
        assert!(check(&imports(&["acme:backdoor/api"]), &net).is_err());
    }
}
