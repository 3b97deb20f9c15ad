//! What an operator does to plugins: install, update, remove, enable,
//! disable, approve and revoke grants. Each writes the store and the audit
//! log; a serving hub applies it at once.

use super::{BudgetUse, Hub, Status};
use crate::caps::rules::Scope;
use crate::caps::{Capabilities, Grant, Manifest, files};
use crate::error::{ErrorCode, HubError};
use crate::store::{self, Audited, InstalledPlugin};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

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

#[derive(Debug, Serialize)]
pub struct GrantView {
    pub plugin: String,
    pub requested: Capabilities,
    pub granted: Option<Grant>,
    pub pending: Vec<String>,
    /// Every rule requested or granted, side by side, as operators read them.
    pub rules: Vec<RuleState>,
}

#[derive(Debug, Serialize)]
pub struct RuleState {
    pub rule: String,
    pub requested: bool,
    /// The granted rules within it: itself, or what an operator narrowed it to.
    pub granted: Vec<String>,
    /// Requested and never decided on: approving it adds exactly this rule.
    pub pending: bool,
}

impl RuleState {
    /// Each requested rule with what is granted of it; then what is
    /// granted beyond every request (an older request's grant).
    fn side_by_side(
        requested: &Capabilities,
        granted: &Capabilities,
        pending: &[String],
    ) -> Vec<Self> {
        let (asked, given) = (requested.parts(), granted.parts());
        // Granted within the request (narrowed), or covering it (an older,
        // wider grant): either way, what the plugin holds of that rule.
        let related =
            |a: &Capabilities, g: &Capabilities| a.grants_within(g) || g.uncovered(a).is_empty();
        let mut rows: Vec<RuleState> = asked
            .iter()
            .map(|(rule, a)| RuleState {
                rule: rule.clone(),
                requested: true,
                granted: given
                    .iter()
                    .filter(|(_, g)| related(a, g))
                    .map(|(name, _)| name.clone())
                    .collect(),
                pending: pending.contains(rule),
            })
            .collect();
        rows.extend(
            given
                .iter()
                .filter(|(_, g)| !asked.iter().any(|(_, a)| related(a, g)))
                .map(|(rule, _)| RuleState {
                    rule: rule.clone(),
                    requested: false,
                    granted: vec![rule.clone()],
                    pending: false,
                }),
        );
        rows
    }
}

