//! The schema the tests check every message against must itself refuse
//! what the hub must never send; otherwise checking proves nothing.

use hub_tests::conforms;
use serde_json::json;

#[test]
fn the_schema_refuses_messages_it_does_not_describe() {
    let change = json!({"type": "attribute_change", "domain": "yeelight", "identity": "0x1",
        "instance_id": 0, "attr": {"attribute": "power", "val": "on", "val_type": "string"}});
    assert!(conforms(&change).is_ok());
    let mut decimal = change.clone();
    decimal["attr"]["val_type"] = json!("decimal");
    let mut extra = change.clone();
    extra["surprise"] = json!(1);
    let mut nameless = change.clone();
    nameless.as_object_mut().map(|o| o.remove("identity"));
    let failure =
        json!({"id": 1, "type": "response", "success": false, "error": "x", "code": "oops"});
    let pong = json!({"id": 1, "type": "response", "success": true, "result": "pong"});
    let ping = json!({"id": 1, "type": "response", "success": true, "result": "ping"});
    let listed = json!({"id": 2, "type": "response", "success": true, "result": {"devices": [
        {"name": "x", "identity": "x", "model": "x", "manufacturer": "x", "plugin_id": "p",
         "area": null, "availability": "sleeping", "last_seen": null, "instances": null, "ota_support": null}]}});
    assert!(conforms(&pong).is_ok());
    for wrong in [decimal, extra, nameless, failure, ping, listed] {
        assert!(conforms(&wrong).is_err(), "accepted: {wrong}");
    }
}
