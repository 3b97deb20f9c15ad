//! The multiplication attack against `hub serve`, installed and approved
//! with the CLI as an operator would: a plugin whose manifest raises its
//! own memory to 256 MiB reports 500 devices, and each device's watcher
//! takes all the memory it can and holds it. The served hub must stay up
//! with its resident memory within the plugin's budget plus 64 MiB, and
//! keep answering for a good plugin.

use futures_util::{SinkExt, StreamExt};
use hub_sim::yeelight::{SimConfig, YeelightSim};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "served-attack-token-0123456789";
const BOUND_KIB: u64 = (256 + 64) << 10;

fn hub(data_dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run hub");
    assert!(
        out.status.success(),
        "hub {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The served hub; killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The answer to `request`: for a discover, its closing message.
async fn call(ws: &mut Ws, request: Value) -> Value {
    let streaming = request["service"] == "discover";
    ws.send(Message::text(request.to_string())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("an answer within 30 s")
            .expect("the hub is still there")
            .unwrap();
        let Message::Text(text) = frame else { continue };
        let reply: Value = serde_json::from_str(&text).unwrap();
        let last = !streaming || reply["result"]["done"] == true || reply["success"] == false;
        if reply["id"] == request["id"] && last {
            return reply;
        }
    }
}

async fn median_get(ws: &mut Ws, bulb: &str, first_id: i64) -> Duration {
    let mut samples = Vec::new();
    for id in first_id..first_id + 15 {
        let started = Instant::now();
        let reply = call(
            ws,
            json!({"id": id, "domain": "yeelight", "service": "get_attributes", "identity": bulb}),
        )
        .await;
        samples.push(started.elapsed());
        assert_eq!(reply["success"], true, "{reply}");
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn fresh_dir() -> PathBuf {
    let dir = xtask::root().join(format!("target/served-attack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_hub_holds_the_multiplication_attack() {
    let dir = fresh_dir();
    let data = dir.join("data");
    let sim = YeelightSim::on_lan(SimConfig::loopback(1)).await.unwrap();
    let (yeelight, hostile) = (
        xtask::guest("yeelight").unwrap(),
        xtask::guest("hostile").unwrap(),
    );
    let discovery = format!("discovery={}", sim.discovery_addr());
    let (bulbs, loopback) = (sim.network().to_string(), "127.0.0.1/32".to_string());
    for (component, id, config, network) in [
        (&yeelight, "yeelight", discovery.as_str(), &bulbs),
        (&hostile, "hostile", "hoard=500", &loopback),
    ] {
        let manifest = xtask::manifest(id).unwrap();
        hub(
            &data,
            &[
                "plugin",
                "install",
                component.to_str().unwrap(),
                "--manifest",
                manifest.to_str().unwrap(),
                "--config",
                config,
            ],
        );
        hub(&data, &["grants", "approve", id, "--net", network]);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n\n[[tokens]]\nname = \"operator\"\ntoken = \"{TOKEN}\"\nscope = \"operator\"\n"
        ),
    )
    .unwrap();
    let served = Served(
        Command::new(env!("CARGO_BIN_EXE_hub"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "error")
            .spawn()
            .unwrap(),
    );
    let url = format!("ws://127.0.0.1:{port}/ws?token={TOKEN}");
    let started = Instant::now();
    let mut ws = loop {
        match tokio_tungstenite::connect_async(&url).await {
            Ok((ws, _)) => break ws,
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("hub serve never answered: {e}"),
        }
    };
    call(
        &mut ws,
        json!({"id": 1, "service": "discover", "domain": "yeelight"}),
    )
    .await;
    let bulb = sim.bulbs()[0].id().to_string();
    let unloaded = median_get(&mut ws, &bulb, 100).await;
    let pid = served.0.id();
    let before = resident_kib(pid);

    let done = call(
        &mut ws,
        json!({"id": 2, "service": "discover", "domain": "hostile"}),
    )
    .await;
    let errors = done["result"]["errors"].to_string();
    assert_eq!(done["result"]["count"], 64, "{done}");
    assert!(errors.contains("more than 64 devices"), "{done}");
    let mut peak = before;
    let attack = Instant::now();
    while attack.elapsed() < Duration::from_secs(8) {
        peak = peak.max(resident_kib(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let loaded = median_get(&mut ws, &bulb, 200).await;
    let listed = call(
        &mut ws,
        json!({"id": 3, "domain": "plugin", "service": "list"}),
    )
    .await;
    let held = listed["result"]
        .as_array()
        .and_then(|plugins| plugins.iter().find(|p| p["id"] == "hostile"))
        .map(|p| p["budget"].clone())
        .unwrap_or_default();
    println!(
        "hub serve under the multiplication attack: resident {} MiB before, peak {} MiB (+{} MiB, bound +{} MiB); \
         hostile budget in use {held}; good plugin median {:.3} ms unloaded, {:.3} ms under attack",
        before >> 10,
        peak >> 10,
        (peak - before) >> 10,
        BOUND_KIB >> 10,
        unloaded.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3
    );
    assert!(
        held["memory_bytes"].as_u64() > Some(128 << 20),
        "the attack ran: {held}"
    );
    assert!(
        peak - before <= BOUND_KIB,
        "resident memory grew by {} MiB",
        (peak - before) >> 10
    );
    assert!(
        loaded <= unloaded * 2 + Duration::from_millis(5),
        "{loaded:?} against {unloaded:?}"
    );
    let mut served = served;
    assert!(
        served.0.try_wait().unwrap().is_none(),
        "hub serve is still up"
    );
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}
