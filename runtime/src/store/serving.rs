//! Who may change a data directory's database wholesale: a serving hub
//! holds an exclusive lock on `DATA_DIR/hub.lock`, with its pid inside,
//! from before it opens the database until it stops; `hub restore` holds
//! the same lock for its whole swap. So a hub never starts on a database
//! being replaced, and a restore never replaces one a hub has open. The
//! operating system drops the lock with the process, however it ends.

use anyhow::{Context, bail};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

const LOCK: &str = "hub.lock";

/// The data directory's lock; released when dropped.
pub struct Serving {
    _lock: File,
}

impl Serving {
    /// Claims `data_dir` (created, private, if missing) for this process,
    /// or says which process holds it.
    pub fn claim(data_dir: &Path) -> anyhow::Result<Serving> {
        super::private_dir(data_dir)?;
        let path = data_dir.join(LOCK);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)
                    .and_then(|()| write!(file, "{}", std::process::id()))
                    .with_context(|| format!("write {}", path.display()))?;
                Ok(Serving { _lock: file })
            }
            Err(TryLockError::WouldBlock) => bail!(
                "a hub (pid {}) is serving from {}",
                holder(&path),
                data_dir.display()
            ),
            Err(TryLockError::Error(e)) => Err(e).context(format!("lock {}", path.display())),
        }
    }
}

fn holder(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .filter(|pid| !pid.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_holds_a_directory_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let serving = Serving::claim(dir.path()).unwrap();
        let pid = std::process::id();
        let second = Serving::claim(dir.path()).err().unwrap().to_string();
        assert!(
            second.contains(&format!("a hub (pid {pid}) is serving")),
            "{second}"
        );
        drop(serving);
        Serving::claim(dir.path()).unwrap();
    }
}
