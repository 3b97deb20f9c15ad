//! Installing a plugin: its manifest and component read within their
//! bounds, refused cheaply before anything is compiled (revoked, a
//! downgrade not asked for), compiled, copied into the data directory and
//! recorded with what it asks for pending an operator's approval. Where a
//! signed release came from is the marketplace's business; here it is only
//! a `Provenance` to keep. A revoked release is suspended here too.

use super::Hub;
use crate::caps::revocations::{Revocations, Revoked, Severity};
use crate::caps::{Grant, Manifest, files};
use crate::error::HubError;
use crate::store::InstalledPlugin;
use crate::sync::MutexHeld;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// Where a signed component came from, as the store keeps it.
#[derive(Debug, Clone)]
pub struct Provenance<'a> {
    /// The Ed25519 key (hex) of the publisher who signed it.
    pub publisher_key: &'a str,
    /// The publisher's signed release, as JSON.
    pub release: String,
    /// Whether the marketplace's index lists it (rather than only a
    /// publisher the operator trusts vouching for it).
    pub reviewed: bool,
    /// The operator asked for it even if older than the installed version.
    pub downgrade: bool,
}

/// The largest component the hub reads, before compiling anything.
pub const MAX_COMPONENT: u64 = 64 << 20;
pub const MAX_MANIFEST: u64 = 64 << 10;

#[derive(Debug, Serialize)]
pub struct InstallReport {
    pub id: String,
    pub version: String,
    pub updated_from: Option<String>,
    /// Capabilities the manifest asks for that no operator approved yet;
    /// the plugin runs without them until `approve`.
    pub pending: Vec<String>,
    /// Why the plugin is installed but not running, if it is not.
    pub not_started: Option<String>,
}

impl Hub {
    /// Installs a plugin a WebSocket client named: only from the hub's
    /// install directory, which its configuration names.
    pub fn install_from_client(
        &self,
        actor: &str,
        component: &Path,
        manifest: &Path,
        config: BTreeMap<String, String>,
    ) -> Result<InstallReport, HubError> {
        let Some(dir) = &self.settings.install_dir else {
            return Err(HubError::invalid(
                "this hub installs no plugins over the WebSocket: its configuration names no install_dir",
            ));
        };
        let component = files::inside(dir, component).map_err(HubError::invalid)?;
        let manifest = files::inside(dir, manifest).map_err(HubError::invalid)?;
        self.install(actor, &component, &manifest, config)
    }

    pub fn install(
        &self,
        actor: &str,
        component: &Path,
        manifest: &Path,
        config: BTreeMap<String, String>,
    ) -> Result<InstallReport, HubError> {
        let manifest_bytes =
            files::read_capped(manifest, MAX_MANIFEST, "manifest").map_err(HubError::invalid)?;
        let bytes =
            files::read_capped(component, MAX_COMPONENT, "component").map_err(HubError::invalid)?;
        let from = json!({"component": component, "manifest": manifest});
        self.install_bytes(actor, manifest_bytes, &bytes, Some(config), from, None)
    }

