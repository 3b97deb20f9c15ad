//! The audit log: append-only, each entry carrying the hash of the one
//! before it, so that an edited or deleted entry is detected by `verify`.

use super::Store;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::{Value, json};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    /// Who: an operator's token name, `cli`, or `hub` for the hub's own records.
    pub actor: String,
    pub plugin: Option<String>,
    pub action: String,
    pub detail: Value,
    #[serde(skip)]
    prev_hash: String,
    #[serde(skip)]
    hash: String,
}

impl AuditEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let detail: String = row.get(5)?;
        Ok(AuditEntry {
            seq: row.get(0)?,
            at: row.get(1)?,
            actor: row.get(2)?,
            plugin: row.get(3)?,
            action: row.get(4)?,
            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
            prev_hash: row.get(6)?,
            hash: row.get(7)?,
        })
    }

    fn digest(&self) -> String {
        let canonical = json!([
            self.seq,
            self.at,
            self.actor,
            self.plugin,
            self.action,
            self.detail,
            self.prev_hash
        ]);
        crate::digest::sha256_hex(canonical.to_string().as_bytes())
    }
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub plugin: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// RFC 3339; entries at or after it.
    pub since: Option<String>,
    /// RFC 3339; entries before it.
    pub until: Option<String>,
    /// Entries after this sequence number: what a reader has not seen yet.
    pub after: Option<i64>,
    pub limit: Option<usize>,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub seq: i64,
    pub reason: String,
}

const COLUMNS: &str = "seq, at, actor, plugin, action, detail, prev_hash, hash";

/// An operator's change as the audit log records it.
pub struct Audited<'a> {
    pub actor: &'a str,
    pub plugin: Option<&'a str>,
    pub action: &'a str,
    pub detail: Value,
}

impl Store {
    pub fn append(
        &self,
        actor: &str,
        plugin: Option<&str>,
        action: &str,
        detail: Value,
    ) -> anyhow::Result<()> {
        let entry = Audited {
            actor,
            plugin,
            action,
            detail,
        };
        self.audited(entry, |_| Ok(()))
    }

    /// Makes `change` and appends its audit entry in one transaction:
    /// neither lands without the other, so a change whose entry cannot be
    /// written does not happen.
    pub fn audited<R>(
        &self,
        entry: Audited<'_>,
        change: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> anyhow::Result<R> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        let result = change(&tx)?;
        append_on(&tx, entry)?;
        tx.commit()?;
        Ok(result)
    }

    /// The chain's newest entry and its hash (0 and the genesis hash when empty).
    pub(super) fn head(&self) -> anyhow::Result<(i64, String)> {
        let head = head_record(&self.conn())?;
        Ok(head.unwrap_or((0, GENESIS.to_string())))
    }

    /// The hash of entry `seq`, if it is in the log.
    pub(super) fn entry_hash(&self, seq: i64) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT hash FROM audit WHERE seq = ?1", [seq], |r| r.get(0))
            .optional()?)
    }

    /// Entries matching `filter`, oldest first (the newest `limit` when limited).
    pub fn audit(&self, filter: &AuditFilter) -> anyhow::Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let limit = filter.limit.map_or(-1, |l| l as i64);
        // A reader catching up (`after`) gets the oldest it has not seen,
        // the next page of them; anyone else the newest.
        let order = if filter.after.is_some() {
            "ASC"
        } else {
            "DESC"
        };
        let mut query = conn.prepare(&format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM audit
               WHERE seq > ?7 AND (?1 IS NULL OR plugin = ?1) AND (?2 IS NULL OR at >= ?2)
                 AND (?4 IS NULL OR actor = ?4) AND (?5 IS NULL OR action = ?5)
                 AND (?6 IS NULL OR at < ?6)
               ORDER BY seq {order} LIMIT ?3) ORDER BY seq"
        ))?;
        let f = filter;
        let rows = query.query_map(
            // `seq > 0` when nothing was seen: a range SQLite walks on the
            // rowid, so that a reader's poll reads only what is new.
            params![
                f.plugin,
                f.since,
                limit,
                f.actor,
                f.action,
                f.until,
                f.after.unwrap_or(0)
            ],
            AuditEntry::from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Walks the whole chain; `Ok(n)` when all `n` entries are intact.
    pub fn verify(&self) -> anyhow::Result<Result<i64, Broken>> {
        let conn = self.conn();
        let mut query = conn.prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY seq"))?;
        let mut rows = query.query([])?;
        let (mut expected, mut prev_hash) = (1, GENESIS.to_string());
        while let Some(row) = rows.next()? {
            let entry = AuditEntry::from_row(row)?;
            let broken = |reason: String| {
                Ok(Err(Broken {
                    seq: entry.seq,
                    reason,
                }))
            };
            if entry.seq != expected {
                return Ok(Err(Broken {
                    seq: expected,
                    reason: format!("entries {expected} to {} are missing", entry.seq - 1),
                }));
            }
            if entry.prev_hash != prev_hash {
                return broken(format!(
                    "entry {} does not follow entry {}: its predecessor was changed",
                    entry.seq,
                    entry.seq - 1
                ));
            }
            if entry.digest() != entry.hash {
                return broken(format!(
                    "entry {} was edited after it was written",
                    entry.seq
                ));
            }
            prev_hash = entry.hash;
            expected += 1;
        }
        let head = head_record(&conn)?;
        let last = expected - 1;
        match head {
            None if last == 0 => Ok(Ok(0)),
            Some((seq, hash)) if seq == last && hash == prev_hash => Ok(Ok(last)),
            Some((seq, _)) if seq > last => Ok(Err(Broken {
                seq: last + 1,
                reason: format!("entries {} to {seq} were deleted", last + 1),
            })),
            _ => Ok(Err(Broken {
                seq: last,
                reason: "the chain's head record does not match its last entry".into(),
            })),
        }
    }
}

