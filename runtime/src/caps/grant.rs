//! What an operator approved for a plugin, and against which request.

use super::rules::Capabilities;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The manifest's request when the operator approved: an update that
    /// asks for more than this waits for a new approval.
    pub requested: Capabilities,
    pub granted: Capabilities,
    pub approved_by: String,
    pub approved_at: String,
}

impl Grant {
    /// The grant stored with an installed plugin; none yet means nothing granted.
    pub fn parse(stored: Option<&str>) -> anyhow::Result<Option<Grant>> {
        stored
            .map(serde_json::from_str)
            .transpose()
            .map_err(Into::into)
    }

    /// What `request` asks beyond what this grant approved.
    pub fn pending(grant: Option<&Grant>, request: &Capabilities) -> Vec<String> {
        let approved = grant.map(|g| g.requested.clone()).unwrap_or_default();
        approved.uncovered(request)
    }
}
