//! `list_devices`: every device the hub knows (or one plugin's, with
//! `domain`) that the caller may reach, with the name and area an operator
//! gave it, whether it answers and its last known attributes, answered
//! from what the hub holds: no device is asked, so a dashboard opens with
//! one round trip however many devices there are.

use crate::caps::Reach;
use crate::plugins::{Device, Hub, Known, Plugin};
use crate::store::Label;
use crate::ws::Caller;
use crate::ws::protocol::{self, Request};
use crate::ws::responder::Responder;
use serde_json::json;
use std::sync::Arc;

pub struct ListDevices {
    domain: Option<String>,
    reach: Reach,
}

/// One device to list: its plugin, what the hub knows, its label, and its
/// last reading.
type Row = (Arc<Plugin>, Known, Option<Arc<Label>>, Option<Device>);

impl ListDevices {
    pub fn parse(request: Request, caller: &Caller) -> Self {
        ListDevices {
            domain: request.domain,
            reach: caller.reach.clone(),
        }
    }

    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let plugins = match super::plugins_named(hub, self.domain.as_deref()) {
            Ok(plugins) => plugins,
            Err(e) => return out.fail(e),
        };
        let mut rows: Vec<Row> = Vec::new();
        for plugin in plugins {
            for known in plugin.known() {
                let identity = &known.record.info.identity;
                if !super::reaches(hub, &self.reach, plugin.id(), identity) {
                    continue;
                }
                let label = hub.label(plugin.id(), identity);
                let state = last_reading(&known);
                rows.push((plugin.clone(), known, label, state));
            }
        }
        rows.sort_by(|(p, a, ..), (q, b, ..)| {
            (p.id(), &a.record.info.identity).cmp(&(q.id(), &b.record.info.identity))
        });
        let listed: Vec<_> = rows
            .iter()
            .map(|(plugin, known, label, state)| {
                protocol::listed(
                    plugin.id(),
                    known,
                    label.as_deref(),
                    state.as_ref(),
                    out.api(),
                )
            })
            .collect();
        out.send(Ok(json!({ "devices": listed })));
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
