//! Anchors for the audit chain outside the database. The chain proves that
//! no entry was edited, but whoever can write `hub.db` can delete its tail
//! or rewrite it whole, head record included. A checkpoint is the head
//! (sequence number and hash) signed with a key the hub keeps in a file of
//! its own: an operator exports one now and then, keeps it elsewhere, and
//! later verifies the log against it.

use super::Store;
use crate::keys;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The newest entry when the checkpoint was taken, and its hash.
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// The hub's audit key (hex), which signed `seq`, `hash` and `at`.
    pub public_key: String,
    pub signature: String,
}

impl Checkpoint {
    fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
        format!("hub audit checkpoint\n{seq}\n{hash}\n{at}").into_bytes()
    }

    fn check_signature(&self) -> anyhow::Result<()> {
        let message = Self::message(self.seq, &self.hash, &self.at);
        keys::verify(&self.public_key, &message, &self.signature)
            .context("the checkpoint's signature does not match its content")
    }
}

impl Store {
    /// Signs the chain's current head with the key in `key_file`, made on
    /// first use (readable by the hub's user only).
    pub fn checkpoint(&self, key_file: &Path) -> anyhow::Result<Checkpoint> {
        let key = keys::load_or_create(key_file)?;
        let (seq, hash) = self.head()?;
        let at = super::now();
        let signature = keys::sign(&key, &Checkpoint::message(seq, &hash, &at));
        Ok(Checkpoint {
            seq,
            hash,
            at,
            public_key: keys::public_hex(&key),
            signature,
        })
    }

    /// Checks that `checkpoint` was signed with the key in `key_file` (a
    /// checkpoint made with any other key proves nothing) and that the
    /// chain still holds its entry, unchanged: a deleted tail or a
    /// rewritten chain fails with what was found.
    pub fn verify_against(&self, checkpoint: &Checkpoint, key_file: &Path) -> anyhow::Result<()> {
        let ours = keys::public_hex(&keys::load(key_file)?);
        if checkpoint.public_key != ours {
            bail!(
                "the checkpoint was not signed with this hub's audit key ({})",
                key_file.display()
            );
        }
        checkpoint.check_signature()?;
        let found = self.entry_hash(checkpoint.seq)?;
        match found {
            None => {
                let (last, _) = self.head()?;
                bail!(
                    "the log ends at entry {last}, but the checkpoint of {} covers entry {}: entries were deleted",
                    checkpoint.at,
                    checkpoint.seq
                )
            }
            Some(hash) if hash != checkpoint.hash => bail!(
                "entry {} is not the one checkpointed at {}: the chain was rewritten",
                checkpoint.seq,
                checkpoint.at
            ),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(name: &str) -> (Store, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("hub-checkpoint-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("hub.db")).unwrap();
        for i in 0..5 {
            store
                .append("cli", Some("p"), "grant", json!({"n": i}))
                .unwrap();
        }
        (store, dir)
    }

    #[test]
    fn a_checkpoint_verifies_while_the_chain_only_grows() {
        let (store, dir) = store("grows");
        let checkpoint = store.checkpoint(&dir.join("audit.key")).unwrap();
        assert_eq!(checkpoint.seq, 5);
        store.append("cli", Some("p"), "revoke", json!({})).unwrap();
        store
            .verify_against(&checkpoint, &dir.join("audit.key"))
            .unwrap();
        let again = store.checkpoint(&dir.join("audit.key")).unwrap();
        assert_eq!(again.public_key, checkpoint.public_key, "one key, kept");
    }

    #[test]
    fn a_deleted_tail_with_a_rewritten_head_is_caught() {
        let (store, dir) = store("tail");
        let checkpoint = store.checkpoint(&dir.join("audit.key")).unwrap();
        // What an attacker with the database does: drop entries 4 and 5 and
        // point the head record at entry 3, so that `verify` alone passes.
        store
            .conn()
            .execute_batch(
                "DELETE FROM audit WHERE seq > 3;
                 UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit WHERE seq = 3);",
            )
            .unwrap();
        assert_eq!(
            store.verify().unwrap(),
            Ok(3),
            "the chain alone looks intact"
        );
        let caught = store
            .verify_against(&checkpoint, &dir.join("audit.key"))
            .unwrap_err()
            .to_string();
        assert!(caught.contains("entries were deleted"), "{caught}");
    }

    #[test]
    fn a_rewritten_chain_is_caught() {
        let (store, dir) = store("rewritten");
        let checkpoint = store.checkpoint(&dir.join("audit.key")).unwrap();
        store
            .conn()
            .execute_batch("DELETE FROM audit; DELETE FROM audit_head;")
            .unwrap();
        for i in 0..5 {
            store
                .append("cli", Some("p"), "innocent", json!({"n": i}))
                .unwrap();
        }
        assert_eq!(store.verify().unwrap(), Ok(5));
        let caught = store
            .verify_against(&checkpoint, &dir.join("audit.key"))
            .unwrap_err()
            .to_string();
        assert!(caught.contains("rewritten"), "{caught}");
    }

    #[test]
    fn a_checkpoint_signed_with_another_key_proves_nothing() {
        let (store, dir) = store("other-key");
        let forged = store.checkpoint(&dir.join("attacker.key")).unwrap();
        store.checkpoint(&dir.join("audit.key")).unwrap();
        let refused = store
            .verify_against(&forged, &dir.join("audit.key"))
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("not signed with this hub's audit key"),
            "{refused}"
        );
    }

    #[test]
    fn a_forged_checkpoint_is_refused() {
        let (store, dir) = store("forged");
        let mut checkpoint = store.checkpoint(&dir.join("audit.key")).unwrap();
        checkpoint.seq = 2;
        let refused = store
            .verify_against(&checkpoint, &dir.join("audit.key"))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("signature"), "{refused}");
    }
}
