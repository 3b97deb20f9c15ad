//! `list_devices`: every device the hub knows (or one plugin's, with
//! `domain`) that the caller may reach, with the name and area an operator
//! gave it, whether it answers and its last known attributes, answered
//! from what the hub holds: no device is asked, so a dashboard opens with
//! one round trip however many devices there are. Devices come in order
//! of plugin and identity, in pages of about 256 KiB (a plugin may write
//! up to 256 KiB of text per device): `next` names where the following
//! page starts, for `service_data.after`.

use crate::caps::Reach;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::plugins::{Device, Hub, Known, Plugin};
use crate::store::Label;
use crate::ws::render;
use crate::ws::request::Request;
use crate::ws::responder::Responder;
use serde_json::{Value, json};
use std::sync::Arc;

/// About how many bytes of devices one answer holds; at least one device.
const PAGE_BYTES: usize = 256 << 10;

pub struct ListDevices {
    domain: Option<String>,
    reach: Reach,
    /// The page starts after this device: (plugin, identity).
    after: Option<(String, String)>,
}

/// One device to list: its plugin, what the hub knows, its label, and its
/// last reading.
type Row = (Arc<Plugin>, Known, Option<Arc<Label>>, Option<Device>);

impl ListDevices {
    pub fn parse(request: Request, caller: &Caller) -> Result<Self, HubError> {
        let after = match request.service_data.get("after") {
            None | Some(Value::Null) => None,
            Some(at) => {
                let field = |name: &str| at.get(name).and_then(Value::as_str).map(str::to_string);
                let cursor = field("plugin_id").zip(field("identity"));
                Some(cursor.ok_or_else(|| {
                    HubError::new(
                        ErrorCode::InvalidFormat,
                        "service_data.after is the previous page's \"next\": {\"plugin_id\", \"identity\"}",
                    )
                })?)
            }
        };
        Ok(ListDevices {
            domain: request.domain,
            reach: caller.reach.clone(),
            after,
        })
    }

    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let plugins = match super::plugins_named(hub, self.domain.as_deref()) {
            Ok(plugins) => plugins,
            Err(e) => return out.fail(e),
        };
        let mut known: Vec<(Arc<Plugin>, Known)> = Vec::new();
        for plugin in plugins {
            let reached = plugin
                .known()
                .into_iter()
                .filter(|k| super::reaches(hub, &self.reach, plugin.id(), &k.record.info.identity));
            known.extend(reached.map(|k| (plugin.clone(), k)));
        }
        known.sort_by(|a, b| key(a).cmp(&key(b)));
        let after = self.after.as_ref().map(|(p, i)| (p.as_str(), i.as_str()));
        let start = after.map_or(0, |after| known.partition_point(|row| key(row) <= after));
        let total = known.len();
        // Only the page's devices are built, each measured as it is added.
        let (mut page, mut bytes): (Vec<Row>, usize) = (Vec::new(), 0);
        for (plugin, mut known) in known.into_iter().skip(start) {
            let label = hub.label(plugin.id(), &known.record.info.identity);
            let state = last_reading(&mut known);
            let row = (plugin, known, label, state);
            let size = serde_json::to_vec(&listed(&row, out.api())).map_or(0, |json| json.len());
            if !page.is_empty() && bytes + size > PAGE_BYTES {
                break;
            }
            bytes += size;
            page.push(row);
        }
        let next = page
            .last()
            .filter(|_| start + page.len() < total)
            .map(|(plugin, known, ..)| {
                json!({"plugin_id": plugin.id(), "identity": known.record.info.identity})
            });
        let devices: Vec<_> = page.iter().map(|row| listed(row, out.api())).collect();
        out.send(Ok(json!({ "devices": devices, "next": next })));
    }
}

fn listed(row: &Row, api: render::Api) -> render::Listed<'_> {
    let (plugin, known, label, state) = row;
    render::listed(plugin.id(), known, label.as_deref(), state.as_ref(), api)
}

/// Where a device sorts: by plugin, then identity.
fn key((plugin, known): &(Arc<Plugin>, Known)) -> (&str, &str) {
    (plugin.id(), &known.record.info.identity)
}

/// The device as it was last read, when its values are known (taken
/// from `known`, not copied).
fn last_reading(known: &mut Known) -> Option<Device> {
    let meta = known.record.meta.clone()?;
    let values = std::mem::take(&mut known.state.values);
    (values.len() == meta.attributes.len()).then(|| Device {
        info: known.record.info.clone(),
        meta,
        values,
    })
}
