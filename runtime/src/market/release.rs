//! What a publisher signs for one release: the plugin's id and version and
//! the digests of its component and its manifest. A hub installs the bytes
//! only when both digests match them and the signature is a trusted
//! publisher's, so a registry, a mirror or a proxy in between can change
//! nothing unseen.

use crate::digest::sha256_oci;
use crate::keys;
use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub plugin: String,
    pub version: String,
    /// `sha256:HEX` of the component, as OCI names the layer.
    pub component: String,
    /// `sha256:HEX` of `plugin.toml`.
    pub manifest: String,
}

/// A statement with its publisher's key and signature (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRelease {
    pub statement: Statement,
    pub publisher_key: String,
    pub signature: String,
}

impl Statement {
    /// The statement of a component and its manifest.
    pub fn of(manifest_text: &str, component: &[u8]) -> anyhow::Result<Statement> {
        let manifest = crate::caps::Manifest::parse(manifest_text).context("plugin.toml")?;
        Ok(Statement {
            plugin: manifest.id,
            version: manifest.version.to_string(),
            component: sha256_oci(component),
            manifest: sha256_oci(manifest_text.as_bytes()),
        })
    }

    /// The bytes signed: a fixed layout with a domain line, so that no
    /// other message of the hub's can be passed off as a release.
    fn message(&self) -> Vec<u8> {
        let Statement {
            plugin,
            version,
            component,
            manifest,
        } = self;
        format!("hub plugin release v1\n{plugin}\n{version}\n{component}\n{manifest}\n")
            .into_bytes()
    }

    pub fn sign(self, key: &SigningKey) -> SignedRelease {
        SignedRelease {
            signature: keys::sign(key, &self.message()),
            publisher_key: keys::public_hex(key),
            statement: self,
        }
    }
}

impl SignedRelease {
    /// Checks that the signature is the named key's over this statement,
    /// and that the statement describes exactly `manifest_text` and
    /// `component`.
    pub fn check(&self, manifest_text: &str, component: &[u8]) -> anyhow::Result<()> {
        keys::verify(
            &self.publisher_key,
            &self.statement.message(),
            &self.signature,
        )
        .context("the release's signature")?;
        let actual = Statement::of(manifest_text, component)?;
        let signed = &self.statement;
        for (what, signed, actual) in [
            ("plugin id", &signed.plugin, &actual.plugin),
            ("version", &signed.version, &actual.version),
            ("component digest", &signed.component, &actual.component),
            ("manifest digest", &signed.manifest, &actual.manifest),
        ] {
            if signed != actual {
                bail!("the release is signed for {what} {signed}, but the package has {actual}");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str =
        "id = \"lamp\"\nname = \"Lamp\"\nversion = \"1.0.0\"\npublisher = \"p\"\n";

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    #[test]
    fn a_release_holds_for_exactly_the_bytes_it_names() {
        let signed = Statement::of(MANIFEST, b"component").unwrap().sign(&key());
        signed.check(MANIFEST, b"component").unwrap();
        let other_bytes = signed.check(MANIFEST, b"c0mponent").unwrap_err();
        assert!(
            format!("{other_bytes:#}").contains("component digest"),
            "{other_bytes:#}"
        );
        let other_version = MANIFEST.replace("1.0.0", "1.0.1");
        assert!(signed.check(&other_version, b"component").is_err());
    }

    #[test]
    fn an_edited_statement_or_a_swapped_key_breaks_the_signature() {
        let signed = Statement::of(MANIFEST, b"component").unwrap().sign(&key());
        let mut edited = signed.clone();
        edited.statement.version = "9.9.9".into();
        assert!(edited.check(MANIFEST, b"component").is_err());
        let mut swapped = signed.clone();
        swapped.publisher_key = keys::public_hex(&SigningKey::from_bytes(&[8; 32]));
        let refused = swapped.check(MANIFEST, b"component").unwrap_err();
        assert!(format!("{refused:#}").contains("signature"), "{refused:#}");
    }
}
