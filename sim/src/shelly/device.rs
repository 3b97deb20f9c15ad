//! One device's state and its RPC methods, independent of the transport.

use super::firmware::{Firmware, Image};
use super::ota;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, watch};

pub const MODEL: &str = "SNSW-001P16EU";
pub const APP: &str = "Plus1PM";
pub const VERSION: &str = "1.4.4";

/// Notifications a WebSocket client may fall behind before it misses some.
const PUSH_BACKLOG: usize = 256;

/// An RPC error as the device reports it: `{"code": ..., "message": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    fn invalid(message: impl Into<String>) -> Self {
        RpcError {
            code: -103,
            message: message.into(),
        }
    }
}

/// How a firmware update goes wrong, when it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFault {
    /// The firmware server answers the download with 404.
    FailedDownload,
    /// The image downloads, but its sha256 is not the one announced.
    BadChecksum,
    /// The device reboots into the new firmware and never comes back.
    NeverReturns,
}

/// How long the phases of an update take.
#[derive(Debug, Clone, Copy)]
pub struct UpdateTiming {
    /// The whole image arrives over about this long.
    pub download: Duration,
    pub reboot: Duration,
}

impl Default for UpdateTiming {
    fn default() -> Self {
        UpdateTiming {
            download: Duration::from_millis(800),
            reboot: Duration::from_millis(1500),
        }
    }
}

/// A notification frame (`method` and `params`) for every WebSocket client
/// that has identified itself with a `src`.
pub type Push = Value;

#[derive(Debug)]
struct State {
    output: bool,
    /// Watts drawn while on.
    load: f64,
    energy_wh: f64,
    version: String,
    offered: Option<Image>,
    updating: bool,
    fault: Option<UpdateFault>,
}

pub struct ShellyDevice {
    id: String,
    mac: String,
    addr: SocketAddr,
    state: Mutex<State>,
    firmware: Arc<Firmware>,
    pub(super) timing: UpdateTiming,
    pushes: broadcast::Sender<Push>,
    /// False while the device reboots: connections are closed and refused.
    online: watch::Sender<bool>,
    /// Accepts connections but never answers (a hung device).
    silent: AtomicBool,
    /// WebSocket clients that named a `src`: the ones notified.
    listeners: AtomicUsize,
}

