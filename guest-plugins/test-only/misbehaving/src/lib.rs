//! TEST ONLY. Each discovered device names a misbehaviour that its
//! `get_attributes` commits, so that tests can prove the hub contains it:
//!
//! - `well`: answers normally (a writable counter);
//! - `trap`: panics, which traps the instance;
//! - `spin`: loops forever;
//! - `sleep`: sleeps for a minute;
//! - `tcp@ADDR` / `udp@ADDR`: connects, or sends a datagram, to ADDR, one
//!   device per address in the config's comma-separated `targets`.

use hub_guest_sdk::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

struct Misbehaving {
    targets: Vec<String>,
    calls: i64,
}

impl Plugin for Misbehaving {
    fn init(config: Config) -> Result<Self, PluginError> {
        let targets = config.get("targets").unwrap_or_default();
        Ok(Misbehaving {
            targets: targets
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            calls: 0,
        })
    }

    fn discover(&mut self, _timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let fixed = ["well", "trap", "spin", "sleep"].map(|b| (b.to_string(), String::new()));
        let reaching = self.targets.iter().flat_map(|t| {
            [
                (format!("tcp@{t}"), t.clone()),
                (format!("udp@{t}"), t.clone()),
            ]
        });
        Ok(fixed
            .into_iter()
            .chain(reaching)
            .map(|(identity, address)| DeviceInfo {
                name: format!("misbehaving {identity}"),
                identity,
                model: "test".into(),
                manufacturer: "hub tests".into(),
                address,
            })
            .collect())
    }

    fn get_attributes(&mut self, device: &DeviceInfo) -> Result<Device, PluginError> {
        self.calls += 1;
        let behaviour = device.identity.split('@').next().unwrap_or_default();
        match behaviour {
            "trap" => panic!("deliberate panic"),
            "spin" => spin(),
            "sleep" => std::thread::sleep(Duration::from_secs(60)),
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
        let calls = attr("calls", self.calls).range(0.0, 1e9).writable();
        Ok(Device::new(
            device,
            vec![Instance::new("sensor", 0, vec![calls])],
        ))
    }

    fn set_attributes(
        &mut self,
        _device: &DeviceInfo,
        writes: &[AttributeWrite],
    ) -> Result<(), PluginError> {
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
