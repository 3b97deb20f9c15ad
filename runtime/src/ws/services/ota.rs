//! `ota`: updates the device's firmware; answers `null` once it is done.

use super::Device;
use crate::plugins::Hub;
use crate::ws::responder::Responder;

pub struct Ota {
    pub device: Device,
}

impl Ota {
    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let done = match self.device.plugin(hub) {
            Ok(plugin) => plugin.ota(&self.device.identity).await,
            Err(e) => Err(e),
        };
        out.send(done.map(|()| serde_json::Value::Null));
    }
}
