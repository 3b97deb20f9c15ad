//! The checks, in the order they run. Each returns what a plugin author
//! needs to read: nothing on a pass, what to fix on a failure.

use super::lab::{Lab, OFFERED_VERSION};
use super::values::{Attr, another_value, invalid_value, mismatch, shown};
use crate::error::{ErrorCode, HubError};
use crate::plugins::{
    Device, DeviceInfo, Event, EventKind, Measured, OtaState, Permissions, Plugin, Value, Write,
    WriteRequest,
};
use crate::ws::render;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::RecvError};

/// How long an event may take to arrive after the write that caused it.
const EVENT_WAIT: Duration = Duration::from_secs(5);
/// How long a simulated fault takes to reach open connections.
const SETTLE: Duration = Duration::from_millis(200);

pub enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

impl From<Result<(), Vec<String>>> for Verdict {
    fn from(result: Result<(), Vec<String>>) -> Self {
        match result {
            Ok(()) => Verdict::Pass,
            Err(problems) => Verdict::Fail(problems.join("\n")),
        }
    }
}

pub struct Checks {
    pub plugin: Arc<Plugin>,
    pub events: broadcast::Receiver<Arc<Event>>,
    pub lab: Lab,
    pub deadline: Duration,
    found: Vec<DeviceInfo>,
    /// The first device, as get_attributes described it.
    subject: Option<Device>,
    /// Fuel per call on a fresh instance.
    pub fuel: BTreeMap<&'static str, u64>,
}

impl Checks {
    pub fn new(
        plugin: Arc<Plugin>,
        events: broadcast::Receiver<Arc<Event>>,
        lab: Lab,
        deadline: Duration,
    ) -> Self {
        Checks {
            plugin,
            events,
            lab,
            deadline,
            found: Vec::new(),
            subject: None,
            fuel: BTreeMap::new(),
        }
    }

    pub async fn discover(&mut self) -> Verdict {
        let discovery = match self.plugin.discover().await {
            Ok(discovery) => discovery,
            // A refusal or an unreachable target that ends the whole search.
            Err(e) if matches!(e.code, ErrorCode::Unreachable | ErrorCode::NotFound) => {
                return Verdict::Fail(format!(
                    "discover failed: {e}: search each address of config `discovery` (ip:port, comma-separated) and skip one that fails"
                ));
            }
            Err(e) => return Verdict::Fail(format!("discover failed: {e}")),
        };
        let found = discovery.devices;
        let ids: Vec<&str> = found.iter().map(|d| d.identity.as_str()).collect();
        let mut problems: Vec<String> = discovery.refused.iter().map(ToString::to_string).collect();
        for missing in self
            .lab
            .expected
            .iter()
            .filter(|id| !ids.contains(&id.as_str()))
        {
            problems.push(format!(
                "did not find {missing}, which answers inside the grant: search every address of config `discovery` within the discover window"
            ));
        }
        for outside in self
            .lab
            .forbidden
            .iter()
            .filter(|id| ids.contains(&id.as_str()))
        {
            problems.push(format!(
                "reported {outside}, which is outside the network it was granted: report only the devices that answered"
            ));
        }
        if found.is_empty() && problems.is_empty() {
            problems.push(
                "found no device: search the addresses of config `discovery` (ip:port, comma-separated)"
                    .into(),
            );
        }
        self.found = found;
        result(problems)
    }

    pub async fn get_attributes(&mut self) -> Verdict {
        if self.found.is_empty() {
            return Verdict::Skip("no device was discovered".into());
        }
        let mut problems = Vec::new();
        for info in self.found.clone() {
            match self.plugin.get_attributes(&info.identity).await {
                Ok(device) => {
                    problems.extend(
                        device
                            .attributes()
                            .filter_map(mismatch)
                            .map(|m| format!("{}: {m}", info.identity)),
                    );
                    if device.values.is_empty() {
                        problems.push(format!(
                            "{}: no attributes at all: declare at least one in describe",
                            info.identity
                        ));
                    }
                    if self.subject.is_none() {
                        self.subject = Some(device);
                    }
                }
                Err(e) => problems.push(format!("{}: {e}", info.identity)),
            }
        }
        result(problems)
    }

    /// The fuel of discover, get_attributes and check_update, each on a
    /// fresh instance while the devices are quiet: the figures a plugin
    /// author can compare between versions.
    pub async fn measure_fuel(&mut self) -> Verdict {
        let Some(identity) = self.subject.as_ref().map(|d| d.info.identity.clone()) else {
            return Verdict::Skip("no device answered get_attributes".into());
        };
        let calls = [
            ("discover", Measured::Discover),
            ("get_attributes", Measured::GetAttributes(identity.clone())),
            ("check_update", Measured::CheckUpdate(identity)),
        ];
        let mut problems = Vec::new();
        for (name, call) in calls {
            match alone(self.plugin.clone(), call).await {
                Ok(fuel) => {
                    self.fuel.insert(name, fuel);
                }
                Err(e) if e.code == ErrorCode::Unsupported => {}
                Err(e) => problems.push(format!("{name} on a fresh instance failed: {e}")),
            }
        }
        result(problems)
    }

