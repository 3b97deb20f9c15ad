//! `hub plugin test`: a conformance run of one plugin against simulated
//! devices, offline and without root, for plugin authors' CI. The plugin
//! runs in a hub of its own (a temporary data directory) granted only the
//! simulated devices' network; each check prints a line as it finishes,
//! and the run ends with the plugin's resource use and, on request, JUnit
//! XML and JSON.

mod checks;
mod lab;
mod report;
mod values;

pub use lab::SimKind;

use crate::caps::{Limits, Manifest};
use crate::plugins::{Hub, HubSettings};
use anyhow::{Context, bail};
use checks::{Checks, Verdict};
use clap::Args;
use lab::Lab;
use report::{CheckResult, Outcome, Report, Resources};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// The hub's own default: a plugin must answer well within it.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
const OTA_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Args)]
pub struct TestArgs {
    /// The plugin component (`.wasm`, built for wasm32-wasip2).
    pub component: PathBuf,
    /// Default: plugin.toml beside the component.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// The devices to test against: `yeelight` or `shelly` (simulated,
    /// started by the harness) or a device's ip:port. Default: from the
    /// plugin's id.
    #[arg(long)]
    pub sim: Option<SimKind>,
    /// More configuration for the plugin, as KEY=VALUE. The harness sets
    /// `discovery` to where the devices answer.
    #[arg(long = "config", value_parser = crate::config::key_value)]
    pub config: Vec<(String, String)>,
    /// Write the results as JUnit XML.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the results and resource use as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs every check; fails when any check failed.
pub async fn run(args: TestArgs) -> anyhow::Result<()> {
    let manifest_path = match &args.manifest {
        Some(path) => path.clone(),
        None => args.component.with_file_name("plugin.toml"),
    };
    let manifest = Manifest::from_file(&manifest_path)
        .with_context(|| format!("read the manifest {}", manifest_path.display()))?;
    let kind = match args.sim.clone() {
        Some(kind) => kind,
        None => manifest.id.parse().map_err(|_| {
            anyhow::anyhow!("no simulator is named after plugin {:?}: pass --sim yeelight, --sim shelly or --sim IP:PORT", manifest.id)
        })?,
    };
    let lab = Lab::start(&kind).await?;
    println!(
        "hub plugin test: {} {} ({})",
        manifest.id,
        manifest.version,
        args.component.display()
    );
    println!("devices: {}\n", lab.describe());
    // Unpredictable, created exclusively and private: nobody can plant a
    // link or a store there first. Removed when dropped.
    let data_dir = work_dir("hub-plugin-test-")?;
    let report = conformance(&args, &manifest, &manifest_path, lab, data_dir.path()).await?;
    println!("{}", report.summary());
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit())
            .with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    match report.failures() {
        0 => Ok(()),
        n => bail!("{n} of {} checks failed", report.checks.len()),
    }
}

/// A fresh private directory under the system's temporary one.
pub(crate) fn work_dir(prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .context("create a private work directory")
}

type CheckFn = for<'a> fn(&'a mut Checks) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

const CHECKS: [(&str, CheckFn); 9] = [
    ("discover", |c| Box::pin(c.discover())),
    ("get_attributes", |c| Box::pin(c.get_attributes())),
    ("measure_fuel", |c| Box::pin(c.measure_fuel())),
    ("set_attributes", |c| Box::pin(c.set_attributes())),
    ("invalid_values", |c| Box::pin(c.invalid_values())),
    ("check_update", |c| Box::pin(c.check_update())),
    ("ota", |c| Box::pin(c.ota())),
    ("unreachable_device", |c| Box::pin(c.unreachable_device())),
    ("silent_device", |c| Box::pin(c.silent_device())),
];

