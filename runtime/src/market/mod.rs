//! Plugins that come from a registry rather than two local files.
//!
//! A publisher builds a release (`package`), signs a statement of exactly
//! which bytes it is (`release`), and pushes it as a CNCF Wasm OCI artifact
//! (`oci`). A hub pulls it by digest and installs it only once every check
//! has passed, in this order: the artifact's manifest matches its digest
//! and has a release's shape; the component matches its layer digest,
//! within its size bound; the release is signed by a publisher this hub
//! trusts; the signed statement names exactly this plugin id, version,
//! component and manifest. Then, as for any install, the component must
//! compile and import nothing its manifest does not account for, and its
//! capabilities wait for an operator's approval. Nothing is saved before.
//!
//! A release is trusted one of two ways. The marketplace's index lists it
//! as reviewed, under a status that still holds (`metadata`, `trust`); or
//! its publisher is one an operator trusts directly (sideloading), and it
//! installs as unreviewed. A release or publisher key the marketplace
//! revoked never installs, whichever way it came, even once the status
//! that revoked it has expired.

mod fetch;
mod marketplace;
pub mod metadata;
mod oci;
mod package;
mod release;
mod trust;
mod updates;

pub use fetch::out_of_reach;
pub use marketplace::{Marketplace, RoleName};
pub use oci::{Busy, Pulled, peek, pull, push, push_bundle, turn};
pub use package::{Package, build, read_json, sign};
pub use release::{SignedRelease, Statement};
use trust::Standing;
pub use trust::{MARKET_REFRESH, MarketView, TrustView, clock};
use updates::ReviewedManifests;
pub use updates::Update;

use crate::error::HubError;
use crate::plugins::{Hub, InstallReport, Provenance};
use crate::store::{self, Audited, Publisher};
use anyhow::Context;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The marketplace as this hub follows it: what it verified of it, the
/// releases it installs from registries and the updates it offers. It
/// changes the hub only through the hub's own operations (install,
/// suspend), so that `plugins` knows nothing of where a release came from.
pub struct Market {
    hub: Arc<Hub>,
    /// What reviewed updates ask for, read once from their registries.
    reviewed_manifests: ReviewedManifests,
    /// Held while the marketplace's status is fetched and imported.
    refreshing: tokio::sync::Mutex<()>,
}

impl Market {
    pub fn new(hub: Arc<Hub>) -> Arc<Self> {
        Arc::new(Market {
            hub,
            reviewed_manifests: Default::default(),
            refreshing: Default::default(),
        })
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

impl Market {
    /// Trusts the publisher `name` with the Ed25519 key `key` (hex): its
    /// signed releases install, as unreviewed. Audited.
    pub fn trust_publisher(
        &self,
        actor: &str,
        name: &str,
        key: &str,
    ) -> Result<Publisher, HubError> {
        crate::keys::check_public(key)
            .map_err(|e| HubError::invalid(format!("{key:?} is not a publisher's key: {e:#}")))?;
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(HubError::invalid(
                "a publisher's name is 1 to 64 characters, none of them control",
            ));
        }
        let publisher = Publisher {
            name: name.into(),
            key: key.into(),
            added_by: actor.into(),
            added_at: store::now(),
        };
        let entry = Audited {
            actor,
            plugin: None,
            action: "trust_publisher",
            detail: json!({"name": name, "key": key}),
        };
        self.hub
            .store()
            .audited(entry, |conn| store::add_publisher_on(conn, &publisher))
            .map_err(|e| {
                HubError::invalid(format!(
                    "cannot trust {name}: {e:#} (a name and a key are trusted once)"
                ))
            })?;
        Ok(publisher)
    }

    /// Writes installed plugin `id` as a signed package folder `out`, which
    /// `hub plugin install OUT` installs on another hub, offline, with the
    /// same checks of its signature. Only a plugin that came signed.
    pub fn export_plugin(&self, id: &str, out: &std::path::Path) -> anyhow::Result<SignedRelease> {
        let installed = self
            .hub
            .store()
            .plugin(id)?
            .with_context(|| format!("no plugin {id:?} is installed"))?;
        let release = installed.release.as_deref().with_context(|| {
            format!(
                "{id} was installed from a file, unsigned: there is no signed release to export"
            )
        })?;
        let release: SignedRelease = serde_json::from_str(release).context("its stored release")?;
        let component = std::fs::read(self.hub.component_path(id))
            .with_context(|| format!("read {id}'s component (quarantined?)"))?;
        package::export(out, &installed.manifest, &component, &release)?;
        Ok(release)
    }

    /// Installs a release pulled from a registry (see the module's order of
    /// checks); the same report as any install, its capabilities pending.
    /// A version older than the installed one is refused unless
    /// `downgrade` says the operator means it.
    /// A refused release is audited as `install_refused`, with why.
    pub fn install_release(
        &self,
        actor: &str,
        pulled: Pulled,
        config: Option<BTreeMap<String, String>>,
        downgrade: bool,
    ) -> Result<InstallReport, HubError> {
        // `_turn` is held to the end: the next pull waits for this install.
        let Pulled {
            pinned,
            manifest,
            component,
            release,
            turn: _turn,
        } = pulled;
        let installed = self
            .vouched(&pinned, &release)
            .and_then(|(reviewed, publisher)| {
                release
                    .check(&manifest, &component)
                    .map_err(|e| HubError::invalid(format!("{pinned} refused: {e:#}")))?;
                let from = json!({
                    "oci": pinned,
                    "publisher": publisher,
                    "publisher_key": release.publisher_key,
                    "reviewed": reviewed,
                });
                let signed = Provenance {
                    publisher_key: &release.publisher_key,
                    release: json!(release).to_string(),
                    reviewed,
                    downgrade,
                };
                let manifest = manifest.into_bytes();
                self.hub
                    .install_bytes(actor, manifest, &component, config, from, Some(signed))
            });
        if let Err(refused) = &installed {
            let statement = &release.statement;
            let detail = json!({
                "from": pinned,
                "version": statement.version,
                "component": statement.component,
                "code": refused.code.as_str(),
                "reason": refused.message,
            });
            self.hub
                .audit()
                .record(actor, Some(&statement.plugin), "install_refused", detail);
        }
        installed
    }

    /// Who vouches for `release`: whether the marketplace reviewed it, and
    /// the publisher's name as the audit log gives it; refused when it was
    /// revoked, or nobody this hub trusts vouches for it.
    fn vouched(&self, pinned: &str, release: &SignedRelease) -> Result<(bool, String), HubError> {
        let market = self.market()?;
        let standing = market
            .as_ref()
            .map_or(Standing::Unknown, |m| trust::standing(m, release, clock()));
        let reviewed = match standing {
            Standing::Revoked(revoked) => {
                return Err(HubError::invalid(revoked.refusal(pinned)));
            }
            Standing::Reviewed => true,
            Standing::Unknown => false,
        };
        if reviewed {
            return Ok((true, "reviewed by the marketplace".into()));
        }
        let publishers = self.hub.store().publishers().map_err(HubError::internal)?;
        match publishers
            .into_iter()
            .find(|p| p.key == release.publisher_key)
        {
            Some(publisher) => Ok((false, publisher.name)),
            None => Err(HubError::invalid(format!(
                "{pinned} is signed by {}, a key this hub does not trust and a release the marketplace's index does not list (never reviewed, or yanked): add its publisher with hub trust add-publisher, or import a fresh status",
                release.publisher_key
            ))),
        }
    }
}
