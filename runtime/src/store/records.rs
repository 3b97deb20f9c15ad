use rusqlite::Row;

/// A plugin as installed: the manifest it came with, and what an operator
/// granted (JSON of `caps::Grant`, `None` until approved).
#[derive(Debug, Clone)]
pub struct InstalledPlugin {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub manifest: String,
    pub enabled: bool,
    /// The operator's configuration, a JSON object of strings.
    pub config: String,
    pub granted: Option<String>,
    pub installed_at: String,
    /// The key that signed its release (hex), when it came signed.
    pub publisher_key: Option<String>,
    /// That signed release (JSON of `market::SignedRelease`).
    pub release: Option<String>,
    /// Whether the marketplace's index listed that release when it was
    /// installed; a sideloaded one is updated only by an operator.
    pub reviewed: bool,
    /// Whether its fitting updates install on a schedule; `None`: as the
    /// hub's `[market] auto_update` says.
    pub auto_update: Option<bool>,
}

impl InstalledPlugin {
    /// Its component's digest as OCI and the marketplace write it.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.sha256)
    }

    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(InstalledPlugin {
            id: row.get(0)?,
            version: row.get(1)?,
            sha256: row.get(2)?,
            manifest: row.get(3)?,
            enabled: row.get(4)?,
            config: row.get(5)?,
            granted: row.get(6)?,
            installed_at: row.get(7)?,
            publisher_key: row.get(8)?,
            release: row.get(9)?,
            reviewed: row.get(10)?,
            auto_update: row.get(11)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub identity: String,
    pub name: String,
    pub model: String,
    pub manufacturer: String,
    pub address: String,
    /// When discovery last reported the device new or at a new address.
    pub last_seen: String,
}

impl DeviceRow {
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(DeviceRow {
            identity: row.get(0)?,
            name: row.get(1)?,
            model: row.get(2)?,
            manufacturer: row.get(3)?,
            address: row.get(4)?,
            last_seen: row.get(5)?,
        })
    }
}

/// What an operator calls a device and where it is; the plugin's own name
/// shows where `name` is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    pub name: Option<String>,
    pub area: Option<String>,
}

impl Label {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.area.is_none()
    }
}

/// A publisher an operator trusts directly: releases signed with `key`
/// install as unreviewed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Publisher {
    pub name: String,
    /// Ed25519, hex.
    pub key: String,
    pub added_by: String,
    pub added_at: String,
}