/// The head record: the newest entry's sequence number and hash, kept apart
/// so that deleting entries from the end shows.
fn head_record(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row("SELECT seq, hash FROM audit_head WHERE only = 1", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

/// Appends `entry` to the chain, inside the caller's transaction.
fn append_on(conn: &Connection, entry: Audited<'_>) -> rusqlite::Result<()> {
    let (last, prev_hash) = head_record(conn)?.unwrap_or((0, GENESIS.to_string()));
    let mut entry = AuditEntry {
        seq: last + 1,
        at: super::now(),
        actor: entry.actor.to_string(),
        plugin: entry.plugin.map(str::to_string),
        action: entry.action.to_string(),
        detail: entry.detail,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.digest();
    conn.execute(
        &format!("INSERT INTO audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            entry.seq,
            entry.at,
            entry.actor,
            entry.plugin,
            entry.action,
            entry.detail.to_string(),
            entry.prev_hash,
            entry.hash
        ],
    )?;
    conn.execute(
        "INSERT INTO audit_head (only, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(only) DO UPDATE SET seq = ?1, hash = ?2",
        params![entry.seq, entry.hash],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(n: usize) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "hub-audit-{}-{n}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("hub.db")).unwrap();
        for i in 0..n {
            store
                .append("cli", Some("p"), "grant", json!({"n": i}))
                .unwrap();
        }
        (store, dir)
    }

    fn tamper(store: &Store, sql: &str) {
        store.conn().execute_batch(sql).unwrap();
    }

    #[test]
    fn a_change_whose_audit_entry_cannot_be_written_does_not_happen() {
        let (store, _) = store_with(2);
        tamper(
            &store,
            "CREATE TRIGGER full BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        );
        let plugin = crate::store::InstalledPlugin {
            id: "p".into(),
            version: "1.0.0".into(),
            sha256: "00".into(),
            manifest: String::new(),
            enabled: true,
            config: "{}".into(),
            granted: Some("everything".into()),
            installed_at: crate::store::now(),
            publisher_key: None,
            release: None,
            reviewed: false,
            auto_update: None,
        };
        let entry = Audited {
            actor: "mallory",
            plugin: Some("p"),
            action: "approve",
            detail: json!({}),
        };
        let failed = store.audited(entry, |conn| crate::store::put_plugin_on(conn, &plugin));
        assert!(failed.unwrap_err().to_string().contains("disk full"));
        assert!(
            store.plugin("p").unwrap().is_none(),
            "the grant did not land"
        );
        tamper(&store, "DROP TRIGGER full;");
        assert_eq!(store.verify().unwrap(), Ok(2));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (store, _) = store_with(5);
        assert_eq!(store.verify().unwrap(), Ok(5));
        let recent = store
            .audit(&AuditFilter {
                limit: Some(2),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(recent.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5]);
    }

    #[test]
    fn entries_are_filtered_by_actor_action_time_and_what_was_seen() {
        let (store, _) = store_with(5);
        store.append("bob", None, "sign_in", json!({})).unwrap();
        let seqs = |filter: AuditFilter| -> Vec<i64> {
            store
                .audit(&filter)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        let by = |actor: &str| AuditFilter {
            actor: Some(actor.into()),
            ..Default::default()
        };
        assert_eq!(seqs(by("bob")), [6]);
        assert!(seqs(by("nobody")).is_empty());
        let signed_in = AuditFilter {
            action: Some("sign_in".into()),
            ..Default::default()
        };
        assert_eq!(seqs(signed_in), [6]);
        let unseen = AuditFilter {
            after: Some(4),
            ..Default::default()
        };
        assert_eq!(seqs(unseen), [5, 6]);
        let next_page = AuditFilter {
            after: Some(1),
            limit: Some(2),
            ..Default::default()
        };
        assert_eq!(seqs(next_page), [2, 3], "the oldest unseen first");
        let before_epoch = AuditFilter {
            until: Some("1970-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert!(seqs(before_epoch).is_empty());
    }

    #[test]
    fn an_edited_entry_is_named() {
        let (store, _) = store_with(5);
        tamper(
            &store,
            "UPDATE audit SET detail = '{\"n\":99}' WHERE seq = 3",
        );
        assert_eq!(store.verify().unwrap().unwrap_err().seq, 3);
    }

    #[test]
    fn an_edit_that_recomputes_the_hash_breaks_the_next_link() {
        let (store, _) = store_with(5);
        tamper(&store, "UPDATE audit SET hash = 'forged' WHERE seq = 2");
        let broken = store.verify().unwrap().unwrap_err();
        assert!(broken.seq == 2 || broken.seq == 3, "{broken:?}");
    }

    #[test]
    fn deleted_entries_are_detected_in_the_middle_and_at_the_end() {
        let (store, _) = store_with(5);
        tamper(&store, "DELETE FROM audit WHERE seq = 2");
        assert_eq!(
            store.verify().unwrap().unwrap_err(),
            Broken {
                seq: 2,
                reason: "entries 2 to 2 are missing".into()
            }
        );
        let (store, _) = store_with(5);
        tamper(&store, "DELETE FROM audit WHERE seq >= 4");
        assert_eq!(store.verify().unwrap().unwrap_err().seq, 4);
    }
}
