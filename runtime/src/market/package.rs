//! A release on a publisher's disk, between `hub package build`, `sign` and
//! `push`: a folder with `plugin.wasm`, `plugin.toml`, the statement to
//! sign (`statement.json`) and, once signed, `release.json`.

use super::release::{SignedRelease, Statement};
use crate::caps::files;
use crate::plugins::{MAX_COMPONENT, MAX_MANIFEST};
use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use std::path::Path;

const COMPONENT: &str = "plugin.wasm";
const MANIFEST: &str = "plugin.toml";
const STATEMENT: &str = "statement.json";
const RELEASE: &str = "release.json";

/// A signed release, read back from its folder and checked.
pub struct Package {
    pub manifest: String,
    pub component: Vec<u8>,
    pub release: SignedRelease,
}

/// Copies the component and its manifest into `out` (a new folder) with
/// the statement a publisher signs; the statement.
pub fn build(component: &Path, manifest: &Path, out: &Path) -> anyhow::Result<Statement> {
    let bytes =
        std::fs::read(component).with_context(|| format!("read {}", component.display()))?;
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("read {}", manifest.display()))?;
    let statement = Statement::of(&text, &bytes)?;
    write(out, &text, &bytes, &statement)?;
    Ok(statement)
}

/// Writes a signed release as the folder `hub package sign` leaves, for an
/// install on another hub (`hub plugin export`); checked as it will be read.
pub fn export(
    out: &Path,
    manifest: &str,
    component: &[u8],
    release: &SignedRelease,
) -> anyhow::Result<()> {
    write(out, manifest, component, &release.statement)?;
    std::fs::write(out.join(RELEASE), serde_json::to_string_pretty(release)?)?;
    Package::open(out).map(|_| ())
}

/// A new folder `out` with the component, its manifest and their statement.
fn write(
    out: &Path,
    manifest: &str,
    component: &[u8],
    statement: &Statement,
) -> anyhow::Result<()> {
    std::fs::create_dir(out)
        .with_context(|| format!("create {} (it must not exist)", out.display()))?;
    std::fs::write(out.join(COMPONENT), component)?;
    std::fs::write(out.join(MANIFEST), manifest)?;
    std::fs::write(
        out.join(STATEMENT),
        serde_json::to_string_pretty(statement)?,
    )?;
    Ok(())
}

/// Signs the package in `dir` with `key`, after checking that its files
/// are still the ones its statement names.
pub fn sign(dir: &Path, key: &SigningKey) -> anyhow::Result<SignedRelease> {
    let statement: Statement = read_json(&dir.join(STATEMENT))?;
    let (manifest, component) = contents(dir)?;
    if Statement::of(&manifest, &component)? != statement {
        bail!(
            "{} no longer matches its files: build it again",
            dir.join(STATEMENT).display()
        );
    }
    let release = statement.sign(key);
    std::fs::write(dir.join(RELEASE), serde_json::to_string_pretty(&release)?)?;
    Ok(release)
}

impl Package {
    /// Whether `dir` is a signed package's folder.
    pub fn is_package(dir: &Path) -> bool {
        dir.join(RELEASE).is_file()
    }

    /// The signed package in `folder`, as a pull would give it, when each
    /// of its files lies inside `dir` (a folder a client named: no link
    /// leads out of the install directory).
    pub fn open_inside(dir: &Path, folder: &Path) -> anyhow::Result<super::Pulled> {
        for name in [RELEASE, MANIFEST, COMPONENT] {
            files::inside(dir, &folder.join(name)).map_err(anyhow::Error::msg)?;
        }
        Ok(Package::open(folder)?.into_pulled(folder))
    }

    /// The release as a pull would give it, for `install_release`: from a
    /// folder carried by hand to an offline hub.
    pub fn into_pulled(self, dir: &Path) -> super::Pulled {
        super::Pulled {
            pinned: format!("file://{}", dir.display()),
            manifest: self.manifest,
            component: self.component,
            release: self.release,
            turn: None,
        }
    }

    /// The signed package in `dir`, its signature checked against its files.
    pub fn open(dir: &Path) -> anyhow::Result<Package> {
        let release: SignedRelease = read_json(&dir.join(RELEASE))
            .with_context(|| format!("{} is not signed: run hub package sign", dir.display()))?;
        let (manifest, component) = contents(dir)?;
        release.check(&manifest, &component)?;
        Ok(Package {
            manifest,
            component,
            release,
        })
    }
}

/// A package's manifest and component: regular files within their bounds.
fn contents(dir: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let read = |name: &str, most: u64| files::read_capped(&dir.join(name), most, name);
    let manifest = read(MANIFEST, MAX_MANIFEST).map_err(anyhow::Error::msg)?;
    let manifest = String::from_utf8(manifest).context("plugin.toml is not UTF-8")?;
    let component = read(COMPONENT, MAX_COMPONENT).map_err(anyhow::Error::msg)?;
    Ok((manifest, component))
}

/// The JSON document in `path`, its errors naming the file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    // As large as a marketplace's bundle may be.
    let most = super::oci::MAX_BUNDLE as u64;
    let bytes = files::read_capped(path, most, "file").map_err(anyhow::Error::msg)?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid", path.display()))
}
