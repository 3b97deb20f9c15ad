//! May a client make the hub read this file? Clients on the WebSocket name
//! files to install; the hub reads only regular files inside the directory
//! its configuration names, up to a size, and never tells what they hold.

use std::io::Read;
use std::path::{Path, PathBuf};

/// `path` (relative to `dir`, or absolute) once links are resolved, if it
/// lies inside `dir`. A path that does not exist and one outside get the
/// same answer, so that clients cannot probe the hub's filesystem.
pub fn inside(dir: &Path, path: &Path) -> Result<PathBuf, String> {
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("the install directory {}: {e}", dir.display()))?;
    match dir.join(path).canonicalize() {
        Ok(resolved) if resolved.starts_with(&dir) => Ok(resolved),
        _ => Err(format!(
            "{} is not a file inside the hub's install directory {}",
            path.display(),
            dir.display()
        )),
    }
}

/// The bytes of a regular file of at most `most` bytes; `what` names it in errors.
pub fn read_capped(path: &Path, most: u64, what: &str) -> Result<Vec<u8>, String> {
    // Before opening: opening a FIFO would wait for a writer for ever.
    let is_file = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if !is_file {
        return Err(format!(
            "the {what} {} is not a regular file",
            path.display()
        ));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| format!("read the {what} {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("read the {what} {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "the {what} {} is not a regular file",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    file.take(most + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("read the {what} {}: {e}", path.display()))?;
    if bytes.len() as u64 > most {
        return Err(format!(
            "the {what} {} is larger than {} MiB",
            path.display(),
            most >> 20
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_inside_the_directory_and_under_the_cap() {
        let dir = std::env::temp_dir().join(format!("hub-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/plugin.toml"), "id = 1").unwrap();
        assert!(inside(&dir, Path::new("sub/plugin.toml")).is_ok());
        assert!(inside(&dir, &dir.join("sub/plugin.toml")).is_ok());
        for escape in ["/proc/self/environ", "../../etc/passwd", "/dev/zero"] {
            let refused = inside(&dir, Path::new(escape));
            assert!(refused.is_err(), "{escape}");
        }
        std::os::unix::fs::symlink("/proc/self/environ", dir.join("link")).unwrap();
        assert!(
            inside(&dir, Path::new("link")).is_err(),
            "a link out of the directory"
        );
        let said = |path: &str| {
            inside(&dir, Path::new(path))
                .unwrap_err()
                .replace(path, "X")
        };
        assert_eq!(
            said("/etc/passwd"),
            said("/no/such/file"),
            "what exists outside cannot be told from what does not"
        );
        assert!(read_capped(&dir.join("sub/plugin.toml"), 6, "manifest").is_ok());
        assert!(
            read_capped(&dir.join("sub/plugin.toml"), 5, "manifest")
                .unwrap_err()
                .contains("larger")
        );
        assert!(
            read_capped(&dir.join("sub"), 5, "manifest")
                .unwrap_err()
                .contains("not a regular file")
        );
        assert!(read_capped(Path::new("/dev/zero"), 1 << 20, "component").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
