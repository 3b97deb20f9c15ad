//! The harness the end-to-end tests share: a hub on loopback with the real
//! Yeelight and Shelly plugins, the test-only hostile plugin, simulated
//! bulbs and Shelly devices, and a WebSocket client that speaks the seed
//! protocol.

pub mod browser;
pub mod served;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use hub::caps::{Limits, Quotas};
use hub::config::ServerLimits;
use hub::config::{Token, TokenScope};
use hub::http::ServerSettings;
use hub::market::Market;
use hub::plugins::{Hub, HubSettings};
use hub_sim::shelly::{ShellyConfig, ShellySim, UpdateFault, UpdateTiming};
use hub_sim::yeelight::{SimConfig, YeelightSim};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TOKEN: &str = "test-token-0123456789";
/// A user-scope token: devices only.
pub const USER_TOKEN: &str = "user-token-0123456789";
/// A user-scope token limited to the devices placed in the area `kitchen`.
pub const KITCHEN_TOKEN: &str = "kitchen-token-0123456789";
/// Long enough for a loaded CI machine, short enough to keep tests quick.
const WAIT: Duration = Duration::from_secs(20);

pub struct HubOptions {
    pub bulbs: usize,
    pub call_deadline: Duration,
    /// Addresses the hostile plugin tries to reach (`tcp@ADDR`, `udp@ADDR`);
    /// `HUB` stands for the hub's own listening address.
    pub targets: Vec<String>,
    /// Adds the hostile plugin's `flood` device, whose watcher floods events.
    pub flood: bool,
    /// Networks closed to plugins' HTTP requests; `None` for the hub's default.
    pub http_blocked: Option<Vec<ipnet::IpNet>>,
    /// Every plugin's budget.
    pub quotas: Quotas,
    /// Config of the hostile plugin beyond `targets` and `flood`.
    pub hostile: Vec<(&'static str, String)>,
    /// The listening port's connection limits.
    pub server: ServerLimits,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            bulbs: 2,
            call_deadline: Duration::from_secs(3),
            targets: Vec::new(),
            flood: false,
            http_blocked: None,
            quotas: Quotas::default(),
            hostile: Vec::new(),
            server: ServerLimits::default(),
        }
    }
}

/// A running hub with its own data directory; dropping it stops the server.
pub struct TestHub {
    pub addr: SocketAddr,
    pub sim: YeelightSim,
    /// Four devices offering firmware 1.5.0: the first updates cleanly, the
    /// others fail as [`SHELLY_FAULTS`] says.
    pub shelly: ShellySim,
    pub hub: Arc<Hub>,
    /// The serving hub's marketplace: the one its console and WebSocket use.
    pub market: Arc<Market>,
    pub data_dir: PathBuf,
    _stop: oneshot::Sender<()>,
}

/// The update faults of Shelly devices 1, 2 and 3.
pub const SHELLY_FAULTS: [UpdateFault; 3] = [
    UpdateFault::FailedDownload,
    UpdateFault::BadChecksum,
    UpdateFault::NeverReturns,
];

async fn shelly_devices() -> anyhow::Result<ShellySim> {
    let timing = UpdateTiming {
        download: Duration::from_millis(300),
        reboot: Duration::from_millis(500),
    };
    let sim = ShellySim::on_lan(ShellyConfig {
        timing,
        ..ShellyConfig::loopback(4)
    })
    .await?;
    for (i, device) in sim.devices().iter().enumerate() {
        device.offer_update("1.5.0");
        device.set_fault(i.checked_sub(1).map(|f| SHELLY_FAULTS[f]));
    }
    Ok(sim)
}

