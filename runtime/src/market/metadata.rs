//! A marketplace's signed metadata, and the rules a hub accepts it by
//! (after TUF's roles, without its every file):
//!
//! - **root** names the keys of each role and how many must sign
//!   (a threshold). The operator pins the first one; each next one must be
//!   signed by a threshold of the previous root's keys and of its own, and
//!   comes exactly one version later: a rotation is walked one step at a
//!   time, never skipped.
//! - **index** lists the releases the marketplace reviewed, pinned by
//!   digest, and the publishers' keys.
//! - **status** is short-lived: the index version and digest it vouches
//!   for, revoked releases and keys, when it was issued and until when it
//!   holds.
//!
//! Versions only go up; a status expires by the later of the hub's clock
//! and the newest issue time it has verified (a hub may have no real-time
//! clock, and setting it back must not revive an old status); an index is
//! accepted only as the one its status names. A bundle is checked whole
//! before anything of it is kept.

use crate::caps::revocations::{Revocations, Revoked};
use crate::keys;
use anyhow::{Context, bail, ensure};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A role's keys (hex) and how many of them must sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub keys: Vec<String>,
    pub threshold: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Root {
    pub version: u64,
    pub root: Role,
    pub index: Role,
    pub status: Role,
}

/// A release the marketplace reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reviewed {
    pub plugin: String,
    pub version: String,
    /// The pinned reference it was reviewed at (`oci://REGISTRY/NAME@sha256:...`).
    pub oci: String,
    /// `sha256:...` of the component.
    pub component: String,
    /// `sha256:...` of its `plugin.toml`: a review covers what it asks for.
    pub manifest: String,
    pub publisher_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub version: u64,
    pub releases: Vec<Reviewed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub version: u64,
    pub index_version: u64,
    /// `sha256:...` of the signed index's bytes.
    pub index_digest: String,
    pub revoked: Vec<Revoked>,
    pub revoked_keys: Vec<String>,
    /// Seconds since the Unix epoch.
    pub issued_at: u64,
    pub expires_at: u64,
}

/// A role's document and its signatures, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed<T> {
    pub signed: T,
    pub signatures: Vec<KeySignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySignature {
    pub key: String,
    pub signature: String,
}

/// What each role's signatures cover: a domain line, so that no document
/// of one role passes for another's, then the document's JSON.
pub trait Document: Serialize + DeserializeOwned {
    const ROLE: &'static str;
    fn version(&self) -> u64;
}

impl Document for Root {
    const ROLE: &'static str = "root";
    fn version(&self) -> u64 {
        self.version
    }
}

impl Document for Index {
    const ROLE: &'static str = "index";
    fn version(&self) -> u64 {
        self.version
    }
}

impl Document for Status {
    const ROLE: &'static str = "status";
    fn version(&self) -> u64 {
        self.version
    }
}

fn message<T: Document>(document: &T) -> anyhow::Result<Vec<u8>> {
    let mut message = format!("hub market {} v1\n", T::ROLE).into_bytes();
    message.extend(serde_json::to_vec(document)?);
    Ok(message)
}

/// `document` signed by each of `keys`.
pub fn sign<T: Document>(document: T, keys: &[&SigningKey]) -> anyhow::Result<Signed<T>> {
    let message = message(&document)?;
    let signatures = keys
        .iter()
        .map(|key| KeySignature {
            key: keys::public_hex(key),
            signature: keys::sign(key, &message),
        })
        .collect();
    Ok(Signed {
        signed: document,
        signatures,
    })
}

impl Role {
    /// A role that can be met: valid keys, none twice, a threshold from 1
    /// to their number.
    fn check(&self, name: &str) -> anyhow::Result<()> {
        for (i, key) in self.keys.iter().enumerate() {
            keys::check_public(key).with_context(|| format!("the {name} role's key {key:?}"))?;
            ensure!(
                !self.keys[..i].contains(key),
                "the {name} role lists {key} twice"
            );
        }
        ensure!(
            (1..=self.keys.len()).contains(&self.threshold),
            "the {name} role's threshold {} is not between 1 and its {} keys",
            self.threshold,
            self.keys.len()
        );
        Ok(())
    }
}