/// Counts a notified WebSocket client for as long as it is connected.
pub(super) struct Listener(Arc<ShellyDevice>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.listeners.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ShellyDevice {
    pub(super) fn new(
        index: usize,
        addr: SocketAddr,
        firmware: Arc<Firmware>,
        timing: UpdateTiming,
    ) -> Self {
        let mac = format!("A8032A{:06X}", 0x1000 + index);
        ShellyDevice {
            id: format!("shellyplus1pm-{}", mac.to_lowercase()),
            mac,
            addr,
            state: Mutex::new(State {
                output: false,
                load: 60.0,
                energy_wh: 0.0,
                version: VERSION.into(),
                offered: None,
                updating: false,
                fault: None,
            }),
            firmware,
            timing,
            pushes: broadcast::channel(PUSH_BACKLOG).0,
            online: watch::Sender::new(true),
            silent: AtomicBool::new(false),
            listeners: AtomicUsize::new(0),
        }
    }

    /// WebSocket clients the device notifies of its changes.
    pub fn listeners(&self) -> usize {
        self.listeners.load(Ordering::SeqCst)
    }

    pub(super) fn listening(self: &Arc<Self>) -> Listener {
        self.listeners.fetch_add(1, Ordering::SeqCst);
        Listener(self.clone())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn output(&self) -> bool {
        self.state().output
    }

    pub fn version(&self) -> String {
        self.state().version.clone()
    }

    /// Publishes firmware `version` on the simulated firmware server and
    /// makes it the stable update `Shelly.CheckForUpdate` offers.
    pub fn offer_update(&self, version: &str) {
        self.state().offered = Some(self.firmware.publish(APP, version));
    }

    /// Makes the next firmware updates fail in the way `fault` says.
    pub fn set_fault(&self, fault: Option<UpdateFault>) {
        self.state().fault = fault;
    }

    /// Whether the device answers at all (false while it reboots).
    pub fn is_online(&self) -> bool {
        *self.online.borrow()
    }

    /// Takes the device off the network (connections closed at once) or
    /// brings it back, as unplugging it would.
    pub fn set_online(&self, online: bool) {
        self.online.send_replace(online);
    }

    /// Makes the device accept connections and never answer.
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::Relaxed);
    }

    pub fn is_silent(&self) -> bool {
        self.silent.load(Ordering::Relaxed)
    }

    pub(super) fn online(&self) -> watch::Receiver<bool> {
        self.online.subscribe()
    }

    pub(super) fn pushes(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    pub(super) fn push(&self, method: &str, params: Value) {
        let mut params = params;
        params["ts"] = json!(unix_time());
        // Without WebSocket clients nobody is listening.
        let _ = self
            .pushes
            .send(json!({"method": method, "params": params}));
    }

    /// Sends an OTA event (`ota_begin`, `ota_progress`, ...) as `NotifyEvent`.
    pub(super) fn push_event(&self, event: &str, extra: Value) {
        let mut entry = json!({"component": "sys", "event": event, "ts": unix_time()});
        if let (Some(entry), Some(extra)) = (entry.as_object_mut(), extra.as_object()) {
            entry.extend(extra.clone());
        }
        self.push("NotifyEvent", json!({"events": [entry]}));
    }

    /// Goes offline and comes back running `version`, unless the fault
    /// says it never comes back.
    pub(super) async fn reboot_into(&self, version: &str) {
        self.online.send_replace(false);
        tokio::time::sleep(self.timing.reboot).await;
        let comes_back = {
            let mut state = self.state();
            state.version = version.to_string();
            state.offered = None;
            state.updating = false;
            state.fault != Some(UpdateFault::NeverReturns)
        };
        if comes_back {
            self.online.send_replace(true);
        }
    }

    pub(super) fn update_failed(&self) {
        self.state().updating = false;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `GET /shelly`: identification, without authentication.
    pub fn identify(&self) -> Value {
        let version = self.version();
        json!({
            "id": self.id, "mac": self.mac, "model": MODEL, "gen": 2,
            "fw_id": format!("20240101-000000/{version}-g0000000"), "ver": version,
            "app": APP, "auth_en": false, "auth_domain": null,
        })
    }

    /// Runs one RPC method with its parameters.
    pub fn call(
        self: &Arc<Self>,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, RpcError> {
        match method {
            "Shelly.GetDeviceInfo" => Ok(self.identify()),
            "Shelly.GetStatus" => Ok(self.status()),
            "Shelly.GetConfig" => Ok(
                json!({"switch:0": {"id": 0, "name": null, "initial_state": "restore_last"}, "sys": {"device": {"name": null, "mac": self.mac}}}),
            ),
            "Switch.GetStatus" => {
                switch_id(params)?;
                Ok(self.switch_status())
            }
            "Switch.Set" => {
                switch_id(params)?;
                let on = params
                    .get("on")
                    .and_then(as_bool)
                    .ok_or_else(|| RpcError::invalid("on is required (true or false)"))?;
                Ok(json!({"was_on": self.switch(on)}))
            }
            "Shelly.CheckForUpdate" => Ok(match &self.state().offered {
                Some(image) => {
                    json!({"stable": {"version": image.version, "build_id": image.build_id}})
                }
                None => json!({}),
            }),
            "Shelly.Update" => self.start_update(params),
            _ => Err(RpcError {
                code: -114,
                message: format!("Method {method} failed: No handler for {method}"),
            }),
        }
    }

    /// Sets the relay and tells WebSocket clients; answers the old state.
    fn switch(&self, on: bool) -> bool {
        let was_on = {
            let mut state = self.state();
            std::mem::replace(&mut state.output, on)
        };
        if was_on != on {
            self.push("NotifyStatus", json!({"switch:0": self.switch_status()}));
        }
        was_on
    }

    /// `Shelly.Update {"stage":"stable"}`: answers at once; the download,
    /// the checks and the reboot follow as `NotifyEvent`s.
    fn start_update(self: &Arc<Self>, params: &Map<String, Value>) -> Result<Value, RpcError> {
        match params.get("stage").and_then(Value::as_str) {
            Some("stable") | None => {}
            Some(other) => return Err(RpcError::invalid(format!("No {other} update available"))),
        }
        let (image, fault) = {
            let mut state = self.state();
            let Some(image) = state.offered.clone() else {
                return Err(RpcError::invalid("No stable update available"));
            };
            if state.updating {
                return Err(RpcError {
                    code: -108,
                    message: "An update is already in progress".into(),
                });
            }
            state.updating = true;
            (image, state.fault)
        };
        tokio::spawn(ota::run(self.clone(), image, fault));
        Ok(Value::Null)
    }

    fn switch_status(&self) -> Value {
        let state = self.state();
        let power = if state.output { state.load } else { 0.0 };
        json!({
            "id": 0, "source": "http", "output": state.output, "apower": power,
            "voltage": 230.1, "current": power / 230.1, "aenergy": {"total": state.energy_wh},
            "temperature": {"tC": 41.2},
        })
    }

    fn status(&self) -> Value {
        let updates = match &self.state().offered {
            Some(image) => json!({"stable": {"version": image.version}}),
            None => json!({}),
        };
        json!({
            "switch:0": self.switch_status(),
            "sys": {"mac": self.mac, "restart_required": false, "unixtime": unix_time() as u64, "available_updates": updates},
        })
    }
}

fn unix_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn switch_id(params: &Map<String, Value>) -> Result<(), RpcError> {
    match params
        .get("id")
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
    {
        Some(0) => Ok(()),
        Some(other) => Err(RpcError::invalid(format!(
            "Argument 'id', value {other} not found!"
        ))),
        None => Err(RpcError::invalid("Missing required argument 'id'!")),
    }
}

/// Query parameters arrive as strings (`on=true`), JSON-RPC ones as booleans.
fn as_bool(v: &Value) -> Option<bool> {
    v.as_bool().or_else(|| match v.as_str()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })
}
