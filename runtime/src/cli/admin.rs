//! Operator commands that work on the data directory directly; a hub
//! serving from it applies their changes within a second.

use crate::caps::imports::{self, ImportUse};
use crate::caps::rules::Scope;
use crate::caps::{Capabilities, Manifest};
use crate::market::Market;
use crate::plugins::{Hub, InstallReport, PluginEngine, Version};
use crate::store::AuditFilter;
use crate::store::Checkpoint;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Check a plugin against simulated devices, offline: discovery within
    /// the grant, attribute metadata, writes and their events, refusals,
    /// check_update/ota, errors from broken devices, and resource use.
    /// Exits non-zero when a check fails.
    Test(crate::conformance::TestArgs),
    /// Write a new plugin crate (a working Yeelight driver to start from,
    /// its manifest, and a CI workflow) that builds and passes `plugin test`.
    New(super::new_plugin::NewArgs),
    #[command(flatten)]
    Manage(ManageCommand),
}

/// Changes to the installed plugins, made in the data directory.
#[derive(Subcommand)]
pub enum ManageCommand {
    /// Install a component, or update an installed one (the grant is kept;
    /// anything the update asks for beyond it waits for `grants approve`).
    /// COMPONENT may be oci://REGISTRY/NAME:TAG (or @sha256:DIGEST), or a
    /// signed package folder (`hub package sign`, `hub plugin export`): a
    /// release the marketplace reviewed or signed by a publisher `hub
    /// trust` names, verified first.
    Install {
        component: PathBuf,
        /// Default: plugin.toml beside the component.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Configuration handed to the plugin's init, as KEY=VALUE (a
        /// signed release's update given none keeps the plugin's).
        #[arg(long = "config", value_parser = crate::config::key_value)]
        config: Vec<(String, String)>,
        /// Install a signed release older than the installed version
        /// (refused otherwise, as a rollback would be).
        #[arg(long)]
        downgrade: bool,
    },
    /// Install a signed package folder carried by hand (`hub plugin
    /// export` on another hub), with the checks of a pull: a release the
    /// marketplace reviewed or a trusted publisher signed, not revoked.
    Import {
        dir: PathBuf,
        #[arg(long = "config", value_parser = crate::config::key_value)]
        config: Vec<(String, String)>,
        #[arg(long)]
        downgrade: bool,
    },
    Remove {
        id: String,
    },
    /// Write an installed plugin's signed release as a package folder, for
    /// `hub plugin install DIR` on an offline hub.
    Export {
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Newer reviewed releases of installed plugins (the pinned
    /// marketplace's index) and what each asks beyond its grant.
    Updates {
        /// Install the updates that ask for no more than their grant.
        #[arg(long)]
        install: bool,
    },
    /// Whether the plugin's reviewed updates within its grant install on
    /// their own after each refresh of the marketplace's status: on, off,
    /// or as the hub's `[market] auto_update` says (default).
    AutoUpdate {
        id: String,
        #[arg(value_enum)]
        setting: AutoUpdateSetting,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AutoUpdateSetting {
    On,
    Off,
    /// As the hub's `[market] auto_update` says.
    Default,
}

fn setting_text(auto_update: Option<bool>) -> &'static str {
    match auto_update {
        Some(true) => "on",
        Some(false) => "off",
        None => "as the hub's [market] auto_update says",
    }
}

#[derive(Subcommand)]
pub enum GrantsCommand {
    /// Requested, granted and pending capabilities.
    Show { plugin: String },
    /// Grant what the plugin requests, network rules narrowed to --net when given.
    Approve {
        plugin: String,
        #[arg(long = "net")]
        nets: Vec<Scope>,
    },
    /// Take back one rule (a CIDR, ip:port of a discovery target, an HTTP
    /// host, `listen`, `limits`: raised limits back to the defaults), or everything.
    Revoke {
        plugin: String,
        rule: Option<String>,
    },
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    #[arg(long)]
    plugin: Option<String>,
    /// Entries by this actor (a token's name, or `hub`).
    #[arg(long)]
    actor: Option<String>,
    /// Entries of this action (`approve`, `refused`, `sign_in`, ...).
    #[arg(long)]
    action: Option<String>,
    /// RFC 3339 time, or a duration back from now such as `15m` or `2h`.
    #[arg(long)]
    since: Option<String>,
    #[arg(long, default_value_t = 200)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every entry's hash chain; exits non-zero naming the first broken entry.
    Verify {
        /// Also check that the chain still holds this checkpoint's entry,
        /// unchanged (catches a deleted tail or a rewritten chain).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Sign the chain's head with the hub's audit key (DATA_DIR/audit.key)
    /// and print the checkpoint, or write it to --out; keep it elsewhere.
    Checkpoint {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The operating-system user running the command, as the audit log names
/// it: the process's real owner, not `$USER`, which anyone can set.
pub(super) fn actor() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "cli:unknown".into();
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    });
    match name {
        Some(name) => format!("cli:{name} (uid {uid})"),
        None => format!("cli:uid {uid}"),
    }
}

pub fn plugins(hub: &Hub) -> anyhow::Result<()> {
    let plugins = hub.list()?;
    if plugins.is_empty() {
        println!("No plugins installed. Install one with `hub plugin install COMPONENT.wasm`.");
    }
    for p in plugins {
        let state = if p.enabled { "enabled" } else { "disabled" };
        println!(
            "{} {} ({}, by {}) sha256 {}",
            p.id,
            p.version,
            state,
            p.publisher,
            &p.sha256[..16]
        );
        print_caps("  granted", &p.granted);
        for pending in &p.pending {
            println!("  awaiting approval: {pending}");
        }
    }
    Ok(())
}

pub async fn plugin(market: &Market, command: ManageCommand) -> anyhow::Result<()> {
    let hub = market.hub();
    let actor = actor();
    match command {
        ManageCommand::Install {
            component,
            manifest,
            config,
            downgrade,
        } => {
            let config: BTreeMap<_, _> = config.into_iter().collect();
            let oci = component.to_str().filter(|c| c.starts_with("oci://"));
            let report = match oci {
                Some(reference) => {
                    let pulled = crate::market::pull(reference).await?;
                    install_signed(market, &actor, pulled, config, downgrade)?
                }
                None if crate::market::Package::is_package(&component) => {
                    install_package(market, &actor, &component, config, downgrade)?
                }
                None => {
                    let manifest =
                        manifest.unwrap_or_else(|| component.with_file_name("plugin.toml"));
                    hub.install(&actor, &component, &manifest, config)?
                }
            };
            print_report(&report);
        }
        ManageCommand::Import {
            dir,
            config,
            downgrade,
        } => {
            let config = config.into_iter().collect();
            print_report(&install_package(market, &actor, &dir, config, downgrade)?);
        }
        ManageCommand::Export { id, out } => {
            let release = market.export_plugin(&id, &out)?;
            let statement = &release.statement;
            println!(
                "exported {} {} signed by {} to {}",
                statement.plugin,
                statement.version,
                release.publisher_key,
                out.display()
            );
        }
        ManageCommand::Updates { install } => {
            let (installed, listed) = if install {
                market.install_fitting_updates(&actor, false).await?
            } else {
                (Vec::new(), market.updates(false).await?)
            };
            for report in &installed {
                let from = report.updated_from.as_deref().unwrap_or("?");
                println!("updated {} from {from} to {}", report.id, report.version);
            }
            for update in &listed {
                let mut fits = match update.wider.as_slice() {
                    [] => "fits its grant".to_string(),
                    wider => format!("asks for more: {}", wider.join(", ")),
                };
                if update.sideloaded {
                    fits += " (installed sideloaded: never updated on its own)";
                } else if update.scheduled {
                    fits += " (updates on its own once it fits)";
                }
                if let Some(failed) = &update.failed {
                    fits += &format!("; installing it failed: {failed}");
                }
                println!(
                    "{} {} -> {} ({}): {fits}",
                    update.plugin, update.from, update.to, update.oci
                );
            }
            if installed.is_empty() && listed.is_empty() {
                println!("no updates");
            }
        }
        ManageCommand::AutoUpdate { id, setting } => {
            let auto_update = match setting {
                AutoUpdateSetting::On => Some(true),
                AutoUpdateSetting::Off => Some(false),
                AutoUpdateSetting::Default => None,
            };
            hub.set_auto_update(&actor, &id, auto_update)?;
            println!("{id} updates on its own: {}", setting_text(auto_update));
        }
        ManageCommand::Remove { id } => {
            hub.remove(&actor, &id).map(|()| println!("removed {id}"))?
        }
        ManageCommand::Enable { id } => hub
            .set_enabled(&actor, &id, true)
            .map(|()| println!("enabled {id}"))?,
        ManageCommand::Disable { id } => hub
            .set_enabled(&actor, &id, false)
            .map(|()| println!("disabled {id}"))?,
    }
    Ok(())
}

/// Installs a signed release (pulled, or a package folder), saying whose.
fn install_signed(
    market: &Market,
    actor: &str,
    pulled: crate::market::Pulled,
    config: BTreeMap<String, String>,
    downgrade: bool,
) -> anyhow::Result<InstallReport> {
    println!(
        "pulled {}, signed by {}",
        pulled.pinned, pulled.release.publisher_key
    );
    // No --config: an installed plugin keeps its configuration.
    let config = (!config.is_empty()).then_some(config);
    let installed =
        tokio::task::block_in_place(|| market.install_release(actor, pulled, config, downgrade));
    Ok(installed?)
}

/// Installs the signed package folder `dir` (see `install_signed`).
fn install_package(
    market: &Market,
    actor: &str,
    dir: &Path,
    config: BTreeMap<String, String>,
    downgrade: bool,
) -> anyhow::Result<InstallReport> {
    if !crate::market::Package::is_package(dir) {
        bail!(
            "{} is not a signed package folder (no release.json): export one with hub plugin export",
            dir.display()
        );
    }
    let pulled = crate::market::Package::open(dir)?.into_pulled(dir);
    install_signed(market, actor, pulled, config, downgrade)
}

fn print_report(report: &InstallReport) {
    match &report.updated_from {
        Some(from) => println!("updated {} from {from} to {}", report.id, report.version),
        None => println!("installed {} {}", report.id, report.version),
    }
    for pending in &report.pending {
        println!("  awaiting approval: {pending}");
    }
    if !report.pending.is_empty() {
        println!(
            "approve with: hub grants approve {} [--net CIDR ...]",
            report.id
        );
    }
}

pub fn grants(hub: &Hub, command: GrantsCommand) -> anyhow::Result<()> {
    let actor = actor();
    let grant = match command {
        GrantsCommand::Show { plugin } => {
            let view = hub.grants(&plugin)?;
            print_caps("requested", &view.requested);
            match &view.granted {
                Some(g) => {
                    print_caps("granted", &g.granted);
                    println!("  (approved by {} at {})", g.approved_by, g.approved_at);
                }
                None => println!("granted: nothing yet"),
            }
            for pending in &view.pending {
                println!("+ awaiting approval: {pending}");
            }
            return Ok(());
        }
        GrantsCommand::Approve { plugin, nets } => hub.approve(&actor, &plugin, &nets)?,
        GrantsCommand::Revoke { plugin, rule } => hub.revoke(&actor, &plugin, rule.as_deref())?,
    };
    print_caps("granted now", &grant.granted);
    Ok(())
}

fn verify(hub: &Hub, data_dir: &Path, checkpoint: Option<&Path>) -> anyhow::Result<()> {
    let n = match hub.store().verify()? {
        Ok(n) => n,
        Err(broken) => bail!(
            "audit log broken at entry {}: {}",
            broken.seq,
            broken.reason
        ),
    };
    if let Some(path) = checkpoint {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let checkpoint: Checkpoint = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an audit checkpoint", path.display()))?;
        hub.store()
            .verify_against(&checkpoint, &data_dir.join("audit.key"))?;
        println!(
            "audit log intact: {n} entries, holding the checkpoint of {} (entry {})",
            checkpoint.at, checkpoint.seq
        );
        return Ok(());
    }
    println!("audit log intact: {n} entries");
    Ok(())
}

fn print_caps(title: &str, caps: &Capabilities) {
    if caps.is_empty() {
        println!("{title}: nothing");
        return;
    }
    println!("{title}:");
    let indent = title.len() - title.trim_start().len() + 2;
    for rule in caps.rules() {
        println!("{:indent$}{rule}", "");
    }
}

pub fn audit(hub: &Hub, data_dir: &Path, args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Verify { checkpoint }) => {
            return verify(hub, data_dir, checkpoint.as_deref());
        }
        Some(AuditCommand::Checkpoint { out }) => {
            let checkpoint = hub.store().checkpoint(&data_dir.join("audit.key"))?;
            let text = serde_json::to_string_pretty(&checkpoint)?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("write {}", path.display()))?,
                None => println!("{text}"),
            }
            return Ok(());
        }
        None => {}
    }
    let since = args.since.as_deref().map(since).transpose()?;
    let filter = AuditFilter {
        plugin: args.plugin,
        actor: args.actor,
        action: args.action,
        since,
        limit: Some(args.limit),
        ..Default::default()
    };
    for entry in hub.store().audit(&filter)? {
        if args.json {
            println!("{}", serde_json::to_string(&entry)?);
        } else {
            let plugin = entry.plugin.as_deref().unwrap_or("-");
            println!(
                "{:>6} {} {:<14} {:<16} {:<16} {}",
                entry.seq, entry.at, entry.actor, plugin, entry.action, entry.detail
            );
        }
    }
    Ok(())
}

