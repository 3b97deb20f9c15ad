//! `domain: "plugin"`, the marketplace's part, for operator tokens: what
//! `hub plugin install oci://...`, `hub plugin updates` and `hub trust`
//! do, over the WebSocket. Each goes through the same checks and audit
//! entries as the command line; only the actor differs (the token's name).

use super::plugins::json;
use super::{blocking, unknown_service};
use crate::caps::files;
use crate::error::{ErrorCode, HubError};
use crate::gate::Caller;
use crate::market::metadata::{Bundle, Root, Signed};
use crate::market::{Package, Pulled};
use crate::ws::request::Request;
use crate::ws::responder::Responder;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The marketplace's services of `domain: "plugin"`, as `hello` lists them
/// (`install` is shared with plugin management: with `oci` or `package`,
/// it is served here).
pub const MARKET_SERVICES: [&str; 7] = [
    "updates",
    "auto_update",
    "trust_show",
    "trust_add_publisher",
    "trust_pin_market",
    "trust_import",
    "trust_refresh",
];

pub enum Market {
    Install {
        actor: String,
        install: Install,
    },
    Updates {
        actor: String,
        install: bool,
    },
    AutoUpdate {
        actor: String,
        plugin: String,
        auto_update: Option<bool>,
    },
    TrustShow,
    AddPublisher {
        actor: String,
        name: String,
        key: String,
    },
    PinRoot {
        actor: String,
        root: Box<Signed<Root>>,
    },
    Import {
        actor: String,
        bundle: Box<Bundle>,
    },
    Refresh {
        actor: String,
    },
}

