//! A release on a publisher's disk, between `hub package build`, `sign` and
//! `push`: a folder with `plugin.wasm`, `plugin.toml`, the statement to
//! sign (`statement.json`) and, once signed, `release.json`.

use super::release::{SignedRelease, Statement};
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

    /// The release as a pull would give it, for `install_release`: from a
    /// folder carried by hand to an offline hub.
    pub fn into_pulled(self, dir: &Path) -> super::Pulled {
        super::Pulled {
            pinned: format!("file://{}", dir.display()),
            manifest: self.manifest,
            component: self.component,
            release: self.release,
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

fn contents(dir: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let manifest = std::fs::read_to_string(dir.join(MANIFEST))
        .with_context(|| format!("read {}", dir.join(MANIFEST).display()))?;
    let component = std::fs::read(dir.join(COMPONENT))
        .with_context(|| format!("read {}", dir.join(COMPONENT).display()))?;
    Ok((manifest, component))
}

/// The JSON document in `path`, its errors naming the file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}
