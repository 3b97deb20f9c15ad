//! `hub plugin new NAME`: a plugin crate that builds, and passes `hub
//! plugin test --sim yeelight`, as it is written. Its files are templates
//! in `template/`, so what authors start from is read as it is.

use anyhow::{Context, bail};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct NewArgs {
    /// The plugin's id and crate name: lowercase letters, digits and `-`.
    pub name: String,
    /// Where the crate's folder goes. Default: the current directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The guest SDK the crate depends on; a relative path is relative to
    /// the new crate's folder. Default: the SDK in the source tree this hub
    /// was built from; for CI with the hub as the submodule `hub/`,
    /// `hub/guest-sdk`.
    #[arg(long)]
    pub sdk: Option<PathBuf>,
}

/// The files of a new plugin: where each goes, and its template.
const FILES: [(&str, &str); 5] = [
    ("Cargo.toml", include_str!("template/Cargo.toml.in")),
    ("plugin.toml", include_str!("template/plugin.toml.in")),
    ("src/lib.rs", include_str!("template/lib.rs.in")),
    (".gitignore", include_str!("template/gitignore.in")),
    (
        ".github/workflows/plugin-test.yml",
        include_str!("template/plugin-test.yml.in"),
    ),
];

/// Writes the crate; refuses to write over anything.
pub fn new_plugin(args: &NewArgs) -> anyhow::Result<PathBuf> {
    check_name(&args.name)?;
    let root = args.dir.join(&args.name);
    // Created here, not found: nothing planted between a check and the
    // writes can redirect them.
    std::fs::create_dir(&root).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
            "{} exists already: choose another name or --dir",
            root.display()
        ),
        _ => anyhow::Error::new(e).context(format!("create {}", root.display())),
    })?;
    let sdk = match &args.sdk {
        Some(sdk) => sdk.clone(),
        None => built_from_sdk()?,
    };
    let crate_name = args.name.replace('-', "_");
    for (path, template) in FILES {
        let text = template
            .replace("{{name}}", &args.name)
            .replace("{{crate}}", &crate_name)
            .replace("{{sdk}}", &sdk.display().to_string());
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        let mut file = std::fs::File::create_new(&path)
            .with_context(|| format!("create {}", path.display()))?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(root)
}

/// The name is the plugin's id (as manifests check it) and a crate's name,
/// so it also starts with a letter.
fn check_name(name: &str) -> anyhow::Result<()> {
    crate::caps::manifest::check_id(name)?;
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("{name:?}: a plugin's name starts with a lowercase letter");
    }
    Ok(())
}

/// The SDK beside the runtime this binary was built from.
fn built_from_sdk() -> anyhow::Result<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
    match sdk.canonicalize() {
        Ok(sdk) => Ok(sdk),
        Err(_) => bail!(
            "the guest SDK this hub was built with is not at {}: pass --sdk PATH",
            sdk.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_a_plain_id() {
        for good in ["lamp", "my-lamp2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Lamp", "2lamp", "plugin", "../lamp", "lamp\n"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn it_writes_nothing_over_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lamp")).unwrap();
        let args = NewArgs {
            name: "lamp".into(),
            dir: dir.path().to_path_buf(),
            sdk: Some("sdk".into()),
        };
        let why = new_plugin(&args).unwrap_err().to_string();
        assert!(why.contains("exists already"), "{why}");
    }
}
