//! The simulated devices a conformance run drives: some inside the
//! network the plugin is granted (127.0.0.1), one outside it (127.0.0.2),
//! and the switches that make a device unreachable, silent or updatable.

use hub_sim::shelly::{ShellyConfig, ShellyDevice, ShellySim, UpdateTiming};
use hub_sim::yeelight::{Bulb, Fault, SimConfig, YeelightSim};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

const INSIDE_COUNT: usize = 2;
/// The firmware version simulated devices offer during the ota check.
pub const OFFERED_VERSION: &str = "9.9.9";

/// What `--sim` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimKind {
    Yeelight,
    Shelly,
    /// A device the harness does not control (a real one, another simulator).
    Address(SocketAddr),
}

impl FromStr for SimKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "yeelight" => Ok(SimKind::Yeelight),
            "shelly" => Ok(SimKind::Shelly),
            other => other
                .parse()
                .map(SimKind::Address)
                .map_err(|_| format!("{other:?}: expected yeelight, shelly or a device's ip:port")),
        }
    }
}

enum Devices {
    Yeelight {
        inside: YeelightSim,
        _outside: YeelightSim,
    },
    Shelly {
        inside: ShellySim,
        _outside: ShellySim,
    },
    Address(SocketAddr),
}

pub struct Lab {
    devices: Devices,
    /// Handed to the plugin as config `discovery`.
    pub discovery: String,
    /// The identities discover must find (empty for a bare address: unknown).
    pub expected: Vec<String>,
    /// Identities discover must not find: they are outside the grant.
    pub forbidden: Vec<String>,
    /// The network the plugin is granted.
    /// Where the devices inside the grant are: what the plugin is granted.
    pub grant: IpNet,
    /// Where the device outside the grant is.
    outside: IpNet,
}

impl Lab {
    pub async fn start(kind: &SimKind) -> anyhow::Result<Self> {
        Ok(match kind {
            SimKind::Yeelight => {
                // As on a LAN: each bulb at an address of its own, at the real ports.
                let inside = YeelightSim::on_lan(SimConfig::loopback(INSIDE_COUNT)).await?;
                let outside = YeelightSim::on_lan(SimConfig {
                    first: INSIDE_COUNT,
                    ..SimConfig::loopback(1)
                })
                .await?;
                let ids = |s: &YeelightSim| s.bulbs().iter().map(|b| b.id().to_string()).collect();
                Lab {
                    discovery: format!("{},{}", inside.discovery_addr(), outside.discovery_addr()),
                    expected: ids(&inside),
                    forbidden: ids(&outside),
                    grant: inside.network(),
                    outside: outside.network(),
                    devices: Devices::Yeelight {
                        inside,
                        _outside: outside,
                    },
                }
            }
            SimKind::Shelly => {
                let timing = UpdateTiming {
                    download: Duration::from_millis(300),
                    reboot: Duration::from_millis(500),
                };
                let sim = |count, first| {
                    ShellySim::on_lan(ShellyConfig {
                        timing,
                        first,
                        ..ShellyConfig::loopback(count)
                    })
                };
                let (inside, outside) = (sim(INSIDE_COUNT, 0).await?, sim(1, INSIDE_COUNT).await?);
                let addrs = inside
                    .devices()
                    .iter()
                    .chain(outside.devices())
                    .map(|d| d.addr().to_string());
                let ids = |s: &ShellySim| s.devices().iter().map(|d| d.id().to_string()).collect();
                Lab {
                    discovery: addrs.collect::<Vec<_>>().join(","),
                    expected: ids(&inside),
                    forbidden: ids(&outside),
                    grant: inside.network(),
                    outside: outside.network(),
                    devices: Devices::Shelly {
                        inside,
                        _outside: outside,
                    },
                }
            }
            SimKind::Address(addr) => Lab {
                discovery: addr.to_string(),
                expected: Vec::new(),
                forbidden: Vec::new(),
                grant: IpNet::from(addr.ip()),
                outside: IpNet::from(addr.ip()),
                devices: Devices::Address(*addr),
            },
        })
    }

    pub fn describe(&self) -> String {
        match &self.devices {
            Devices::Yeelight { .. } => format!(
                "{INSIDE_COUNT} simulated Yeelight bulbs in {} (granted), 1 in {} (not granted)",
                self.grant, self.outside
            ),
            Devices::Shelly { .. } => format!(
                "{INSIDE_COUNT} simulated Shelly devices in {} (granted), 1 in {} (not granted)",
                self.grant, self.outside
            ),
            Devices::Address(addr) => {
                format!("the device at {addr} (not controlled by the harness)")
            }
        }
    }

    /// Whether the harness can break devices and offer updates.
    pub fn controlled(&self) -> bool {
        !matches!(self.devices, Devices::Address(_))
    }

    /// Offers firmware on `identity`; false when the devices have no update server.
    pub fn offer_update(&self, identity: &str) -> bool {
        self.shelly(identity)
            .map(|d| d.offer_update(OFFERED_VERSION))
            .is_some()
    }

    /// Closes the device's connections and refuses new ones.
    pub fn make_unreachable(&self, identity: &str) {
        if let Some(bulb) = self.bulb(identity) {
            bulb.set_fault(Fault::DropConnections);
        }
        if let Some(device) = self.shelly(identity) {
            device.set_online(false);
        }
    }

    /// Keeps the device's connections open and never answers.
    pub fn make_silent(&self, identity: &str) {
        if let Some(bulb) = self.bulb(identity) {
            bulb.set_fault(Fault::Hang);
        }
        if let Some(device) = self.shelly(identity) {
            device.set_online(true);
            device.set_silent(true);
        }
    }

    fn bulb(&self, identity: &str) -> Option<&Bulb> {
        match &self.devices {
            Devices::Yeelight { inside, .. } => inside
                .bulbs()
                .iter()
                .find(|b| b.id() == identity)
                .map(|b| &**b),
            _ => None,
        }
    }

    fn shelly(&self, identity: &str) -> Option<&ShellyDevice> {
        match &self.devices {
            Devices::Shelly { inside, .. } => inside
                .devices()
                .iter()
                .find(|d| d.id() == identity)
                .map(|d| &**d),
            _ => None,
        }
    }
}
