//! What this hub trusts of a marketplace: the root an operator pinned and
//! the newest metadata verified since (`metadata::Trusted`, kept in
//! SQLite), and what it says of one release.

use super::Market;
use super::SignedRelease;
use super::metadata::{Bundle, Root, Signed, Trusted};
use crate::caps::revocations::{Revoked, Severity};
use crate::error::{ErrorCode, HubError};
use crate::store::{self, Audited, Publisher};
use serde::Serialize;
use serde_json::json;

/// What this hub trusts, as `hub trust show` and `trust_show` tell it.
#[derive(Debug, Serialize)]
pub struct TrustView {
    pub publishers: Vec<Publisher>,
    /// The pinned marketplace, if any.
    pub market: Option<MarketView>,
}

#[derive(Debug, Serialize)]
pub struct MarketView {
    pub root_version: u64,
    /// The newest index and status verified, once a bundle was imported.
    pub index_version: Option<u64>,
    pub reviewed: usize,
    pub status_version: Option<u64>,
    pub revoked: usize,
    pub revoked_keys: usize,
    pub expires_at: Option<u64>,
    /// Why the status no longer holds (expired, or none yet); `None`: it holds.
    pub stale: Option<String>,
}

/// What the marketplace's metadata says of a release.
pub enum Standing {
    /// Reviewed, in an index whose status still holds.
    Reviewed,
    /// Revoked, itself or the key that signed it.
    Revoked(Revoked),
    /// Not in the index (or no marketplace, or its status expired).
    Unknown,
}

impl Market {
    /// The publishers this hub trusts and what it verified of its marketplace.
    pub fn trust_view(&self) -> Result<TrustView, HubError> {
        let publishers = self.hub.store().publishers().map_err(HubError::internal)?;
        let market = self.market()?.map(|m| MarketView {
            root_version: m.root.signed.version,
            index_version: m.index.as_ref().map(|i| i.signed.version),
            reviewed: m.index.as_ref().map_or(0, |i| i.signed.releases.len()),
            status_version: m.status.as_ref().map(|s| s.signed.version),
            revoked: m.revocations.revoked.len(),
            revoked_keys: m.revocations.revoked_keys.len(),
            expires_at: m.status.as_ref().map(|s| s.signed.expires_at),
            stale: m.fresh(clock()).err().map(|e| format!("{e:#}")),
        });
        Ok(TrustView { publishers, market })
    }

    /// The marketplace's verified metadata, if one is pinned.
    pub fn market(&self) -> Result<Option<Trusted>, HubError> {
        Ok(self.stored_market()?.map(|(_, trusted)| trusted))
    }

    /// The stored metadata as kept, and as read.
    fn stored_market(&self) -> Result<Option<(String, Trusted)>, HubError> {
        let stored = self.hub.store().market().map_err(HubError::internal)?;
        let Some(text) = stored else {
            return Ok(None);
        };
        let trusted = serde_json::from_str(&text)
            .map_err(|e| HubError::internal(format!("the stored marketplace metadata: {e}")))?;
        Ok(Some((text, trusted)))
    }

    /// Pins a marketplace's first root, which the operator got by a way
    /// they trust; later roots come as rotations in its bundles. Audited.
    pub fn pin_market(&self, actor: &str, root: Signed<Root>) -> Result<(), HubError> {
        if self.market()?.is_some() {
            return Err(HubError::invalid(
                "a marketplace is pinned already: its roots rotate through its bundles",
            ));
        }
        let trusted = Trusted::pin(root).map_err(|e| HubError::invalid(format!("{e:#}")))?;
        let detail = json!({"root_version": trusted.root.signed.version, "root_keys": trusted.root.signed.root.keys});
        self.save_market(actor, "pin_market", detail, None, &trusted)
    }

    /// Verifies a marketplace's bundle against what is trusted now, at
    /// `clock` (seconds since the epoch), and keeps it only if every check
    /// passes; what is trusted then.
    pub fn import_market(
        &self,
        actor: &str,
        bundle: &Bundle,
        clock: u64,
    ) -> Result<Trusted, HubError> {
        let Some((before, trusted)) = self.stored_market()? else {
            return Err(HubError::invalid(
                "no marketplace is pinned: hub trust pin-market ROOT.json first",
            ));
        };
        let next = trusted.accept(bundle, clock).map_err(|e| {
            HubError::invalid(format!("the bundle is refused, nothing was kept: {e:#}"))
        })?;
        // The same bundle again (a refresh before the next publish): nothing new.
        if next == trusted {
            return Ok(next);
        }
        let status = &bundle.status.signed;
        let detail = json!({
            "root_version": next.root.signed.version,
            "index_version": bundle.index.signed.version,
            "status_version": status.version,
            "issued_at": status.issued_at,
            "expires_at": status.expires_at,
            "revoked": status.revoked.iter().map(|r| format!("{} {}", r.plugin, r.version)).collect::<Vec<_>>(),
        });
        self.save_market(actor, "market_update", detail, Some(&before), &next)?;
        self.enforce(actor, &next)?;
        Ok(next)
    }

