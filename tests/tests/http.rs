//! Outgoing HTTP for plugins granted it: only granted hosts, never an
//! address in a blocked network whatever the name, bounded answers, and
//! no `wasi:http` at all without the grant.

use hub_tests::{Client, HubOptions, TestHub};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers `/big` with 2 MiB and anything else with `hello`; counts connections.
async fn web_server() -> anyhow::Result<(u16, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let big = String::from_utf8_lossy(&request[..n]).starts_with("GET /big");
                let body = if big {
                    vec![b'x'; 2 << 20]
                } else {
                    b"hello".to_vec()
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    Ok((port, connections))
}

/// Installs the HTTP-fetching test plugin with a manifest requesting `hosts`
/// and a device per URL; approves it unless `approve` is false.
async fn install(
    hub: &TestHub,
    client: &mut Client,
    hosts: &[(&str, u16)],
    urls: &[String],
    approve: bool,
) -> anyhow::Result<Value> {
    let dir = hub.data_dir.join("hostile-http");
    std::fs::create_dir_all(&dir)?;
    let requests: Vec<String> = hosts
        .iter()
        .map(|(host, port)| format!("{{ scheme = \"http\", host = \"{host}\", port = {port} }}"))
        .collect();
    let manifest = format!(
        "id = \"hostile-http\"\nname = \"Fetcher\"\nversion = \"0.1.0\"\npublisher = \"tests\"\n[capabilities]\nhttp = [{}]\n",
        requests.join(", ")
    );
    std::fs::write(dir.join("plugin.toml"), manifest)?;
    std::fs::copy(xtask::guest("hostile-http")?, dir.join("plugin.wasm"))?;
    let install = json!({"domain": "plugin", "service": "install", "service_data": {
        "component": dir.join("plugin.wasm"), "config": {"urls": urls.join(",")},
    }});
    let installed = client.request(install).await?;
    if approve {
        let approved = client.request(json!({"domain": "plugin", "service": "approve", "service_data": {"plugin": "hostile-http"}})).await?;
        assert_eq!(approved["success"], true, "{approved}");
    }
    Ok(installed)
}

async fn fetch(client: &mut Client, url: &str) -> anyhow::Result<Value> {
    client
        .call("hostile-http", "get_attributes", url, json!({}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_granted_hosts_and_never_into_a_blocked_network() -> anyhow::Result<()> {
    let (port, connections) = web_server().await?;
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let rebinding = format!("http://localhost:{port}/");
    let literal = format!("http://127.0.0.1:{port}/");
    let ungranted = format!("http://127.0.0.1:{}/", port.wrapping_add(1));
    let urls = [rebinding.clone(), literal.clone(), ungranted.clone()];
    install(
        &hub,
        &mut client,
        &[("localhost", port), ("127.0.0.1", port)],
        &urls,
        true,
    )
    .await?;
    client.discover(Some("hostile-http")).await?;

    for url in [&rebinding, &literal] {
        let refused = fetch(&mut client, url).await?;
        assert_eq!(refused["code"], "unreachable", "{refused}");
        assert!(
            refused["error"]
                .as_str()
                .unwrap_or_default()
                .contains("blocked network"),
            "{refused}"
        );
    }
    let refused = fetch(&mut client, &ungranted).await?;
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not granted"),
        "{refused}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a request reached the server"
    );

    let audit = hub.hub.store().audit(&Default::default())?;
    let refusals: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "refused" && e.detail["use"] == "HttpRequest")
        .collect();
    assert!(
        refusals
            .iter()
            .any(|e| e.detail["reason"] == "resolves into a blocked network"),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|e| e.detail["reason"] == "HTTP destination not granted"),
        "{refusals:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_host_answers_within_the_size_bound() -> anyhow::Result<()> {
    let (port, connections) = web_server().await?;
    // Here loopback stands in for the vendor's cloud: nothing is blocked.
    let hub = TestHub::start(HubOptions {
        http_blocked: Some(vec![]),
        ..Default::default()
    })
    .await?;
    let mut client = hub.client().await?;
    let (small, big) = (
        format!("http://127.0.0.1:{port}/firmware"),
        format!("http://127.0.0.1:{port}/big"),
    );
    install(
        &hub,
        &mut client,
        &[("127.0.0.1", port)],
        &[small.clone(), big.clone()],
        true,
    )
    .await?;
    client.discover(Some("hostile-http")).await?;
    let fetched = fetch(&mut client, &small).await?;
    let attrs = &fetched["result"]["device"]["instances"][0]["attrs"];
    assert_eq!(
        (attrs[0]["val"].clone(), attrs[1]["val"].clone()),
        (json!(200), json!(5)),
        "{fetched}"
    );
    let too_big = fetch(&mut client, &big).await?;
    assert_eq!(too_big["success"], false, "{too_big}");
    assert!(
        too_big["error"]
            .as_str()
            .unwrap_or_default()
            .contains("body size exceeds limit: 1048576 bytes"),
        "{too_big}"
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_grant_wasi_http_is_not_linked_at_all() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let installed = install(
        &hub,
        &mut client,
        &[("127.0.0.1", 80)],
        &["http://127.0.0.1/".into()],
        false,
    )
    .await?;
    assert_eq!(
        installed["result"]["pending"],
        json!(["http http://127.0.0.1:80"]),
        "{installed}"
    );
    let why = installed["result"]["not_started"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("no HTTP host is granted"), "{installed}");
    let (_, done) = client.discover(Some("hostile-http")).await?;
    assert_eq!(done["code"], "not_found", "not running: {done}");
    Ok(())
}
