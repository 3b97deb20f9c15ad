//! The simulated Shelly speaks the Gen2 RPC over HTTP as a third-party
//! client expects: these tests drive it with plain HTTP/1.1 requests.

use hub_sim::shelly::{ShellyConfig, ShellySim};
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