/// A fresh data directory under target/, shared compile cache beside it.
fn data_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = xtask::root().join(format!("target/test-hubs/{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

impl TestHub {
    pub async fn start(options: HubOptions) -> anyhow::Result<Self> {
        let loopback = ipnet::IpNet::from(std::net::IpAddr::from([127, 0, 0, 1]));
        let sim = YeelightSim::on_lan(SimConfig::loopback(options.bulbs)).await?;
        let shelly = shelly_devices().await?;
        let shelly_addrs: Vec<String> = shelly
            .devices()
            .iter()
            .map(|d| d.addr().to_string())
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let limits = Limits {
            call_deadline: options.call_deadline,
            discover_window: Duration::from_millis(500),
            quotas: options.quotas,
            ..Limits::default()
        };
        let data_dir = data_dir();
        let settings = HubSettings {
            cache_dir: xtask::root().join("target/test-hubs/compiled"),
            hub_addrs: vec![addr],
            limits,
            // Operators' WebSocket installs come from the project's tree.
            install_dir: Some(xtask::root().to_path_buf()),
            http_blocked: options
                .http_blocked
                .unwrap_or_else(hub::caps::http::default_blocked),
            ..HubSettings::new(data_dir.clone())
        };
        let lock = hub::store::Serving::claim(&data_dir)?;
        let hub = Hub::open(settings)?;
        let targets = options.targets.join(",").replace("HUB", &addr.to_string());
        let flood = if options.flood { "on" } else { "off" };
        let plugins = [
            (
                "yeelight",
                vec![("discovery", sim.discovery_addr().to_string())],
            ),
            (
                "shelly",
                vec![
                    ("discovery", shelly_addrs.join(",")),
                    ("reboot_timeout_ms", "3000".to_string()),
                ],
            ),
            (
                "hostile",
                [("targets", targets), ("flood", flood.to_string())]
                    .into_iter()
                    .chain(options.hostile)
                    .collect(),
            ),
        ];
        // Each plugin is granted where its devices are, as an operator would.
        let networks = [sim.network(), shelly.network(), loopback];
        for ((id, config), network) in plugins.into_iter().zip(networks) {
            let (component, manifest) = (xtask::guest(id)?, xtask::manifest(id)?);
            let config = config
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            tokio::task::block_in_place(|| hub.install("tests", &component, &manifest, config))?;
            hub.approve("tests", id, &[network.into()])?;
        }
        let tokens = vec![
            Token {
                name: "test-operator".into(),
                token: TOKEN.into(),
                scope: TokenScope::Operator,
                areas: None,
            },
            Token {
                name: "test-user".into(),
                token: USER_TOKEN.into(),
                scope: TokenScope::User,
                areas: None,
            },
            Token {
                name: "kitchen-tablet".into(),
                token: KITCHEN_TOKEN.into(),
                scope: TokenScope::User,
                areas: Some(vec!["kitchen".into()]),
            },
        ];
        let (stop, stopped) = oneshot::channel::<()>();
        let market = Market::new(hub.clone());
        let serving = market.clone();
        tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            let settings = ServerSettings {
                tokens,
                limits: options.server,
            };
            if let Err(e) = hub::serve::run(serving, lock, listener, settings, stopped).await {
                eprintln!("the test hub stopped: {e:#}");
            }
        });
        Ok(TestHub {
            addr,
            sim,
            shelly,
            hub,
            market,
            data_dir,
            _stop: stop,
        })
    }

    /// The details of the audit log's `action` records about `plugin`.
    pub fn audited(&self, plugin: &str, action: &str) -> Vec<serde_json::Value> {
        let entries = self
            .hub
            .store()
            .audit(&Default::default())
            .unwrap_or_default();
        entries
            .into_iter()
            .filter(|e| e.action == action && e.plugin.as_deref() == Some(plugin))
            .map(|e| e.detail)
            .collect()
    }

    /// A plain HTTP/1.1 request on the hub's port (`headers`: lines ending
    /// in CRLF): the answer's head (status line and headers) and body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> anyhow::Result<(String, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = TcpStream::connect(self.addr).await?;
        let length = body.len();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{headers}Content-Length: {length}\r\nConnection: close\r\n\r\n{body}",
            self.addr
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        // An upgraded connection stays open: its head is all there is to read.
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer));
        let _ = read.await;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        Ok((head.to_string(), body.to_string()))
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws?token={TOKEN}", self.addr)
    }

    pub async fn client(&self) -> anyhow::Result<Client> {
        Client::connect(&self.url()).await
    }

    pub async fn user_client(&self) -> anyhow::Result<Client> {
        Client::connect(&format!("ws://{}/ws?token={USER_TOKEN}", self.addr)).await
    }

    pub async fn kitchen_client(&self) -> anyhow::Result<Client> {
        Client::connect(&format!("ws://{}/ws?token={KITCHEN_TOKEN}", self.addr)).await
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: i64,
    /// Frames read while waiting for another one.
    backlog: VecDeque<Value>,
    /// How long a frame may take to come.
    wait: Duration,
}

