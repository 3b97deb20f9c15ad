//! The marketplace's side, kept in a folder: its keys (the root's, which
//! their holders may keep elsewhere, and one each for the index and the
//! status), its root, the releases it reviewed, yanked and revoked, the
//! version numbers it published last, and the roots it rotated to.
//! `hub market init|review|yank|revoke|rotate|publish` work on it;
//! `publish` writes the signed bundle hubs import.

use super::Pulled;
use super::metadata::{self, Bundle, Index, Reviewed, Role, Root, Signed, Status};
use crate::caps::revocations::{Revoked, Severity};
use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const ROLES: [&str; 3] = ["root", "index", "status"];
/// The most root keys a marketplace may have.
const MAX_ROOT_KEYS: usize = 9;
const ROOT: &str = "root.json";
const STATE: &str = "state.json";

/// What the marketplace has decided, and published last.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    reviewed: Vec<Reviewed>,
    revoked: Vec<Revoked>,
    revoked_keys: Vec<String>,
    /// The versions of the last bundle published (0 before the first).
    published: u64,
    /// Every root after the first, in order: each bundle carries them, so
    /// that a hub pinned to any earlier root walks up to the current one.
    #[serde(default)]
    roots: Vec<Signed<Root>>,
    /// Releases yanked from the index: still revocable.
    #[serde(default)]
    yanked: Vec<Reviewed>,
}

/// A role of the marketplace's root, whose key `rotate` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleName {
    Root,
    Index,
    Status,
}

impl RoleName {
    fn name(self) -> &'static str {
        ROLES[self as usize]
    }

    fn of(self, root: &mut Root) -> &mut Role {
        match self {
            RoleName::Root => &mut root.root,
            RoleName::Index => &mut root.index,
            RoleName::Status => &mut root.status,
        }
    }
}

pub struct Marketplace {
    dir: PathBuf,
}

impl Marketplace {
    /// Makes the folder with root version 1: `root_keys` root keys of which
    /// `threshold` must sign each next root (`root.key`, `root-2.key`, ...:
    /// hand all but one to their holders), and a key each for the index
    /// and the status. Its root is the one operators pin.
    pub fn init(dir: &Path, root_keys: usize, threshold: usize) -> anyhow::Result<Signed<Root>> {
        if !(1..=root_keys).contains(&threshold) || root_keys > MAX_ROOT_KEYS {
            bail!(
                "a root of 1 to {MAX_ROOT_KEYS} keys, of which 1 to all sign: not {threshold} of {root_keys}"
            );
        }
        std::fs::create_dir(dir)
            .with_context(|| format!("create {} (it must not exist)", dir.display()))?;
        let create = |name: String| crate::keys::create(&dir.join(name));
        let root_keys: Vec<SigningKey> = (1..=root_keys)
            .map(|n| create(root_key_name(n)))
            .collect::<anyhow::Result<_>>()?;
        let role = |keys: &[SigningKey], threshold| Role {
            keys: keys.iter().map(crate::keys::public_hex).collect(),
            threshold,
        };
        let root = Root {
            version: 1,
            root: role(&root_keys, threshold),
            index: role(&[create("index.key".into())?], 1),
            status: role(&[create("status.key".into())?], 1),
        };
        let root = metadata::sign(root, &root_keys.iter().collect::<Vec<_>>())?;
        write_json(&dir.join(ROOT), &root)?;
        write_json(&dir.join(STATE), &State::default())?;
        Ok(root)
    }

    pub fn open(dir: &Path) -> anyhow::Result<Marketplace> {
        if !dir.join(STATE).exists() {
            bail!(
                "{} is not a marketplace folder: make one with hub market init",
                dir.display()
            );
        }
        let market = Marketplace { dir: dir.into() };
        market.finish_rotation()?;
        Ok(market)
    }