    /// Fetches the marketplace's bundle from `reference` and imports it for
    /// `actor` (see `import_market`). A bundle that fails a check, or that
    /// the registry serves in a shape refused, is audited as
    /// `market_refused`; a registry out of reach is only the caller's to log.
    pub async fn refresh_market(&self, actor: &str, reference: &str) -> anyhow::Result<()> {
        // One at a time, however many ask: the next finds it done.
        let _one = self.refreshing.lock().await;
        let bytes = match super::oci::pull_bundle(reference).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if super::out_of_reach(&e) => return Err(e),
            Err(e) => Err(HubError::invalid(format!("the registry's bundle: {e:#}"))),
        };
        let imported = bytes.and_then(|bytes| {
            let bundle = serde_json::from_slice::<Bundle>(&bytes)
                .map_err(|e| HubError::invalid(format!("the bundle is not valid: {e}")))?;
            tokio::task::block_in_place(|| self.import_market(actor, &bundle, clock()))
        });
        // A lost race with another import refused nothing the marketplace said.
        if let Some(refused) = imported
            .as_ref()
            .err()
            .filter(|e| e.code != ErrorCode::Busy)
        {
            let detail = json!({"from": reference, "reason": refused.message});
            self.hub
                .audit()
                .record(actor, None, "market_refused", detail);
        }
        imported.map(|_| ()).map_err(Into::into)
    }

    /// Stops each installed plugin `trusted` forbids (see `suspend`); the
    /// ids stopped. One that cannot be stopped does not keep the others
    /// running: its error is returned after all were tried.
    fn enforce(&self, actor: &str, trusted: &Trusted) -> Result<Vec<String>, HubError> {
        let installed = self.hub.store().plugins().map_err(HubError::internal)?;
        let (mut stopped, mut failed) = (Vec::new(), None);
        for plugin in installed {
            let key = plugin.publisher_key.as_deref();
            let digest = plugin.digest();
            let Some(revoked) =
                trusted
                    .revocations
                    .forbids(&plugin.id, &plugin.version, &digest, key)
            else {
                continue;
            };
            // Each revocation is applied once: the audit log says so.
            let malicious = revoked.severity == Severity::Malicious;
            let more_to_take = malicious && (plugin.enabled || plugin.granted.is_some());
            if !more_to_take && (malicious || self.suspended(&plugin.id, &revoked)?) {
                continue;
            }
            let id = plugin.id.clone();
            match self.hub.suspend(actor, plugin, &revoked) {
                Ok(()) => stopped.push(id),
                Err(e) => failed = Some(e),
            }
        }
        if !stopped.is_empty() {
            self.hub.apply()?;
        }
        failed.map_or(Ok(stopped), Err)
    }

    /// Whether the revocation of this version of plugin `id` was applied
    /// already (its `revoked` audit entry).
    fn suspended(&self, id: &str, revoked: &Revoked) -> Result<bool, HubError> {
        let filter = store::AuditFilter {
            plugin: Some(id.into()),
            action: Some("revoked".into()),
            ..Default::default()
        };
        let entries = self
            .hub
            .store()
            .audit(&filter)
            .map_err(HubError::internal)?;
        Ok(entries
            .iter()
            .any(|e| e.detail["version"] == revoked.version.as_str()))
    }

    /// Keeps `trusted` in place of `before`, the metadata it was checked
    /// against (`None`: nothing was pinned); refused if that changed since.
    fn save_market(
        &self,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
        before: Option<&str>,
        trusted: &Trusted,
    ) -> Result<(), HubError> {
        let text = serde_json::to_string(trusted).map_err(|e| HubError::internal(e.to_string()))?;
        let entry = Audited {
            actor,
            plugin: None,
            action,
            detail,
        };
        self.hub.store()
            .audited(entry, |conn| store::put_market_on(conn, before, &text))
            .map_err(|e| match e.downcast_ref::<rusqlite::Error>() {
                Some(rusqlite::Error::StatementChangedRows(_)) => HubError::new(
                    ErrorCode::Busy,
                    "the marketplace's metadata changed while this was checked (another import or pin): nothing was kept; try again",
                ),
                _ => HubError::internal(e),
            })
    }
}

/// What `trusted` says of `release` at `clock`. Revocations hold whether or
/// not the status is still fresh: an expired status never revives what it
/// revoked.
pub fn standing(trusted: &Trusted, release: &SignedRelease, clock: u64) -> Standing {
    let statement = &release.statement;
    let key = Some(release.publisher_key.as_str());
    if let Some(revoked) = trusted.revocations.forbids(
        &statement.plugin,
        &statement.version,
        &statement.component,
        key,
    ) {
        return Standing::Revoked(revoked);
    }
    let reviewed = trusted.fresh(clock).is_ok()
        && trusted
            .index
            .as_ref()
            .is_some_and(|index| index.signed.releases.iter().any(|r| r.names(release)));
    if reviewed {
        Standing::Reviewed
    } else {
        Standing::Unknown
    }
}

/// The actor the audit log names for the scheduled refresh.
pub const MARKET_REFRESH: &str = "hub:market-refresh";

/// Now, in seconds since the Unix epoch.
pub fn clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
