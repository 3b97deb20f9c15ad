//! The hub's persistent state in one SQLite file (WAL): installed plugins,
//! grants, the device registry and the audit log.

mod audit;
mod backup;
mod checkpoint;
mod migrations;
mod records;
mod serving;

pub use audit::{AuditEntry, AuditFilter, Audited, Broken};
pub use backup::{Copied, restore};
pub use checkpoint::Checkpoint;
pub use records::{DeviceRow, InstalledPlugin, Label, Publisher};
pub use serving::Serving;

use crate::sync::MutexHeld;
use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Creates `dir` (and what is missing above it) readable by the hub's
/// user only, and makes an existing one so: it holds the grants, the audit
/// log, installed components and compiled native code.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .with_context(|| format!("create {} private to the hub's user", dir.display()))
}

/// Inserts or replaces a plugin, on `conn` (a transaction, for [`Store::audited`]).
pub fn put_plugin_on(conn: &Connection, p: &InstalledPlugin) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO plugins (id, version, sha256, manifest, enabled, config, granted, installed_at, publisher_key, release, reviewed, auto_update)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT(id) DO UPDATE SET version = ?2, sha256 = ?3, manifest = ?4, enabled = ?5,
            config = ?6, granted = ?7, installed_at = ?8, publisher_key = ?9, release = ?10, reviewed = ?11, auto_update = ?12",
        params![p.id, p.version, p.sha256, p.manifest, p.enabled, p.config, p.granted, p.installed_at, p.publisher_key, p.release, p.reviewed, p.auto_update],
    )?;
    Ok(())
}

/// Keeps the marketplace's metadata, inside the caller's (audited) transaction.
pub fn put_market_on(
    conn: &Connection,
    before: Option<&str>,
    trusted: &str,
) -> rusqlite::Result<()> {
    // Only over what was read and checked: an import that ran meanwhile
    // (another process, the schedule) is never overwritten by an older view.
    let changed = match before {
        None => conn.execute(
            "INSERT INTO market (only, trusted) VALUES (1, ?1) ON CONFLICT(only) DO NOTHING",
            params![trusted],
        )?,
        Some(before) => conn.execute(
            "UPDATE market SET trusted = ?1 WHERE only = 1 AND trusted = ?2",
            params![trusted, before],
        )?,
    };
    match changed {
        1 => Ok(()),
        n => Err(rusqlite::Error::StatementChangedRows(n)),
    }
}

/// Adds `publisher`, inside the caller's (audited) transaction.
pub fn add_publisher_on(conn: &Connection, publisher: &Publisher) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO publishers (name, key, added_by, added_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            publisher.name,
            publisher.key,
            publisher.added_by,
            publisher.added_at
        ],
    )?;
    Ok(())
}