impl Root {
    fn check_roles(&self) -> anyhow::Result<()> {
        self.root.check("root")?;
        self.index.check("index")?;
        self.status.check("status")
    }
}

impl<T: Document> Signed<T> {
    /// Checks that at least `role.threshold` distinct keys of `role`
    /// signed the document; others' signatures count for nothing.
    fn check(&self, role: &Role, by: &str) -> anyhow::Result<()> {
        ensure!(role.threshold >= 1, "the {by} role's threshold is 0");
        let message = message(&self.signed)?;
        let mut counted: Vec<&str> = Vec::new();
        for s in &self.signatures {
            if role.keys.contains(&s.key)
                && !counted.contains(&s.key.as_str())
                && keys::verify(&s.key, &message, &s.signature).is_ok()
            {
                counted.push(&s.key);
            }
        }
        ensure!(
            counted.len() >= role.threshold,
            "the {} (version {}) carries {} valid signatures of the {by} role's keys; {} are needed",
            T::ROLE,
            self.signed.version(),
            counted.len(),
            role.threshold
        );
        Ok(())
    }

    /// `sha256:...` of the document as it travels (signatures included).
    pub fn digest(&self) -> anyhow::Result<String> {
        Ok(crate::digest::sha256_oci(&serde_json::to_vec(self)?))
    }
}

/// What a hub has verified and keeps: the newest of each role, and the
/// newest issue time any status showed it. Stored as [`StoredTrusted`]:
/// a record with a field the hub does not know is refused, not half-read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredTrusted", into = "StoredTrusted")]
pub struct Trusted {
    pub root: Signed<Root>,
    pub index: Option<Signed<Index>>,
    pub status: Option<Signed<Status>>,
    pub newest_issued_at: u64,
    /// Every release and key any verified status revoked: a later status
    /// that leaves one out revives nothing.
    pub revocations: Revocations,
}

/// [`Trusted`] as the store holds it: the revocations beside the roles,
/// where `Hub::revocations` reads them without knowing the rest.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredTrusted {
    root: Signed<Root>,
    index: Option<Signed<Index>>,
    status: Option<Signed<Status>>,
    newest_issued_at: u64,
    #[serde(default)]
    revoked: Vec<Revoked>,
    #[serde(default)]
    revoked_keys: Vec<String>,
}

impl From<StoredTrusted> for Trusted {
    fn from(stored: StoredTrusted) -> Self {
        Trusted {
            root: stored.root,
            index: stored.index,
            status: stored.status,
            newest_issued_at: stored.newest_issued_at,
            revocations: Revocations {
                revoked: stored.revoked,
                revoked_keys: stored.revoked_keys,
            },
        }
    }
}

impl From<Trusted> for StoredTrusted {
    fn from(trusted: Trusted) -> Self {
        StoredTrusted {
            root: trusted.root,
            index: trusted.index,
            status: trusted.status,
            newest_issued_at: trusted.newest_issued_at,
            revoked: trusted.revocations.revoked,
            revoked_keys: trusted.revocations.revoked_keys,
        }
    }
}

impl Reviewed {
    /// Whether `release` is exactly this reviewed release: the same plugin,
    /// version, component, manifest and publisher key.
    pub fn names(&self, release: &super::SignedRelease) -> bool {
        let statement = &release.statement;
        self.component == statement.component
            && self.manifest == statement.manifest
            && self.plugin == statement.plugin
            && self.version == statement.version
            && self.publisher_key == release.publisher_key
    }
}

/// What a marketplace hands a hub: new roots in order (possibly none),
/// then its index and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    #[serde(default)]
    pub roots: Vec<Signed<Root>>,
    pub index: Signed<Index>,
    pub status: Signed<Status>,
}

impl Trusted {
    /// Trust in a marketplace starts from a root the operator pins; it
    /// must be signed by its own root keys.
    pub fn pin(root: Signed<Root>) -> anyhow::Result<Trusted> {
        root.signed.check_roles().context("the root to pin")?;
        root.check(&root.signed.root, "root")
            .context("the root to pin")?;
        Ok(Trusted {
            root,
            index: None,
            status: None,
            newest_issued_at: 0,
            revocations: Revocations::default(),
        })
    }

