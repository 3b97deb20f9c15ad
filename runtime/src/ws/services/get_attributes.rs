//! `get_attributes`: a device's instances and their current values.

use crate::error::HubError;
use crate::plugins::Plugin;
use crate::ws::protocol;
use serde_json::Value;

pub async fn run(plugin: &Plugin, identity: &str) -> Result<Value, HubError> {
    let device = plugin.get_attributes(identity).await?;
    Ok(protocol::device(&plugin.id, &device))
}
