//! What an operator approves of a plugin's requests, and takes back: whole
//! grants, one rule at a time, narrowed to networks; each change audited
//! and applied at once by a serving hub.

use super::Hub;
use crate::caps::rules::Scope;
use crate::caps::{Capabilities, Grant, Manifest};
use crate::error::HubError;
use crate::store::InstalledPlugin;
use serde::Serialize;
use serde_json::json;

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

impl Hub {
    /// Grants what the manifest requests, with network rules narrowed to `nets` when given.
    pub fn approve(&self, actor: &str, id: &str, nets: &[Scope]) -> Result<Grant, HubError> {
        let installed = self.installed(id)?;
        let manifest = Manifest::parse(&installed.manifest).map_err(HubError::internal)?;
        let requested = self.request(&manifest);
        let granted = requested.narrowed(nets).map_err(HubError::invalid)?;
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
            .map_err(HubError::internal)?
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
        let manifest = Manifest::parse(&installed.manifest).map_err(HubError::internal)?;
        let requested = self.request(&manifest);
        let part = requested.part(rule).ok_or_else(|| {
            HubError::invalid(format!(
                "{} does not request {rule:?}; it requests: {requested}",
                installed.id
            ))
        })?;
        let granted = match narrow {
            Some(net) => part.narrowed(&[net]).map_err(HubError::invalid)?,
            None => part.clone(),
        };
        Ok((part, granted))
    }

    /// Takes back `rule` (see `Capabilities::without`), or everything.
    pub fn revoke(&self, actor: &str, id: &str, rule: Option<&str>) -> Result<Grant, HubError> {
        let installed = self.installed(id)?;
        let current = Grant::parse(installed.granted.as_deref())
            .map_err(HubError::internal)?
            .unwrap_or_default();
        let granted = current
            .granted
            .without(rule.unwrap_or("all"))
            .ok_or_else(|| {
                HubError::invalid(format!(
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
            .map_err(HubError::internal)?
            .map(|g| g.granted);
        installed.granted = Some(json!(grant).to_string());
        let detail = json!({"before": before, "after": grant.granted});
        self.save(actor, action, detail, &installed)?;
        self.apply()
    }

    pub fn grants(&self, id: &str) -> Result<GrantView, HubError> {
        let installed = self.installed(id)?;
        let manifest = Manifest::parse(&installed.manifest).map_err(HubError::internal)?;
        let granted = Grant::parse(installed.granted.as_deref()).map_err(HubError::internal)?;
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
}
