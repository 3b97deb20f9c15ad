//! Which interfaces a component may import, given what its manifest declares.

use super::rules::Capabilities;

/// Why an import is allowed, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportUse {
    /// Every plugin has it.
    Baseline,
    /// Linked with nothing behind it, for toolchains that import it as a
    /// matter of course: why it grants nothing.
    Inert(&'static str),
    /// Allowed when the manifest declares this capability.
    Declared(&'static str),
    /// Needs a capability the manifest does not declare.
    Undeclared(&'static str),
    /// No plugin ever gets it.
    Never(&'static str),
}

/// What importing a WASI interface takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Every plugin has it. The `wasi:cli` ones are there because the C
    /// library under Rust's std imports them even when a plugin never reads
    /// a variable or prints a line; they are inert: no variables, no
    /// arguments, stdin at end of file, output discarded.
    Baseline,
    /// Every plugin has it, with nothing behind it (see `inert`).
    Inert,
    /// A manifest declaring network, discovery or listen.
    Sockets,
    /// A manifest declaring HTTP hosts, and an operator's grant of them:
    /// without the grant `wasi:http` is not even linked.
    Http,
}

/// Every WASI interface the hub links for plugins, and what importing it
/// takes: the import check, the linker and `hub inspect` read this one table.
pub const WASI: [(&str, Need); 28] = [
    ("wasi:io/error", Need::Baseline),
    ("wasi:io/poll", Need::Baseline),
    ("wasi:io/streams", Need::Baseline),
    ("wasi:clocks/wall-clock", Need::Baseline),
    ("wasi:clocks/monotonic-clock", Need::Baseline),
    ("wasi:random/random", Need::Baseline),
    ("wasi:random/insecure", Need::Baseline),
    ("wasi:random/insecure-seed", Need::Baseline),
    ("wasi:cli/environment", Need::Baseline),
    ("wasi:cli/exit", Need::Baseline),
    ("wasi:cli/stdin", Need::Baseline),
    ("wasi:cli/stdout", Need::Baseline),
    ("wasi:cli/stderr", Need::Baseline),
    ("wasi:cli/terminal-input", Need::Baseline),
    ("wasi:cli/terminal-output", Need::Baseline),
    ("wasi:cli/terminal-stdin", Need::Baseline),
    ("wasi:cli/terminal-stdout", Need::Baseline),
    ("wasi:cli/terminal-stderr", Need::Baseline),
    // Its types only: without `instance-network` it reaches nothing.
    ("wasi:sockets/network", Need::Inert),
    ("wasi:sockets/instance-network", Need::Sockets),
    ("wasi:sockets/tcp", Need::Sockets),
    ("wasi:sockets/tcp-create-socket", Need::Sockets),
    ("wasi:sockets/udp", Need::Sockets),
    ("wasi:sockets/udp-create-socket", Need::Sockets),
    ("wasi:http/outgoing-handler", Need::Http),
    // Rust's std without link-time optimisation, componentize-py and jco
    // import these whether a plugin uses them or not.
    ("wasi:filesystem/types", Need::Inert),
    ("wasi:filesystem/preopens", Need::Inert),
    ("wasi:sockets/ip-name-lookup", Need::Inert),
];

/// Why the inert interfaces grant nothing: a plugin's WASI context has no
/// preopened directory, so it can never hold a file descriptor to open
/// anything from; and name lookup is switched off, so every lookup fails
/// (devices are reached by address, and HTTP hosts by the hub's sender).
fn inert(interface: &str) -> &'static str {
    match interface {
        "wasi:sockets/ip-name-lookup" => {
            "inert: every name lookup fails; devices are reached by address"
        }
        "wasi:sockets/network" => {
            "inert: socket types only; reaching a network needs instance-network"
        }
        _ => "inert: no directory is preopened, so nothing can be opened",
    }
}

/// The interfaces `wasi:http/outgoing-handler` brings with it.
const HTTP_TYPES: &str = "wasi:http/types";

/// Whether `wasi:http` is linked for a plugin: only once an operator
/// granted it HTTP hosts.
pub fn links_http(granted: &Capabilities) -> bool {
    !granted.http.is_empty()
}

pub fn classify(import: &str, caps: &Capabilities) -> ImportUse {
    let interface = import.split('@').next().unwrap_or(import);
    if interface.starts_with("hub:device/") {
        return ImportUse::Baseline;
    }
    let need = WASI
        .iter()
        .find(|(name, _)| *name == interface)
        .map(|(_, need)| *need)
        .or((interface == HTTP_TYPES).then_some(Need::Http));
    match need {
        Some(Need::Baseline) => ImportUse::Baseline,
        Some(Need::Inert) => ImportUse::Inert(inert(interface)),
        Some(Need::Sockets) => {
            let declared = !caps.network.is_empty() || !caps.discovery.is_empty() || caps.listen;
            needs(declared, "network, discovery or listen")
        }
        Some(Need::Http) => needs(!caps.http.is_empty(), "http"),
        None => ImportUse::Never("not an interface the hub offers plugins"),
    }
}

fn needs(declared: bool, capability: &'static str) -> ImportUse {
    if declared {
        ImportUse::Declared(capability)
    } else {
        ImportUse::Undeclared(capability)
    }
}

/// Refuses a component that imports `wasi:http` before an operator granted
/// it HTTP hosts: it could not be linked.
pub fn check_linkable(imports: &[String], granted: &Capabilities) -> Result<(), String> {
    let http = imports.iter().any(|i| i.starts_with("wasi:http/"));
    if http && !links_http(granted) {
        return Err(
            "it imports wasi:http, but no HTTP host is granted yet: approve its http capability"
                .into(),
        );
    }
    Ok(())
}

/// Refuses a component whose imports its manifest does not account for,
/// naming the first offending interface.
pub fn check(imports: &[String], caps: &Capabilities) -> Result<(), String> {
    for import in imports {
        match classify(import, caps) {
            ImportUse::Baseline | ImportUse::Inert(_) | ImportUse::Declared(_) => {}
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
        for inert in [
            "wasi:sockets/ip-name-lookup@0.2.0",
            "wasi:filesystem/preopens@0.2.0",
        ] {
            assert!(check(&imports(&[inert]), &none).is_ok(), "{inert}");
            assert!(
                matches!(classify(inert, &none), ImportUse::Inert(_)),
                "{inert}"
            );
        }
        assert!(check(&imports(&["wasi:filesystem/wasi-fs-extra@0.2.0"]), &net).is_err());
        assert!(
            check(&imports(&["wasi:http/outgoing-handler@0.2.0"]), &net)
                .unwrap_err()
                .contains("no http")
        );
        assert!(check(&imports(&["acme:backdoor/api"]), &net).is_err());
    }
}