async fn conformance(
    args: &TestArgs,
    manifest: &Manifest,
    manifest_path: &std::path::Path,
    lab: Lab,
    data_dir: &std::path::Path,
) -> anyhow::Result<Report> {
    let total = CHECKS.len() + 1;
    let devices = lab.describe();
    let started = Instant::now();
    let loaded = load(args, manifest, manifest_path, &lab, data_dir).await;
    let load_result = CheckResult {
        name: "load",
        outcome: if loaded.is_ok() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        detail: loaded
            .as_ref()
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default(),
        duration: started.elapsed(),
    };
    println!("{}", load_result.line(1, total));
    let mut results = vec![load_result];
    let Ok(hub) = loaded else {
        for (name, _) in CHECKS {
            let skipped = CheckResult {
                name,
                outcome: Outcome::Skip,
                detail: "the plugin did not load".into(),
                duration: Duration::ZERO,
            };
            println!("{}", skipped.line(results.len() + 1, total));
            results.push(skipped);
        }
        return Ok(report(manifest, devices, results, None));
    };
    let plugin = hub.plugin(&manifest.id)?;
    let mut checks = Checks::new(plugin.clone(), hub.events().subscribe(), lab, CALL_DEADLINE);
    for (name, check) in CHECKS {
        let started = Instant::now();
        let (outcome, detail) = match check(&mut checks).await {
            Verdict::Pass => (Outcome::Pass, String::new()),
            Verdict::Fail(why) => (Outcome::Fail, why),
            Verdict::Skip(why) => (Outcome::Skip, why),
        };
        let result = CheckResult {
            name,
            outcome,
            detail,
            duration: started.elapsed(),
        };
        println!("{}", result.line(results.len() + 1, total));
        results.push(result);
    }
    let fuel = std::mem::take(&mut checks.fuel);
    let mut report = report(manifest, devices, results, Some((&plugin, fuel)));
    report.resources.fresh_instance_us = fresh_instance_us(&plugin).await;
    Ok(report)
}

/// How long one instance of the plugin takes to start, without its init:
/// the median of a few rounds, each the mean of several instances.
async fn fresh_instance_us(plugin: &crate::plugins::Plugin) -> Option<f64> {
    const ROUNDS: usize = 5;
    const INSTANCES: u32 = 10;
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let took = plugin.time_fresh_instances(INSTANCES).await.ok()?;
        rounds.push(took.as_secs_f64() * 1e6 / f64::from(INSTANCES));
    }
    rounds.sort_by(f64::total_cmp);
    Some(rounds[ROUNDS / 2])
}

/// `plugin` is the loaded plugin and the fuel it took per call on a fresh instance.
fn report(
    manifest: &Manifest,
    devices: String,
    checks: Vec<CheckResult>,
    plugin: Option<(&crate::plugins::Plugin, BTreeMap<&'static str, u64>)>,
) -> Report {
    let mut resources = Resources::default();
    if let Some((plugin, fuel)) = plugin {
        (resources.sockets_opened, resources.refused_network_uses) = plugin.policy().counts();
        resources.calls = plugin.usage();
        resources.fresh_instance_fuel = fuel;
    }
    Report {
        plugin: manifest.id.clone(),
        version: manifest.version.to_string(),
        devices,
        checks,
        resources,
    }
}

/// Installs the plugin in a hub of its own, granted only the lab's network.
async fn load(
    args: &TestArgs,
    manifest: &Manifest,
    manifest_path: &std::path::Path,
    lab: &Lab,
    data_dir: &std::path::Path,
) -> anyhow::Result<std::sync::Arc<Hub>> {
    let limits = Limits {
        call_deadline: CALL_DEADLINE,
        discover_window: Duration::from_millis(500),
        ota_deadline: OTA_DEADLINE,
        ..Limits::default()
    };
    let hub = Hub::open(HubSettings {
        limits,
        under_test: true,
        ..HubSettings::new(data_dir.to_path_buf())
    })?;
    let mut config: BTreeMap<String, String> =
        BTreeMap::from([("discovery".to_string(), lab.discovery.clone())]);
    config.extend(args.config.iter().cloned());
    let component = args.component.clone();
    let installing = hub.clone();
    let manifest_path = manifest_path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        installing.install("plugin-test", &component, &manifest_path, config)
    })
    .await??;
    hub.approve("plugin-test", &manifest.id, &[lab.grant.into()])?;
    let failed = hub.go_live()?;
    if let Some((_, why)) = failed.first() {
        bail!("the plugin did not start: {why}");
    }
    Ok(hub)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn work_directories_are_unpredictable_private_and_removed() {
        let (a, b) = (
            super::work_dir("hub-test-").unwrap(),
            super::work_dir("hub-test-").unwrap(),
        );
        assert_ne!(a.path(), b.path());
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists());
    }
}
