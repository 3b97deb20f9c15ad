//! `set_attributes`: writes checked against the device's metadata, then
//! sent to the plugin. The new values arrive as `attribute_change` events.

use super::Device;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::plugins::{Hub, WriteRequest};
use crate::ws::request::Request;
use crate::ws::responder::Responder;

pub struct SetAttributes {
    device: Device,
    writes: Vec<WriteRequest>,
}

impl SetAttributes {
    pub fn parse(request: Request, caller: &Caller) -> Result<Self, HubError> {
        let device = Device::parse(&request, caller)?;
        let attributes = request.service_data.get("attributes").ok_or_else(|| {
            invalid_format(
                "service_data.attributes is required: [{\"instance_id\", \"attribute\", \"val\"}]"
                    .into(),
            )
        })?;
        let writes = serde_json::from_value(attributes.clone())
            .map_err(|e| invalid_format(format!("service_data.attributes: {e}")))?;
        Ok(SetAttributes { device, writes })
    }

    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let done = match self.device.plugin(hub) {
            Ok(plugin) => {
                plugin
                    .set_attributes(&self.device.identity, &self.writes)
                    .await
            }
            Err(e) => Err(e),
        };
        out.send(done.map(|()| serde_json::Value::Null));
    }
}

fn invalid_format(message: String) -> HubError {
    HubError::new(ErrorCode::InvalidFormat, message)
}
