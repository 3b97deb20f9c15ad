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
use crate::plugins::{Device, Hub, Known, Plugin};
use crate::store::Label;
use crate::ws::Caller;
use crate::ws::protocol::{self, Request};
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
        rows.sort_by(|a, b| key(a).cmp(&key(b)));
        let after = self.after.as_ref().map(|(p, i)| (p.as_str(), i.as_str()));
        let rest = rows
            .iter()
            .filter(|row| after.is_none_or(|after| key(row) > after));
        let (mut page, mut bytes, mut last, mut next) = (Vec::new(), 0, None, None);
        for row in rest {
            let (plugin, known, label, state) = row;
            let listed = protocol::listed(
                plugin.id(),
                known,
                label.as_deref(),
                state.as_ref(),
                out.api(),
            );
            let size = serde_json::to_vec(&listed).map_or(0, |json| json.len());
            if let Some(last) = last.filter(|_| bytes + size > PAGE_BYTES) {
                let (plugin_id, identity) = key(last);
                next = Some(json!({"plugin_id": plugin_id, "identity": identity}));
                break;
            }
            bytes += size;
            page.push(listed);
            last = Some(row);
        }
        out.send(Ok(json!({ "devices": page, "next": next })));
    }
}

/// Where a row sorts: by plugin, then identity.
fn key(row: &Row) -> (&str, &str) {
    (row.0.id(), &row.1.record.info.identity)
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