#[derive(Debug, Serialize)]
pub struct PluginView {
    pub id: String,
    pub name: String,
    pub version: String,
    pub publisher: String,
    pub sha256: String,
    pub enabled: bool,
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    pub devices: usize,
    /// The device protocol a running plugin speaks: `hub:device@0.2.0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// What a running plugin holds of its budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetUse>,
    pub granted: Capabilities,
    pub pending: Vec<String>,
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
            return Err(invalid(
                "this hub installs no plugins over the WebSocket: its configuration names no install_dir",
            ));
        };
        let component = files::inside(dir, component).map_err(invalid)?;
        let manifest = files::inside(dir, manifest).map_err(invalid)?;
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
            files::read_capped(manifest, MAX_MANIFEST, "manifest").map_err(invalid)?;
        let bytes = files::read_capped(component, MAX_COMPONENT, "component").map_err(invalid)?;
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
        signed: Option<crate::market::SignedOrigin<'_>>,
    ) -> Result<InstallReport, HubError> {
        let release = signed.map(|s| s.release);
        let publisher_key = release.map(|r| r.publisher_key.as_str());
        for (what, size, most) in [
            ("manifest", manifest.len(), MAX_MANIFEST),
            ("component", bytes.len(), MAX_COMPONENT),
        ] {
            if size as u64 > most {
                return Err(invalid(format!("the {what} is larger than {most} bytes")));
            }
        }
        // One at a time: two installs of one plugin would write one file.
        let _installing = self.installing.lock().unwrap_or_else(|p| p.into_inner());
        let manifest_text =
            String::from_utf8(manifest).map_err(|_| invalid("the manifest is not UTF-8"))?;
        let parsed =
            Manifest::parse(&manifest_text).map_err(|e| invalid(format!("manifest: {e:#}")))?;
        let digest = crate::market::release_digest(bytes);
        let version = parsed.version.to_string();
        if let Some(revoked) = self.forbidden(&parsed.id, &version, &digest, publisher_key)? {
            return Err(invalid(format!(
                "this component ({} {}) was revoked by the marketplace as {:?}: {}; it is never installed again",
                revoked.plugin, revoked.version, revoked.severity, revoked.reason
            )));
        }
        let previous = self.store.plugin(&parsed.id).map_err(internal)?;
        let downgrade = signed
            .zip(previous.as_ref())
            .and_then(|(signed, previous)| {
                let installed = semver::Version::parse(&previous.version).ok()?;
                let older = parsed.version.cmp_precedence(&installed).is_lt();
                older.then_some((signed.downgrade, previous.version.as_str()))
            });
        if let Some((false, installed)) = downgrade {
            return Err(invalid(format!(
                "{} {} is older than the installed {installed}: a downgrade is refused unless asked for (--downgrade; \"downgrade\": true over the WebSocket)",
                parsed.id, parsed.version
            )));
        }
        // Only once nothing refuses it cheaply: compiling takes seconds.
        self.compile(bytes, &parsed)
            .map_err(|e| invalid(format!("{} refused: {e:#}", parsed.id)))?;
        let dir = self.settings.data_dir.join("plugins").join(&parsed.id);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("plugin.wasm.partial"), bytes))
            .and_then(|()| {
                std::fs::rename(dir.join("plugin.wasm.partial"), dir.join("plugin.wasm"))
            })
            .and_then(|()| std::fs::write(dir.join("plugin.toml"), &manifest_text))
            .map_err(|e| {
                internal(anyhow::anyhow!(
                    "copy the plugin into {}: {e}",
                    dir.display()
                ))
            })?;
        let publisher_key = publisher_key.map(str::to_string);
        // A plugin id is its publisher's: another publisher's release under
        // it inherits no grant and starts only once approved afresh.
        let same_publisher = previous
            .as_ref()
            .is_some_and(|p| p.publisher_key == publisher_key);
        let granted = previous
            .as_ref()
            .filter(|_| same_publisher)
            .and_then(|p| p.granted.clone());
        let grant = Grant::parse(granted.as_deref()).map_err(internal)?;
        let mut report = InstallReport {
            id: parsed.id.clone(),
            version: parsed.version.to_string(),
            updated_from: previous.as_ref().map(|p| p.version.clone()),
            pending: Grant::pending(grant.as_ref(), &self.request(&parsed)),
            not_started: None,
        };
        let sha256 = digest.trim_start_matches("sha256:").to_string();
        let installed = InstalledPlugin {
            id: parsed.id.clone(),
            version: report.version.clone(),
            sha256: sha256.clone(),
            manifest: manifest_text,
            enabled: previous.as_ref().is_none_or(|p| p.enabled),
            config: match (config, previous.as_ref()) {
                (Some(config), _) => json!(config).to_string(),
                (None, Some(previous)) => previous.config.clone(),
                (None, None) => "{}".into(),
            },
            granted,
            installed_at: crate::store::now(),
            publisher_key,
            release: release.map(|r| json!(r).to_string()),
            reviewed: signed.is_some_and(|s| s.reviewed),
            auto_update: previous
                .as_ref()
                .filter(|_| same_publisher)
                .and_then(|p| p.auto_update),
        };
        let action = if previous.is_some() {
            "update"
        } else {
            "install"
        };
        let mut detail = json!({
            "version": report.version,
            "from": report.updated_from,
            "sha256": sha256,
            "pending": report.pending,
        });
        if previous.is_some() && !same_publisher {
            detail["publisher_changed"] = json!(true);
        }
        if downgrade.is_some() {
            detail["downgrade"] = json!(true);
        }
        if let (Some(detail), serde_json::Value::Object(from)) = (detail.as_object_mut(), from) {
            detail.extend(from);
        }
        self.save(actor, action, detail, &installed)?;
        report.not_started = self.apply().err().map(|e| e.message);
        Ok(report)
    }

    pub fn remove(&self, actor: &str, id: &str) -> Result<(), HubError> {
        let installed = self.installed(id)?;
        let entry = Audited {
            actor,
            plugin: Some(id),
            action: "remove",
            detail: json!({"version": installed.version}),
        };
        self.store
            .audited(entry, |conn| store::remove_plugin_on(conn, id))
            .map_err(internal)?;
        self.labels.forget(id);
        let dir = self.settings.data_dir.join("plugins").join(id);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(plugin = id, "could not delete {}: {e}", dir.display());
        }
        self.apply()
    }

    pub fn set_enabled(&self, actor: &str, id: &str, enabled: bool) -> Result<(), HubError> {
        let mut installed = self.installed(id)?;
        let before = installed.enabled;
        installed.enabled = enabled;
        let action = if enabled { "enable" } else { "disable" };
        self.save(actor, action, json!({"was_enabled": before}), &installed)?;
        self.apply()
    }

    /// Whether plugin `id`'s reviewed updates within its grant install on a
    /// schedule: `Some` for this plugin, `None` as the hub's `[market]
    /// auto_update` says. Audited.
    pub fn set_auto_update(
        &self,
        actor: &str,
        id: &str,
        auto_update: Option<bool>,
    ) -> Result<(), HubError> {
        // Not beside an install, which would write the row back over it.
        let _installing = self.installing.lock().unwrap_or_else(|p| p.into_inner());
        let mut installed = self.installed(id)?;
        if auto_update == Some(true) && !installed.reviewed {
            return Err(invalid(format!(
                "{id} was installed sideloaded (not reviewed by the marketplace): it is updated only by an operator's command (hub plugin updates --install)"
            )));
        }
        let before = installed.auto_update;
        installed.auto_update = auto_update;
        let detail = json!({"auto_update": auto_update, "was": before});
        self.save(actor, "auto_update", detail, &installed)
    }

    /// Grants what the manifest requests, with network rules narrowed to `nets` when given.
    pub fn approve(&self, actor: &str, id: &str, nets: &[Scope]) -> Result<Grant, HubError> {
        let installed = self.installed(id)?;
        let manifest = Manifest::parse(&installed.manifest).map_err(internal)?;
        let requested = self.request(&manifest);
        let granted = requested.narrowed(nets).map_err(invalid)?;
        let grant = Grant {
            requested,
            granted,
            approved_by: actor.into(),
            approved_at: crate::store::now(),
        };
        self.write_grant(actor, installed, "approve", grant.clone())?;
        Ok(grant)
    }

    /// Grants one rule the manifest requests, named as `Capabilities::rules`
    /// names it, beside what is granted already; a network rule narrowed to
    /// `narrow` when given.
    pub fn approve_rule(
        &self,
        actor: &str,
        id: &str,
        rule: &str,
        narrow: Option<Scope>,
    ) -> Result<Grant, HubError> {
        let installed = self.installed(id)?;
        let (part, granted) = self.rule_asked(&installed, rule, narrow)?;
        let current = Grant::parse(installed.granted.as_deref())
            .map_err(internal)?
            .unwrap_or_default();
        let grant = Grant {
            requested: current.requested.merged(&part),
            granted: current.granted.merged(&granted),
            approved_by: actor.into(),
            approved_at: crate::store::now(),
        };
        self.write_grant(actor, installed, "approve", grant.clone())?;
        Ok(grant)
    }

    /// What approving `rule` (narrowed to `narrow`) would add, exactly as
    /// it would be stored: what a confirmation shows. Nothing is saved.
    pub fn rule_would_add(
        &self,
        id: &str,
        rule: &str,
        narrow: Option<Scope>,
    ) -> Result<Vec<String>, HubError> {
        let installed = self.installed(id)?;
        Ok(self.rule_asked(&installed, rule, narrow)?.1.rules())
    }

    /// The requested rule `rule`, and what granting it (narrowed) means.
    fn rule_asked(
        &self,
        installed: &InstalledPlugin,
        rule: &str,
        narrow: Option<Scope>,
    ) -> Result<(Capabilities, Capabilities), HubError> {
        let manifest = Manifest::parse(&installed.manifest).map_err(internal)?;
        let requested = self.request(&manifest);
        let part = requested.part(rule).ok_or_else(|| {
            invalid(format!(
                "{} does not request {rule:?}; it requests: {requested}",
                installed.id
            ))
        })?;
        let granted = match narrow {
            Some(net) => part.narrowed(&[net]).map_err(invalid)?,
            None => part.clone(),
        };
        Ok((part, granted))
    }

    /// Takes back `rule` (see `Capabilities::without`), or everything.
    pub fn revoke(&self, actor: &str, id: &str, rule: Option<&str>) -> Result<Grant, HubError> {
        let installed = self.installed(id)?;
        let current = Grant::parse(installed.granted.as_deref())
            .map_err(internal)?
            .unwrap_or_default();
        let granted = current
            .granted
            .without(rule.unwrap_or("all"))
            .ok_or_else(|| {
                invalid(format!(
                    "{id} has no granted rule {:?}",
                    rule.unwrap_or("all")
                ))
            })?;
        let grant = Grant {
            granted,
            approved_by: actor.into(),
            approved_at: crate::store::now(),
            ..current
        };
        self.write_grant(actor, installed, "revoke", grant.clone())?;
        Ok(grant)
    }

    fn write_grant(
        &self,
        actor: &str,
        mut installed: InstalledPlugin,
        action: &str,
        grant: Grant,
    ) -> Result<(), HubError> {
        let before = Grant::parse(installed.granted.as_deref())
            .map_err(internal)?
            .map(|g| g.granted);
        installed.granted = Some(json!(grant).to_string());
        let detail = json!({"before": before, "after": grant.granted});
        self.save(actor, action, detail, &installed)?;
        self.apply()
    }

    /// Saves an operator's change to `installed` with its audit entry, in
    /// one transaction: a change that cannot be audited does not happen.
    fn save(
        &self,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
        installed: &InstalledPlugin,
    ) -> Result<(), HubError> {
        let entry = Audited {
            actor,
            plugin: Some(&installed.id),
            action,
            detail,
        };
        self.store
            .audited(entry, |conn| store::put_plugin_on(conn, installed))
            .map_err(internal)
    }

    pub fn grants(&self, id: &str) -> Result<GrantView, HubError> {
        let installed = self.installed(id)?;
        let manifest = Manifest::parse(&installed.manifest).map_err(internal)?;
        let granted = Grant::parse(installed.granted.as_deref()).map_err(internal)?;
        let requested = self.request(&manifest);
        let pending = Grant::pending(granted.as_ref(), &requested);
        let now = granted
            .as_ref()
            .map(|g| g.granted.clone())
            .unwrap_or_default();
        Ok(GrantView {
            plugin: id.into(),
            rules: RuleState::side_by_side(&requested, &now, &pending),
            pending,
            requested,
            granted,
        })
    }

    pub fn list(&self) -> Result<Vec<PluginView>, HubError> {
        let installed = self.store.plugins().map_err(internal)?;
        installed
            .into_iter()
            .map(|p| {
                let manifest = Manifest::parse(&p.manifest).map_err(internal)?;
                let grant = Grant::parse(p.granted.as_deref()).map_err(internal)?;
                let running = self.plugin(&p.id).ok();
                let pending = Grant::pending(grant.as_ref(), &self.request(&manifest));
                Ok(PluginView {
                    name: manifest.name,
                    publisher: manifest.publisher,
                    pending,
                    granted: grant.map(|g| g.granted).unwrap_or_default(),
                    status: running.as_ref().map(|r| r.status()),
                    devices: running.as_ref().map_or(0, |r| r.device_count()),
                    budget: running.as_ref().map(|r| r.budget_use()),
                    protocol: running.as_ref().map(|r| r.version().to_string()),
                    running: running.is_some(),
                    id: p.id,
                    version: p.version,
                    sha256: p.sha256,
                    enabled: p.enabled,
                })
            })
            .collect()
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
        revoked: &crate::market::metadata::Revoked,
    ) -> Result<(), HubError> {
        use crate::market::metadata::Severity;
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

    fn installed(&self, id: &str) -> Result<InstalledPlugin, HubError> {
        self.store.plugin(id).map_err(internal)?.ok_or_else(|| {
            HubError::new(
                ErrorCode::NotFound,
                format!("no plugin {id:?} is installed"),
            )
        })
    }

    /// A serving hub applies a change at once; the CLI leaves that to the
    /// hub, which notices the store changed.
    pub(crate) fn apply(&self) -> Result<(), HubError> {
        if !self.live.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        match self.reconcile().map_err(internal)?.into_iter().next() {
            None => Ok(()),
            Some((id, error)) => Err(HubError::new(
                ErrorCode::PluginFailed,
                format!("the change is saved, but {id} could not start: {error}"),
            )),
        }
    }
}

fn invalid(message: impl Into<String>) -> HubError {
    HubError::new(ErrorCode::InvalidArgument, message)
}

fn internal(e: anyhow::Error) -> HubError {
    HubError::new(ErrorCode::Internal, format!("{e:#}"))
}
