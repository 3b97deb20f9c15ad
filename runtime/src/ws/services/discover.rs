//! `discover`: every plugin (or the one named by `domain`) searches at once;
//! each device found is one message, then one message closes the stream.

use crate::error::HubError;
use crate::plugins::Hub;
use crate::ws::protocol::{self, Request};
use crate::ws::router::Responder;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

pub async fn run(hub: &Hub, request: &Request, out: &Responder) {
    let plugins = match request.domain.as_deref() {
        Some(id) => match hub.plugin(id) {
            Ok(plugin) => vec![plugin],
            Err(e) => return out.send(Err::<(), _>(e)).await,
        },
        None => hub.plugins(),
    };
    let mut searches: FuturesUnordered<_> = plugins
        .into_iter()
        .map(|plugin| async move {
            let found = plugin.discover().await;
            (plugin, found)
        })
        .collect();
    let (mut count, mut errors) = (0, Vec::new());
    while let Some((plugin, found)) = searches.next().await {
        let refused = match found {
            Ok(discovery) => {
                for info in &discovery.devices {
                    out.send(Ok(
                        json!({"device": protocol::device_info(plugin.id(), info)}),
                    ))
                    .await;
                }
                count += discovery.devices.len();
                discovery.refused
            }
            Err(error) => vec![error],
        };
        for HubError { code, message } in refused {
            errors.push(json!({"plugin_id": plugin.id(), "code": code.as_str(), "error": message}));
        }
    }
    out.send(Ok(json!({"done": true, "count": count, "errors": errors})))
        .await;
}