    /// Completes a rotation a crash interrupted once its root was recorded
    /// in the state: `root.json` becomes that root, and each new key it
    /// names moves into place (the key it replaces to `retired/`). A waiting
    /// key no root names, from a rotation that never recorded its root, is
    /// removed: no hub was ever told of it.
    fn finish_rotation(&self) -> anyhow::Result<()> {
        let mut root: Signed<Root> = super::read_json(&self.dir.join(ROOT))?;
        if let Some(last) = self.state()?.roots.pop()
            && last.signed.version > root.signed.version
        {
            write_json(&self.dir.join(ROOT), &last)?;
            root = last;
        }
        let retired = self.dir.join("retired");
        let Ok(entries) = std::fs::read_dir(&retired) else {
            return Ok(());
        };
        let named = |key: &str| {
            let roles = [&root.signed.root, &root.signed.index, &root.signed.status];
            roles.iter().any(|role| role.keys.iter().any(|k| k == key))
        };
        for entry in entries {
            let waiting = entry?.path();
            let file = waiting
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let Some(name) = file.strip_prefix("next-").map(str::to_string) else {
                continue;
            };
            let public = crate::keys::public_hex(&crate::keys::load(&waiting)?);
            if !named(&public) {
                std::fs::remove_file(&waiting)
                    .with_context(|| format!("remove {}", waiting.display()))?;
                continue;
            }
            let key = self.dir.join(&name);
            let kept = retired.join(format!("v{}-{name}", root.signed.version - 1));
            let moved = match std::fs::rename(&key, &kept) {
                // A root key its holder keeps elsewhere is not here to retire.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            };
            moved
                .and_then(|()| std::fs::rename(&waiting, &key))
                .with_context(|| format!("put the new key in {}", key.display()))?;
        }
        Ok(())
    }

    /// Adds a release pulled from a registry to the reviewed ones, once its
    /// publisher's signature holds for its bytes.
    pub fn review(&self, pulled: &Pulled) -> anyhow::Result<Reviewed> {
        pulled
            .release
            .check(&pulled.manifest, &pulled.component)
            .context("the release's publisher signature")?;
        let statement = &pulled.release.statement;
        let reviewed = Reviewed {
            plugin: statement.plugin.clone(),
            version: statement.version.clone(),
            oci: pulled.pinned.clone(),
            component: statement.component.clone(),
            manifest: statement.manifest.clone(),
            publisher_key: pulled.release.publisher_key.clone(),
        };
        let mut state = self.state()?;
        // Reviewed again, a release replaces itself: the same component
        // under another manifest is another release.
        state
            .reviewed
            .retain(|r| (&r.component, &r.manifest) != (&reviewed.component, &reviewed.manifest));
        state.reviewed.push(reviewed.clone());
        self.save(&state)?;
        Ok(reviewed)
    }

    /// Yanks a reviewed release, by plugin and version: it leaves the index
    /// at the next publish, so no hub installs it or is offered it any
    /// more, while hubs that run it keep it (unlike `revoke`).
    pub fn yank(&self, plugin: &str, version: &str) -> anyhow::Result<Vec<Reviewed>> {
        let mut state = self.state()?;
        let (gone, kept): (Vec<Reviewed>, Vec<Reviewed>) = std::mem::take(&mut state.reviewed)
            .into_iter()
            .partition(|r| r.plugin == plugin && r.version == version);
        if gone.is_empty() {
            bail!(
                "{plugin} {version} is not in the index: it was never reviewed here, or is gone already"
            );
        }
        state.reviewed = kept;
        state.yanked.extend(gone.iter().cloned());
        self.save(&state)?;
        Ok(gone)
    }

    /// Revokes a reviewed release, by plugin and version; it leaves the index.
    pub fn revoke(
        &self,
        plugin: &str,
        version: &str,
        severity: Severity,
        reason: &str,
        fixed_in: Option<String>,
    ) -> anyhow::Result<Revoked> {
        let mut state = self.state()?;
        let named = |r: &Reviewed| r.plugin == plugin && r.version == version;
        let (mut gone, kept): (Vec<Reviewed>, Vec<Reviewed>) = std::mem::take(&mut state.reviewed)
            .into_iter()
            .partition(named);
        state.reviewed = kept;
        // A yanked release is revoked as any other: hubs may still run it.
        gone.extend(state.yanked.iter().filter(|r| named(r)).cloned());
        state.yanked.retain(|r| !named(r));
        let Some(first) = gone.first() else {
            bail!("{plugin} {version} was never reviewed here");
        };
        // Every build reviewed under that version goes; hubs also refuse
        // any other build of it (`Revoked::covers`).
        let revoked = Revoked {
            plugin: first.plugin.clone(),
            version: first.version.clone(),
            component: first.component.clone(),
            severity,
            reason: reason.into(),
            fixed_in,
        };
        for release in &gone {
            state.revoked.push(Revoked {
                component: release.component.clone(),
                ..revoked.clone()
            });
        }
        self.save(&state)?;
        Ok(revoked)
    }

    /// Revokes a publisher's key: none of its releases installs any more.
    pub fn revoke_key(&self, key: &str) -> anyhow::Result<()> {
        crate::keys::check_public(key)?;
        let mut state = self.state()?;
        state.reviewed.retain(|r| r.publisher_key != key);
        if !state.revoked_keys.iter().any(|k| k == key) {
            state.revoked_keys.push(key.into());
        }
        self.save(&state)
    }

    /// Gives each of `roles` new keys (the root role as many as it has, with
    /// its threshold; the others one), in the next root version signed by
    /// the current root keys `signing` (default: those in the folder) and,
    /// when the root role changes, by all its new keys (a hub accepts
    /// nothing less). The replaced keys in the folder move to `retired/`;
    /// the new root travels in every later bundle.
    pub fn rotate(&self, roles: &[RoleName], signing: &[PathBuf]) -> anyhow::Result<Signed<Root>> {
        let mut roles = roles.to_vec();
        roles.sort_by_key(|r| *r as usize);
        roles.dedup();
        if roles.is_empty() {
            bail!("name at least one role to rotate: --role root|index|status");
        }
        let current: Signed<Root> = super::read_json(&self.dir.join(ROOT))?;
        let old_root = self.root_keys(&current.signed.root, signing)?;
        let mut next = current.signed.clone();
        next.version += 1;
        // (the role, its file name in the folder, the new key)
        let mut fresh = Vec::new();
        for &role in &roles {
            let shape = role.of(&mut next).clone();
            let count = if role == RoleName::Root {
                shape.keys.len()
            } else {
                1
            };
            let mut keys = Vec::new();
            for n in 1..=count {
                let name = match role {
                    RoleName::Root => root_key_name(n),
                    other => format!("{}.key", other.name()),
                };
                let key = crate::keys::generate()?;
                keys.push(crate::keys::public_hex(&key));
                fresh.push((role, name, key));
            }
            let threshold = if role == RoleName::Root {
                shape.threshold
            } else {
                1
            };
            *role.of(&mut next) = Role { keys, threshold };
        }
        let mut signers: Vec<&SigningKey> = old_root.iter().collect();
        signers.extend(fresh.iter().filter(|f| f.0 == RoleName::Root).map(|f| &f.2));
        let root = metadata::sign(next, &signers)?;
        metadata::rotate(&current, &root).context("the new root, as hubs will check it")?;
        // Written, to wait under retired/, only once the root holds (an
        // interrupted rotation's were finished or removed at open).
        let retired = self.dir.join("retired");
        std::fs::create_dir_all(&retired)
            .with_context(|| format!("create {}", retired.display()))?;
        for (_, name, key) in &fresh {
            crate::keys::write(&retired.join(format!("next-{name}")), key)?;
        }
        let mut state = self.state()?;
        state.roots.push(root.clone());
        // The state first: once it lists the root, the rotation is decided,
        // and whatever a crash leaves undone is finished at the next open.
        self.save(&state)?;
        self.finish_rotation()?;
        Ok(root)
    }

    /// The current root keys that sign: those at `paths`, or else the
    /// folder's; each must be one `role` names.
    fn root_keys(&self, role: &Role, paths: &[PathBuf]) -> anyhow::Result<Vec<SigningKey>> {
        let in_folder: Vec<PathBuf> = (1..=role.keys.len())
            .map(|n| self.dir.join(root_key_name(n)))
            .filter(|p| p.exists())
            .collect();
        let paths = if paths.is_empty() {
            &in_folder[..]
        } else {
            paths
        };
        paths
            .iter()
            .map(|path| {
                let key = crate::keys::load(path)?;
                if !role.keys.contains(&crate::keys::public_hex(&key)) {
                    bail!("{} is not one of the current root's keys", path.display());
                }
                Ok(key)
            })
            .collect()
    }

    /// Signs the next index and a status valid from `now` for `valid_for`
    /// seconds; the bundle hubs import.
    pub fn publish(&self, now: u64, valid_for: u64) -> anyhow::Result<Bundle> {
        let mut state = self.state()?;
        let version = state.published.saturating_add(1);
        let index = metadata::sign(
            Index {
                version,
                releases: state.reviewed.clone(),
            },
            &[&self.key("index")?],
        )?;
        let status = Status {
            version,
            index_version: version,
            index_digest: index.digest()?,
            revoked: state.revoked.clone(),
            revoked_keys: state.revoked_keys.clone(),
            issued_at: now,
            expires_at: now.saturating_add(valid_for),
        };
        let status = metadata::sign(status, &[&self.key("status")?])?;
        state.published = version;
        self.save(&state)?;
        Ok(Bundle {
            roots: state.roots,
            index,
            status,
        })
    }

    fn key(&self, role: &str) -> anyhow::Result<SigningKey> {
        crate::keys::load(&self.dir.join(format!("{role}.key")))
    }

    fn state(&self) -> anyhow::Result<State> {
        super::read_json(&self.dir.join(STATE))
    }

    fn save(&self, state: &State) -> anyhow::Result<()> {
        write_json(&self.dir.join(STATE), state)
    }
}

/// The file of the `n`th root key (from 1): `root.key`, `root-2.key`, ...
fn root_key_name(n: usize) -> String {
    match n {
        1 => "root.key".into(),
        n => format!("root-{n}.key"),
    }
}

/// Writes `value` to `path` whole or not at all (aside, then renamed), so
/// that a crash never leaves half a decision list.
fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let aside = path.with_extension("json.partial");
    std::fs::write(&aside, serde_json::to_string_pretty(value)?)
        .and_then(|()| std::fs::File::open(&aside)?.sync_all())
        .and_then(|()| std::fs::rename(&aside, path))
        .with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_a_crash_interrupted_once_recorded_is_finished_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("market");
        Marketplace::init(&folder, 1, 1).unwrap();
        let old_root = std::fs::read(folder.join(ROOT)).unwrap();
        let root = Marketplace::open(&folder)
            .unwrap()
            .rotate(&[RoleName::Status], &[])
            .unwrap();
        // As a crash right after the state was saved would leave it: the
        // old root.json, the new key still waiting, the old one in place.
        let (key, retired) = (folder.join("status.key"), folder.join("retired"));
        std::fs::write(folder.join(ROOT), old_root).unwrap();
        std::fs::rename(&key, retired.join("next-status.key")).unwrap();
        std::fs::rename(retired.join("v1-status.key"), &key).unwrap();
        // And a key a rotation wrote but never recorded a root for.
        crate::keys::create(&retired.join("next-index.key")).unwrap();

        Marketplace::open(&folder).unwrap();
        let now: Signed<Root> = crate::market::read_json(&folder.join(ROOT)).unwrap();
        assert_eq!(now, root, "root.json is the recorded root");
        let status = crate::keys::public_hex(&crate::keys::load(&key).unwrap());
        assert_eq!(
            vec![status],
            root.signed.status.keys,
            "the new key is in place"
        );
        assert!(
            retired.join("v1-status.key").exists(),
            "the old one retired"
        );
        assert!(
            !retired.join("next-index.key").exists(),
            "the orphan removed"
        );
    }
}
