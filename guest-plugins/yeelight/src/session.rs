//! One control connection to a bulb: commands, replies, notifications.

use crate::mapping;
use hub_guest_sdk::{PluginError, net::LineConn};
use serde_json::{Map, Value as Json, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What a session may send: a bulb refuses clients that send more than
/// `per_minute` commands a minute (60 on real bulbs).
#[derive(Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub per_minute: usize,
}
/// Cached state older than this is confirmed with the bulb before it is
/// served, so a bulb that lost power is not reported as it was.
const TRUST_CACHE_FOR: Duration = Duration::from_secs(30);

pub struct Session {
    conn: LineConn,
    next_id: u64,
    props: HashMap<String, String>,
    sent: VecDeque<Instant>,
    per_minute: usize,
    heard: Instant,
    /// Set when the connection failed: the plugin then opens a new one.
    pub broken: bool,
}

impl Session {
    /// Connects and reads the current state once; notifications keep it current.
    pub fn open(peer: SocketAddr, limits: Limits) -> Result<Self, PluginError> {
        let mut session = Session {
            conn: LineConn::connect(peer, limits.timeout)?,
            per_minute: limits.per_minute,
            next_id: 1,
            props: HashMap::new(),
            sent: VecDeque::new(),
            heard: Instant::now(),
            broken: false,
        };
        session.refresh()?;
        Ok(session)
    }

    fn refresh(&mut self) -> Result<(), PluginError> {
        let values = self.command(
            "get_prop",
            mapping::PROPS.iter().map(|p| json!(p)).collect(),
        )?;
        for (name, value) in mapping::PROPS.iter().zip(values) {
            self.props.insert(
                name.to_string(),
                value.as_str().unwrap_or_default().to_string(),
            );
        }
        Ok(())
    }

    /// The state as of the last notification that arrived.
    pub fn props(&mut self) -> Result<HashMap<String, String>, PluginError> {
        let lines = self
            .conn
            .drain_lines()
            .inspect_err(|_| self.broken = true)?;
        for line in lines {
            self.observe(&line);
        }
        if self.heard.elapsed() > TRUST_CACHE_FOR {
            self.refresh()?;
        }
        Ok(self.props.clone())
    }

    /// Sends one command and waits for its reply, absorbing the
    /// notifications that arrive in between.
    pub fn command(&mut self, method: &str, params: Vec<Json>) -> Result<Vec<Json>, PluginError> {
        self.take_quota()?;
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.conn
            .send_line(&request)
            .inspect_err(|_| self.broken = true)?;
        loop {
            let line = self.conn.read_line().inspect_err(|_| self.broken = true)?;
            let Some(reply) = self.observe(&line) else {
                continue;
            };
            if reply.get("id").and_then(Json::as_u64) != Some(id) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                let message = error
                    .get("message")
                    .and_then(Json::as_str)
                    .unwrap_or("unknown error");
                return Err(PluginError::InvalidArgument(format!(
                    "the bulb refused {method}: {message}"
                )));
            }
            return match reply.get("result") {
                Some(Json::Array(values)) => Ok(values.clone()),
                _ => Err(PluginError::Internal(format!(
                    "the bulb answered {method} without a result: {line}"
                ))),
            };
        }
    }

    /// Blocks on the connection, handing every `props` notification to `on_change`.
    pub fn wait_for_changes(
        &mut self,
        mut on_change: impl FnMut(&Map<String, Json>),
    ) -> Result<(), PluginError> {
        self.conn.set_timeout(None)?;
        loop {
            let line = self.conn.read_line()?;
            if let Some(params) = parse(&line).as_ref().and_then(notification) {
                on_change(params);
            }
        }
    }

    /// Applies a notification to the cached state; returns anything else that parsed.
    fn observe(&mut self, line: &str) -> Option<Json> {
        self.heard = Instant::now();
        let message = parse(line)?;
        match notification(&message) {
            Some(params) => {
                for (name, value) in params {
                    let value = value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| value.to_string());
                    self.props.insert(name.clone(), value);
                }
                None
            }
            None => Some(message),
        }
    }

    fn take_quota(&mut self) -> Result<(), PluginError> {
        let now = Instant::now();
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.sent.pop_front();
        }
        if let Some(oldest) = self
            .sent
            .front()
            .filter(|_| self.sent.len() >= self.per_minute)
        {
            let wait = Duration::from_secs(60).saturating_sub(now.duration_since(*oldest));
            return Err(PluginError::Unreachable(format!(
                "the bulb accepts {} commands a minute; retry in {} s",
                self.per_minute,
                wait.as_secs() + 1
            )));
        }
        self.sent.push_back(now);
        Ok(())
    }
}

fn parse(line: &str) -> Option<Json> {
    let parsed = serde_json::from_str(line).ok();
    if parsed.is_none() {
        hub_guest_sdk::debug!("ignored a line that is not JSON: {line}");
    }
    parsed
}

fn notification(message: &Json) -> Option<&Map<String, Json>> {
    (message.get("method")? == "props").then(|| message.get("params")?.as_object())?
}
