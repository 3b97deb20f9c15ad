//! TEST ONLY. Each discovered device names one attack that its
//! `get_attributes` commits, so that tests can prove the hub contains it:
//!
//! - `well`: no attack, answers normally (a writable counter);
//! - `trap` / `panic`: panics, which traps the instance;
//! - `spin`: loops forever;
//! - `sleep`: sleeps past any deadline;
//! - `memory`: grows its memory without bound;
//! - `recursion`: recurses without bound;
//! - `big-reply`: answers with a 100 MB device name;
//! - `sockets`: opens thousands of sockets;
//! - `listen`: tries to accept connections;
//! - `env`: reads the environment and reports how many variables it saw;
//! - `residue`: reports (as `calls`) how many copies of a secret it finds in
//!   its memory, then leaves copies behind; a write to it panics, so that
//!   the next call gets a fresh instance (see `residue.rs`);
//! - `tcp@ADDR` / `udp@ADDR`: connects, or sends a datagram, to each
//!   address in the config's comma-separated `targets`;
//! - `flood` (only with config `flood = on`, or `big` for events of 4,000
//!   characters each): its `watch` emits events as fast as it can;
//! - `heavy`: answers with 50 attributes of 4,000 characters (200 KB),
//!   within the hub's caps, for clients that never read their answers;
//! - `logs`: writes 10,000 log lines of 64 KiB each, with forged newlines;
//! - `burn` (only with config `burn = on`): its `watch` burns about 100
//!   million instructions between events, for ever;
//! - `hoard-N` (config `hoard = COUNT` adds that many): the multiplication
//!   attack: each device's `watch` takes all the memory it can and holds
//!   it without returning.

mod residue;

use hub_guest_sdk::*;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

struct Hostile {
    targets: Vec<String>,
    /// Events the flood device emits: `None` for none, else the text size
    /// of each (0: a number).
    flood: Option<usize>,
    burn: bool,
    hoard: usize,
    calls: i64,
}

const ATTACKS: [&str; 14] = [
    "well",
    "trap",
    "panic",
    "spin",
    "sleep",
    "memory",
    "recursion",
    "big-reply",
    "sockets",
    "listen",
    "env",
    "residue",
    "logs",
    "heavy",
];

impl Plugin for Hostile {
    fn init(config: Config) -> Result<Self, PluginError> {
        let targets = config.get("targets").unwrap_or_default();
        Ok(Hostile {
            targets: targets
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            flood: match config.get("flood") {
                Some("on") => Some(0),
                Some("big") => Some(4000),
                _ => None,
            },
            burn: config.get("burn") == Some("on"),
            hoard: config
                .get("hoard")
                .map_or(Ok(0), str::parse)
                .map_err(|_| PluginError::InvalidArgument("hoard: a count".into()))?,
            calls: 0,
        })
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let flood = self.flood.map(|_| "flood");
        let burn = self.burn.then_some("burn");
        let fixed = ATTACKS
            .into_iter()
            .chain(flood)
            .chain(burn)
            .map(|a| (a.to_string(), String::new()))
            .chain((0..self.hoard).map(|n| (format!("hoard-{n}"), String::new())));
        let reaching = self.targets.iter().flat_map(|t| {
            [
                (format!("tcp@{t}"), t.clone()),
                (format!("udp@{t}"), t.clone()),
            ]
        });
        Ok(fixed
            .into_iter()
            .chain(reaching)
            .map(|(identity, address)| device(identity, address))
            .collect())
    }

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        self.calls += 1;
        let mut info = device.clone();
        match device.identity.split('@').next().unwrap_or_default() {
            "trap" | "panic" => panic!("deliberate panic"),
            "spin" => spin(),
            "sleep" => std::thread::sleep(Duration::from_secs(3600)),
            "memory" => grow_memory(),
            "recursion" => {
                recurse(0);
            }
            "big-reply" => info.name = "x".repeat(100 << 20),
            "sockets" => open_sockets()?,
            "listen" => {
                let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], 0)))?;
                listener.accept()?;
            }
            "env" => self.calls = std::env::vars().count() as i64,
            "residue" => self.calls = residue::found_then_plant(),
            "logs" => {
                let line = format!(
                    "forged\n2026-01-01T00:00:00Z  INFO hub: all is well {}",
                    "x".repeat(64 << 10)
                );
                for _ in 0..10_000 {
                    hub_guest_sdk::info!("{line}");
                }
            }
            "tcp" => {
                let mut stream = TcpStream::connect(net::parse_addr(&device.address)?)?;
                stream.write_all(b"hello\r\n")?;
            }
            "udp" => {
                let socket = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))?;
                socket.send_to(b"hello", net::parse_addr(&device.address)?)?;
            }
            _ => {}
        }
        let mut attrs = vec![calls(self.calls)];
        if device.identity == "heavy" {
            attrs.extend((0..50).map(|n| attr(&format!("blob-{n}"), "x".repeat(4000))));
        }
        Ok(Device::new(&info, vec![Instance::new("sensor", 0, attrs)]))
    }

    fn set_attributes(
        &mut self,
        device: &DeviceInfo,
        writes: &[AttributeWrite],
    ) -> Result<(), PluginError> {
        if device.identity == "residue" {
            panic!("deliberate panic: this instance must go");
        }
        for write in writes {
            self.calls = write.value.as_int().unwrap_or(self.calls);
        }
        Ok(())
    }

    fn watch(&mut self, device: &DeviceInfo) -> Result<(), PluginError> {
        match device.identity.as_str() {
            "flood" => {
                let text = "x".repeat(self.flood.unwrap_or(0));
                for n in 0.. {
                    let change = if text.is_empty() {
                        calls(n)
                    } else {
                        attr("blob", text.as_str())
                    };
                    emit(&device.identity, 0, change);
                }
            }
            "burn" => {
                for n in 0.. {
                    burn(100_000_000);
                    emit(&device.identity, 0, calls(n));
                }
            }
            hoard if hoard.starts_with("hoard-") => {
                let held = hold_all_memory();
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                    std::hint::black_box(&held);
                }
            }
            _ => {
                return Err(PluginError::Unsupported(
                    "only the flood, burn and hoard devices push".into(),
                ));
            }
        }
        Ok(())
    }
}

fn device(identity: String, address: String) -> DeviceInfo {
    DeviceInfo {
        name: format!("hostile {identity}"),
        identity,
        model: "test".into(),
        manufacturer: "hub tests".into(),
        address,
    }
}

fn calls(n: i64) -> Attribute {
    attr("calls", n).range(0.0, 1e12).writable().notifies()
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn burn(instructions: u64) {
    let mut x: u64 = 0;
    for _ in 0..instructions / 4 {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// Takes memory a mebibyte at a time, touching every page, until none is
/// given; then keeps it.
fn hold_all_memory() -> Vec<Vec<u8>> {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::new();
        if held.try_reserve(1).is_err() || chunk.try_reserve_exact(1 << 20).is_err() {
            return held;
        }
        chunk.resize(1 << 20, 1u8);
        held.push(chunk);
    }
}

fn grow_memory() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

#[allow(unconditional_recursion)] // the attack
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[0]
}

fn open_sockets() -> Result<(), PluginError> {
    let mut open = Vec::new();
    for _ in 0..10_000 {
        open.push(UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))?);
    }
    Ok(())
}

export_plugin!(Hostile);
