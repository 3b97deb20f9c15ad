//! Newer releases of installed plugins, as the marketplace's index lists
//! them: by the same publisher, reviewed under a status that still holds.
//! An update asking for no more than the plugin's grant may install on its
//! own when the operator opted in, for the hub (`[market] auto_update`) or
//! for the plugin (`hub plugin auto-update`); one asking for more is only
//! listed, with the difference, until an operator installs it and approves
//! what it adds. A plugin installed unreviewed (sideloaded) is never
//! updated on a schedule, only by an operator's command.

use super::Market;
use super::metadata::Reviewed;
use super::{clock, peek, pull};
use crate::caps::{Grant, Manifest};
use crate::plugins::InstallReport;
use crate::sync::MutexHeld;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// A newer release of an installed plugin.
#[derive(Debug, Serialize)]
pub struct Update {
    pub plugin: String,
    pub from: String,
    pub to: String,
    pub oci: String,
    /// What it asks for beyond what was approved; empty: it fits the grant.
    pub wider: Vec<String>,
    /// The installed release was not reviewed: only an operator updates it.
    pub sideloaded: bool,
    /// The schedule installs it once it fits: the plugin is not sideloaded
    /// and automatic updates are on for it.
    pub scheduled: bool,
    /// Why installing it failed, when it was tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The release as the index lists it: what must be installed.
    #[serde(skip)]
    reviewed: Reviewed,
}

