//! `get_attributes`: a device's instances and their current values,
//! rendered straight into the response frame (the hottest path).

use crate::plugins::Plugin;
use crate::ws::protocol;
use crate::ws::router::Responder;

pub async fn run(plugin: &Plugin, identity: &str, out: &Responder) {
    match plugin.get_attributes(identity).await {
        Ok(device) => out.send(Ok(protocol::device(plugin.id(), &device))).await,
        Err(e) => out.send(Err::<(), _>(e)).await,
    }
}
