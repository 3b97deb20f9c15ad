//! Every malformed or wrong request gets one clear error response with a
//! stable code, and the connection keeps working.

use hub_tests::{Client, HubOptions, TOKEN, TestHub};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn error_for(client: &mut Client, frame: &str) -> anyhow::Result<Value> {
    client.send_text(frame).await?;
    let reply = client.wait_for(|f| f["type"] == "response").await?;
    assert_eq!(reply["success"], false, "{frame} -> {reply}");
    assert!(
        reply["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{reply}"
    );
    Ok(reply)
}

async fn still_works(client: &mut Client) -> anyhow::Result<()> {
    let list = client
        .request(json!({"domain": "plugin", "service": "list"}))
        .await?;
    assert_eq!(list["success"], true, "{list}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_invalid_format_and_the_connection_survives() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let deep = format!(
        "{{\"id\":5,\"service\":\"discover\",\"service_data\":{}1{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let cases: [(&str, Value); 8] = [
        ("not json", Value::Null),
        ("[1,2]", Value::Null),
        (r#"{"service":"discover"}"#, Value::Null),
        (r#"{"id":"1","service":"discover"}"#, Value::Null),
        (r#"{"id":2.5,"service":"discover"}"#, Value::Null),
        (r#"{"id":3}"#, json!(3)),
        (r#"{"id":4,"service":["discover"]}"#, json!(4)),
        (&deep, Value::Null),
    ];
    for (frame, id) in cases {
        let reply = error_for(&mut client, frame).await?;
        assert_eq!(reply["code"], "invalid_format", "{frame:.80} -> {reply}");
        assert_eq!(reply["id"], id, "{frame:.80} -> {reply}");
        still_works(&mut client).await?;
    }
    client.send_message(Message::binary(vec![1, 2, 3])).await?;
    let reply = client.wait_for(|f| f["type"] == "response").await?;
    assert_eq!(reply["code"], "invalid_format");
    still_works(&mut client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_domain_service_and_identity_are_named() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let bulb = hub.sim.bulbs()[0].id().to_string();
    client.discover(Some("yeelight")).await?;
    let cases = [
        (
            json!({"id": 10, "domain": "nest", "service": "get_attributes", "identity": bulb}),
            "not_found",
            "nest",
        ),
        (
            json!({"id": 11, "domain": "yeelight", "service": "explode", "identity": bulb}),
            "unknown_service",
            "explode",
        ),
        (
            json!({"id": 12, "domain": "plugin", "service": "explode"}),
            "unknown_service",
            "explode",
        ),
        (
            json!({"id": 13, "domain": "yeelight", "service": "get_attributes", "identity": "0xdead"}),
            "not_found",
            "0xdead",
        ),
        (
            json!({"id": 14, "domain": "yeelight", "service": "get_attributes"}),
            "invalid_format",
            "identity",
        ),
        (
            json!({"id": 15, "service": "get_attributes", "identity": bulb}),
            "invalid_format",
            "domain",
        ),
        (
            json!({"id": 16, "service": "discover", "domain": "nest"}),
            "not_found",
            "nest",
        ),
    ];
    for (request, code, named) in cases {
        let reply = error_for(&mut client, &request.to_string()).await?;
        assert_eq!(reply["id"], request["id"]);
        assert_eq!(reply["code"], code, "{request} -> {reply}");
        assert!(
            reply["error"].as_str().unwrap_or_default().contains(named),
            "{request} -> {reply}"
        );
    }
    still_works(&mut client).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_validated_before_the_plugin_sees_them() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb = &hub.sim.bulbs()[0];
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let write = |attribute: &str, val: Value| json!({"attributes": [{"instance_id": 0, "attribute": attribute, "val": val}]});
    let cases = [
        (
            write("brightness", json!(101)),
            "invalid_argument",
            "between 1 and 100",
        ),
        (
            write("brightness", json!(0)),
            "invalid_argument",
            "between 1 and 100",
        ),
        (write("brightness", json!("50")), "invalid_argument", "int"),
        (write("color_temp", json!(9000)), "invalid_argument", "6500"),
        (
            write("power", json!("dim")),
            "invalid_argument",
            "one of on, off, toggle",
        ),
        (write("colour", json!(1)), "not_found", "colour"),
        (
            json!({"attributes": [{"instance_id": 3, "attribute": "power", "val": "on"}]}),
            "not_found",
            "instance 3",
        ),
        (json!({"attributes": []}), "invalid_argument", "empty"),
        (json!({}), "invalid_format", "attributes"),
        (
            json!({"attributes": [{"attribute": "power", "val": "on"}]}),
            "invalid_format",
            "instance_id",
        ),
    ];
    for (data, code, says) in cases {
        let reply = client
            .call("yeelight", "set_attributes", bulb.id(), data.clone())
            .await?;
        assert_eq!(reply["code"], code, "{data} -> {reply}");
        assert!(
            reply["error"].as_str().unwrap_or_default().contains(says),
            "{data} -> {reply}"
        );
    }
    assert_eq!(
        bulb.prop("bright"),
        "80",
        "no refused write reached the bulb"
    );
    assert_eq!(bulb.prop("power"), "on");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_in_flight_are_answered_independently() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    client.discover(None).await?;
    let bulbs: Vec<String> = hub.sim.bulbs().iter().map(|b| b.id().to_string()).collect();
    for id in 100..140 {
        let identity = &bulbs[id as usize % bulbs.len()];
        let request = json!({"id": id, "domain": "yeelight", "service": "get_attributes", "identity": identity});
        client.send_text(&request.to_string()).await?;
    }
    for id in 100..140 {
        let reply = client.response(id).await?;
        assert_eq!(reply["success"], true, "{reply}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_the_connection_with_1009() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let huge = format!(
        "{{\"id\":1,\"service\":\"discover\",\"pad\":\"{}\"}}",
        "x".repeat(200_000)
    );
    client.send_text(&huge).await?;
    match client.next_message().await? {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame with a code, got {other:?}"),
    }
    let mut fresh = hub.client().await?;
    still_works(&mut fresh).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_gets_401_and_no_upgrade() -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let hub = TestHub::start(HubOptions::default()).await?;
    let base = format!("ws://{}/ws", hub.addr);
    for url in [
        format!("{base}?token=wrong-token-value"),
        format!("{base}?token="),
    ] {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(Error::Http(response)) => assert_eq!(response.status(), 401, "{url}"),
            other => panic!(
                "{url}: expected HTTP 401, got {:?}",
                other.map(|_| "an upgrade")
            ),
        }
    }
    let mut request = base.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert("smart-assistant-token", TOKEN.parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    drop(ws);
    let wrong_path = format!("ws://{}/other?token={TOKEN}", hub.addr);
    match tokio_tungstenite::connect_async(wrong_path.as_str()).await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 404),
        other => panic!("expected 404, got {:?}", other.map(|_| "an upgrade")),
    }
    Ok(())
}
