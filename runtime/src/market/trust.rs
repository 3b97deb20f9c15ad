//! What this hub trusts of a marketplace: the root an operator pinned and
//! the newest metadata verified since (`metadata::Trusted`, kept in
//! SQLite), and what it says of one release.

use super::metadata::{Bundle, Revoked, Root, Signed, Status, Trusted};
use super::{SignedRelease, internal, invalid};
use crate::error::HubError;
use crate::plugins::Hub;
use crate::store::{self, Audited};
use serde_json::json;

/// What the marketplace's metadata says of a release.
pub enum Standing<'a> {
    /// Reviewed, in an index whose status still holds.
    Reviewed,
    Revoked(&'a Revoked),
    PublisherRevoked,
    /// Not in the index (or no marketplace, or its status expired).
    Unknown,
}

impl Hub {
    /// The marketplace's verified metadata, if one is pinned.
    pub fn market(&self) -> Result<Option<Trusted>, HubError> {
        let stored = self
            .store()
            .market()
            .map_err(|e| internal(format!("{e:#}")))?;
        stored
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| internal(format!("the stored marketplace metadata: {e}")))
    }

    /// Pins a marketplace's first root, which the operator got by a way
    /// they trust; later roots come as rotations in its bundles. Audited.
    pub fn pin_market(&self, actor: &str, root: Signed<Root>) -> Result<(), HubError> {
        if self.market()?.is_some() {
            return Err(invalid(
                "a marketplace is pinned already: its roots rotate through its bundles",
            ));
        }
        let trusted = Trusted::pin(root).map_err(|e| invalid(format!("{e:#}")))?;
        let detail = json!({"root_version": trusted.root.signed.version, "root_keys": trusted.root.signed.root.keys});
        self.save_market(actor, "pin_market", detail, &trusted)
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
        let Some(trusted) = self.market()? else {
            return Err(invalid(
                "no marketplace is pinned: hub trust pin-market ROOT.json first",
            ));
        };
        let next = trusted
            .accept(bundle, clock)
            .map_err(|e| invalid(format!("the bundle is refused, nothing was kept: {e:#}")))?;
        let status = &bundle.status.signed;
        let detail = json!({
            "root_version": next.root.signed.version,
            "index_version": bundle.index.signed.version,
            "status_version": status.version,
            "issued_at": status.issued_at,
            "expires_at": status.expires_at,
            "revoked": status.revoked.iter().map(|r| format!("{} {}", r.plugin, r.version)).collect::<Vec<_>>(),
        });
        self.save_market(actor, "market_update", detail, &next)?;
        self.enforce(actor, status)?;
        Ok(next)
    }

    /// What the marketplace revoked of the component `digest`, if anything,
    /// by the stored status, fresh or not.
    pub fn revocation(&self, digest: &str) -> Result<Option<Revoked>, HubError> {
        let market = self.market()?;
        let status = market.and_then(|m| m.status).map(|s| s.signed);
        let revoked = status.and_then(|s| s.revoked.into_iter().find(|r| r.component == digest));
        Ok(revoked)
    }

    /// Stops each installed plugin whose component `status` revokes (see
    /// `suspend`); the ids stopped.
    fn enforce(&self, actor: &str, status: &Status) -> Result<Vec<String>, HubError> {
        let installed = self
            .store()
            .plugins()
            .map_err(|e| internal(format!("{e:#}")))?;
        let mut stopped = Vec::new();
        for plugin in installed {
            let digest = format!("sha256:{}", plugin.sha256);
            let Some(revoked) = status.revoked.iter().find(|r| r.component == digest) else {
                continue;
            };
            let malicious = revoked.severity == super::metadata::Severity::Malicious;
            let more_to_take = plugin.enabled || malicious && plugin.granted.is_some();
            if !more_to_take {
                continue;
            }
            stopped.push(plugin.id.clone());
            self.suspend(actor, plugin, revoked)?;
        }
        if !stopped.is_empty() {
            self.apply()?;
        }
        Ok(stopped)
    }

    fn save_market(
        &self,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
        trusted: &Trusted,
    ) -> Result<(), HubError> {
        let text = serde_json::to_string(trusted).map_err(|e| internal(e.to_string()))?;
        let entry = Audited {
            actor,
            plugin: None,
            action,
            detail,
        };
        self.store()
            .audited(entry, |conn| store::put_market_on(conn, &text))
            .map_err(|e| internal(format!("{e:#}")))
    }
}

/// What `trusted` says of `release` at `clock`. Revocations hold whether or
/// not the status is still fresh: an expired status never revives what it
/// revoked.
pub fn standing<'a>(trusted: &'a Trusted, release: &SignedRelease, clock: u64) -> Standing<'a> {
    let statement = &release.statement;
    if let Some(status) = &trusted.status {
        let status = &status.signed;
        if let Some(revoked) = status
            .revoked
            .iter()
            .find(|r| r.component == statement.component)
        {
            return Standing::Revoked(revoked);
        }
        if status.revoked_keys.contains(&release.publisher_key) {
            return Standing::PublisherRevoked;
        }
    }
    let reviewed = trusted.fresh(clock).is_ok()
        && trusted.index.as_ref().is_some_and(|index| {
            index.signed.releases.iter().any(|r| {
                r.component == statement.component
                    && r.plugin == statement.plugin
                    && r.version == statement.version
                    && r.publisher_key == release.publisher_key
            })
        });
    if reviewed {
        Standing::Reviewed
    } else {
        Standing::Unknown
    }
}

/// Now, in seconds since the Unix epoch.
pub fn clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
