//! The simulated Shelly speaks the Gen2 RPC as a third-party client
//! expects: these tests drive it with plain HTTP/1.1 requests and a plain
//! WebSocket client.

use futures_util::{SinkExt, StreamExt};
use hub_sim::shelly::{ShellyConfig, ShellySim, UpdateFault, UpdateTiming};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn websocket(addr: SocketAddr) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/rpc"))
        .await
        .expect("websocket at /rpc")
        .0
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string()))
        .await
        .expect("send");
}

/// The next JSON frame, or None once the device closed the connection.
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s");
        match message {
            Some(Ok(Message::Text(text))) => {
                return Some(serde_json::from_str(&text).expect("JSON"));
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// The `event` names of the NotifyEvent frames until the connection closes
/// or an `ota_error` arrives, with the last frame's entry.
async fn ota_events(ws: &mut Ws) -> (Vec<String>, Value) {
    let (mut names, mut last) = (Vec::new(), Value::Null);
    while let Some(frame) = next(ws).await {
        if frame["method"] != "NotifyEvent" {
            continue;
        }
        last = frame["params"]["events"][0].clone();
        names.push(last["event"].as_str().unwrap_or_default().to_string());
        if last["event"] == "ota_error" {
            break;
        }
    }
    (names, last)
}

/// Starts `Shelly.Update` over a WebSocket and follows its events.
async fn update(addr: SocketAddr) -> (Vec<String>, Value) {
    let mut ws = websocket(addr).await;
    send(
        &mut ws,
        json!({"id": 1, "src": "t", "method": "Shelly.Update"}),
    )
    .await;
    next(&mut ws).await.expect("reply");
    ota_events(&mut ws).await
}

async fn quick_sim() -> ShellySim {
    let timing = UpdateTiming {
        download: Duration::from_millis(100),
        reboot: Duration::from_millis(300),
    };
    ShellySim::start(ShellyConfig {
        timing,
        ..ShellyConfig::loopback(1)
    })
    .await
    .expect("start the simulator")
}

/// Sends one request and returns the status code and the JSON body.
async fn http(addr: SocketAddr, method: &str, target: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    (status, serde_json::from_str(body).expect("JSON body"))
}

async fn sim() -> ShellySim {
    ShellySim::start(ShellyConfig::loopback(2))
        .await
        .expect("start the simulator")
}

#[tokio::test]
async fn identifies_itself_without_authentication() {
    let sim = sim().await;
    let device = &sim.devices()[0];
    let (status, info) = http(device.addr(), "GET", "/shelly", "").await;
    assert_eq!(status, 200);
    assert_eq!(info["id"], device.id());
    assert!(device.id().starts_with("shellyplus1pm-"));
    assert_eq!(
        (
            info["gen"].clone(),
            info["auth_en"].clone(),
            info["app"].clone()
        ),
        (json!(2), json!(false), json!("Plus1PM"))
    );
    assert!(info["ver"].is_string() && info["fw_id"].is_string() && info["mac"].is_string());
    assert_ne!(
        sim.devices()[1].id(),
        device.id(),
        "each device has its own id"
    );
}

#[tokio::test]
async fn switches_over_get_with_query_parameters() {
    let sim = sim().await;
    let device = &sim.devices()[0];
    let (status, set) = http(device.addr(), "GET", "/rpc/Switch.Set?id=0&on=true", "").await;
    assert_eq!((status, set), (200, json!({"was_on": false})));
    assert!(device.output());
    let (_, switch) = http(device.addr(), "GET", "/rpc/Switch.GetStatus?id=0", "").await;
    assert_eq!(switch["output"], true);
    assert!(
        switch["apower"].as_f64().is_some_and(|w| w > 0.0),
        "{switch}"
    );
    assert!(
        switch["voltage"].is_number()
            && switch["current"].is_number()
            && switch["aenergy"]["total"].is_number()
    );
    let (status, error) = http(device.addr(), "GET", "/rpc/Switch.Set?id=3&on=true", "").await;
    assert_eq!(status, 500);
    assert_eq!(error["code"], -103);
}

#[tokio::test]
async fn answers_json_rpc_frames_over_post() {
    let sim = sim().await;
    let device = &sim.devices()[1];
    let set =
        json!({"id": 7, "src": "tests", "method": "Switch.Set", "params": {"id": 0, "on": true}})
            .to_string();
    let (status, reply) = http(device.addr(), "POST", "/rpc", &set).await;
    assert_eq!(status, 200);
    assert_eq!(
        reply,
        json!({"id": 7, "src": device.id(), "result": {"was_on": false}})
    );
    let status_frame = json!({"id": 8, "method": "Shelly.GetStatus"}).to_string();
    let (_, reply) = http(device.addr(), "POST", "/rpc", &status_frame).await;
    assert_eq!(reply["result"]["switch:0"]["output"], true);
    assert_eq!(reply["result"]["sys"]["available_updates"], json!({}));
    let unknown = json!({"id": 9, "method": "Cover.Open", "params": {"id": 0}}).to_string();
    let (_, reply) = http(device.addr(), "POST", "/rpc", &unknown).await;
    assert_eq!(reply["id"], 9);
    assert_eq!(reply["error"]["code"], -114);
    let (_, reply) = http(device.addr(), "POST", "/rpc", "not json").await;
    assert_eq!(reply["error"]["code"], -32700);
}

#[tokio::test]
async fn reports_an_offered_update() {
    let sim = sim().await;
    let device = &sim.devices()[0];
    let (_, none) = http(device.addr(), "GET", "/rpc/Shelly.CheckForUpdate", "").await;
    assert_eq!(none, json!({}));
    device.offer_update("1.5.0");
    let (_, offered) = http(device.addr(), "GET", "/rpc/Shelly.CheckForUpdate", "").await;
    assert_eq!(offered["stable"]["version"], "1.5.0");
    let (_, status) = http(device.addr(), "GET", "/rpc/Shelly.GetStatus", "").await;
    assert_eq!(
        status["sys"]["available_updates"]["stable"]["version"],
        "1.5.0"
    );
}

#[tokio::test]
async fn websocket_answers_rpc_and_pushes_status_to_the_client_src() {
    let sim = sim().await;
    let device = &sim.devices()[0];
    let mut ws = websocket(device.addr()).await;
    send(
        &mut ws,
        json!({"id": 1, "src": "tester", "method": "Shelly.GetDeviceInfo"}),
    )
    .await;
    let reply = next(&mut ws).await.expect("reply");
    assert_eq!(
        (
            reply["id"].clone(),
            reply["src"].clone(),
            reply["dst"].clone()
        ),
        (json!(1), json!(device.id()), json!("tester"))
    );
    assert_eq!(reply["result"]["id"], device.id());
    http(device.addr(), "GET", "/rpc/Switch.Set?id=0&on=true", "").await;
    let push = next(&mut ws).await.expect("NotifyStatus");
    assert_eq!(push["method"], "NotifyStatus");
    assert_eq!(push["dst"], "tester");
    assert_eq!(push["params"]["switch:0"]["output"], true);
    assert!(push["params"]["ts"].is_number());
}

#[tokio::test]
async fn update_downloads_checks_reboots_and_comes_back_with_the_new_version() {
    let sim = quick_sim().await;
    let device = &sim.devices()[0];
    device.offer_update("1.5.0");
    let mut ws = websocket(device.addr()).await;
    send(
        &mut ws,
        json!({"id": 1, "src": "tester", "method": "Shelly.Update", "params": {"stage": "stable"}}),
    )
    .await;
    assert_eq!(next(&mut ws).await.expect("reply")["result"], Value::Null);
    let (events, last) = ota_events(&mut ws).await;
    assert_eq!(events.first().map(String::as_str), Some("ota_begin"));
    assert_eq!(
        events.last().map(String::as_str),
        Some("ota_success"),
        "{events:?}"
    );
    assert!(
        events.iter().filter(|e| *e == "ota_progress").count() >= 5,
        "{events:?}"
    );
    assert!(last["msg"].is_string());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!device.is_online(), "rebooting");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, info) = http(device.addr(), "GET", "/shelly", "").await;
    assert_eq!(info["ver"], "1.5.0");
    let (_, none) = http(device.addr(), "GET", "/rpc/Shelly.CheckForUpdate", "").await;
    assert_eq!(none, json!({}));
}

#[tokio::test]
async fn update_faults_fail_the_way_they_say() {
    let sim = quick_sim().await;
    let device = &sim.devices()[0];
    device.offer_update("1.5.0");
    for (fault, expected) in [
        (
            UpdateFault::FailedDownload,
            "download failed: firmware server answered 404",
        ),
        (UpdateFault::BadChecksum, "checksum mismatch"),
    ] {
        device.set_fault(Some(fault));
        let (events, last) = update(device.addr()).await;
        assert_eq!(
            events.last().map(String::as_str),
            Some("ota_error"),
            "{fault:?}: {events:?}"
        );
        assert!(
            last["msg"]
                .as_str()
                .unwrap_or_default()
                .starts_with(expected),
            "{fault:?}: {last}"
        );
        assert_eq!(device.version(), "1.4.4");
    }
    device.set_fault(Some(UpdateFault::NeverReturns));
    let (events, _) = update(device.addr()).await;
    assert_eq!(events.last().map(String::as_str), Some("ota_success"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!device.is_online(), "the device never comes back");
    let mut stream = TcpStream::connect(device.addr())
        .await
        .expect("the port still accepts");
    let _ = stream
        .write_all(b"GET /shelly HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    assert!(answer.is_empty(), "an offline device answers nothing");
}
