//! Schema versions, applied in order; `PRAGMA user_version` records the last.
//! A released migration is never edited: a change is a new entry.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: plugins, grants (inside the plugin row), devices, the audit chain.
    "CREATE TABLE plugins (
        id TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        manifest TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        config TEXT NOT NULL,
        granted TEXT,
        installed_at TEXT NOT NULL
    );
    CREATE TABLE devices (
        plugin TEXT NOT NULL,
        identity TEXT NOT NULL,
        name TEXT NOT NULL,
        model TEXT NOT NULL,
        manufacturer TEXT NOT NULL,
        address TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (plugin, identity)
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        plugin TEXT,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_plugin ON audit (plugin, seq);
    -- The newest entry's hash, so that deleting entries from the end shows too.
    CREATE TABLE audit_head (only INTEGER PRIMARY KEY CHECK (only = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);",
    // 2: the digest of each compiled artifact this hub wrote to its cache,
    // checked before the native code in it is loaded.
    "CREATE TABLE compiled (file TEXT PRIMARY KEY, sha256 TEXT NOT NULL);",
    // 3: the name and area an operator gave a device, which its plugin
    // never overwrites.
    "CREATE TABLE device_labels (
        plugin TEXT NOT NULL,
        identity TEXT NOT NULL,
        name TEXT,
        area TEXT,
        PRIMARY KEY (plugin, identity)
    );",
    // 4: publishers whose signed releases an operator accepts outside any
    // marketplace (sideloading): unreviewed, never updated on their own.
    "CREATE TABLE publishers (
        name TEXT PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL
    );",
    // 5: the marketplace's newest verified metadata (`market::metadata::Trusted`, JSON).
    "CREATE TABLE market (only INTEGER PRIMARY KEY CHECK (only = 1), trusted TEXT NOT NULL);",
    // 6: the key that signed an installed plugin's release, so that
    // revoking the key reaches the plugin.
    "ALTER TABLE plugins ADD COLUMN publisher_key TEXT;",
    // 7: the signed release a plugin came with (JSON), for `hub plugin export`.
    "ALTER TABLE plugins ADD COLUMN release TEXT;",
    // 8: whether the marketplace had reviewed the release when it was
    // installed: sideloaded ones are never updated on a schedule. A signed
    // release whose key no operator trusts can only have come reviewed.
    "ALTER TABLE plugins ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0;
     UPDATE plugins SET reviewed = 1 WHERE release IS NOT NULL
        AND publisher_key NOT IN (SELECT key FROM publishers);",
    // 9: whether reviewed updates within the grant install on a schedule
    // for this plugin; NULL: as the hub's `[market] auto_update` says.
    "ALTER TABLE plugins ADD COLUMN auto_update INTEGER;",
];

pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (version, sql) in (1i64..).zip(MIGRATIONS).skip(current.max(0) as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}
