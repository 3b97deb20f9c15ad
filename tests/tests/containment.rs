//! Containment in aggregate: attacks that no per-instance limit stops,
//! from a plugin (a watcher burning CPU, a log flood, loopback under a
//! default approval, a unicast discovery target) or from the LAN (idle
//! connections, slow headers, token guessing, a client that never reads).
//! Each leaves the hub up, stops the attacker with a clear reason, and
//! shows in the audit log where it is the plugin's doing.

use futures_util::{SinkExt, StreamExt};
use hub::caps::Quotas;
use hub::config::ServerLimits;
use hub_tests::{HubOptions, TOKEN, TestHub};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

fn quota_hits(hub: &TestHub, quota: &str) -> u64 {
    hub.hub.audit().summarize();
    hub.audited("hostile", "refused_summary")
        .iter()
        .filter_map(|detail| detail["quota_hits"][quota].as_u64())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_burning_cpu_is_paused_at_the_plugins_rate() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        hostile: vec![("burn", "on".into())],
        quotas: Quotas {
            watch_fuel_per_second: 20_000_000,
            ..Quotas::default()
        },
        ..HubOptions::default()
    })
    .await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    // Each event costs the burner about 100 million instructions: at 20
    // million a second it may send one every five seconds, give or take
    // the burst it starts with. Unmetered it sends dozens.
    let started = Instant::now();
    let mut events = 0;
    while started.elapsed() < Duration::from_secs(6) {
        let frame =
            tokio::time::timeout(Duration::from_millis(500), client.event("burn", "calls")).await;
        if matches!(frame, Ok(Ok(_))) {
            events += 1;
        }
    }
    println!("burning watcher: {events} events in 6 s at 20M fuel/s");
    assert!((1..=4).contains(&events), "{events} events");
    assert!(
        quota_hits(&hub, "watch_fuel_per_second") > 0,
        "the pauses are audited"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_cut_to_the_plugins_rate_and_counted() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    let started = Instant::now();
    let reply = client
        .call("hostile", "get_attributes", "logs", json!({}))
        .await?;
    assert_eq!(reply["success"], true, "{reply}");
    // 10,000 lines of 64 KiB: written, they would take the hub seconds.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        quota_hits(&hub, "log_lines_per_second") > 9_000,
        "the dropped lines are audited"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_without_a_network_reaches_neither_loopback_nor_link_local() -> anyhow::Result<()>
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let service = listener.local_addr()?;
    let hub = TestHub::start(HubOptions {
        targets: vec![service.to_string(), "169.254.169.254:80".into()],
        ..HubOptions::default()
    })
    .await?;
    // As an operator would: approve what the manifest asks, naming no network.
    tokio::task::block_in_place(|| hub.hub.approve("tests", "hostile", &[]))?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    for target in [format!("tcp@{service}"), "tcp@169.254.169.254:80".into()] {
        let reply = client
            .call("hostile", "get_attributes", &target, json!({}))
            .await?;
        assert_eq!(reply["code"], "unreachable", "{target}: {reply}");
    }
    let quiet = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(quiet.is_err(), "a connection reached the hub's own machine");
    let refused = hub.hub.store().audit(&Default::default())?;
    assert!(
        refused
            .iter()
            .any(|e| e.action == "refused" && e.detail.to_string().contains(&service.to_string())),
        "the refusal is audited"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unicast_discovery_target_is_refused_at_install() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let dir = hub.data_dir.join("unicast");
    std::fs::create_dir_all(&dir)?;
    let manifest = std::fs::read_to_string(xtask::manifest("hostile")?)?
        .replace("id = \"hostile\"", "id = \"unicast\"")
        .replace(
            "[capabilities]",
            "[capabilities]\ndiscovery = [{ address = \"203.0.113.9\", port = 53 }]",
        );
    std::fs::write(dir.join("plugin.toml"), manifest)?;
    let mut client = hub.client().await?;
    let install = json!({"domain": "plugin", "service": "install", "service_data": {
        "component": xtask::guest("hostile")?, "manifest": dir.join("plugin.toml"),
    }});
    let refused = client.request(install).await?;
    assert_eq!(refused["code"], "invalid_argument", "{refused}");
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("203.0.113.9:53") && error.contains("multicast"),
        "{error}"
    );
    Ok(())
}

