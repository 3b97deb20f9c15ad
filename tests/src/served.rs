//! `hub serve` as an operator runs it: the binary, from a data directory,
//! on a free loopback port, and a blocking operator's client of it over
//! the same [`Client`] every other end-to-end test speaks through.

use crate::Client;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The operator token every served hub accepts.
pub const OPERATOR_TOKEN: &str = "a-long-operator-token";

/// `hub serve` from a data directory, on a free port; killed when dropped.
pub struct Served {
    child: Option<Child>,
    pub port: u16,
}

impl Served {
    /// Serves with the hub binary at `hub` from `data_dir`, with `more`
    /// appended to its configuration, once `/healthz` answers.
    pub fn start(hub: &Path, data_dir: &Path, more: &str) -> Served {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        std::fs::create_dir_all(data_dir).unwrap();
        let config = data_dir.join("hub.toml");
        let toml = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {data_dir:?}\n{more}\n[[tokens]]\nname = \"op\"\ntoken = \"{OPERATOR_TOKEN}\"\nscope = \"operator\"\n"
        );
        std::fs::write(&config, toml).unwrap();
        let child = Command::new(hub)
            .args(["serve", "--config", config.to_str().unwrap()])
            // Warnings, and what the schedule decided of updates.
            .env("RUST_LOG", "warn,hub::serve=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let served = Served {
            child: Some(child),
            port,
        };
        let started = Instant::now();
        while served.health().is_none() {
            assert!(started.elapsed().as_secs() < 60, "the hub did not serve");
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }

    /// `/healthz`'s answer, once the hub listens.
    pub fn health(&self) -> Option<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let request = b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n";
        stream.write_all(request).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }

    /// Waits up to 20 s for `/healthz` to satisfy `done`; its last answer.
    pub fn health_until(&self, done: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let health = self.health().unwrap_or_default();
            if done(&health) || started.elapsed().as_secs() >= 20 {
                return health;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the hub; what it logged.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A [`Client`] of a served hub for tests that are not async, asking one
/// request at a time; every frame is checked against the API's schema.
pub struct Operator {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl Operator {
    pub fn connect(served: &Served, token: &str) -> Operator {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let url = format!("ws://127.0.0.1:{}/ws?token={token}", served.port);
        let client = runtime.block_on(Client::connect(&url)).unwrap();
        // Installs compile, and updates fetch from a registry, before they answer.
        let client = client.patient(Duration::from_secs(60));
        Operator { runtime, client }
    }

    /// Runs `work` (a simulated device, say) on the client's runtime.
    pub fn block_on<F: Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }

    /// The answer to `service` of `domain: "plugin"` with `data`.
    pub fn ask(&mut self, service: &str, data: Value) -> Value {
        let request = json!({"domain": "plugin", "service": service, "service_data": data});
        self.request(request)
    }

    /// The answer to `request`, given an id here.
    pub fn request(&mut self, request: Value) -> Value {
        let service = request["service"].to_string();
        let answer = self.runtime.block_on(self.client.request(request));
        answer.unwrap_or_else(|e| panic!("no answer to {service}: {e:#}"))
    }

    /// Runs discover for `domain`: the closing answer.
    pub fn discover(&mut self, domain: &str) -> Value {
        let discovered = self.runtime.block_on(self.client.discover(Some(domain)));
        let (_, done) = discovered.unwrap_or_else(|e| panic!("no end to discover: {e:#}"));
        done
    }

    /// The result of a request that must succeed.
    pub fn done(&mut self, service: &str, data: Value) -> Value {
        let answer = self.ask(service, data);
        assert_eq!(answer["success"], true, "{service}: {answer}");
        answer["result"].clone()
    }

    /// The error code and message of a request that must fail.
    pub fn failed(&mut self, service: &str, data: Value) -> (String, String) {
        let answer = self.ask(service, data);
        assert_eq!(answer["success"], false, "{service} succeeded: {answer}");
        let text = |field: &str| answer[field].as_str().unwrap_or_default().to_string();
        (text("code"), text("error"))
    }
}
