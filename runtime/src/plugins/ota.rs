//! Firmware updates under way: at most one per device, and the step each
//! has reached, so that a failure or a timeout names where it stopped.

use super::instance::{Budget, Template};
use super::wit::{DeviceInfo, OtaStage};
use crate::error::{ErrorCode, HubError};
use crate::sync::MutexHeld;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::time::Instant;

/// Updates the device's firmware in an instance of its own, so the device
/// keeps answering other calls; ends early, with its instance and the
/// sockets it opened, when the plugin is `stopping`.
pub async fn update_firmware(
    template: &Template,
    info: &Arc<DeviceInfo>,
    mut stopping: watch::Receiver<bool>,
) -> Result<(), HubError> {
    let deadline = template.sandbox.limits.ota_deadline;
    let started = Instant::now();
    let mut instance = template.start_metered(deadline).await?;
    let budget = Budget {
        fuel: None,
        deadline: Some(deadline),
    };
    tokio::select! {
        done = instance.ota(info, budget.after(started)) => template.settle(&mut None, instance, done),
        _ = stopping.wait_for(|stopped| *stopped) => Err(HubError::new(
            ErrorCode::OtaFailed,
            format!("stopped: plugin {} was reloaded with another grant, disabled or removed", template.id()),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtaState {
    Downloading,
    Verifying,
    Installing,
    Rebooting,
    Done,
    Failed,
}

impl OtaState {
    pub fn as_str(self) -> &'static str {
        match self {
            OtaState::Downloading => "downloading",
            OtaState::Verifying => "verifying",
            OtaState::Installing => "installing",
            OtaState::Rebooting => "rebooting",
            OtaState::Done => "done",
            OtaState::Failed => "failed",
        }
    }
}

/// One `ota_progress` event.
#[derive(Debug, Clone)]
pub struct OtaStatus {
    pub state: OtaState,
    pub percent: Option<u8>,
    /// Why it failed, for `failed`.
    pub error: Option<HubError>,
}

impl OtaStatus {
    /// A stage the plugin reported, `percent` of it.
    pub fn progress(stage: OtaStage, percent: Option<u8>) -> Self {
        let state = match stage {
            OtaStage::Downloading => OtaState::Downloading,
            OtaStage::Verifying => OtaState::Verifying,
            OtaStage::Installing => OtaState::Installing,
            OtaStage::Rebooting => OtaState::Rebooting,
        };
        OtaStatus {
            state,
            percent: percent.map(|p| p.min(100)),
            error: None,
        }
    }

    pub fn finished(result: &Result<(), HubError>) -> Self {
        match result {
            Ok(()) => OtaStatus {
                state: OtaState::Done,
                percent: Some(100),
                error: None,
            },
            Err(e) => OtaStatus {
                state: OtaState::Failed,
                percent: None,
                error: Some(e.clone()),
            },
        }
    }
}

/// Devices with an update under way, and the last state each reported.
#[derive(Default)]
pub struct RunningOtas(Mutex<HashMap<String, Option<OtaState>>>);

/// An update under way; dropping it lets the next one start.
pub struct OtaRun {
    otas: Arc<RunningOtas>,
    identity: String,
}

impl RunningOtas {
    pub fn begin(self: &Arc<Self>, identity: &str) -> Result<OtaRun, HubError> {
        let mut running = self.lock();
        if running.contains_key(identity) {
            return Err(HubError::new(
                ErrorCode::Busy,
                format!("a firmware update of {identity:?} is already running; wait for its end"),
            ));
        }
        running.insert(identity.to_string(), None);
        Ok(OtaRun {
            otas: self.clone(),
            identity: identity.to_string(),
        })
    }

    pub fn note(&self, identity: &str, status: &OtaStatus) {
        if let Some(last) = self.lock().get_mut(identity) {
            *last = Some(status.state);
        }
    }

    fn last(&self, identity: &str) -> Option<OtaState> {
        self.lock().get(identity).copied().flatten()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<OtaState>>> {
        self.0.held()
    }
}

impl Drop for OtaRun {
    fn drop(&mut self) {
        self.otas.lock().remove(&self.identity);
    }
}

impl OtaRun {
    /// Names the step at which the update stopped in the error a client sees.
    pub fn explain(&self, error: HubError) -> HubError {
        let step = self
            .otas
            .last(&self.identity)
            .map_or("starting", OtaState::as_str);
        let identity = &self.identity;
        match error.code {
            ErrorCode::Unsupported | ErrorCode::NotFound | ErrorCode::Busy => error,
            ErrorCode::Timeout => HubError::new(
                ErrorCode::Timeout,
                format!(
                    "firmware update of {identity} timed out while {step}: {}",
                    error.message
                ),
            ),
            _ => HubError::new(
                ErrorCode::OtaFailed,
                format!(
                    "firmware update of {identity} failed while {step}: {}",
                    error.message
                ),
            ),
        }
    }
}
