//! `discover`: every plugin (or the one named by `domain`) searches at once;
//! each device found is one message, then one message closes the stream.

use crate::error::HubError;
use crate::plugins::Hub;
use crate::ws::protocol::{self, Request};
use crate::ws::responder::Responder;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

pub struct Discover {
    /// One plugin's devices; every plugin's when `None`.
    domain: Option<String>,
}

impl Discover {
    pub fn parse(request: Request) -> Self {
        Discover {
            domain: request.domain,
        }
    }

    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let plugins = match super::plugins_named(hub, self.domain.as_deref()) {
            Ok(plugins) => plugins,
            Err(e) => return out.fail(e),
        };
        search(plugins, out).await;
    }
}

async fn search(plugins: Vec<std::sync::Arc<crate::plugins::Plugin>>, out: &Responder) {
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
                    ));
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
    out.send(Ok(json!({"done": true, "count": count, "errors": errors})));
}
