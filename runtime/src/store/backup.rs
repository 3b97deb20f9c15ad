//! Copies of `hub.db`: taken while the hub runs, and restored only when
//! their audit chain holds, so that a restore cannot slip in a log with
//! entries edited or removed.

use super::Store;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// What a backup or a restore holds.
pub struct Copied {
    /// Audit entries, all verified.
    pub entries: i64,
    pub bytes: u64,
}

impl Store {
    /// Writes a consistent copy of the database to `to`, which must not
    /// exist: SQLite's `VACUUM INTO` reads in one transaction, so a change
    /// the running hub makes meanwhile is in the copy whole or not at all.
    /// The copy is written aside, its audit chain verified, then moved in
    /// place.
    pub fn backup(&self, to: &Path) -> anyhow::Result<Copied> {
        if to.exists() {
            bail!("{} exists already: name a new file", to.display());
        }
        let partial = beside(to, "partial");
        let _ = std::fs::remove_file(&partial);
        let path = partial.to_str().context("the backup's path is not UTF-8")?;
        self.conn()
            .execute("VACUUM INTO ?1", [path])
            .with_context(|| format!("copy the database to {}", partial.display()))?;
        let copied = verified(&partial).inspect_err(|_| {
            let _ = std::fs::remove_file(&partial);
        })?;
        std::fs::rename(&partial, to)
            .with_context(|| format!("move the copy to {}", to.display()))?;
        Ok(copied)
    }
}

/// Replaces the database `db` with the backup `from`, once the backup's
/// audit chain verifies; the database it replaces, if any, is kept beside
/// it as `hub.db.before-restore` (where, is returned). The hub must not be
/// running.
pub fn restore(from: &Path, db: &Path) -> anyhow::Result<(Copied, Option<PathBuf>)> {
    let restoring = beside(db, "restoring");
    let _ = std::fs::remove_file(&restoring);
    std::fs::copy(from, &restoring).with_context(|| format!("read {}", from.display()))?;
    let copied = verified(&restoring).inspect_err(|_| {
        let _ = std::fs::remove_file(&restoring);
    });
    let copied = copied.with_context(|| format!("{}: nothing was restored", from.display()))?;
    let kept = db.exists().then(|| beside(db, "before-restore"));
    if let Some(kept) = &kept {
        std::fs::rename(db, kept).with_context(|| format!("keep {} aside", db.display()))?;
    }
    // A journal of the replaced database must not be applied to this one.
    for journal in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(journal);
        let _ = std::fs::remove_file(name);
    }
    std::fs::rename(&restoring, db)
        .with_context(|| format!("move the backup to {}", db.display()))?;
    Ok((copied, kept))
}

/// Opens a copy (bringing its schema up to date) and verifies its audit chain.
fn verified(copy: &Path) -> anyhow::Result<Copied> {
    let entries = {
        let store = Store::open(copy)?;
        match store.verify()? {
            Ok(entries) => entries,
            Err(broken) => bail!(
                "its audit chain is broken at entry {}: {}",
                broken.seq,
                broken.reason
            ),
        }
    };
    let bytes = std::fs::metadata(copy)?.len();
    Ok(Copied { entries, bytes })
}

/// `path` with `.suffix` added: `hub.db` → `hub.db.partial`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}
