//! `get_attributes`: a device's instances and their current values,
//! rendered straight into the response frame (the hottest path).

use super::Device;
use crate::plugins::Hub;
use crate::ws::render;
use crate::ws::responder::Responder;

pub struct GetAttributes {
    pub device: Device,
}

impl GetAttributes {
    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let plugin = match self.device.plugin(hub) {
            Ok(plugin) => plugin,
            Err(e) => return out.fail(e),
        };
        match plugin.get_attributes(&self.device.identity).await {
            Ok(device) => {
                let label = hub.label(plugin.id(), &self.device.identity);
                out.send(Ok(render::device(
                    plugin.id(),
                    &device,
                    label.as_deref(),
                    out.api(),
                )))
            }
            Err(e) => out.fail(e),
        }
    }
}