fn lan_limits() -> ServerLimits {
    ServerLimits {
        max_connections: 64,
        max_connections_per_address: 16,
        header_timeout: Duration::from_millis(800),
        auth_failures_allowed: 5,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_and_slow_headers_do_not_stall_the_hub() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        server: lan_limits(),
        ..HubOptions::default()
    })
    .await?;
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let bulb = hub.sim.bulbs()[0].id().to_string();

    // One connection that speaks slowly, and a thousand that never speak.
    let mut slow = TcpStream::connect(hub.addr).await?;
    slow.write_all(b"GET /ws HTTP/1.1\r\nHost: hub\r\n").await?;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(hub.addr).await?);
    }

    // The connection already open keeps being served.
    let reply = client
        .call("yeelight", "get_attributes", &bulb, json!({}))
        .await?;
    assert_eq!(reply["success"], true, "{reply}");

    // Past the per-address limit, connections are closed at once; the rest
    // once they have sent no request within the header timeout.
    let started = Instant::now();
    let mut closed = 0;
    for stream in &mut idle {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    assert_eq!(closed, idle.len(), "every idle connection is closed");
    let mut rest = Vec::new();
    let slow_end = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(slow_end.is_ok(), "the slow header was cut off");
    println!(
        "1000 idle connections and a slow header closed within {:?}",
        started.elapsed()
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fresh = hub.client().await?;
    let reply = fresh
        .call("yeelight", "get_attributes", &bulb, json!({}))
        .await?;
    assert_eq!(reply["success"], true, "a new client gets in: {reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_tokens_makes_the_address_wait() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions {
        server: lan_limits(),
        ..HubOptions::default()
    })
    .await?;
    let status = |token: &str| {
        let url = format!("ws://{}/ws?token={token}", hub.addr);
        async move {
            match tokio_tungstenite::connect_async(url).await {
                Ok(_) => (101, None),
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => (
                    response.status().as_u16(),
                    response.headers().get("retry-after").cloned(),
                ),
                Err(e) => panic!("{e}"),
            }
        }
    };
    for _ in 0..5 {
        assert_eq!(status("wrong-token-0000000000").await.0, 401);
    }
    let (code, retry_after) = status("wrong-token-0000000000").await;
    assert_eq!(code, 401, "the sixth guess is still looked at");
    assert!(retry_after.is_none());
    let (code, retry_after) = status(TOKEN).await;
    assert_eq!(code, 429, "now even the right token must wait");
    assert!(retry_after.is_some(), "with Retry-After");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_disconnected_with_the_reason() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    let before = hub_tests::resident_bytes()?;
    // 2,000 answers of 200 KB each: 400 MB the hub would hold for it.
    let (mut ws, _) = tokio_tungstenite::connect_async(hub.url()).await?;
    for id in 0..2000 {
        let request = json!({"id": id, "domain": "hostile", "service": "get_attributes", "identity": "heavy"});
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            ws.send(Message::text(request.to_string())),
        )
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            break; // The hub stopped reading from us, or closed.
        }
    }
    let mut peak = before;
    for _ in 0..150 {
        peak = peak.max(hub_tests::resident_bytes()?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut answers, mut close, mut ended) = (0, None, false);
    while let Ok(frame) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match frame {
            Some(Ok(Message::Text(_))) => answers += 1,
            Some(Ok(Message::Close(frame))) => {
                close = frame;
                ended = true;
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                ended = true;
                break;
            }
        }
    }
    println!(
        "a client that never reads: {answers} answers delivered, closed with {close:?}, resident +{} MiB",
        peak.saturating_sub(before) >> 20
    );
    assert!(
        ended,
        "the connection is still open after {answers} answers"
    );
    assert!(answers < 2000, "the hub kept every answer");
    assert!(
        peak.saturating_sub(before) < 128 << 20,
        "resident memory grew by {} MiB",
        (peak - before) >> 20
    );
    let reply = client
        .call("hostile", "get_attributes", "well", json!({}))
        .await?;
    assert_eq!(reply["success"], true, "other clients are served: {reply}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_reads_only_the_install_directory_and_never_echoes_a_file() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let component = xtask::guest("hostile")?;
    let install = |component: &str, manifest: &str| {
        json!({"domain": "plugin", "service": "install", "service_data": {
            "component": component, "manifest": manifest,
        }})
    };
    for (component, manifest) in [
        (
            component.to_string_lossy().to_string(),
            "/proc/self/environ".to_string(),
        ),
        (
            "/dev/zero".to_string(),
            xtask::manifest("hostile")?.to_string_lossy().to_string(),
        ),
        (
            component.to_string_lossy().to_string(),
            "../../../../../../etc/passwd".to_string(),
        ),
    ] {
        let refused = client.request(install(&component, &manifest)).await?;
        assert_eq!(refused["code"], "invalid_argument", "{refused}");
        let error = refused["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("not a file inside the hub's install directory"),
            "{error}"
        );
        assert!(
            !error.contains("PATH=") && !error.contains("root:"),
            "{error}"
        );
    }

    // A file inside the directory that is not a manifest: where, not what.
    let secret = hub.data_dir.join("secret.toml");
    std::fs::write(&secret, "API_KEY=hunter2-must-not-leak\n")?;
    let refused = client
        .request(install(
            &component.to_string_lossy(),
            &secret.to_string_lossy(),
        ))
        .await?;
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(error.contains("line 1"), "{error}");
    assert!(
        !error.contains("hunter2"),
        "the file's content was echoed: {error}"
    );

    let installed = client
        .request(install(
            &component.to_string_lossy(),
            &xtask::manifest("hostile")?.to_string_lossy(),
        ))
        .await?;
    assert_eq!(installed["success"], true, "{installed}");
    let audit = hub.hub.store().audit(&Default::default())?;
    let entry = audit
        .iter()
        .rev()
        .find(|e| e.action == "update" && e.plugin.as_deref() == Some("hostile"))
        .expect("the install is audited");
    assert_eq!(entry.actor, "test-operator");
    assert!(
        entry.detail["component"]
            .as_str()
            .is_some_and(|c| c.ends_with("hostile.wasm"))
    );
    assert!(
        entry.detail["manifest"]
            .as_str()
            .is_some_and(|m| m.ends_with("plugin.toml"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_compile_cache_is_never_loaded() -> anyhow::Result<()> {
    use hub::plugins::{Hub, HubSettings};
    let dir = xtask::root().join(format!("target/test-hubs/tampered-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cwasm = |dir: &std::path::Path| -> anyhow::Result<Vec<std::path::PathBuf>> {
        let mut files: Vec<_> = std::fs::read_dir(dir.join("compiled"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect();
        files.sort();
        Ok(files)
    };
    let install = |hub: &Hub, id: &str| -> anyhow::Result<()> {
        let (component, manifest) = (xtask::guest(id)?, xtask::manifest(id)?);
        tokio::task::block_in_place(|| {
            hub.install("tests", &component, &manifest, Default::default())
        })?;
        Ok(())
    };
    let hub = Hub::open(HubSettings::new(dir.clone()))?;
    install(&hub, "yeelight")?;
    let yeelight = cwasm(&dir)?;
    install(&hub, "hostile")?;
    let hostile: Vec<_> = cwasm(&dir)?
        .into_iter()
        .filter(|p| !yeelight.contains(p))
        .collect();
    drop(hub);
    // Someone with write access to the cache swaps in other native code,
    // valid for this engine: the hostile plugin's.
    let original = std::fs::read(&yeelight[0])?;
    std::fs::copy(&hostile[0], &yeelight[0])?;

    let hub = Hub::open(HubSettings::new(dir.clone()))?;
    tokio::task::block_in_place(|| hub.go_live())?;
    assert!(hub.plugin("yeelight").is_ok(), "yeelight still loads");
    assert_eq!(
        std::fs::read(&yeelight[0])?,
        original,
        "the swapped artifact was recompiled, not loaded"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_events_and_a_client_that_never_reads_cannot_pin_the_hubs_memory()
-> anyhow::Result<()> {
    // A flood of 4 KB events, let through far above the default budget so
    // that what holds is the hub's own bound, not the plugin's rate.
    let hub = TestHub::start(HubOptions {
        hostile: vec![("flood", "big".into())],
        quotas: Quotas {
            events_per_second: 50_000,
            event_bytes_per_second: 1 << 30,
            ..Quotas::default()
        },
        ..HubOptions::default()
    })
    .await?;
    let (mut never_reads, _) = tokio_tungstenite::connect_async(hub.url()).await?;
    let before = hub_tests::resident_bytes()?;
    let mut client = hub.client().await?;
    client.discover(Some("hostile")).await?;
    // The flood runs: a reader sees its 4 KB events. On a loaded machine a
    // reader can itself be closed for falling behind; a fresh one tries again.
    let mut big = None;
    for _ in 0..3 {
        match client.event("flood", "blob").await {
            Ok(event) => {
                big = Some(event);
                break;
            }
            Err(e) if format!("{e:#}").contains("too slow") => client = hub.client().await?,
            Err(e) => return Err(e),
        }
    }
    let big = big.ok_or_else(|| anyhow::anyhow!("three readers in a row fell behind the flood"))?;
    assert_eq!(
        big["attr"]["val"].as_str().map(str::len),
        Some(4000),
        "the flood runs: {big}"
    );
    drop(client);
    let mut peak = before;
    for _ in 0..120 {
        peak = peak.max(hub_tests::resident_bytes()?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut ended, mut events) = (false, 0);
    while let Ok(frame) = tokio::time::timeout(Duration::from_secs(5), never_reads.next()).await {
        match frame {
            Some(Ok(Message::Text(text))) => events += usize::from(text.contains("\"blob\"")),
            Some(Ok(Message::Ping(_))) => {}
            _ => {
                ended = true;
                break;
            }
        }
    }
    println!(
        "4 KB events at full speed, one client never reading: {events} read before it was cut off ({ended}), resident +{} MiB",
        peak.saturating_sub(before) >> 20
    );
    assert!(ended, "the client that never reads is still connected");
    assert!(
        peak.saturating_sub(before) < 96 << 20,
        "resident memory grew by {} MiB",
        peak.saturating_sub(before) >> 20
    );
    let mut fresh = hub.client().await?;
    let reply = fresh
        .call(
            "yeelight",
            "get_attributes",
            hub.sim.bulbs()[0].id(),
            json!({}),
        )
        .await;
    assert!(reply.is_ok(), "the hub still serves: {reply:?}");
    Ok(())
}
