//! One bulb's state and its command set, independent of any connection.

use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::sync::{broadcast, watch};

/// Faults a test can switch on to see how clients cope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Accepts connections and commands but never answers.
    Hang,
    /// Closes every connection, open or new.
    DropConnections,
}

#[derive(Debug)]
struct State {
    power: bool,
    bright: i64,
    ct: i64,
    rgb: i64,
    hue: i64,
    sat: i64,
    color_mode: i64,
    name: String,
}

pub struct Bulb {
    id: String,
    pub(super) commands_per_minute: usize,
    control: SocketAddr,
    state: Mutex<State>,
    changes: broadcast::Sender<Map<String, Value>>,
    fault: watch::Sender<Fault>,
}

pub const MODEL: &str = "color";
pub const FIRMWARE: &str = "26";
pub const SUPPORT: &str =
    "get_prop set_default set_power toggle set_bright set_ct_abx set_rgb set_hsv set_name";

/// Parameters a command rejects, in the bulb's own words.
const INVALID: &str = "invalid params";

impl Bulb {
    pub(super) fn new(index: usize, control: SocketAddr, commands_per_minute: usize) -> Self {
        Bulb {
            commands_per_minute,
            id: format!("0x{:016x}", 0x0000_0000_1524_3f00_u64 + index as u64),
            control,
            state: Mutex::new(State {
                power: true,
                bright: 80,
                ct: 4000,
                rgb: 0xFF_FF_FF,
                hue: 0,
                sat: 0,
                color_mode: 2,
                name: String::new(),
            }),
            changes: broadcast::channel(256).0,
            fault: watch::channel(Fault::None).0,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn control_addr(&self) -> SocketAddr {
        self.control
    }

    pub fn set_fault(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    pub(super) fn faults(&self) -> watch::Receiver<Fault> {
        self.fault.subscribe()
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Map<String, Value>> {
        self.changes.subscribe()
    }

    /// Connections open to the bulb; each hears its changes.
    pub fn connections(&self) -> usize {
        self.changes.receiver_count()
    }

    /// A property as the bulb reports it: a string, `""` when unknown.
    pub fn prop(&self, name: &str) -> String {
        let s = self.state.lock().expect("bulb state lock");
        match name {
            "power" => if s.power { "on" } else { "off" }.to_string(),
            "bright" => s.bright.to_string(),
            "ct" => s.ct.to_string(),
            "rgb" => s.rgb.to_string(),
            "hue" => s.hue.to_string(),
            "sat" => s.sat.to_string(),
            "color_mode" => s.color_mode.to_string(),
            "name" => s.name.clone(),
            _ => String::new(),
        }
    }

    /// Runs one command; a change is pushed to every open connection.
    /// `Err` carries the message of the bulb's error reply.
    pub fn execute(&self, method: &str, params: &[Value]) -> Result<Vec<Value>, String> {
        if method == "get_prop" {
            return Ok(params
                .iter()
                .map(|p| json!(p.as_str().map(|n| self.prop(n)).unwrap_or_default()))
                .collect());
        }
        // Bulbs report every property value as a string, in results and notifications alike.
        let changed: Map<String, Value> = self
            .apply(method, params)?
            .into_iter()
            .map(|(name, value)| {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                (name, json!(text))
            })
            .collect();
        if !changed.is_empty() {
            // No receivers just means no open connection to tell.
            let _ = self.changes.send(changed);
        }
        Ok(vec![json!("ok")])
    }

    fn apply(&self, method: &str, params: &[Value]) -> Result<Map<String, Value>, String> {
        let int = |i: usize, min: i64, max: i64| {
            params
                .get(i)
                .and_then(Value::as_i64)
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| INVALID.to_string())
        };
        check_effect(method, params)?;
        let mut s = self.state.lock().expect("bulb state lock");
        let mut changed = Map::new();
        match method {
            "set_power" => {
                s.power = match params.first().and_then(Value::as_str) {
                    Some("on") => true,
                    Some("off") => false,
                    _ => return Err(INVALID.into()),
                };
                changed.insert("power".into(), json!(if s.power { "on" } else { "off" }));
            }
            "toggle" => {
                s.power = !s.power;
                changed.insert("power".into(), json!(if s.power { "on" } else { "off" }));
            }
            "set_bright" => {
                s.bright = int(0, 1, 100)?;
                changed.insert("bright".into(), json!(s.bright));
            }
            "set_ct_abx" => {
                s.ct = int(0, 1700, 6500)?;
                s.color_mode = 2;
                changed.insert("ct".into(), json!(s.ct));
                changed.insert("color_mode".into(), json!(2));
            }
            "set_rgb" => {
                s.rgb = int(0, 0, 0xFF_FF_FF)?;
                s.color_mode = 1;
                changed.insert("rgb".into(), json!(s.rgb));
                changed.insert("color_mode".into(), json!(1));
            }
            "set_hsv" => {
                s.hue = int(0, 0, 359)?;
                s.sat = int(1, 0, 100)?;
                s.color_mode = 3;
                changed.insert("hue".into(), json!(s.hue));
                changed.insert("sat".into(), json!(s.sat));
                changed.insert("color_mode".into(), json!(3));
            }
            "set_name" => {
                s.name = params
                    .first()
                    .and_then(Value::as_str)
                    .ok_or(INVALID)?
                    .to_string();
                changed.insert("name".into(), json!(s.name));
            }
            "set_default" => {}
            _ => return Err("method not supported".into()),
        }
        Ok(changed)
    }

    /// The header block the bulb answers an M-SEARCH with.
    pub(super) fn search_response(&self) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nDate: \r\nExt: \r\n\
             Location: yeelight://{control}\r\nServer: POSIX UPnP/1.0 YGLC/1\r\nid: {id}\r\n\
             model: {MODEL}\r\nfw_ver: {FIRMWARE}\r\nsupport: {SUPPORT}\r\npower: {power}\r\n\
             bright: {bright}\r\ncolor_mode: {mode}\r\nct: {ct}\r\nrgb: {rgb}\r\nhue: {hue}\r\n\
             sat: {sat}\r\nname: {name}\r\n",
            control = self.control,
            id = self.id,
            power = self.prop("power"),
            bright = self.prop("bright"),
            mode = self.prop("color_mode"),
            ct = self.prop("ct"),
            rgb = self.prop("rgb"),
            hue = self.prop("hue"),
            sat = self.prop("sat"),
            name = self.prop("name"),
        )
    }
}

/// Commands with a transition take `"sudden"` or `"smooth"` and at least 30 ms.
fn check_effect(method: &str, params: &[Value]) -> Result<(), String> {
    let effect_at = match method {
        "set_power" | "set_bright" | "set_ct_abx" | "set_rgb" => 1,
        "set_hsv" => 2,
        _ => return Ok(()),
    };
    match (
        params.get(effect_at).and_then(Value::as_str),
        params.get(effect_at + 1),
    ) {
        (None, None) => Ok(()),
        (Some("sudden"), _) => Ok(()),
        (Some("smooth"), Some(ms)) if ms.as_i64().is_some_and(|ms| ms >= 30) => Ok(()),
        _ => Err(INVALID.into()),
    }
}