/// Removes a plugin, its devices and their labels, on `conn` (inside a
/// transaction): another plugin installed later under the same id inherits
/// nothing. False when there was none.
pub fn remove_plugin_on(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM devices WHERE plugin = ?1", [id])?;
    conn.execute("DELETE FROM device_labels WHERE plugin = ?1", [id])?;
    Ok(conn.execute("DELETE FROM plugins WHERE id = ?1", [id])? > 0)
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        let conn = Connection::open(path).with_context(|| format!("open {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&conn).with_context(|| format!("migrate {}", path.display()))?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection leaves no Rust state half-written.
        self.conn.held()
    }

    pub fn plugins(&self) -> anyhow::Result<Vec<InstalledPlugin>> {
        let conn = self.conn();
        let mut query = conn.prepare(
            "SELECT id, version, sha256, manifest, enabled, config, granted, installed_at, publisher_key, release, reviewed, auto_update FROM plugins ORDER BY id",
        )?;
        let rows = query.query_map([], InstalledPlugin::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn plugin(&self, id: &str) -> anyhow::Result<Option<InstalledPlugin>> {
        let conn = self.conn();
        let found = conn
            .query_row(
                "SELECT id, version, sha256, manifest, enabled, config, granted, installed_at, publisher_key, release, reviewed, auto_update FROM plugins WHERE id = ?1",
                [id],
                InstalledPlugin::from_row,
            )
            .optional()?;
        Ok(found)
    }

    /// Increases whenever another connection (the CLI, say) commits a change.
    pub fn data_version(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn()
            .pragma_query_value(None, "data_version", |row| row.get(0))?)
    }

    /// The sha256 this hub recorded when it wrote the compiled artifact `file`.
    pub fn compiled_digest(&self, file: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sha256 FROM compiled WHERE file = ?1",
                params![file],
                |row| row.get(0),
            )
            .optional()?)
    }

    pub fn put_compiled_digest(&self, file: &str, sha256: &str) -> anyhow::Result<()> {
        self.conn().execute(
            "INSERT INTO compiled (file, sha256) VALUES (?1, ?2)
             ON CONFLICT(file) DO UPDATE SET sha256 = ?2",
            params![file, sha256],
        )?;
        Ok(())
    }

    /// Inserts or replaces a plugin.
    pub fn put_plugin(&self, p: &InstalledPlugin) -> anyhow::Result<()> {
        Ok(put_plugin_on(&self.conn(), p)?)
    }

    pub fn put_device(&self, plugin: &str, d: &DeviceRow) -> anyhow::Result<()> {
        self.conn().execute(
            "INSERT INTO devices (plugin, identity, name, model, manufacturer, address, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(plugin, identity) DO UPDATE SET name = ?3, model = ?4, manufacturer = ?5,
                address = ?6, last_seen = ?7",
            params![
                plugin,
                d.identity,
                d.name,
                d.model,
                d.manufacturer,
                d.address,
                d.last_seen
            ],
        )?;
        Ok(())
    }

    pub fn devices(&self, plugin: &str) -> anyhow::Result<Vec<DeviceRow>> {
        let conn = self.conn();
        let mut query = conn.prepare(
            "SELECT identity, name, model, manufacturer, address, last_seen FROM devices
             WHERE plugin = ?1 ORDER BY identity",
        )?;
        let rows = query.query_map([plugin], DeviceRow::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// The marketplace's newest verified metadata (JSON), if one is pinned.
    pub fn market(&self) -> anyhow::Result<Option<String>> {
        let conn = self.conn();
        let found = conn
            .query_row("SELECT trusted FROM market WHERE only = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(found)
    }

    /// The publishers an operator trusts directly, by name.
    pub fn publishers(&self) -> anyhow::Result<Vec<Publisher>> {
        let conn = self.conn();
        let mut query =
            conn.prepare("SELECT name, key, added_by, added_at FROM publishers ORDER BY name")?;
        let rows = query.query_map([], |row| {
            Ok(Publisher {
                name: row.get(0)?,
                key: row.get(1)?,
                added_by: row.get(2)?,
                added_at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every device's label: (plugin, identity, label).
    pub fn labels(&self) -> anyhow::Result<Vec<(String, String, Label)>> {
        let conn = self.conn();
        let mut query = conn.prepare("SELECT plugin, identity, name, area FROM device_labels")?;
        let rows = query.query_map([], |row| {
            let label = Label {
                name: row.get(2)?,
                area: row.get(3)?,
            };
            Ok((row.get(0)?, row.get(1)?, label))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a device's label; an empty one is removed.
    pub fn put_label(&self, plugin: &str, identity: &str, label: &Label) -> anyhow::Result<()> {
        let conn = self.conn();
        if label.is_empty() {
            conn.execute(
                "DELETE FROM device_labels WHERE plugin = ?1 AND identity = ?2",
                params![plugin, identity],
            )?;
            return Ok(());
        }
        conn.execute(
            "INSERT INTO device_labels (plugin, identity, name, area) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(plugin, identity) DO UPDATE SET name = ?3, area = ?4",
            params![plugin, identity, label.name, label.area],
        )?;
        Ok(())
    }
}

/// Now, as the audit log and the registry write it: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn marketplace_metadata_is_replaced_only_over_what_was_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).unwrap();
        let put = |before, trusted| put_market_on(&store.conn(), before, trusted);
        put(None, "pinned").unwrap();
        assert!(put(None, "pinned again").is_err(), "a second pin");
        put(Some("pinned"), "imported 1").unwrap();
        // An import checked against "pinned" while another kept "imported 1".
        assert!(put(Some("pinned"), "stale view").is_err());
        assert_eq!(store.market().unwrap().as_deref(), Some("imported 1"));
    }

    #[test]
    fn the_data_directory_is_private_to_the_hubs_user() {
        let dir = std::env::temp_dir().join(format!("hub-private-{}", std::process::id()));
        let nested = dir.join("data");
        private_dir(&nested).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&nested), 0o700);
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700, "an existing one is made private too");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
