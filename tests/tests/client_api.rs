//! The client's side of the API over a real WebSocket: signing in with the
//! first message, the seed's value types by default and the hub's own
//! after `hello`, `ping`, the rule for request ids, and subscriptions.

use hub_tests::{Client, HubOptions, TOKEN, TestHub, attr};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_client_meets_only_the_seeds_types_and_hello_switches_to_the_hubs()
-> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulb = hub.sim.bulbs()[0].id().to_string();
    let mut client = hub.client().await?;
    client.discover(Some("yeelight")).await?;
    let (plugs, _) = client.discover(Some("shelly")).await?;
    let plug = plugs[0]["identity"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let read = client
        .call("yeelight", "get_attributes", &bulb, json!({}))
        .await?;
    assert_eq!(
        attr(&read["result"]["device"], "power")["val_type"],
        "string",
        "{read}"
    );
    assert_eq!(
        attr(&read["result"]["device"], "power")["enum_values"],
        json!(["on", "off", "toggle"])
    );
    let read = client
        .call("shelly", "get_attributes", &plug, json!({}))
        .await?;
    let power = attr(&read["result"]["device"], "active_power");
    assert_eq!(power["val_type"], "string", "{read}");
    let watts: f64 = power["val"].as_str().unwrap_or_default().parse()?;

    let hello = client
        .request(json!({"service": "hello", "service_data": {"api": 2}}))
        .await?;
    assert_eq!(hello["success"], true, "{hello}");
    let result = &hello["result"];
    assert_eq!(result["api"], 2);
    assert_eq!(result["api_versions"], json!([1, 2]));
    assert_eq!(result["wit_versions"], json!(["0.1.0", "0.2.0"]));
    assert_eq!(result["hub_version"], env!("CARGO_PKG_VERSION"));
    for service in ["discover", "get_attributes", "ping", "subscribe"] {
        assert!(
            result["services"]
                .as_array()
                .is_some_and(|s| s.contains(&json!(service))),
            "{hello}"
        );
    }
    assert_eq!(result["caller"]["scope"], "operator");

    let read = client
        .call("yeelight", "get_attributes", &bulb, json!({}))
        .await?;
    assert_eq!(
        attr(&read["result"]["device"], "power")["val_type"],
        "enum",
        "{read}"
    );
    let read = client
        .call("shelly", "get_attributes", &plug, json!({}))
        .await?;
    assert_eq!(
        attr(&read["result"]["device"], "active_power")["val_type"],
        "float",
        "{read}"
    );
    assert_eq!(
        attr(&read["result"]["device"], "active_power")["val"].as_f64(),
        Some(watts)
    );

    let unknown = client
        .request(json!({"service": "hello", "service_data": {"api": 3}}))
        .await?;
    assert_eq!(unknown["code"], "invalid_argument", "{unknown}");
    assert!(
        unknown["error"]
            .as_str()
            .is_some_and(|e| e.contains("API 1 and 2")),
        "{unknown}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_answers_pong_and_an_id_in_flight_cannot_be_reused() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let mut client = hub.client().await?;
    let pong = client.request(json!({"id": 5, "service": "ping"})).await?;
    assert_eq!(pong["result"], "pong", "{pong}");

    // A discover runs for its whole window; its id stays taken until it closes.
    client
        .send_text(r#"{"id":7,"service":"discover","domain":"yeelight"}"#)
        .await?;
    client.send_text(r#"{"id":7,"service":"ping"}"#).await?;
    let refused = client
        .wait_for(|f| f["id"] == 7 && f["success"] == false)
        .await?;
    assert_eq!(refused["code"], "duplicate_id", "{refused}");
    client
        .wait_for(|f| f["id"] == 7 && f["result"]["done"] == true)
        .await?;
    client.send_text(r#"{"id":7,"service":"ping"}"#).await?;
    let again = client
        .wait_for(|f| f["id"] == 7 && f["result"] == "pong")
        .await;
    assert!(
        again.is_ok(),
        "an id is free again once answered: {again:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_receives_only_what_it_subscribed_to_and_says_which() -> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let bulbs = hub.sim.bulbs();
    let mut watching_all = hub.client().await?;
    watching_all.discover(Some("yeelight")).await?;
    for bulb in bulbs {
        hub_tests::until("watcher on the bulb", || bulb.connections() > 0).await?;
    }
    let mut subscriber = hub.client().await?;
    let subscribed = subscriber
        .request(json!({"service": "subscribe", "domain": "yeelight",
            "service_data": {"identities": [bulbs[0].id()], "events": ["attribute_change"]}}))
        .await?;
    let id = subscribed["result"]["subscription"].clone();
    assert!(id.is_u64(), "{subscribed}");

    let change = |n: usize, level: i64| {
        bulbs[n]
            .execute("set_bright", &[json!(level)])
            .map_err(anyhow::Error::msg)
    };
    change(1, 11)?;
    change(0, 12)?;
    let event = subscriber.event(bulbs[0].id(), "brightness").await?;
    assert_eq!(event["subscriptions"], json!([id]), "{event}");
    assert_eq!(event["attr"]["val"], 12);
    // The connection that never subscribed still receives every event.
    watching_all.event(bulbs[1].id(), "brightness").await?;
    watching_all.event(bulbs[0].id(), "brightness").await?;
    // The bus keeps order: bulb 1's change went out before bulb 0's.
    let others = quietly(subscriber.event(bulbs[1].id(), "brightness")).await;
    assert!(
        others.is_none(),
        "another bulb's event reached the subscriber: {others:?}"
    );

    let gone = subscriber
        .request(json!({"service": "unsubscribe", "service_data": {"subscription": id}}))
        .await?;
    assert_eq!(gone["success"], true, "{gone}");
    change(0, 13)?;
    watching_all.event(bulbs[0].id(), "brightness").await?;
    let after = quietly(subscriber.event(bulbs[0].id(), "brightness")).await;
    assert!(after.is_none(), "an event after unsubscribing: {after:?}");
    let twice = subscriber
        .request(json!({"service": "unsubscribe", "service_data": {"subscription": id}}))
        .await?;
    assert_eq!(twice["code"], "not_found", "{twice}");
    let bad = subscriber
        .request(json!({"service": "subscribe", "service_data": {"events": ["everything"]}}))
        .await?;
    assert_eq!(bad["code"], "invalid_argument", "{bad}");
    // What a connection's subscriptions hold is bounded.
    let many: Vec<String> = (0..257).map(|n| format!("device-{n}")).collect();
    let long = "x".repeat(257);
    for identities in [json!(many), json!([long])] {
        let refused = subscriber
            .request(json!({"service": "subscribe", "service_data": {"identities": identities}}))
            .await?;
        assert_eq!(refused["code"], "invalid_argument", "{refused}");
    }
    let half: Vec<String> = (0..150).map(|n| format!("device-{n}")).collect();
    let first = subscriber
        .request(json!({"service": "subscribe", "service_data": {"identities": half}}))
        .await?;
    assert_eq!(first["success"], true, "{first}");
    let second = subscriber
        .request(json!({"service": "subscribe", "service_data": {"identities": half}}))
        .await?;
    assert_eq!(second["code"], "quota_exceeded", "{second}");
    Ok(())
}

/// What `frame` brings within half a second, if anything.
async fn quietly(frame: impl Future<Output = anyhow::Result<Value>>) -> Option<Value> {
    tokio::time::timeout(Duration::from_millis(500), frame)
        .await
        .ok()?
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_with_its_first_message_and_a_wrong_token_is_shown_the_door()
-> anyhow::Result<()> {
    let hub = TestHub::start(HubOptions::default()).await?;
    let url = format!("ws://{}/ws", hub.addr);
    let mut client = Client::connect(&url).await?;
    let signed_in = client
        .request(json!({"id": 1, "service": "auth", "service_data": {"token": TOKEN}}))
        .await?;
    assert_eq!(signed_in["success"], true, "{signed_in}");
    assert_eq!(signed_in["result"]["caller"]["name"], "test-operator");
    let pong = client.request(json!({"service": "ping"})).await?;
    assert_eq!(pong["result"], "pong", "{pong}");
    let again = client
        .request(json!({"service": "auth", "service_data": {"token": TOKEN}}))
        .await?;
    assert_eq!(again["code"], "invalid_argument", "{again}");

    let refusals = [
        json!({"id": 1, "service": "auth", "service_data": {"token": "wrong-token"}}),
        json!({"id": 1, "service": "auth"}),
        json!({"id": 1, "service": "list_devices"}),
    ];
    for first in refusals {
        let mut client = Client::connect(&url).await?;
        client.send_text(&first.to_string()).await?;
        let refused = client.response(1).await?;
        assert_eq!(refused["code"], "unauthorized", "{first}: {refused}");
        match client.next_message().await? {
            Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Policy),
            other => panic!("{first}: expected the connection closed, got {other:?}"),
        }
    }
    Ok(())
}
