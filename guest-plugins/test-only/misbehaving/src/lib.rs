//! TEST ONLY. Each discovered device names a misbehaviour that its
//! `get_attributes` commits, so that tests can prove the hub contains it:
//!
//! - `well`: answers normally (a counter attribute, writable);
//! - `trap`: panics, which traps the instance;
//! - `spin`: loops forever;
//! - `sleep`: sleeps for a minute;
//! - `tcp` / `udp`: connects or sends a datagram to the config's `target`
//!   and reports what the network said.

use hub_guest_sdk::*;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

struct Misbehaving {
    target: String,
    calls: i64,
}

const BEHAVIOURS: [&str; 6] = ["well", "trap", "spin", "sleep", "tcp", "udp"];

impl Plugin for Misbehaving {
    fn init(config: Config) -> Result<Self, PluginError> {
        Ok(Misbehaving {
            target: config.get("target").unwrap_or("127.0.0.1:9").to_string(),
            calls: 0,
        })
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        Ok(BEHAVIOURS
            .iter()
            .map(|b| DeviceInfo {
                identity: b.to_string(),
                name: format!("misbehaving {b}"),
                model: "test".into(),
                manufacturer: "hub tests".into(),
                address: self.target.clone(),
            })
            .collect())
    }

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        self.calls += 1;
        match device.identity.as_str() {
            "trap" => panic!("deliberate panic"),
            "spin" => spin(),
            "sleep" => std::thread::sleep(Duration::from_secs(60)),
            "tcp" => {
                let mut stream = TcpStream::connect(net::parse_addr(&device.address)?)?;
                stream.write_all(b"hello\r\n")?;
            }
            "udp" => {
                let socket = UdpSocket::bind("0.0.0.0:0")?;
                socket.send_to(b"hello", net::parse_addr(&device.address)?)?;
            }
            _ => {}
        }
        let calls = attr("calls", self.calls).range(0.0, 1e9).writable();
        Ok(Device::new(device, vec![Instance::new("sensor", 0, vec![calls])]))
    }

    fn set_attributes(&mut self, _device: &DeviceInfo, writes: &[AttributeWrite]) -> Result<(), PluginError> {
        for write in writes {
            self.calls = write.value.as_int().unwrap_or(self.calls);
        }
        Ok(())
    }
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

export_plugin!(Misbehaving);