    pub async fn set_attributes(&mut self) -> Verdict {
        let Some(device) = self.subject.clone() else {
            return Verdict::Skip("no device answered get_attributes".into());
        };
        let identity = device.info.identity.clone();
        let mut problems = Vec::new();
        let mut written = 0;
        for (_, attr) in writable(&device) {
            let Some(value) = another_value(attr) else {
                continue;
            };
            let (meta, _) = attr;
            let name = &meta.name;
            written += 1;
            let write = WriteRequest {
                instance_id: meta.instance_id,
                attribute: name.clone(),
                val: render::value(&value),
            };
            self.drain_events();
            if let Err(e) = self.plugin.set_attributes(&identity, &[write]).await {
                problems.push(format!("writing {name} = {} failed: {e}", shown(&value)));
                continue;
            }
            if meta.permissions.contains(Permissions::NOTIFY)
                && !self.event(&identity, name, &value).await
            {
                problems.push(format!(
                    "no attribute_change event for {name} = {} within {} s of the write (it is declared `notify`): emit the change from watch, or do not declare notify",
                    shown(&value), EVENT_WAIT.as_secs()
                ));
            }
            match self.read(&identity, meta.instance_id, name).await {
                Ok(Some(now)) if now == value => {}
                Ok(now) => problems.push(format!(
                    "{name} reads back {} after writing {}: read the device's state, not what was last written, and write what was asked",
                    now.as_ref().map_or("nothing".into(), shown),
                    shown(&value)
                )),
                Err(e) => problems.push(format!("get_attributes after writing {name}: {e}")),
            }
        }
        if written == 0 {
            return Verdict::Skip("no writable attribute".into());
        }
        result(problems)
    }

    pub async fn invalid_values(&mut self) -> Verdict {
        let Some(device) = self.subject.clone() else {
            return Verdict::Skip("no device answered get_attributes".into());
        };
        let identity = &device.info.identity;
        let mut attempts: Vec<(String, Write)> = writable(&device)
            .map(|(slot, attr)| {
                let value = invalid_value(attr);
                let what = format!("{} = {}", attr.0.name, shown(&value));
                (what, Write { slot, value })
            })
            .collect();
        let unknown = Write {
            slot: device.meta.attributes.len() as u32,
            value: Value::Int(1),
        };
        attempts.push(("an attribute the device does not have".into(), unknown));
        let mut problems = Vec::new();
        for (what, write) in attempts {
            if self
                .plugin
                .set_attributes_unchecked(identity, vec![write])
                .await
                .is_ok()
            {
                problems.push(format!(
                    "accepted {what}; refuse it with invalid-argument (or not-found)"
                ));
            }
        }
        result(problems)
    }

    pub async fn check_update(&mut self) -> Verdict {
        let Some(device) = self.subject.clone() else {
            return Verdict::Skip("no device answered get_attributes".into());
        };
        let identity = &device.info.identity;
        let offered = self.lab.offer_update(identity);
        match self.plugin.check_update(identity).await {
            Err(e) if e.code == ErrorCode::Unsupported && !device.meta.ota_support => Verdict::Pass,
            Err(e) => Verdict::Fail(format!("check_update failed: {e}")),
            Ok(update) => {
                let mut problems = Vec::new();
                if update.current_version.is_empty() {
                    problems.push(
                        "current_version is empty: report the firmware the device runs".to_string(),
                    );
                }
                if update.update_available != update.latest_firmware.is_some() {
                    problems.push(
                        "update_available must be true exactly when latest_firmware is given"
                            .into(),
                    );
                }
                let latest = update.latest_firmware.as_ref().map(|f| f.version.as_str());
                if offered && latest != Some(OFFERED_VERSION) {
                    problems.push(format!(
                        "the device offers {OFFERED_VERSION}, check_update reported {latest:?}: ask the device what it offers"
                    ));
                }
                result(problems)
            }
        }
    }

    pub async fn ota(&mut self) -> Verdict {
        let Some(device) = self.subject.clone() else {
            return Verdict::Skip("no device answered get_attributes".into());
        };
        let identity = device.info.identity.clone();
        if !device.meta.ota_support {
            return match self.plugin.ota(&identity).await {
                Err(e) if e.code == ErrorCode::Unsupported => Verdict::Pass,
                other => Verdict::Fail(format!(
                    "ota_support is false, so ota must answer unsupported; it answered {other:?}"
                )),
            };
        }
        if !self.lab.controlled() {
            return Verdict::Skip("not run against a device the harness does not control".into());
        }
        self.drain_events();
        if let Err(e) = self.plugin.ota(&identity).await {
            return Verdict::Fail(format!("ota of an offered update failed: {e}"));
        }
        let reports = self.progress_reports(&identity);
        let mut problems = Vec::new();
        if reports == 0 {
            problems.push(
                "no ota progress was reported: call report_ota as the update goes".to_string(),
            );
        }
        match self.plugin.check_update(&identity).await {
            Ok(update) if update.current_version == OFFERED_VERSION && !update.update_available => {}
            Ok(update) => problems.push(format!(
                "after ota, check_update reports version {} (update available: {}), not {OFFERED_VERSION}",
                update.current_version, update.update_available
            )),
            Err(e) => problems.push(format!("check_update after ota failed: {e}")),
        }
        result(problems)
    }

