//! `list_devices`: every device the hub knows (or one plugin's, with
//! `domain`), with whether it answers and its last known attributes,
//! answered from what the hub holds: no device is asked, so a dashboard
//! opens with one round trip however many devices there are.

use crate::plugins::{Device, Hub, Known, Plugin};
use crate::ws::protocol::{self, Request};
use crate::ws::responder::Responder;
use serde_json::json;
use std::sync::Arc;

pub struct ListDevices {
    domain: Option<String>,
}

impl ListDevices {
    pub fn parse(request: Request) -> Self {
        ListDevices {
            domain: request.domain,
        }
    }

    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let plugins = match super::plugins_named(hub, self.domain.as_deref()) {
            Ok(plugins) => plugins,
            Err(e) => return out.fail(e),
        };
        let mut devices: Vec<(Arc<Plugin>, Known, Option<Device>)> = plugins
            .into_iter()
            .flat_map(|plugin| {
                let known = plugin.known();
                known.into_iter().map(move |k| {
                    let state = last_reading(&k);
                    (plugin.clone(), k, state)
                })
            })
            .collect();
        devices.sort_by(|(p, a, _), (q, b, _)| {
            (p.id(), &a.record.info.identity).cmp(&(q.id(), &b.record.info.identity))
        });
        let listed: Vec<_> = devices
            .iter()
            .map(|(plugin, known, state)| {
                protocol::listed(plugin.id(), known, state.as_ref(), out.api())
            })
            .collect();
        out.send(Ok(json!({"devices": listed})));
    }
}

/// The device as it was last read, when its values are known.
fn last_reading(known: &Known) -> Option<Device> {
    let meta = known.record.meta.clone()?;
    let values = &known.state.values;
    (values.len() == meta.attributes.len()).then(|| Device {
        info: known.record.info.clone(),
        meta,
        values: values.clone(),
    })
}