/// `--since` as the store compares it: RFC 3339 UTC.
fn since(text: &str) -> anyhow::Result<String> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(humantime::format_rfc3339_millis(at).to_string());
    }
    let back = humantime::parse_duration(text)
        .with_context(|| format!("--since {text:?}: not a time or a duration"))?;
    let at = std::time::SystemTime::now()
        .checked_sub(back)
        .context("--since reaches before 1970")?;
    Ok(humantime::format_rfc3339_millis(at).to_string())
}

pub fn inspect(data_dir: &Path, component: &Path, manifest: &Path) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(component).with_context(|| format!("read {}", component.display()))?;
    let manifest = Manifest::from_file(manifest)?;
    let store = std::sync::Arc::new(crate::store::Store::open(&data_dir.join("hub.db"))?);
    let engine = PluginEngine::new(&data_dir.join("compiled"), Default::default(), store)?;
    let compiled = engine.load(&bytes)?;
    let (imported, exported) = engine.interfaces(&compiled);
    println!(
        "component {} ({} bytes, sha256 {})",
        component.display(),
        bytes.len(),
        crate::digest::sha256_hex(&bytes)
    );
    println!(
        "manifest  {} {} by {}",
        manifest.id, manifest.version, manifest.publisher
    );
    let version = Version::of(&exported).and_then(|v| v.check_imports(&imported).map(|()| v));
    match &version {
        Ok(version) => println!("protocol  {version}"),
        Err(why) => println!("protocol  REFUSED: {why}"),
    }
    match manifest.devices.shared_instances {
        Some(n) => println!("instances its devices share {n} (manifest: devices.shared_instances)"),
        None => println!("instances one per device"),
    }
    println!();
    println!("{:<44} MANIFEST", "IMPORTS");
    for import in &imported {
        let verdict = match imports::classify(import, &manifest.capabilities) {
            ImportUse::Baseline => "baseline (every plugin)".to_string(),
            ImportUse::Inert(why) => why.to_string(),
            ImportUse::Declared(cap) => format!("declared: {cap}"),
            ImportUse::Undeclared(cap) => format!("REFUSED: no {cap} requested"),
            ImportUse::Never(why) => format!("REFUSED: {why}"),
        };
        println!("{import:<44} {verdict}");
    }
    println!();
    println!("EXPORTS");
    for export in &exported {
        println!("{export}");
    }
    println!();
    print_caps("REQUESTS", &manifest.capabilities);
    if manifest.limits.is_empty() {
        println!("limits: the hub's defaults");
    }
    for (limit, value) in &manifest.limits {
        println!("limit {limit} = {value} (asked: above the hub's default it waits for approval)");
    }
    match version.and_then(|_| imports::check(&imported, &manifest.capabilities)) {
        Ok(()) => println!("\nverdict: loads"),
        Err(why) => println!("\nverdict: refused: {why}"),
    }
    Ok(())
}

pub fn backup(data_dir: &Path, file: &Path) -> anyhow::Result<()> {
    let store = crate::store::Store::open(&data_dir.join("hub.db"))?;
    let copied = store.backup(file)?;
    println!(
        "backed up to {}: {} bytes, {} audit entries, chain intact",
        file.display(),
        copied.bytes,
        copied.entries
    );
    Ok(())
}

pub fn restore(data_dir: &Path, file: &Path) -> anyhow::Result<()> {
    // Held for the whole swap: no hub starts on the database meanwhile.
    let _serving = crate::store::Serving::claim(data_dir)
        .context("stop it, then restore; nothing was restored")?;
    let (copied, kept) = crate::store::restore(file, &data_dir.join("hub.db"))?;
    print!(
        "restored {}: {} audit entries, chain intact",
        file.display(),
        copied.entries
    );
    match kept {
        Some(kept) => println!("; the database it replaced is {}", kept.display()),
        None => println!(),
    }
    Ok(())
}