/// `install` of a signed release: from a registry, or a package folder
/// in the hub's install directory.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Install {
    oci: Option<String>,
    package: Option<PathBuf>,
    /// Absent: an installed plugin keeps its configuration.
    config: Option<BTreeMap<String, String>>,
    #[serde(default)]
    downgrade: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdatesData {
    #[serde(default)]
    install: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoUpdateData {
    plugin: String,
    /// `null`: as the hub's `[market] auto_update` says.
    auto_update: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublisherData {
    name: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RootData {
    root: Box<Signed<Root>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleData {
    bundle: Box<Bundle>,
}

impl Market {
    /// Whether `request` is one of these services.
    pub fn serves(request: &Request) -> bool {
        let data = &request.service_data;
        MARKET_SERVICES.contains(&request.service.as_str())
            || request.service == "install"
                && (data.contains_key("oci") || data.contains_key("package"))
    }

    pub fn parse(request: Request, caller: &Caller) -> Result<Self, HubError> {
        caller.operator_only(&request.service)?;
        let actor = caller.name.clone();
        let data = request.service_data;
        Ok(match request.service.as_str() {
            "install" => Market::Install {
                actor,
                install: fields(&request.service, data)?,
            },
            "updates" => {
                let UpdatesData { install } = fields(&request.service, data)?;
                Market::Updates { actor, install }
            }
            "auto_update" => {
                let AutoUpdateData {
                    plugin,
                    auto_update,
                } = fields(&request.service, data)?;
                Market::AutoUpdate {
                    actor,
                    plugin,
                    auto_update,
                }
            }
            "trust_show" => Market::TrustShow,
            "trust_add_publisher" => {
                let PublisherData { name, key } = fields(&request.service, data)?;
                Market::AddPublisher { actor, name, key }
            }
            "trust_pin_market" => {
                let RootData { root } = fields(&request.service, data)?;
                Market::PinRoot { actor, root }
            }
            "trust_import" => {
                let BundleData { bundle } = fields(&request.service, data)?;
                Market::Import { actor, bundle }
            }
            "trust_refresh" => Market::Refresh { actor },
            other => return Err(unknown_service(other)),
        })
    }

    pub async fn apply(self, market: &Arc<crate::market::Market>, out: &Responder) {
        out.send(self.run(market).await);
    }

    async fn run(self, market: &Arc<crate::market::Market>) -> Result<Value, HubError> {
        let hub = market.hub();
        match self {
            Market::Install { actor, install } => {
                let pulled = install.pulled(hub).await?;
                let Install {
                    config, downgrade, ..
                } = install;
                let report = blocking(market, move |market| {
                    market.install_release(&actor, pulled, config, downgrade)
                })
                .await?;
                json(report)
            }
            Market::Updates { actor, install } => {
                let (installed, updates) = if install {
                    market.install_fitting_updates(&actor, false).await
                } else {
                    market
                        .updates(false)
                        .await
                        .map(|updates| (Vec::new(), updates))
                }
                .map_err(|e| market_error(&e))?;
                Ok(json!({"installed": installed, "updates": updates}))
            }
            Market::AutoUpdate {
                actor,
                plugin,
                auto_update,
            } => {
                blocking(hub, move |hub| {
                    hub.set_auto_update(&actor, &plugin, auto_update)
                })
                .await?;
                Ok(Value::Null)
            }
            Market::TrustShow => json(market.trust_view()?),
            Market::AddPublisher { actor, name, key } => {
                blocking(market, move |market| {
                    market.trust_publisher(&actor, &name, &key)
                })
                .await?;
                json(market.trust_view()?)
            }
            Market::PinRoot { actor, root } => {
                blocking(market, move |market| market.pin_market(&actor, *root)).await?;
                json(market.trust_view()?)
            }
            Market::Import { actor, bundle } => {
                let clock = crate::market::clock();
                blocking(market, move |market| {
                    market.import_market(&actor, &bundle, clock)
                })
                .await?;
                json(market.trust_view()?)
            }
            Market::Refresh { actor } => {
                let Some(config) = hub.settings().market.clone() else {
                    return Err(HubError::new(
                        ErrorCode::Unsupported,
                        "this hub's configuration names no [market] status to refresh from",
                    ));
                };
                market
                    .refresh_market(&actor, &config.status)
                    .await
                    .map_err(|e| market_error(&e))?;
                json(market.trust_view()?)
            }
        }
    }
}

impl Install {
    /// The release, read from its registry or its folder and checked
    /// against its digests (its trust is `install_release`'s to check).
    async fn pulled(&self, hub: &Arc<crate::plugins::Hub>) -> Result<Pulled, HubError> {
        match (&self.oci, &self.package) {
            (Some(reference), None) => crate::market::pull(reference)
                .await
                .map_err(|e| market_error(&e)),
            (None, Some(folder)) => {
                let Some(dir) = hub.settings().install_dir.clone() else {
                    return Err(HubError::invalid(
                        "this hub installs no package folders over the WebSocket: its configuration names no install_dir",
                    ));
                };
                let folder = folder.clone();
                let turn = crate::market::turn().await.map_err(|e| market_error(&e))?;
                blocking(hub, move |_| {
                    let folder = files::inside(&dir, &folder).map_err(HubError::invalid)?;
                    let pulled = Package::open_inside(&dir, &folder);
                    let pulled = pulled.map_err(|e| HubError::invalid(format!("{e:#}")))?;
                    Ok(Pulled {
                        turn: Some(turn),
                        ..pulled
                    })
                })
                .await
            }
            _ => Err(HubError::new(
                ErrorCode::InvalidFormat,
                "install a signed release with exactly one of service_data.oci (oci://REGISTRY/NAME:TAG) or service_data.package (a folder in the install directory)",
            )),
        }
    }
}

/// `service_data` read as `T`, or what is wrong with it.
fn fields<T: DeserializeOwned>(service: &str, data: Map<String, Value>) -> Result<T, HubError> {
    serde_json::from_value(Value::Object(data)).map_err(|e| {
        HubError::new(
            ErrorCode::InvalidFormat,
            format!("service_data of {service}: {e}"),
        )
    })
}

/// A registry's or the marketplace's failure: a `HubError` the hub raised
/// keeps its code; a registry out of reach is `unreachable`; anything
/// else the registry served and the hub refused is `invalid_argument`.
fn market_error(error: &anyhow::Error) -> HubError {
    if let Some(hub_error) = error.downcast_ref::<HubError>() {
        return hub_error.clone();
    }
    if error.is::<crate::market::Busy>() {
        return HubError::new(ErrorCode::Busy, error.to_string());
    }
    let code = if crate::market::out_of_reach(error) {
        ErrorCode::Unreachable
    } else {
        ErrorCode::InvalidArgument
    };
    HubError::new(code, format!("{error:#}"))
}
