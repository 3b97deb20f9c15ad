//! The publisher's commands (`hub package`) and the operator's trust
//! (`hub trust`); `hub plugin install oci://...` is in `admin`.

use crate::plugins::Hub;
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
pub enum TrustCommand {
    /// Publishers whose signed releases this hub installs (unreviewed).
    Show,
    /// Trust a publisher's key (hex, as `hub package keygen` printed it).
    AddPublisher { name: String, key: String },
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

pub fn trust(hub: &Hub, command: TrustCommand) -> anyhow::Result<()> {
    match command {
        TrustCommand::Show => {
            for p in hub.store().publishers()? {
                println!(
                    "{:<20} {}  added by {} at {}",
                    p.name, p.key, p.added_by, p.added_at
                );
            }
        }
        TrustCommand::AddPublisher { name, key } => {
            let actor = super::admin::actor();
            hub.trust_publisher(&actor, &name, &key)?;
            println!("trusted {name}: its signed releases install, as unreviewed");
        }
    }
    Ok(())
}
