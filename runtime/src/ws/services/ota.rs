//! `ota`: updates the device's firmware; answers `null` once it is done.

use crate::error::HubError;
use crate::plugins::Plugin;
use serde_json::Value;

pub async fn run(plugin: &Plugin, identity: &str) -> Result<Value, HubError> {
    plugin.ota(identity).await?;
    Ok(Value::Null)
}
