//! Helper processes: the process-per-plugin alternative (a handler behind
//! JSON over loopback TCP), and a hub whose resident memory is measured
//! alone, free of what the benchmark itself allocates.

use crate::plugins::Hub;
use anyhow::Context;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// `hub bench-rpc`: the bench plugin's get_attributes as a native handler
/// behind one JSON line per request, as process-per-plugin hubs run them.
pub async fn rpc_server() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let request: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let identity = request["identity"].as_str().unwrap_or_default();
                let reply = json!({"identity": identity, "device": {"identity": identity, "instances": [{"type": "light_bulb", "instance_id": 0, "attrs": [
                    {"attribute": "power", "val": "on", "val_type": "enum", "enum_values": ["on", "off"]},
                    {"attribute": "brightness", "val": 50, "val_type": "int", "min": 1, "max": 100},
                ]}], "ota_support": false}});
                if write
                    .write_all(format!("{reply}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

/// Starts `hub bench-rpc` and returns it with the address it serves.
pub async fn spawn_rpc() -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("bench-rpc")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("start the RPC server process")?;
    let stdout = child.stdout.take().context("the RPC server's stdout")?;
    let addr = BufReader::new(stdout)
        .lines()
        .next_line()
        .await?
        .context("the RPC server's address")?;
    Ok((child, addr))
}

/// `hub bench-memory`: loads the hub of `data_dir`, optionally discovers
/// every plugin's devices and holds idle instances, then prints its
/// resident memory in KiB.
pub async fn memory_probe(
    data_dir: &Path,
    cache_dir: &Path,
    discover: bool,
    instances: usize,
) -> anyhow::Result<()> {
    let settings = super::hub_settings(data_dir.to_path_buf(), cache_dir.to_path_buf());
    let hub = Hub::open(settings)?;
    tokio::task::block_in_place(|| hub.go_live())?;
    if discover {
        super::discover_all(&hub).await?;
        // Let every device's worker and watcher start and settle.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let mut held = Vec::new();
    if let Some(plugin) = hub.plugins().first().filter(|_| instances > 0) {
        held = plugin.idle_instances(instances).await?;
    }
    println!("{}", resident_kib()?);
    drop(held);
    Ok(())
}

/// Runs a memory probe and returns the resident KiB it printed.
pub async fn probe_rss(
    data_dir: &Path,
    cache_dir: &Path,
    discover: bool,
    instances: usize,
) -> anyhow::Result<u64> {
    let output = Command::new(std::env::current_exe()?)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["bench-memory", "--cache-dir"])
        .arg(cache_dir)
        .args(discover.then_some("--discover"))
        .args(["--instances", &instances.to_string()])
        .env("RUST_LOG", "error")
        .output()
        .await?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim().parse().with_context(|| {
        format!(
            "memory probe said {text:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub(super) fn resident_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS in /proc/self/status")
}
