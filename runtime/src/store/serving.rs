//! Whether a hub serves from a data directory: while it runs, `hub serve`
//! holds an exclusive lock on `DATA_DIR/hub.lock`, with its pid inside, so
//! that `hub restore` can refuse to swap the database under it. The
//! operating system drops the lock with the process, however it ends.

use anyhow::{Context, bail};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

const LOCK: &str = "hub.lock";

/// The lock of a serving hub; released when dropped.
pub struct Serving {
    _lock: File,
}

impl Serving {
    /// Claims `data_dir` for this process, or says which process holds it.
    pub fn claim(data_dir: &Path) -> anyhow::Result<Serving> {
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
                file.set_len(0)?;
                write!(file, "{}", std::process::id())?;
                Ok(Serving { _lock: file })
            }
            Err(TryLockError::WouldBlock) => bail!(
                "another hub (pid {}) serves from {}",
                holder(&path),
                data_dir.display()
            ),
            Err(TryLockError::Error(e)) => Err(e).context(format!("lock {}", path.display())),
        }
    }
}

/// The pid of the hub serving from `data_dir`, if one is.
pub fn served_by(data_dir: &Path) -> anyhow::Result<Option<String>> {
    let path = data_dir.join(LOCK);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context(format!("open {}", path.display())),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(None),
        Err(TryLockError::WouldBlock) => Ok(Some(holder(&path))),
        Err(TryLockError::Error(e)) => Err(e).context(format!("lock {}", path.display())),
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
    fn one_hub_serves_from_a_directory_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(served_by(dir.path()).unwrap(), None);
        let serving = Serving::claim(dir.path()).unwrap();
        let pid = std::process::id().to_string();
        assert_eq!(served_by(dir.path()).unwrap(), Some(pid.clone()));
        let second = Serving::claim(dir.path()).err().unwrap().to_string();
        assert!(second.contains(&format!("pid {pid}")), "{second}");
        drop(serving);
        assert_eq!(served_by(dir.path()).unwrap(), None);
    }
}
