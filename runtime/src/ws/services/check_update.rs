//! `check_update`: the device's firmware version and the latest available.

use super::Device;
use crate::plugins::Hub;
use crate::ws::render;
use crate::ws::responder::Responder;

pub struct CheckUpdate {
    pub device: Device,
}

impl CheckUpdate {
    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let update = match self.device.plugin(hub) {
            Ok(plugin) => plugin.check_update(&self.device.identity).await,
            Err(e) => Err(e),
        };
        out.send(update.map(|u| render::update(&u)));
    }
}
