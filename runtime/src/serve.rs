//! A serving hub: the WebSocket server plus the hub's own upkeep (audit
//! summaries each minute, applying changes the CLI made to the store).

use crate::config::MarketConfig;
use crate::gate::Door;
use crate::http::{Server, ServerSettings};
use crate::market::Market;
use crate::plugins::SUMMARY_EVERY;
use crate::store::Serving;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The actor the audit log names for updates installed on their own.
const AUTO_UPDATE: &str = "hub:auto-update";

/// How often the hub looks for changes another process made to the store.
const STORE_POLL: Duration = Duration::from_secs(1);

/// Serves `market`'s hub until `shutdown`; `serving` is its data
/// directory's lock, claimed before the hub opened its database, and held
/// until the end.
pub async fn run(
    market: Arc<Market>,
    serving: Serving,
    listener: TcpListener,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let hub = market.hub().clone();
    for (plugin, error) in tokio::task::block_in_place(|| hub.go_live())? {
        tracing::error!(plugin, "not started: {error}");
    }
    let door = Door::new(market);
    let upkeep = tokio::spawn(upkeep(door.market.clone()));
    Server::new(listener, door, settings).run(shutdown).await;
    upkeep.abort();
    hub.audit().summarize();
    drop(serving);
    Ok(())
}

async fn upkeep(market: Arc<Market>) {
    let hub = market.hub();
    let mut summary = tokio::time::interval(SUMMARY_EVERY);
    let mut poll = tokio::time::interval(STORE_POLL);
    let config = hub.settings().market.clone();
    let every = config.as_ref().map_or(3600, |m| m.refresh_seconds.max(1));
    let mut refresh = tokio::time::interval(Duration::from_secs(every));
    // A refresh runs beside the rest (a slow registry holds up nothing
    // else), one at a time: a tick while one runs is skipped.
    let mut refreshing: Option<tokio::task::JoinHandle<()>> = None;
    let mut seen = hub.store().data_version().ok();
    loop {
        tokio::select! {
            _ = summary.tick() => hub.audit().summarize(),
            _ = refresh.tick(), if config.is_some() => {
                if let Some(config) = &config
                    && refreshing.as_ref().is_none_or(|r| r.is_finished())
                {
                    refreshing = Some(tokio::spawn(refresh_market(market.clone(), config.clone())));
                }
            }
            _ = poll.tick() => {
                let now = hub.store().data_version().ok();
                if now != seen {
                    seen = now;
                    tracing::info!("the store changed: applying");
                    if let Err(e) = tokio::task::block_in_place(|| hub.reconcile()) {
                        tracing::error!("cannot apply the store's changes: {e:#}");
                    }
                }
            }
        }
    }
}

/// Fetches the marketplace's bundle and installs the updates that fit
/// their grant of plugins that update automatically; what it could not do
/// is logged.
async fn refresh_market(market: Arc<Market>, config: MarketConfig) {
    let refreshed = market.refresh_market(crate::market::MARKET_REFRESH, &config.status);
    if let Err(e) = refreshed.await {
        tracing::warn!(
            "the marketplace's status was not refreshed from {}: {e:#}",
            config.status
        );
        return;
    }
    match market.install_fitting_updates(AUTO_UPDATE, true).await {
        Ok((_, held)) => {
            for update in held {
                match &update.failed {
                    Some(failed) => {
                        tracing::warn!(plugin = %update.plugin, "update to {} failed: {failed}", update.to);
                    }
                    None => {
                        let wider = &update.wider;
                        tracing::info!(plugin = %update.plugin, "update to {} waits for approval of {wider:?}", update.to);
                    }
                }
            }
        }
        Err(e) => tracing::warn!("updates not installed: {e:#}"),
    }
}
