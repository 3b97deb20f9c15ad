//! Ed25519 keys and signatures as the hub keeps them: a private key is a
//! file of its 32-byte seed, readable by its owner only; public keys and
//! signatures travel as lowercase hex. Signatures are checked with
//! `verify_strict`, which refuses the malleable and small-order forms
//! plain verification lets through.

use crate::digest::hex;
use anyhow::{Context, bail};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::io::Write;
use std::path::Path;

/// The key in `path`.
pub fn load(path: &Path) -> anyhow::Result<SigningKey> {
    let bytes = std::fs::read(path).with_context(|| format!("read the key {}", path.display()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} is not an Ed25519 key (32 bytes)", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A new random key, written to `path` (never over an existing file).
pub fn create(path: &Path) -> anyhow::Result<SigningKey> {
    let key = generate()?;
    write(path, &key)?;
    Ok(key)
}

/// A new random key, in memory only.
pub fn generate() -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `key` to `path`, readable by its owner only, never over an
/// existing file.
pub fn write(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(key.as_bytes()))
        .with_context(|| format!("create the key {}", path.display()))
}

/// The key in `path`, made on first use.
pub fn load_or_create(path: &Path) -> anyhow::Result<SigningKey> {
    if path.exists() {
        load(path)
    } else {
        create(path)
    }
}

pub fn public_hex(key: &SigningKey) -> String {
    hex(key.verifying_key().as_bytes())
}

/// `message` signed with `key`, in hex.
pub fn sign(key: &SigningKey, message: &[u8]) -> String {
    hex(&key.sign(message).to_bytes())
}

/// Checks that `public_key` (hex) is an Ed25519 public key.
pub fn check_public(public_key: &str) -> anyhow::Result<()> {
    verifying_key(public_key).map(|_| ())
}

fn verifying_key(public_key: &str) -> anyhow::Result<VerifyingKey> {
    let key: [u8; 32] = unhex(public_key)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the public key is not 32 bytes"))?;
    VerifyingKey::from_bytes(&key).context("the public key is not a valid Ed25519 key")
}

/// Checks that `signature` (hex) is `public_key`'s (hex) over `message`.
pub fn verify(public_key: &str, message: &[u8], signature: &str) -> anyhow::Result<()> {
    let signature: [u8; 64] = unhex(signature)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the signature is not 64 bytes"))?;
    verifying_key(public_key)?
        .verify_strict(message, &Signature::from_bytes(&signature))
        .context("the signature does not match")
}

/// Lowercase hex only: a key or signature has exactly one spelling, so
/// that comparing spellings compares keys (`u8::from_str_radix` would also
/// take capitals and a leading `+`).
fn unhex(text: &str) -> anyhow::Result<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        bail!("{text:?} is not lowercase hex");
    }
    bytes
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .with_context(|| format!("{text:?} is not lowercase hex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_key_and_message_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = create(&dir.path().join("k")).unwrap();
        assert!(create(&dir.path().join("k")).is_err(), "overwrote a key");
        let other = create(&dir.path().join("other")).unwrap();
        let signature = sign(&key, b"release");
        verify(&public_hex(&key), b"release", &signature).unwrap();
        assert!(verify(&public_hex(&key), b"other", &signature).is_err());
        assert!(verify(&public_hex(&other), b"release", &signature).is_err());
        assert!(verify("zz", b"release", &signature).is_err());
        let shouted = public_hex(&key).to_uppercase();
        assert!(
            verify(&shouted, b"release", &signature).is_err(),
            "a second spelling"
        );
        let plus = format!("+{}", &public_hex(&key)[1..]);
        assert!(check_public(&plus).is_err(), "a second spelling");
        assert_eq!(
            public_hex(&load(&dir.path().join("k")).unwrap()),
            public_hex(&key)
        );
    }
}
