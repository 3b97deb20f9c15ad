//! What the marketplace forbids to run: releases it revoked, as malicious
//! or vulnerable, and publishers' keys it revoked. The hub keeps every
//! revocation it ever verified (a later status that leaves one out revives
//! nothing) and decides here, offline, whether a component may be
//! installed or started.

use serde::{Deserialize, Serialize};

/// Why a release was revoked: a malicious one is stopped and never runs
/// again; a vulnerable one is stopped and its fix offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Malicious,
    Vulnerable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    pub plugin: String,
    pub version: String,
    /// `sha256:...` of the component: what may never run again.
    pub component: String,
    pub severity: Severity,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
}

impl Revoked {
    /// Why `what`, a component it covers, is refused, as operators are told.
    pub fn refusal(&self, what: &str) -> String {
        format!(
            "{what} ({} {}) was revoked by the marketplace as {:?}: {}; it is never installed again",
            self.plugin, self.version, self.severity, self.reason
        )
    }

    /// Whether this revokes a component: by its digest, or as any build of
    /// the plugin's version (a rebuild changes the digest, not the release).
    /// A version is the same release whatever build metadata follows it
    /// (`1.0.0+rebuilt` is `1.0.0`), as semver orders them.
    pub fn covers(&self, plugin: &str, version: &str, component: &str) -> bool {
        let same_version = match (
            semver::Version::parse(&self.version),
            semver::Version::parse(version),
        ) {
            (Ok(revoked), Ok(version)) => revoked.cmp_precedence(&version).is_eq(),
            _ => self.version == version,
        };
        self.component == component || self.plugin == plugin && same_version
    }
}

/// Every release and key any verified status revoked. Stored inside the
/// marketplace's metadata and read from it alone, so that running plugins
/// need nothing else of the marketplace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocations {
    #[serde(default)]
    pub revoked: Vec<Revoked>,
    #[serde(default)]
    pub revoked_keys: Vec<String>,
}

impl Revocations {
    /// Keeps `revoked` and `keys` beside what was revoked before, each once.
    pub fn add(&mut self, revoked: &[Revoked], keys: &[String]) {
        for r in revoked {
            if !self.revoked.contains(r) {
                self.revoked.push(r.clone());
            }
        }
        for key in keys {
            if !self.revoked_keys.contains(key) {
                self.revoked_keys.push(key.clone());
            }
        }
    }

    /// Why a component may not run, if the marketplace ever said so: its
    /// release revoked, or the key that signed it.
    pub fn forbids(
        &self,
        plugin: &str,
        version: &str,
        component: &str,
        publisher_key: Option<&str>,
    ) -> Option<Revoked> {
        if let Some(revoked) = self
            .revoked
            .iter()
            .find(|r| r.covers(plugin, version, component))
        {
            return Some(revoked.clone());
        }
        let key = publisher_key.filter(|k| self.revoked_keys.iter().any(|r| r == k))?;
        Some(Revoked {
            plugin: plugin.into(),
            version: version.into(),
            component: component.into(),
            severity: Severity::Malicious,
            reason: format!("the key that signed it ({key}) was revoked"),
            fixed_in: None,
        })
    }
}