    /// A device that closes every connection must produce an error, soon.
    pub async fn unreachable_device(&mut self) -> Verdict {
        self.broken_device("closes every connection", Lab::make_unreachable)
            .await
    }

    /// A device that never answers must produce an error before the hub's deadline.
    pub async fn silent_device(&mut self) -> Verdict {
        self.broken_device("accepts connections and never answers", Lab::make_silent)
            .await
    }

    async fn broken_device(&mut self, how: &str, break_it: fn(&Lab, &str)) -> Verdict {
        if !self.lab.controlled() {
            return Verdict::Skip("needs a simulated device the harness can break".into());
        }
        let Some(victim) = self
            .found
            .iter()
            .rev()
            .map(|d| d.identity.clone())
            .find(|id| self.lab.expected.contains(id))
        else {
            return Verdict::Skip("no simulated device was discovered".into());
        };
        break_it(&self.lab, &victim);
        // The simulator closes the device's open connections on its own task.
        tokio::time::sleep(SETTLE).await;
        let started = Instant::now();
        let outcome = self.plugin.get_attributes(&victim).await;
        let took = started.elapsed();
        match outcome {
            Ok(_) => Verdict::Fail(format!(
                "get_attributes succeeded for a device that {how}; report it unreachable instead of old state"
            )),
            Err(e) if self.cut_off(&e, took) => Verdict::Fail(format!(
                "the hub had to stop get_attributes at its {} s deadline for a device that {how}: give every connect and read a timeout shorter than the deadline",
                self.deadline.as_secs()
            )),
            Err(_) => Verdict::Pass,
        }
    }

    fn cut_off(&self, error: &HubError, took: Duration) -> bool {
        error.code == ErrorCode::Timeout && took + Duration::from_millis(200) >= self.deadline
    }

    async fn read(
        &self,
        identity: &str,
        instance: u32,
        name: &str,
    ) -> Result<Option<Value>, HubError> {
        let device = self.plugin.get_attributes(identity).await?;
        Ok(device
            .of_instance(instance)
            .find(|(meta, _)| meta.name == name)
            .map(|(_, value)| value.clone()))
    }

    async fn event(&mut self, identity: &str, name: &str, value: &Value) -> bool {
        let end = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            match tokio::time::timeout_at(end, self.events.recv()).await {
                Err(_) | Ok(Err(RecvError::Closed)) => return false,
                Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Ok(event)) => {
                    if let EventKind::Change(c) = &event.kind
                        && c.device.identity == identity
                        && c.attribute == name
                        && c.value == *value
                    {
                        return true;
                    }
                }
            }
        }
    }

    fn drain_events(&mut self) {
        use broadcast::error::TryRecvError;
        while let Ok(_) | Err(TryRecvError::Lagged(_)) = self.events.try_recv() {}
    }

    /// How many progress reports the plugin published for `identity` since
    /// the last drain (the hub's own closing `done` or `failed` not counted).
    fn progress_reports(&mut self, identity: &str) -> usize {
        let mut reports = 0;
        while let Ok(event) = self.events.try_recv() {
            if let EventKind::Ota {
                identity: id,
                status,
            } = &event.kind
                && id == identity
                && !matches!(status.state, OtaState::Done | OtaState::Failed)
            {
                reports += 1;
            }
        }
        reports
    }
}

/// Times the measured call is run; the median fuel is reported.
const MEASURED_RUNS: usize = 5;

/// Runs the measured call on a runtime of its own with one thread: the
/// host's side of the plugin's sockets then moves only while the plugin
/// waits, never beside it, so the plugin takes the same path, and the same
/// fuel, on every run. The simulated devices still run beside it: now and
/// then a reply is already there when the plugin first reads (or is not
/// when it usually is), a few hundred instructions either way; the median
/// of five runs does not move with such a stray run.
async fn alone(plugin: Arc<Plugin>, call: Measured) -> Result<u64, HubError> {
    let measured = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                HubError::new(ErrorCode::Internal, format!("cannot start a runtime: {e}"))
            })?;
        let mut runs = (0..MEASURED_RUNS)
            .map(|_| runtime.block_on(plugin.fuel_on_fresh_instance(call.clone())))
            .collect::<Result<Vec<u64>, _>>()?;
        runs.sort_unstable();
        Ok(runs[MEASURED_RUNS / 2])
    });
    measured
        .await
        .map_err(|e| HubError::new(ErrorCode::Internal, format!("the measurement stopped: {e}")))?
}

/// Each writable attribute, with the slot writes name it by.
fn writable(device: &Device) -> impl Iterator<Item = (u32, Attr<'_>)> {
    (0u32..)
        .zip(device.attributes())
        .filter(|(_, (meta, _))| meta.permissions.contains(Permissions::WRITE))
}

fn result(problems: Vec<String>) -> Verdict {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
    .into()
}
