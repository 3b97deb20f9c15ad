//! `check_update`: the device's firmware version and the latest available.

use crate::error::HubError;
use crate::plugins::Plugin;
use crate::ws::protocol;
use serde_json::Value;

pub async fn run(plugin: &Plugin, identity: &str) -> Result<Value, HubError> {
    let update = plugin.check_update(identity).await?;
    Ok(protocol::update(&update))
}
