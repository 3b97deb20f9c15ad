//! `Shelly.Update` as the device runs it: the download and its checks are
//! announced as `NotifyEvent`s on the WebSocket (`ota_begin`,
//! `ota_progress`, `ota_success`, `ota_error`); then the device reboots
//! and comes back on the new version.

use crate::rpc::{Rpc, ws_request};
use hub_guest_sdk::{OtaStage, PluginError, net::WebSocket, report_ota};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_secs(1);
/// The id of the `Shelly.Update` request on the WebSocket.
const UPDATE_ID: u64 = 2;

pub fn update(identity: &str, rpc: &Rpc, reboot_timeout: Duration) -> Result<(), PluginError> {
    let Some((version, _)) = rpc.stable_update()? else {
        return Err(PluginError::NotFound(format!(
            "no firmware update is offered for {identity}; check_update tells when there is one"
        )));
    };
    let mut ws = rpc.notifications(identity)?;
    ws.send_text(&ws_request(
        identity,
        UPDATE_ID,
        "Shelly.Update",
        json!({"stage": "stable"}),
    ))?;
    report_ota(OtaStage::Downloading, Some(0));
    follow_device(&mut ws, reboot_timeout)?;
    report_ota(OtaStage::Rebooting, None);
    wait_for_version(identity, rpc, &version, reboot_timeout)
}

/// Follows the device's events until it has applied the image (`Ok`) or
/// failed (`Err`, with the device's own words).
fn follow_device(ws: &mut WebSocket, timeout: Duration) -> Result<(), PluginError> {
    loop {
        let frame: Value = serde_json::from_str(&ws.read_text(Some(timeout)).map_err(|e| {
            e.context("the device stopped reporting before the update was applied")
        })?)
        .unwrap_or_default();
        if frame["id"] == UPDATE_ID && frame.get("error").is_some() {
            let message = frame["error"]["message"]
                .as_str()
                .unwrap_or("no reason given");
            return Err(PluginError::InvalidArgument(format!(
                "the device refused the update: {message}"
            )));
        }
        for event in frame["params"]["events"].as_array().into_iter().flatten() {
            let message = event["msg"].as_str().unwrap_or_default();
            match event["event"].as_str().unwrap_or_default() {
                "ota_progress" => {
                    let percent = event["progress_percent"].as_u64().map(|p| p.min(100) as u8);
                    let stage = if percent == Some(100) {
                        OtaStage::Verifying
                    } else {
                        OtaStage::Downloading
                    };
                    report_ota(stage, percent);
                }
                "ota_success" => {
                    report_ota(OtaStage::Installing, Some(100));
                    return Ok(());
                }
                "ota_error" => {
                    return Err(PluginError::Internal(format!(
                        "the device reported: {message}"
                    )));
                }
                _ => {}
            }
        }
    }
}

/// Polls `GET /shelly` until the device answers on `version`.
fn wait_for_version(
    identity: &str,
    rpc: &Rpc,
    version: &str,
    timeout: Duration,
) -> Result<(), PluginError> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        std::thread::sleep(POLL);
        match rpc.identify() {
            Ok(now) if now.version == version => return Ok(()),
            Ok(now) => {
                return Err(PluginError::Internal(format!(
                    "install: {identity} came back on {}, not {version}",
                    now.version
                )));
            }
            Err(_) => {}
        }
    }
    Err(PluginError::Timeout(format!(
        "{identity} did not come back within {} s of rebooting",
        timeout.as_secs()
    )))
}
