//! What an operator does to installed plugins beside installing and
//! granting: list, remove, enable, disable, choose automatic updates. Each
//! writes the store and the audit log; a serving hub applies it at once.

use super::{BudgetUse, Hub, Status};
use crate::caps::{Capabilities, Grant, Manifest};
use crate::error::{ErrorCode, HubError};
use crate::store::{self, Audited, InstalledPlugin};
use crate::sync::MutexHeld;
use serde::Serialize;
use serde_json::json;

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
            .map_err(HubError::internal)?;
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
        let _installing = self.installing.held();
        let mut installed = self.installed(id)?;
        if auto_update == Some(true) && !installed.reviewed {
            return Err(HubError::invalid(format!(
                "{id} was installed sideloaded (not reviewed by the marketplace): it is updated only by an operator's command (hub plugin updates --install)"
            )));
        }
        let before = installed.auto_update;
        installed.auto_update = auto_update;
        let detail = json!({"auto_update": auto_update, "was": before});
        self.save(actor, "auto_update", detail, &installed)
    }

    pub fn list(&self) -> Result<Vec<PluginView>, HubError> {
        let installed = self.store.plugins().map_err(HubError::internal)?;
        installed
            .into_iter()
            .map(|p| {
                let manifest = Manifest::parse(&p.manifest).map_err(HubError::internal)?;
                let grant = Grant::parse(p.granted.as_deref()).map_err(HubError::internal)?;
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

    /// Saves an operator's change to `installed` with its audit entry, in
    /// one transaction: a change that cannot be audited does not happen.
    pub(super) fn save(
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
            .map_err(HubError::internal)
    }

    pub(super) fn installed(&self, id: &str) -> Result<InstalledPlugin, HubError> {
        self.store
            .plugin(id)
            .map_err(HubError::internal)?
            .ok_or_else(|| {
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
        match self
            .reconcile()
            .map_err(HubError::internal)?
            .into_iter()
            .next()
        {
            None => Ok(()),
            Some((id, error)) => Err(HubError::new(
                ErrorCode::PluginFailed,
                format!("the change is saved, but {id} could not start: {error}"),
            )),
        }
    }
}