    /// Installs (or updates) a plugin from its manifest's and its
    /// component's bytes; `from` says where they came from, for the audit
    /// log; `signed`, its publisher's signed release, if it came signed.
    /// `config`: `None` keeps an installed plugin's configuration.
    pub fn install_bytes(
        &self,
        actor: &str,
        manifest: Vec<u8>,
        bytes: &[u8],
        config: Option<BTreeMap<String, String>>,
        from: serde_json::Value,
        signed: Option<Provenance<'_>>,
    ) -> Result<InstallReport, HubError> {
        within_bounds(&manifest, bytes)?;
        // One at a time: two installs of one plugin would write one file.
        let _installing = self.installing.held();
        let manifest_text = String::from_utf8(manifest)
            .map_err(|_| HubError::invalid("the manifest is not UTF-8"))?;
        let parsed = Manifest::parse(&manifest_text)
            .map_err(|e| HubError::invalid(format!("manifest: {e:#}")))?;
        let digest = crate::digest::sha256_oci(bytes);
        let publisher_key = signed.as_ref().map(|s| s.publisher_key);
        self.refuse_revoked(&parsed, &digest, publisher_key)?;
        let previous = self.store.plugin(&parsed.id).map_err(HubError::internal)?;
        let downgrade = refuse_downgrade(&parsed, previous.as_ref(), signed.as_ref())?;
        // Only once nothing refuses it cheaply: compiling takes seconds.
        self.compile(bytes, &parsed)
            .map_err(|e| HubError::invalid(format!("{} refused: {e:#}", parsed.id)))?;
        self.copy_into_place(&parsed.id, bytes, &manifest_text)?;
        let installing = Installing {
            parsed: &parsed,
            manifest: manifest_text,
            sha256: digest.trim_start_matches("sha256:").to_string(),
            previous: previous.as_ref(),
            config,
            signed,
        };
        let (installed, mut report) = self.record(installing)?;
        let mut detail = json!({
            "version": report.version,
            "from": report.updated_from,
            "sha256": installed.sha256,
            "pending": report.pending,
        });
        let publisher_changed = previous
            .as_ref()
            .is_some_and(|p| p.publisher_key != installed.publisher_key);
        if publisher_changed {
            detail["publisher_changed"] = json!(true);
        }
        if downgrade {
            detail["downgrade"] = json!(true);
        }
        if let (Some(detail), serde_json::Value::Object(from)) = (detail.as_object_mut(), from) {
            detail.extend(from);
        }
        let action = if previous.is_some() {
            "update"
        } else {
            "install"
        };
        self.save(actor, action, detail, &installed)?;
        report.not_started = self.apply().err().map(|e| e.message);
        Ok(report)
    }

    /// A release the marketplace revoked (by version, digest or publisher
    /// key) is never installed again.
    fn refuse_revoked(
        &self,
        parsed: &Manifest,
        digest: &str,
        publisher_key: Option<&str>,
    ) -> Result<(), HubError> {
        let version = parsed.version.to_string();
        let revocations = self.revocations()?;
        let Some(revoked) = revocations.forbids(&parsed.id, &version, digest, publisher_key) else {
            return Ok(());
        };
        Err(HubError::invalid(revoked.refusal("this component")))
    }

