//! A publisher's release in a real registry, and a marketplace beside it.

use crate::{fresh_dir, hub, ok};
use std::path::{Path, PathBuf};

/// A registry holding a publisher's Yeelight 0.1.0, and where a
/// marketplace's folder and a hub's data directory go beside it.
pub struct Scene {
    pub registry: xtask::Registry,
    pub published: Published,
    pub market: String,
    pub data: PathBuf,
}

impl Scene {
    pub fn new(name: &str) -> Scene {
        let registry = xtask::Registry::start().unwrap();
        let published = Published::push(&registry, name);
        Scene {
            market: published.path("market"),
            data: published.dir.join("hub"),
            registry,
            published,
        }
    }
}

/// A publisher's release of the Yeelight plugin, pushed to a registry.
pub struct Published {
    pub dir: PathBuf,
    /// The publisher's key, hex.
    pub key: String,
    pub tag: String,
    pub pinned: String,
}

impl Published {
    /// Makes a key, builds, signs and pushes version 0.1.0, checking each
    /// step's word.
    pub fn push(registry: &xtask::Registry, name: &str) -> Published {
        let dir = fresh_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        let published = Published {
            key: String::new(),
            tag: format!("oci://{}/plugins/yeelight:0.1.0", registry.addr),
            pinned: String::new(),
            dir,
        };
        let keygen = ok(
            &published.dir,
            &["package", "keygen", &published.path("publisher.key")],
        );
        let manifest = xtask::manifest("yeelight").unwrap();
        let release = published.build("release", manifest.to_str().unwrap());
        let unsigned = hub(
            &published.dir,
            &["package", "push", &release, "oci://127.0.0.1:1/x:y"],
        );
        assert!(!unsigned.status.success(), "an unsigned package was pushed");
        let key = keygen
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        Published {
            key,
            pinned: published.sign_and_push("release", "publisher.key", &published.tag),
            ..published
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// Builds the Yeelight component with `manifest` into the folder `out`; its path.
    pub fn build(&self, out: &str, manifest: &str) -> String {
        let wasm = xtask::guest("yeelight").unwrap();
        self.build_from(wasm.to_str().unwrap(), out, manifest)
    }

    pub fn build_from(&self, wasm: &str, out: &str, manifest: &str) -> String {
        let release = self.path(out);
        let args = [
            "package",
            "build",
            wasm,
            "--manifest",
            manifest,
            "--out",
            &release,
        ];
        let built = ok(&self.dir, &args);
        assert!(built.contains("built yeelight"), "{built}");
        release
    }

    /// Signs the package `release` with `key` (made if missing) and pushes
    /// it to `tag`; the pinned reference.
    pub fn sign_and_push(&self, release: &str, key: &str, tag: &str) -> String {
        if !self.dir.join(key).exists() {
            ok(&self.dir, &["package", "keygen", &self.path(key)]);
        }
        ok(
            &self.dir,
            &[
                "package",
                "sign",
                &self.path(release),
                "--key",
                &self.path(key),
            ],
        );
        let pushed = ok(&self.dir, &["package", "push", &self.path(release), tag]);
        let pinned = pushed
            .lines()
            .find_map(|l| l.trim().strip_prefix("pinned: "));
        let pinned = pinned.unwrap_or_default().to_string();
        assert!(pinned.contains("@sha256:"), "{pushed}");
        pinned
    }

    /// Publishes `version` of the same component, its manifest asking
    /// also for `more` (a TOML network rule, or nothing); its tag.
    pub fn version(&self, version: &str, more: &str) -> String {
        let original = std::fs::read_to_string(xtask::manifest("yeelight").unwrap()).unwrap();
        let mut manifest =
            original.replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
        if !more.is_empty() {
            manifest = manifest.replace("network = [", &format!("network = [\n    {more},"));
        }
        let path = self.dir.join(format!("plugin-{version}.toml"));
        std::fs::write(&path, manifest).unwrap();
        // Another build: the same code with a custom section naming the
        // version, so that each version's component has its own digest.
        let mut wasm = std::fs::read(xtask::guest("yeelight").unwrap()).unwrap();
        let name = b"version";
        let size = 1 + name.len() + version.len();
        wasm.extend([0, size as u8, name.len() as u8]);
        wasm.extend(name.iter().chain(version.as_bytes()));
        let component = self.dir.join(format!("yeelight-{version}.wasm"));
        std::fs::write(&component, wasm).unwrap();
        let release = format!("release-{version}");
        self.build_from(
            component.to_str().unwrap(),
            &release,
            path.to_str().unwrap(),
        );
        let tag = self.tag.replace(":0.1.0", &format!(":{version}"));
        self.sign_and_push(&release, "publisher.key", &tag);
        tag
    }
}

/// The marketplace in folder `market` revokes Yeelight `version` as
/// `severity`, with `more` (`--reason`, `--fixed-in`).
pub fn revoke(dir: &Path, market: &str, version: &str, severity: &str, more: &[&str]) {
    let args = [
        "market",
        "revoke",
        market,
        "yeelight",
        version,
        "--severity",
        severity,
    ];
    ok(dir, &[&args[..], more].concat());
}
