//! TEST ONLY. Drives Yeelight bulbs with three mistakes that `hub plugin
//! test` must report: brightness declared `int` but reported as a string,
//! `notify` declared but no events emitted (no watch), and reads without a
//! timeout, so a silent bulb holds a call until the hub's deadline.

use hub_guest_sdk::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

const SEARCH: &str = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1982\r\nMAN: \"ssdp:discover\"\r\nST: wifi_bulb\r\n";

struct Broken {
    discovery: String,
}

/// One command, its reply read with no timeout at all (the mistake).
fn command(address: &str, line: &str) -> Result<String, PluginError> {
    let mut stream = TcpStream::connect(net::parse_addr(address)?)?;
    stream.write_all(format!("{line}\r\n").as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    Ok(reply)
}

impl Plugin for Broken {
    type Device = Bulb;

    fn init(config: Config) -> Result<Self, PluginError> {
        Ok(Broken {
            discovery: config.get("discovery").unwrap_or_default().to_string(),
        })
    }

    fn discover(&mut self, timeout: Duration) -> Result<Vec<DeviceInfo>, PluginError> {
        let mut found = Vec::new();
        for target in self
            .discovery
            .split(',')
            .filter_map(|t| net::parse_addr(t).ok())
        {
            let Ok(replies) = net::udp_exchange(target, SEARCH.as_bytes(), timeout) else {
                continue;
            };
            for (_, reply) in replies {
                let text = String::from_utf8_lossy(&reply).to_string();
                let header = |name: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                };
                if let (Some(id), Some(location)) = (header("id:"), header("Location: yeelight://"))
                {
                    found.push(DeviceInfo {
                        name: "broken bulb".into(),
                        identity: id,
                        model: "color".into(),
                        manufacturer: "Yeelight".into(),
                        address: location,
                    });
                }
            }
        }
        Ok(found)
    }

    fn open(&mut self, info: DeviceInfo) -> Result<Bulb, PluginError> {
        Ok(Bulb {
            address: info.address,
        })
    }
}

struct Bulb {
    address: String,
}

impl Device for Bulb {
    fn describe(&mut self) -> Result<DeviceMeta, PluginError> {
        let attrs = vec![
            attr::choice("power", &["on", "off"]).writable().notifies(),
            attr::int("brightness")
                .range(1.0, 100.0)
                .writable()
                .notifies(),
        ];
        Ok(DeviceMeta::new().instance("light_bulb", 0, attrs))
    }

    fn read(&mut self, _declared: &DeviceMeta) -> Result<Vec<Value>, PluginError> {
        let reply = command(
            &self.address,
            r#"{"id":1,"method":"get_prop","params":["power","bright"]}"#,
        )?;
        let power = if reply.contains("\"on\"") {
            "on"
        } else {
            "off"
        };
        // Declared an int from 1 to 100, reported as text.
        Ok(vec![power.into(), "80".into()])
    }

    fn write(&mut self, writes: &[AttributeWrite]) -> Result<(), PluginError> {
        for write in writes {
            // Whatever the attribute and value, it switches the bulb.
            let on = write.value.as_text() == Some("on");
            let state = if on { "on" } else { "off" };
            command(
                &self.address,
                &format!(r#"{{"id":2,"method":"set_power","params":["{state}"]}}"#),
            )?;
        }
        Ok(())
    }
}

export_plugin!(Broken);
