//! The publisher's commands (`hub package`), the marketplace's (`hub
//! market`) and the operator's trust (`hub trust`); `hub plugin install
//! oci://...` is in `admin`.

use crate::caps::revocations::Severity;
use crate::market::Market;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PackageCommand {
    /// Make a publisher's signing key (Ed25519, readable by you only) and
    /// print its public half, which operators and marketplaces trust.
    Keygen { out: PathBuf },
    /// Put a component and its manifest into a new folder with the
    /// statement to sign: plugin id, version and both digests.
    Build {
        component: PathBuf,
        /// Default: plugin.toml beside the component.
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a built package's statement with your key.
    Sign {
        dir: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Push a signed package to a registry as a Wasm OCI artifact
    /// (oci://REGISTRY/NAME:TAG) and print its pinned reference.
    Push { dir: PathBuf, reference: String },
}

#[derive(Subcommand)]
pub enum MarketCommand {
    /// Make a marketplace folder: root version 1, which operators pin, with
    /// its root keys (root.key, root-2.key, ...: hand all but one to their
    /// holders) and a key each for the index and the status.
    Init {
        dir: PathBuf,
        /// How many root keys.
        #[arg(long, default_value_t = 1)]
        root_keys: usize,
        /// How many of them must sign each next root.
        #[arg(long, default_value_t = 1)]
        threshold: usize,
    },
    /// Review a release in a registry: its publisher's signature must hold
    /// for its bytes; it joins the index at the next publish.
    Review { dir: PathBuf, reference: String },
    /// Yank a reviewed release: it leaves the index at the next publish, so
    /// hubs no longer install it or offer it as an update; those running
    /// it keep it (revoke stops it).
    Yank {
        dir: PathBuf,
        plugin: String,
        version: String,
    },
    /// Give roles new keys: the next root version, signed by the current
    /// root keys (and the new ones when the root role changes), carried by
    /// every later bundle. The replaced keys move to DIR/retired.
    Rotate {
        dir: PathBuf,
        #[arg(long = "role", value_enum, required = true)]
        roles: Vec<crate::market::RoleName>,
        /// A current root key that signs the rotation (repeat up to the
        /// threshold; default: the root keys in DIR).
        #[arg(long = "root-key")]
        root_keys: Vec<PathBuf>,
    },
    /// Revoke a reviewed release: it leaves the index, and hubs stop it.
    Revoke {
        dir: PathBuf,
        plugin: String,
        version: String,
        #[arg(long, value_enum)]
        severity: Severity,
        #[arg(long)]
        reason: String,
        /// The version that fixes a vulnerable release.
        #[arg(long)]
        fixed_in: Option<String>,
    },
    /// Revoke a publisher's key: none of its releases installs any more.
    RevokeKey { dir: PathBuf, key: String },
    /// Sign the next index and a status valid for --valid-for, into the
    /// bundle hubs import.
    Publish {
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// How long the status holds (a short time: hubs refresh it).
        #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
        valid_for: std::time::Duration,
        /// Also push the bundle to this oci:// reference, where hubs fetch it.
        #[arg(long)]
        push: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trusted publishers and the marketplace's metadata this hub verified.
    Show,
    /// Trust a publisher's key (hex, as `hub package keygen` printed it).
    AddPublisher { name: String, key: String },
    /// Pin a marketplace's first root (its root.json, got by a way you trust).
    PinMarket { root: PathBuf },
    /// Verify and keep a marketplace's bundle (carried by hand to an
    /// offline hub, or fetched): nothing is kept unless all of it verifies.
    Import { bundle: PathBuf },
}

pub async fn package(command: PackageCommand) -> anyhow::Result<()> {
    match command {
        PackageCommand::Keygen { out } => {
            let key = crate::keys::create(&out)?;
            println!(
                "wrote {}; its public key: {}",
                out.display(),
                crate::keys::public_hex(&key)
            );
        }
        PackageCommand::Build {
            component,
            manifest,
            out,
        } => {
            let manifest = manifest.unwrap_or_else(|| component.with_file_name("plugin.toml"));
            let statement = crate::market::build(&component, &manifest, &out)?;
            println!(
                "built {} {} in {}: component {}, manifest {}",
                statement.plugin,
                statement.version,
                out.display(),
                statement.component,
                statement.manifest
            );
        }
        PackageCommand::Sign { dir, key } => {
            let release = crate::market::sign(&dir, &crate::keys::load(&key)?)?;
            let statement = &release.statement;
            println!(
                "signed {} {} with {}",
                statement.plugin, statement.version, release.publisher_key
            );
        }
        PackageCommand::Push { dir, reference } => {
            let package = crate::market::Package::open(&dir)?;
            let pinned = crate::market::push(&package, &reference).await?;
            println!("pushed {reference}\n  pinned: {pinned}");
        }
    }
    Ok(())
}

pub async fn market(command: MarketCommand) -> anyhow::Result<()> {
    use crate::market::Marketplace;
    match command {
        MarketCommand::Init {
            dir,
            root_keys,
            threshold,
        } => {
            let root = Marketplace::init(&dir, root_keys, threshold)?;
            println!(
                "made {}: root version 1 ({}); operators pin {}",
                dir.display(),
                root.digest()?,
                dir.join("root.json").display()
            );
            if root_keys > 1 {
                println!(
                    "hand root-2.key to root-{root_keys}.key to their holders: {threshold} of the {root_keys} root keys sign each next root (hub market rotate --root-key)"
                );
            }
        }
        MarketCommand::Review { dir, reference } => {
            let market = Marketplace::open(&dir)?;
            let pulled = crate::market::pull(&reference).await?;
            let reviewed = market.review(&pulled)?;
            println!(
                "reviewed {} {} at {}",
                reviewed.plugin, reviewed.version, reviewed.oci
            );
        }
        MarketCommand::Revoke {
            dir,
            plugin,
            version,
            severity,
            reason,
            fixed_in,
        } => {
            let revoked =
                Marketplace::open(&dir)?.revoke(&plugin, &version, severity, &reason, fixed_in)?;
            println!(
                "revoked {} {} ({})",
                revoked.plugin, revoked.version, revoked.component
            );
        }
        MarketCommand::Yank {
            dir,
            plugin,
            version,
        } => {
            for yanked in Marketplace::open(&dir)?.yank(&plugin, &version)? {
                println!(
                    "yanked {} {} ({}): it leaves the index at the next publish",
                    yanked.plugin, yanked.version, yanked.oci
                );
            }
        }
        MarketCommand::Rotate {
            dir,
            roles,
            root_keys,
        } => {
            let root = Marketplace::open(&dir)?.rotate(&roles, &root_keys)?;
            println!(
                "rotated to root version {} ({}): hubs follow it from the next bundle",
                root.signed.version,
                root.digest()?
            );
        }
        MarketCommand::RevokeKey { dir, key } => {
            Marketplace::open(&dir)?.revoke_key(&key)?;
            println!("revoked the publisher key {key}");
        }
        MarketCommand::Publish {
            dir,
            out,
            valid_for,
            push,
        } => {
            let bundle =
                Marketplace::open(&dir)?.publish(crate::market::clock(), valid_for.as_secs())?;
            let json = serde_json::to_string_pretty(&bundle)?;
            std::fs::write(&out, &json).with_context(|| format!("write {}", out.display()))?;
            if let Some(reference) = push {
                let pinned = crate::market::push_bundle(json.into_bytes(), &reference).await?;
                println!("pushed the bundle to {reference} ({pinned})");
            }
            println!(
                "published index and status version {} ({} reviewed, {} revoked), valid until {}, to {}",
                bundle.status.signed.version,
                bundle.index.signed.releases.len(),
                bundle.status.signed.revoked.len(),
                bundle.status.signed.expires_at,
                out.display()
            );
        }
    }
    Ok(())
}

pub fn trust(market: &Market, command: TrustCommand) -> anyhow::Result<()> {
    match command {
        TrustCommand::Show => {
            let view = market.trust_view()?;
            for p in &view.publishers {
                println!(
                    "publisher {:<20} {}  added by {} at {}",
                    p.name, p.key, p.added_by, p.added_at
                );
            }
            let Some(market) = view.market else {
                println!("no marketplace pinned");
                return Ok(());
            };
            println!("marketplace root version {}", market.root_version);
            if let (Some(index), Some(status)) = (market.index_version, market.status_version) {
                let holds = market.stale.unwrap_or_else(|| "holds".into());
                println!(
                    "  index version {index} ({} reviewed), status version {status} ({} revoked), expires {}: {holds}",
                    market.reviewed,
                    market.revoked,
                    market.expires_at.unwrap_or_default(),
                );
            }
        }
        TrustCommand::PinMarket { root } => {
            let root = crate::market::read_json(&root)?;
            market.pin_market(&super::admin::actor(), root)?;
            println!("pinned the marketplace's root");
        }
        TrustCommand::Import { bundle } => {
            let bundle = crate::market::read_json(&bundle)?;
            let trusted =
                market.import_market(&super::admin::actor(), &bundle, crate::market::clock())?;
            println!(
                "imported: root version {}, status version {}",
                trusted.root.signed.version,
                trusted.status.as_ref().map_or(0, |s| s.signed.version)
            );
        }
        TrustCommand::AddPublisher { name, key } => {
            let actor = super::admin::actor();
            market.trust_publisher(&actor, &name, &key)?;
            println!("trusted {name}: its signed releases install, as unreviewed");
        }
    }
    Ok(())
}