    /// The component and manifest in `DATA_DIR/plugins/ID`, the component
    /// renamed into place whole.
    fn copy_into_place(&self, id: &str, bytes: &[u8], manifest: &str) -> Result<(), HubError> {
        let dir = self.settings.data_dir.join("plugins").join(id);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("plugin.wasm.partial"), bytes))
            .and_then(|()| {
                std::fs::rename(dir.join("plugin.wasm.partial"), dir.join("plugin.wasm"))
            })
            .and_then(|()| std::fs::write(dir.join("plugin.toml"), manifest))
            .map_err(|e| HubError::internal(format!("copy the plugin into {}: {e}", dir.display())))
    }

    /// The store's row for the release being installed, and the report of
    /// what it asks for that is not granted yet. A plugin id is its
    /// publisher's: another publisher's release under it inherits no
    /// grant, no automatic updates, and starts only once approved afresh.
    fn record(
        &self,
        installing: Installing<'_, '_>,
    ) -> Result<(InstalledPlugin, InstallReport), HubError> {
        let Installing {
            parsed,
            manifest,
            sha256,
            previous,
            config,
            signed,
        } = installing;
        let publisher_key = signed.as_ref().map(|s| s.publisher_key.to_string());
        let inherited = previous.filter(|p| p.publisher_key == publisher_key);
        let granted = inherited.and_then(|p| p.granted.clone());
        let grant = Grant::parse(granted.as_deref()).map_err(HubError::internal)?;
        let report = InstallReport {
            id: parsed.id.clone(),
            version: parsed.version.to_string(),
            updated_from: previous.map(|p| p.version.clone()),
            pending: Grant::pending(grant.as_ref(), &self.request(parsed)),
            not_started: None,
        };
        let installed = InstalledPlugin {
            id: parsed.id.clone(),
            version: report.version.clone(),
            sha256,
            manifest,
            enabled: previous.is_none_or(|p| p.enabled),
            config: match (config, previous) {
                (Some(config), _) => json!(config).to_string(),
                (None, Some(previous)) => previous.config.clone(),
                (None, None) => "{}".into(),
            },
            granted,
            installed_at: crate::store::now(),
            publisher_key,
            reviewed: signed.as_ref().is_some_and(|s| s.reviewed),
            release: signed.map(|s| s.release),
            auto_update: inherited.and_then(|p| p.auto_update),
        };
        Ok((installed, report))
    }

    /// Stops an installed plugin the marketplace revoked (a revoked
    /// component never loads). A malicious release is also disabled, loses
    /// its grant (kept in the audit entry) and its component is moved to
    /// `DATA_DIR/quarantine`; a vulnerable one stays enabled with its
    /// grant, so that its fix runs as soon as it is installed. Audited as
    /// `revoked`.
    pub(crate) fn suspend(
        &self,
        actor: &str,
        mut installed: InstalledPlugin,
        revoked: &Revoked,
    ) -> Result<(), HubError> {
        let mut detail = json!({
            "version": installed.version,
            "severity": revoked.severity,
            "reason": revoked.reason,
            "fixed_in": revoked.fixed_in,
        });
        let malicious = revoked.severity == Severity::Malicious;
        installed.enabled &= !malicious;
        let quarantine = self.settings.data_dir.join("quarantine");
        let kept = quarantine.join(format!("{}-{}.wasm", installed.id, installed.sha256));
        if malicious {
            detail["grant_suspended"] = json!(installed.granted.take());
            detail["quarantined"] = json!(kept);
        }
        // Stopped and ungranted first: a file that cannot be moved then
        // never runs anyway (a revoked component does not load).
        self.save(actor, "revoked", detail, &installed)?;
        if malicious {
            let moved = std::fs::create_dir_all(&quarantine)
                .and_then(|()| std::fs::rename(self.component_path(&installed.id), &kept));
            if let Err(e) = moved {
                let detail = json!({"error": e.to_string()});
                self.audit
                    .record(actor, Some(&installed.id), "quarantine_failed", detail);
            }
        }
        Ok(())
    }

    /// Every revocation this hub verified, by what it stored: it holds
    /// offline.
    pub fn revocations(&self) -> Result<Revocations, HubError> {
        let stored = self.store.market().map_err(HubError::internal)?;
        stored.map_or(Ok(Revocations::default()), |text| {
            serde_json::from_str(&text)
                .map_err(|e| HubError::internal(format!("the stored marketplace metadata: {e}")))
        })
    }
}

/// A release on its way into the store, once every check passed.
struct Installing<'a, 'k> {
    parsed: &'a Manifest,
    manifest: String,
    sha256: String,
    previous: Option<&'a InstalledPlugin>,
    config: Option<BTreeMap<String, String>>,
    signed: Option<Provenance<'k>>,
}

/// The manifest and component within the sizes the hub reads.
fn within_bounds(manifest: &[u8], component: &[u8]) -> Result<(), HubError> {
    for (what, size, most) in [
        ("manifest", manifest.len(), MAX_MANIFEST),
        ("component", component.len(), MAX_COMPONENT),
    ] {
        if size as u64 > most {
            return Err(HubError::invalid(format!(
                "the {what} is larger than {most} bytes"
            )));
        }
    }
    Ok(())
}

/// A signed release older than the installed one is refused unless the
/// operator asked for a downgrade; true when it is an asked-for downgrade.
fn refuse_downgrade(
    parsed: &Manifest,
    previous: Option<&InstalledPlugin>,
    signed: Option<&Provenance<'_>>,
) -> Result<bool, HubError> {
    let older = signed.zip(previous).and_then(|(signed, previous)| {
        let installed = semver::Version::parse(&previous.version).ok()?;
        let older = parsed.version.cmp_precedence(&installed).is_lt();
        older.then_some((signed.downgrade, previous.version.as_str()))
    });
    match older {
        None => Ok(false),
        Some((true, _)) => Ok(true),
        Some((false, installed)) => Err(HubError::invalid(format!(
            "{} {} is older than the installed {installed}: a downgrade is refused unless asked for (--downgrade; \"downgrade\": true over the WebSocket)",
            parsed.id, parsed.version
        ))),
    }
}