impl Client {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .context("connect")?;
        Ok(Client {
            ws,
            next_id: 1,
            backlog: VecDeque::new(),
            wait: WAIT,
        })
    }

    /// The same client, waiting up to `wait` for each frame: for hubs that
    /// compile or fetch from a registry before they answer.
    pub fn patient(self, wait: Duration) -> Self {
        Client { wait, ..self }
    }

    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.ws.send(Message::text(text)).await.context("send")
    }

    pub async fn send_message(&mut self, message: Message) -> anyhow::Result<()> {
        self.ws.send(message).await.context("send")
    }

    /// The next frame from the hub, whatever it is.
    pub async fn next_message(&mut self) -> anyhow::Result<Message> {
        match tokio::time::timeout(self.wait, self.ws.next()).await {
            Err(_) => bail!("no frame within {:?}", self.wait),
            Ok(None) => bail!("connection closed"),
            Ok(Some(frame)) => frame.context("read"),
        }
    }

    /// The next text frame, checked against the API's schema.
    async fn next_json(&mut self) -> anyhow::Result<Value> {
        loop {
            match self.next_message().await? {
                Message::Text(text) => {
                    let frame = serde_json::from_str(&text).context("frame is not JSON")?;
                    conforms(&frame)?;
                    return Ok(frame);
                }
                Message::Close(frame) => bail!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The first frame matching `wanted`, keeping the others for later.
    pub async fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        if let Some(i) = self.backlog.iter().position(&wanted) {
            return Ok(self.backlog.remove(i).unwrap_or_default());
        }
        loop {
            let frame = self.next_json().await?;
            if wanted(&frame) {
                return Ok(frame);
            }
            self.backlog.push_back(frame);
        }
    }

    pub async fn response(&mut self, id: i64) -> anyhow::Result<Value> {
        self.wait_for(|f| f["id"] == json!(id) && f["type"] == "response")
            .await
    }

    /// Sends `request` with a fresh id unless it has one, and waits for its response.
    pub async fn request(&mut self, mut request: Value) -> anyhow::Result<Value> {
        if request.get("id").is_none() {
            request["id"] = json!(self.fresh_id());
        }
        let id = request["id"].as_i64().context("request id")?;
        self.send_text(&request.to_string()).await?;
        self.response(id).await
    }

    /// The frames read while waiting for others, and not asked for yet.
    pub fn held(&self) -> impl Iterator<Item = &Value> {
        self.backlog.iter()
    }

    pub fn fresh_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    pub async fn call(
        &mut self,
        domain: &str,
        service: &str,
        identity: &str,
        data: Value,
    ) -> anyhow::Result<Value> {
        self.request(json!({"domain": domain, "service": service, "identity": identity, "service_data": data})).await
    }

    /// The first page of `list_devices`: every device the hub knows.
    pub async fn list_devices(&mut self) -> anyhow::Result<Vec<Value>> {
        let listed = self.request(json!({"service": "list_devices"})).await?;
        anyhow::ensure!(listed["success"] == true, "{listed}");
        Ok(listed["result"]["devices"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Runs discover for `domain` (all plugins when `None`): the devices, then the closing message.
    pub async fn discover(&mut self, domain: Option<&str>) -> anyhow::Result<(Vec<Value>, Value)> {
        let id = self.fresh_id();
        let mut request = json!({"id": id, "service": "discover"});
        if let Some(domain) = domain {
            request["domain"] = json!(domain);
        }
        self.send_text(&request.to_string()).await?;
        let mut devices = Vec::new();
        loop {
            let frame = self.response(id).await?;
            if frame["result"]["done"] == json!(true) || frame["success"] == json!(false) {
                return Ok((devices, frame));
            }
            devices.push(frame["result"]["device"].clone());
        }
    }

    pub async fn event(&mut self, identity: &str, attribute: &str) -> anyhow::Result<Value> {
        self.wait_for(|f| {
            f["type"] == "attribute_change"
                && f["identity"] == identity
                && f["attr"]["attribute"] == attribute
        })
        .await
    }
}

/// The attribute `name` of instance 0 of a device as the hub shows it
/// (`get_attributes`' `device`, or a `list_devices` entry); null if absent.
pub fn attr(device: &Value, name: &str) -> Value {
    let attrs = device["instances"][0]["attrs"].as_array();
    let found = attrs.and_then(|attrs| attrs.iter().find(|a| a["attribute"] == name));
    found.cloned().unwrap_or_default()
}

/// Checks a frame the hub sent against `docs/api.schema.json`: every
/// message the tests see, so that the documented contract cannot drift.
pub fn conforms(frame: &Value) -> anyhow::Result<()> {
    static SCHEMA: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let path = xtask::root().join("docs/api.schema.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let schema: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        jsonschema::validator_for(&schema).map_err(|e| e.to_string())
    });
    let schema = schema
        .as_ref()
        .map_err(|e| anyhow::anyhow!("the API schema: {e}"))?;
    let errors: Vec<String> = schema
        .iter_errors(frame)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    anyhow::ensure!(
        errors.is_empty(),
        "the hub sent a message its schema does not describe: {frame}\n{}",
        errors.join("\n")
    );
    Ok(())
}

/// Waits (up to 10 s) until `ready` holds; `what` names it in the error.
/// Devices tell their changes only to the connections open when they
/// happen: tests that expect an event first wait for the plugin's watcher.
pub async fn until(what: &str, ready: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        anyhow::ensure!(Instant::now() < deadline, "no {what} within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// This process's resident memory, in bytes (the test hub runs in it).
pub fn resident_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("VmRSS in /proc/self/status")?;
    Ok(kib << 10)
}