    /// The trust `bundle` leads to from here at `clock` (seconds since the
    /// epoch), or why it is refused; `self` is never changed, so a refused
    /// bundle leaves nothing behind.
    pub fn accept(&self, bundle: &Bundle, clock: u64) -> anyhow::Result<Trusted> {
        let mut root = self.root.clone();
        for next in &bundle.roots {
            // A bundle may still carry roots this hub has walked already.
            if next.signed.version <= root.signed.version {
                ensure!(
                    next.signed.version < root.signed.version || next == &root,
                    "root version {} differs from the one already verified",
                    next.signed.version
                );
                continue;
            }
            root = rotate(&root, next)?;
        }
        // New keys for a role wipe what its old keys vouched for: a key
        // that signed a version far ahead (a fast-forward) is recovered
        // from by rotating it out.
        let rotated = |role: fn(&Root) -> &Role| role(&root.signed) != role(&self.root.signed);
        let (kept_status, newest_issued_at) = match rotated(|r| &r.status) {
            true => (None, 0),
            false => (self.status.as_ref(), self.newest_issued_at),
        };
        let kept_index = if rotated(|r| &r.index) {
            None
        } else {
            self.index.as_ref()
        };
        let status = &bundle.status;
        status.check(&root.signed.status, "status")?;
        let kept = kept_status.map(|s| &s.signed);
        if let Some(kept) = kept {
            newer(
                kept.version,
                status.signed.version,
                "status",
                kept == &status.signed,
            )?;
        }
        let issued = status.signed.issued_at;
        ensure!(
            issued >= newest_issued_at,
            "the status was issued at {issued}, before one already verified ({newest_issued_at}): a replay"
        );
        // A hub whose clock is set checks that the status is not from the
        // future, which would freeze every honest one after it.
        ensure!(
            clock < PLAUSIBLE_CLOCK || issued <= clock.saturating_add(CLOCK_SKEW),
            "the status says it was issued at {issued}, later than this hub's clock ({clock}) allows"
        );
        let now = clock.max(newest_issued_at).max(issued);
        ensure!(
            status.signed.expires_at > now,
            "the status expired at {} (now is {now}, the later of the clock and the newest issue time verified): the marketplace must publish a fresh one",
            status.signed.expires_at
        );
        let index = &bundle.index;
        index.check(&root.signed.index, "index")?;
        if let Some(kept) = kept_index.map(|i| &i.signed) {
            newer(
                kept.version,
                index.signed.version,
                "index",
                kept == &index.signed,
            )?;
        }
        ensure!(
            index.signed.version == status.signed.index_version
                && index.digest()? == status.signed.index_digest,
            "the index (version {}, {}) is not the one the status vouches for (version {}, {})",
            index.signed.version,
            index.digest()?,
            status.signed.index_version,
            status.signed.index_digest
        );
        let mut revocations = self.revocations.clone();
        revocations.add(&status.signed.revoked, &status.signed.revoked_keys);
        Ok(Trusted {
            root,
            index: Some(index.clone()),
            status: Some(status.clone()),
            newest_issued_at: issued.max(newest_issued_at),
            revocations,
        })
    }
}

impl Trusted {
    /// The status, if it still holds at `clock` or at the newest issue
    /// time verified, whichever is later.
    pub fn fresh(&self, clock: u64) -> anyhow::Result<&Status> {
        let status = &self
            .status
            .as_ref()
            .context("no status from the marketplace yet")?
            .signed;
        let now = clock.max(self.newest_issued_at);
        ensure!(
            status.expires_at > now,
            "the marketplace's status expired at {} (now is {now}): import a fresh one",
            status.expires_at
        );
        Ok(status)
    }
}

/// A clock before this (2020) is taken for a hub without a real-time
/// clock, which cannot judge an issue time.
const PLAUSIBLE_CLOCK: u64 = 1_577_836_800;
/// How far ahead of the hub's clock a status may say it was issued.
const CLOCK_SKEW: u64 = 3_600;

