"""A driver for Yeelight bulbs' power and brightness, in Python, against
hub:device@0.2.0: the same protocol as the Rust plugin `guest-plugins/
yeelight`, as a Python author would write it.

Configuration: `discovery`, where the search goes (one or more `ip:port`,
comma-separated; a target the grant refuses is skipped), and
`io_timeout_ms`, for every connect and read (default 3000)."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

import wasi_net

SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1982\r\n"
    b'MAN: "ssdp:discover"\r\nST: wifi_bulb\r\n'
)

# What init read from the configuration, for the devices this instance opens.
settings = {"discovery": ["239.255.255.250:1982"], "timeout_ms": 3000}


class Driver(exports.Driver):
    def init(self, config):
        config = dict(config)
        if "discovery" in config:
            settings["discovery"] = config["discovery"].split(",")
        if "io_timeout_ms" in config:
            try:
                settings["timeout_ms"] = int(config["io_timeout_ms"])
            except ValueError:
                raise Err(types.PluginError_InvalidArgument("config `io_timeout_ms`: milliseconds"))
        for target in settings["discovery"]:
            wasi_net.address(target)

    def discover(self, timeout_ms):
        found = {}
        for target in settings["discovery"]:
            try:
                replies = wasi_net.udp_exchange(wasi_net.address(target), SEARCH, timeout_ms)
            except Err as e:
                # Outside the grant, or unreachable: the others still count.
                host.log(host.LogLevel.WARN, f"search at {target} failed: {e.value}")
                continue
            for reply in replies:
                device = device_in(reply.decode(errors="replace"))
                if device is not None:
                    found.setdefault(device.identity, device)
        return list(found.values())


def device_in(reply):
    """A search answer: its `id` and `Location: yeelight://IP:PORT`."""
    headers = {}
    for line in reply.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    location = headers.get("location", "")
    if "id" not in headers or not location.startswith("yeelight://"):
        return None
    return types.DeviceInfo(
        identity=headers["id"],
        name="Yeelight bulb",
        model=headers.get("model", ""),
        manufacturer="Yeelight",
        address=location[len("yeelight://"):],
    )
