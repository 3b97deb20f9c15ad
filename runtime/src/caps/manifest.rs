//! `plugin.toml`: who a plugin is and what it asks for.

use super::limits::{LimitRequest, Limits};
use super::rules::Capabilities;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: semver::Version,
    pub publisher: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub devices: SupportedDevices,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Limits instead of the hub's defaults: less is always allowed, more
    /// waits for an operator's approval.
    #[serde(default)]
    pub limits: LimitRequest,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportedDevices {
    pub models: Vec<String>,
    pub instance_types: Vec<String>,
    /// How many instances the devices' calls share, when a plugin's
    /// instances are too big to have one per device (a Python instance
    /// holds about 12 MiB): absent, each device has its own.
    pub shared_instances: Option<u8>,
}

/// More shared instances than this is what one per device already gives.
const MAX_SHARED_INSTANCES: u8 = 16;

impl SupportedDevices {
    fn check(&self) -> anyhow::Result<()> {
        match self.shared_instances {
            Some(n) if !(1..=MAX_SHARED_INSTANCES).contains(&n) => bail!(
                "devices.shared_instances = {n}: use 1 to {MAX_SHARED_INSTANCES}, \
                 or leave it out for an instance per device"
            ),
            _ => Ok(()),
        }
    }
}

impl Manifest {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("manifest {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| without_content(text, &e))?;
        check_id(&manifest.id)?;
        manifest.devices.check()?;
        if !manifest.capabilities.limits.is_empty() {
            bail!("limits go in a [limits] table of their own, not under [capabilities]");
        }
        Limits::check_ceiling(&manifest.limits).map_err(anyhow::Error::msg)?;
        manifest
            .capabilities
            .check_discovery()
            .map_err(anyhow::Error::msg)?;
        Ok(manifest)
    }

    /// What the plugin asks an operator for, given the hub's default limits:
    /// its capabilities, and each limit it wants above the defaults.
    pub fn request(&self, defaults: &Limits) -> Capabilities {
        Capabilities {
            limits: defaults.above(&self.limits),
            ..self.capabilities.clone()
        }
    }
}

/// A parse error that says where and why but, unlike toml's own display,
/// does not quote the text: a manifest path a client named must never
/// make the hub echo a file's content.
fn without_content(text: &str, error: &toml::de::Error) -> anyhow::Error {
    let line = error.span().map(|span| {
        let before = text.as_bytes().get(..span.start).unwrap_or_default();
        before.iter().filter(|b| **b == b'\n').count() + 1
    });
    match line {
        Some(line) => anyhow::anyhow!("line {line}: {}", error.message()),
        None => anyhow::anyhow!("{}", error.message()),
    }
}

/// Plugin ids name folders, log fields and the `domain` of requests.
pub fn check_id(id: &str) -> anyhow::Result<()> {
    let well_formed = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !well_formed {
        bail!("plugin id {id:?}: use 1-64 characters of a-z, 0-9, - and _");
    }
    if id == "plugin" {
        bail!("plugin id \"plugin\" is reserved for hub management requests");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_manifest_and_refuses_bad_ones() {
        let m = Manifest::parse(
            r#"
            id = "yeelight"
            name = "Yeelight"
            version = "1.2.0"
            publisher = "hub"
            devices = { models = ["color"], instance_types = ["light_bulb"] }
            limits = { memory_bytes = 16777216 }
            [capabilities]
            network = [{ cidr = "local", protocol = "tcp", ports = "55443" }]
            discovery = [{ address = "239.255.255.250", port = 1982 }]
            http = [{ scheme = "https", host = "fw.example.com", port = 443 }]
            "#,
        )
        .unwrap();
        assert_eq!(m.version, semver::Version::new(1, 2, 0));
        assert_eq!(
            m.capabilities.network[0].to_string(),
            "tcp local ports 55443"
        );
        assert!(!m.capabilities.listen);
        let bad = |text: &str| Manifest::parse(text).unwrap_err().to_string();
        let base = "name = \"x\"\nversion = \"1.0.0\"\npublisher = \"p\"\n";
        assert!(bad(&format!("id = \"Bad Id\"\n{base}")).contains("plugin id"));
        assert!(bad(&format!("id = \"plugin\"\n{base}")).contains("reserved"));
        assert!(
            bad("id = \"x\"\nname = \"x\"\nversion = \"one\"\npublisher = \"p\"")
                .contains("version")
        );
        assert!(bad(&format!("id = \"x\"\n{base}[capabilities]\nnetwork = [{{ cidr = \"everywhere\", protocol = \"tcp\" }}]")).contains("neither a CIDR"));
        assert!(bad(&format!("id = \"x\"\n{base}surprise = 1")).contains("surprise"));
        for shared in ["0", "17"] {
            let why = bad(&format!(
                "id = \"x\"\n{base}[devices]\nshared_instances = {shared}"
            ));
            assert!(why.contains("use 1 to 16"), "{why}");
        }
        let shared = Manifest::parse(&format!(
            "id = \"x\"\n{base}[devices]\nshared_instances = 2"
        ))
        .unwrap();
        assert_eq!(shared.devices.shared_instances, Some(2));
        assert_eq!(
            m.devices.shared_instances, None,
            "one per device by default"
        );
        let secret = bad("SECRET_TOKEN=hunter2-do-not-echo\n");
        assert!(secret.starts_with("line 1:"), "{secret}");
        assert!(
            !secret.contains("hunter2"),
            "the content is not echoed: {secret}"
        );
    }
}
