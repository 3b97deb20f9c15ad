//! `discover`: every plugin (or the one named by `domain`) searches at once;
//! each device found is one message, then one message closes the stream.

use crate::caps::Reach;
use crate::error::HubError;
use crate::gate::Caller;
use crate::plugins::Hub;
use crate::ws::render;
use crate::ws::request::Request;
use crate::ws::responder::Responder;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

pub struct Discover {
    /// One plugin's devices; every plugin's when `None`.
    domain: Option<String>,
    /// The caller's: devices outside it are not reported.
    reach: Reach,
}

impl Discover {
    pub fn parse(request: Request, caller: &Caller) -> Self {
        Discover {
            domain: request.domain,
            reach: caller.reach.clone(),
        }
    }

    pub async fn apply(self, hub: &Hub, out: &Responder) {
        let plugins = match super::plugins_named(hub, self.domain.as_deref()) {
            Ok(plugins) => plugins,
            Err(e) => return out.fail(e),
        };
        search(hub, plugins, &self.reach, out).await;
    }
}

async fn search(
    hub: &Hub,
    plugins: Vec<std::sync::Arc<crate::plugins::Plugin>>,
    reach: &Reach,
    out: &Responder,
) {
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
                let reachable = discovery
                    .devices
                    .iter()
                    .filter(|info| super::reaches(hub, reach, plugin.id(), &info.identity));
                for info in reachable {
                    let label = hub.label(plugin.id(), &info.identity);
                    let device = render::device_info(plugin.id(), info, label.as_deref());
                    out.send(Ok(json!({ "device": device })));
                    count += 1;
                }
                discovery.refused
            }
            Err(error) => vec![error],
        };
        // Plugins' troubles are the hub's business, not an area's.
        if reach.areas().is_some() {
            continue;
        }
        for HubError { code, message } in refused {
            errors.push(json!({"plugin_id": plugin.id(), "code": code.as_str(), "error": message}));
        }
    }
    out.send(Ok(json!({"done": true, "count": count, "errors": errors})));
}
