//! `set_attributes`: writes checked against the device's metadata, then
//! sent to the plugin. The new values arrive as `attribute_change` events.

use crate::error::{ErrorCode, HubError};
use crate::plugins::{Plugin, WriteRequest};
use crate::ws::protocol::Request;
use serde_json::Value;

pub async fn run(plugin: &Plugin, identity: &str, request: &Request) -> Result<Value, HubError> {
    let attributes = request.service_data.get("attributes").ok_or_else(|| {
        invalid_format(
            "service_data.attributes is required: [{\"instance_id\", \"attribute\", \"val\"}]"
                .into(),
        )
    })?;
    let writes: Vec<WriteRequest> = serde_json::from_value(attributes.clone())
        .map_err(|e| invalid_format(format!("service_data.attributes: {e}")))?;
    plugin.set_attributes(identity, &writes).await?;
    Ok(Value::Null)
}

fn invalid_format(message: String) -> HubError {
    HubError::new(ErrorCode::InvalidFormat, message)
}
