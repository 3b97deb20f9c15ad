//! `hub plugin new NAME`: a plugin crate that builds, and passes `hub
//! plugin test --sim yeelight`, as it is written. Its files are templates
//! in `template/`, so what authors start from is read as it is.

use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct NewArgs {
    /// The plugin's id and crate name: lowercase letters, digits and `-`.
    pub name: String,
    /// Where the crate's folder goes. Default: the current directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The guest SDK the crate depends on. Default: the SDK in the source
    /// tree this hub was built from; for CI with the hub as the submodule
    /// `hub/`, `hub/guest-sdk`.
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
    if root.exists() {
        bail!(
            "{} exists already: choose another name or --dir",
            root.display()
        );
    }
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
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(root)
}

/// Plugin ids end up in every request's `domain` and in the audit log.
fn check_name(name: &str) -> anyhow::Result<()> {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let starts_with_letter = name.starts_with(|c: char| c.is_ascii_lowercase());
    if name.len() > 64 || !starts_with_letter || !name.chars().all(plain) {
        bail!(
            "{name:?}: a plugin's name is a lowercase letter, then lowercase letters, digits and `-` (64 at most)"
        );
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
        for bad in ["", "Lamp", "2lamp", "lamp_x", "../lamp", "lamp\n"] {
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