/// The root after `next`, which must be the very next version and signed
/// by a threshold of both the current root keys and its own.
pub(super) fn rotate(current: &Signed<Root>, next: &Signed<Root>) -> anyhow::Result<Signed<Root>> {
    let expected = current.signed.version.saturating_add(1);
    if next.signed.version != expected {
        bail!(
            "root version {} follows version {}: roots are walked one version at a time ({expected} is next)",
            next.signed.version,
            current.signed.version
        );
    }
    // The previous root's signature first: nothing else is read of a root
    // no trusted key vouched for.
    next.check(&current.signed.root, "previous root")?;
    next.signed.check_roles()?;
    next.check(&next.signed.root, "new root")?;
    Ok(next.clone())
}

/// Versions only go up; the same version is accepted only unchanged.
fn newer(kept: u64, offered: u64, role: &str, same: bool) -> anyhow::Result<()> {
    match offered.cmp(&kept) {
        std::cmp::Ordering::Less => bail!(
            "{role} version {offered} is older than version {kept}, already verified: a rollback"
        ),
        std::cmp::Ordering::Equal if !same => {
            bail!("{role} version {offered} differs from the version {kept} already verified")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::revocations::Severity;

    /// A marketplace with one key per role, and one to rotate to.
    struct Market {
        root: SigningKey,
        index: SigningKey,
        status: SigningKey,
        next_root: SigningKey,
    }

    const DAY: u64 = 86_400;
    const T0: u64 = 1_900_000_000;

    impl Market {
        fn new() -> Market {
            let key = |n| SigningKey::from_bytes(&[n; 32]);
            Market {
                root: key(1),
                index: key(2),
                status: key(3),
                next_root: key(4),
            }
        }

        fn role(key: &SigningKey) -> Role {
            Role {
                keys: vec![keys::public_hex(key)],
                threshold: 1,
            }
        }

        fn root(&self, version: u64, root_key: &SigningKey) -> Root {
            Root {
                version,
                root: Self::role(root_key),
                index: Self::role(&self.index),
                status: Self::role(&self.status),
            }
        }

        fn pinned(&self) -> Trusted {
            Trusted::pin(sign(self.root(1, &self.root), &[&self.root]).unwrap()).unwrap()
        }

        fn bundle(&self, version: u64, issued_at: u64) -> Bundle {
            let index = sign(
                Index {
                    version,
                    releases: Vec::new(),
                },
                &[&self.index],
            )
            .unwrap();
            let status = Status {
                version,
                index_version: version,
                index_digest: index.digest().unwrap(),
                revoked: Vec::new(),
                revoked_keys: Vec::new(),
                issued_at,
                expires_at: issued_at + DAY,
            };
            Bundle {
                roots: Vec::new(),
                index,
                status: sign(status, &[&self.status]).unwrap(),
            }
        }
    }

    fn refused(trusted: &Trusted, bundle: &Bundle, clock: u64) -> String {
        format!("{:#}", trusted.accept(bundle, clock).unwrap_err())
    }

    #[test]
    fn a_fresh_bundle_is_accepted_and_versions_only_go_up() {
        let market = Market::new();
        let v2 = market.pinned().accept(&market.bundle(2, T0), T0).unwrap();
        let v3 = v2.accept(&market.bundle(3, T0 + 10), T0 + 10).unwrap();
        assert_eq!(v3.newest_issued_at, T0 + 10);
        let rollback = refused(&v3, &market.bundle(2, T0 + 20), T0 + 20);
        assert!(rollback.contains("a rollback"), "{rollback}");
        v3.accept(&market.bundle(3, T0 + 10), T0 + 30).unwrap();
    }

    #[test]
    fn an_old_status_is_refused_even_with_the_clock_set_back() {
        let market = Market::new();
        let later = market
            .pinned()
            .accept(&market.bundle(2, T0 + DAY), T0 + DAY)
            .unwrap();
        let replayed = refused(&later, &market.bundle(2, T0), T0);
        assert!(
            replayed.contains("differs") || replayed.contains("a replay"),
            "{replayed}"
        );
        // A frozen hub: no newer status, and its clock wound back.
        let stale = market.pinned().accept(&market.bundle(2, T0), T0).unwrap();
        let frozen = refused(&stale, &market.bundle(2, T0), T0 + 2 * DAY);
        assert!(frozen.contains("expired"), "{frozen}");
        // The clock set back to zero: what was verified still says the time.
        assert!(stale.fresh(T0).is_ok());
        let mut seen_later = stale.clone();
        seen_later.newest_issued_at = T0 + 2 * DAY;
        let expired = format!("{:#}", seen_later.fresh(0).unwrap_err());
        assert!(expired.contains("expired"), "{expired}");
        let replay = refused(&seen_later, &market.bundle(3, T0 + DAY / 2), 0);
        assert!(replay.contains("a replay"), "{replay}");
    }

    #[test]
    fn an_index_other_than_the_one_the_status_names_is_refused() {
        let market = Market::new();
        let mut bundle = market.bundle(2, T0);
        bundle.index = sign(
            Index {
                version: 2,
                releases: vec![Reviewed {
                    plugin: "x".into(),
                    version: "1.0.0".into(),
                    oci: "oci://r/x@sha256:0".into(),
                    component: "sha256:0".into(),
                    manifest: "sha256:1".into(),
                    publisher_key: "00".into(),
                }],
            },
            &[&market.index],
        )
        .unwrap();
        let swapped = refused(&market.pinned(), &bundle, T0);
        assert!(
            swapped.contains("not the one the status vouches for"),
            "{swapped}"
        );
    }

    #[test]
    fn signatures_must_come_from_the_roles_keys() {
        let market = Market::new();
        let mut bundle = market.bundle(2, T0);
        bundle.status = sign(bundle.status.signed.clone(), &[&market.index]).unwrap();
        let wrong_key = refused(&market.pinned(), &bundle, T0);
        assert!(
            wrong_key.contains("0 valid signatures of the status"),
            "{wrong_key}"
        );
        let mut edited = market.bundle(2, T0);
        edited.status.signed.expires_at += 365 * DAY;
        let tampered = refused(&market.pinned(), &edited, T0);
        assert!(tampered.contains("valid signatures"), "{tampered}");
    }

    #[test]
    fn a_root_rotation_is_walked_one_version_at_a_time_with_both_signatures() {
        let market = Market::new();
        let pinned = market.pinned();
        let v2 = market.root(2, &market.next_root);
        let mut bundle = market.bundle(2, T0);
        bundle.roots = vec![sign(v2.clone(), &[&market.next_root]).unwrap()];
        let unvouched = refused(&pinned, &bundle, T0);
        assert!(unvouched.contains("previous root"), "{unvouched}");
        bundle.roots = vec![sign(v2.clone(), &[&market.root, &market.next_root]).unwrap()];
        let rotated = pinned.accept(&bundle, T0).unwrap();
        assert_eq!(rotated.root.signed.version, 2);
        let skipping = market.root(3, &market.next_root);
        bundle.roots = vec![sign(skipping, &[&market.root, &market.next_root]).unwrap()];
        let skipped = refused(&pinned, &bundle, T0);
        assert!(skipped.contains("one version at a time"), "{skipped}");
    }

    #[test]
    fn a_status_key_that_signed_far_ahead_is_rotated_out_and_the_hub_recovers() {
        let market = Market::new();
        // Only the status key leaked: the index stays an honest one.
        let mut ahead = market.bundle(2, T0);
        ahead.status.signed.version = u64::MAX - 1;
        ahead.status.signed.expires_at = u64::MAX;
        ahead.status = sign(ahead.status.signed.clone(), &[&market.status]).unwrap();
        let frozen = market.pinned().accept(&ahead, 0).unwrap();
        let honest = refused(&frozen, &market.bundle(2, T0 + 10), T0 + 10);
        assert!(honest.contains("a rollback"), "{honest}");
        // The marketplace rotates its status key in root version 2.
        let new_status = SigningKey::from_bytes(&[9; 32]);
        let mut root = market.root(2, &market.root);
        root.status = Market::role(&new_status);
        let mut bundle = market.bundle(2, T0 + 10);
        bundle.status = sign(bundle.status.signed.clone(), &[&new_status]).unwrap();
        bundle.roots = vec![sign(root, &[&market.root]).unwrap()];
        let recovered = frozen.accept(&bundle, T0 + 10).unwrap();
        assert_eq!(recovered.newest_issued_at, T0 + 10);
        // The same bundle again, roots and all, is accepted unchanged.
        recovered.accept(&bundle, T0 + 20).unwrap();
    }

    #[test]
    fn a_status_from_the_future_is_refused_by_a_hub_whose_clock_is_set() {
        let market = Market::new();
        let future = refused(&market.pinned(), &market.bundle(2, T0 + DAY), T0);
        assert!(future.contains("later than this hub's clock"), "{future}");
        market
            .pinned()
            .accept(&market.bundle(2, T0 + DAY), 0)
            .unwrap();
    }

    #[test]
    fn roles_that_cannot_be_met_are_refused_at_pin_and_rotation() {
        let market = Market::new();
        let mut root = market.root(1, &market.root);
        root.status.threshold = 2;
        let pin = Trusted::pin(sign(root.clone(), &[&market.root]).unwrap()).unwrap_err();
        assert!(format!("{pin:#}").contains("threshold 2"), "{pin:#}");
        root.status = Market::role(&market.status);
        root.index.keys.push(root.index.keys[0].clone());
        assert!(
            Trusted::pin(sign(root, &[&market.root]).unwrap()).is_err(),
            "a key listed twice"
        );
    }

    #[test]
    fn a_revocation_covers_every_build_of_the_version_and_outlives_its_status() {
        let market = Market::new();
        let mut bundle = market.bundle(2, T0);
        bundle.status.signed.revoked = vec![Revoked {
            plugin: "lamp".into(),
            version: "1.0.0".into(),
            component: "sha256:aa".into(),
            severity: Severity::Malicious,
            reason: "steals".into(),
            fixed_in: None,
        }];
        bundle.status.signed.revoked_keys = vec!["ab".repeat(32)];
        bundle.status = sign(bundle.status.signed.clone(), &[&market.status]).unwrap();
        let trusted = market.pinned().accept(&bundle, T0).unwrap();
        assert!(
            trusted
                .revocations
                .forbids("lamp", "1.0.0", "sha256:rebuilt", None)
                .is_some()
        );
        assert!(
            trusted
                .revocations
                .forbids("lamp", "1.0.0+rebuilt.2", "sha256:ee", None)
                .is_some(),
            "build metadata makes no other release"
        );
        assert!(
            trusted
                .revocations
                .forbids("lamp", "1.0.1", "sha256:bb", None)
                .is_none()
        );
        let by_key =
            trusted
                .revocations
                .forbids("other", "2.0.0", "sha256:cc", Some(&"ab".repeat(32)));
        assert!(by_key.unwrap().reason.contains("was revoked"));
        // A later status that leaves them out revives nothing.
        let later = trusted.accept(&market.bundle(3, T0 + 10), T0 + 10).unwrap();
        assert!(
            later
                .revocations
                .forbids("lamp", "1.0.0", "sha256:aa", None)
                .is_some()
        );
        assert!(
            later
                .revocations
                .forbids("x", "1", "sha256:dd", Some(&"ab".repeat(32)))
                .is_some()
        );
    }

    #[test]
    fn the_stored_record_holds_the_revocations_where_the_hub_reads_them() {
        let market = Market::new();
        let mut bundle = market.bundle(2, T0);
        bundle.status.signed.revoked_keys = vec!["ab".repeat(32)];
        bundle.status = sign(bundle.status.signed.clone(), &[&market.status]).unwrap();
        let trusted = market.pinned().accept(&bundle, T0).unwrap();
        let stored = serde_json::to_string(&trusted).unwrap();
        let read: Revocations = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, trusted.revocations);
        assert_eq!(serde_json::from_str::<Trusted>(&stored).unwrap(), trusted);
        let mut edited: serde_json::Value = serde_json::from_str(&stored).unwrap();
        edited["revocations"] = edited["revoked_keys"].take();
        let refused = serde_json::from_value::<Trusted>(edited).unwrap_err();
        assert!(refused.to_string().contains("unknown field"), "{refused}");
    }

    #[test]
    fn a_threshold_counts_each_key_once() {
        let market = Market::new();
        let mut root = market.root(1, &market.root);
        root.root.keys.push(keys::public_hex(&market.next_root));
        root.root.threshold = 2;
        let twice = sign(root.clone(), &[&market.root, &market.root]).unwrap();
        assert!(
            Trusted::pin(twice).is_err(),
            "one key signing twice met a threshold of 2"
        );
        Trusted::pin(sign(root, &[&market.root, &market.next_root]).unwrap()).unwrap();
    }
}