impl Market {
    /// Each installed plugin's newer reviewed releases, newest first down to
    /// the newest that fits its grant, with what each asks beyond it (read
    /// from the release's OCI manifest once: no component is fetched here).
    /// `only_scheduled`: only plugins the schedule updates.
    pub async fn updates(&self, only_scheduled: bool) -> anyhow::Result<Vec<Update>> {
        let Some(market) = self.market()? else {
            return Ok(Vec::new());
        };
        if market.fresh(clock()).is_err() {
            anyhow::bail!("the marketplace's status has expired: import a fresh one first");
        }
        let reviewed = market.index.as_ref().map(|i| &i.signed.releases[..]);
        let reviewed = reviewed.unwrap_or_default();
        let hub_default = self
            .hub
            .settings()
            .market
            .as_ref()
            .is_some_and(|m| m.auto_update);
        let mut found = Vec::new();
        for installed in self.hub.store().plugins()? {
            let scheduled = installed.reviewed && installed.auto_update.unwrap_or(hub_default);
            let Ok(current) = semver::Version::parse(&installed.version) else {
                continue;
            };
            if only_scheduled && !scheduled {
                continue;
            }
            let mut newer: Vec<_> = reviewed
                .iter()
                .filter(|r| r.plugin == installed.id)
                .filter(|r| Some(&r.publisher_key) == installed.publisher_key.as_ref())
                .filter(|r| {
                    let key = Some(r.publisher_key.as_str());
                    market
                        .revocations
                        .forbids(&r.plugin, &r.version, &r.component, key)
                        .is_none()
                })
                .filter_map(|r| Some((semver::Version::parse(&r.version).ok()?, r)))
                .filter(|(version, _)| version.cmp_precedence(&current).is_gt())
                .collect();
            newer.sort_by(|a, b| b.0.cmp_precedence(&a.0));
            let grant = Grant::parse(installed.granted.as_deref())?;
            // Newest first, down to the newest that fits the grant: that one
            // can install (a vulnerable release's fix among them), and any
            // newer asking for more is listed beside it.
            // One the registry does not show as reviewed is listed as
            // failed, and the next older is looked at.
            for (_, release) in newer {
                let (wider, failed) = match self.reviewed_manifest(release).await {
                    Ok(manifest) => (
                        Grant::pending(grant.as_ref(), &self.hub.request(&manifest)),
                        None,
                    ),
                    Err(e) => (
                        Vec::new(),
                        Some(format!("its manifest could not be read: {e:#}")),
                    ),
                };
                let update = Update {
                    plugin: installed.id.clone(),
                    from: installed.version.clone(),
                    to: release.version.clone(),
                    oci: release.oci.clone(),
                    wider,
                    sideloaded: !installed.reviewed,
                    scheduled,
                    failed,
                    reviewed: release.clone(),
                };
                let fits = update.wider.is_empty() && update.failed.is_none();
                found.push(update);
                if fits {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Installs the updates that ask for no more than their plugin's grant,
    /// one at a time, each pulled and checked as any install; the reports,
    /// and the updates left for an operator (with why, for those that
    /// failed: one failing update holds back no other). `scheduled`: only
    /// those the schedule may install (`Update::scheduled`); otherwise an
    /// operator asked, and sideloaded plugins' fitting updates install too.
    pub async fn install_fitting_updates(
        &self,
        actor: &str,
        scheduled: bool,
    ) -> anyhow::Result<(Vec<InstallReport>, Vec<Update>)> {
        let (mut installed, mut held) = (Vec::new(), Vec::new());
        for mut update in self.updates(scheduled).await? {
            let waits = !update.wider.is_empty() || update.failed.is_some();
            if waits || scheduled && !update.scheduled {
                held.push(update);
                continue;
            }
            match self.install_update(actor, &update).await {
                Ok(report) => installed.push(report),
                Err(e) => {
                    update.failed = Some(format!("{e:#}"));
                    held.push(update);
                }
            }
        }
        // What is left is offered against what now runs.
        for update in &mut held {
            if let Some(report) = installed.iter().find(|r| r.id == update.plugin) {
                update.from = report.version.clone();
            }
        }
        Ok((installed, held))
    }

    /// The `plugin.toml` the index reviewed for `release`, read from its
    /// registry the first time only: what a digest names never changes.
    async fn reviewed_manifest(&self, release: &Reviewed) -> anyhow::Result<Manifest> {
        if let Some(known) = self.reviewed_manifests.get(&release.manifest) {
            return Ok(known);
        }
        let text = peek(&release.oci).await?;
        anyhow::ensure!(
            crate::digest::sha256_oci(text.as_bytes()) == release.manifest,
            "the registry shows another plugin.toml than the one reviewed"
        );
        let manifest = Manifest::parse(&text)?;
        self.reviewed_manifests.put(&release.manifest, &manifest);
        Ok(manifest)
    }

    /// Pulls and installs `update` (the plugin keeps its configuration);
    /// the release must be exactly the one the index reviewed.
    async fn install_update(&self, actor: &str, update: &Update) -> anyhow::Result<InstallReport> {
        let pulled = pull(&update.oci).await?;
        let (statement, wanted) = (&pulled.release.statement, &update.reviewed);
        anyhow::ensure!(
            wanted.names(&pulled.release),
            "{} holds {} {} ({}), not the release the index reviewed ({})",
            update.oci,
            statement.plugin,
            statement.version,
            statement.component,
            wanted.component
        );
        let report =
            tokio::task::block_in_place(|| self.install_release(actor, pulled, None, false))?;
        Ok(report)
    }
}

/// Reviewed releases' manifests by the digest the index names, so that
/// listing updates asks each registry once per release, not at every look.
#[derive(Default)]
pub struct ReviewedManifests(Mutex<HashMap<String, Manifest>>);

/// Manifests kept at most (a marketplace lists few releases per plugin).
const MAX_REVIEWED_MANIFESTS: usize = 512;

impl ReviewedManifests {
    fn get(&self, digest: &str) -> Option<Manifest> {
        self.0.held().get(digest).cloned()
    }

    fn put(&self, digest: &str, manifest: &Manifest) {
        let mut kept = self.0.held();
        if kept.len() >= MAX_REVIEWED_MANIFESTS {
            kept.clear();
        }
        kept.insert(digest.to_string(), manifest.clone());
    }
}
