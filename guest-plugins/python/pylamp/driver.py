"""One opened bulb (the `device` resource of the `driver` interface)."""

import json

from componentize_py_types import Err
from wit_world.exports import driver
from wit_world.imports import types

import app
import wasi_net

READ_WRITE = types.Permissions.READ | types.Permissions.WRITE


def meta():
    attribute = lambda name, val_type, **kw: types.AttributeMeta(
        instance_id=0,
        name=name,
        val_type=val_type,
        min=kw.get("min"),
        max=kw.get("max"),
        enum_values=kw.get("choices", []),
        permissions=READ_WRITE,
        unit=kw.get("unit"),
        device_class=None,
    )
    return types.DeviceMeta(
        instances=[types.InstanceMeta(instance_id=0, kind="light_bulb")],
        attributes=[
            attribute("power", types.ValType.ENUM, choices=["on", "off"]),
            attribute("brightness", types.ValType.INT, min=1.0, max=100.0, unit="%"),
        ],
        ota_support=False,
        limits=types.DeviceLimits(writes_per_minute=60),
    )


def parse(line):
    """A line from the bulb as a JSON object; anything else is skipped (an
    exception that is not `Err` would trap the instance)."""
    try:
        reply = json.loads(line)
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


class Device(driver.Device):
    @classmethod
    def open(cls, info):
        return cls(wasi_net.address(info.address))

    def __init__(self, target):
        self.target = target
        self.conn = None
        self.next_id = 1
        self.declared = False

    def describe(self):
        self.declared = True
        return meta()

    def read(self):
        props = self.command("get_prop", ["power", "bright"])
        try:
            values = [types.Value_Text(props[0]), types.Value_Int(int(props[1]))]
        except (IndexError, ValueError):
            raise Err(types.PluginError_Internal(f"the bulb reported {props!r}"))
        first, self.declared = not self.declared, True
        return types.Reading(meta=meta() if first else None, values=values)

    def write(self, writes):
        declared = meta().attributes
        for write in writes:
            name = declared[write.slot].name if write.slot < len(declared) else None
            value = write.value.value
            if name == "power" and value in ("on", "off"):
                self.command("set_power", [value, "smooth", 300])
            elif name == "brightness" and isinstance(value, int) and 1 <= value <= 100:
                self.command("set_bright", [value, "smooth", 300])
            elif name is None:
                raise Err(types.PluginError_NotFound(f"no attribute in slot {write.slot}"))
            else:
                raise Err(types.PluginError_InvalidArgument(f"{name} cannot be {value!r}"))

    def check_update(self):
        raise Err(types.PluginError_Unsupported("this plugin does not check for firmware updates"))

    def ota(self):
        raise Err(types.PluginError_Unsupported("this plugin does not update firmware"))

    def watch(self):
        raise Err(types.PluginError_Unsupported("this plugin does not push changes"))

    def command(self, method, params):
        """One command and its result; a failed connection is dropped, so
        that the next call connects again."""
        request_id = self.next_id
        self.next_id += 1
        try:
            if self.conn is None:
                self.conn = wasi_net.LineConn(self.target, app.settings["timeout_ms"])
            self.conn.send_line(json.dumps({"id": request_id, "method": method, "params": params}))
            while True:
                reply = parse(self.conn.read_line())
                if reply.get("id") == request_id:
                    break
        except Err:
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            raise
        if "error" in reply:
            raise Err(types.PluginError_InvalidArgument(f"the bulb refused {method}: {reply['error']}"))
        result = reply.get("result")
        return [str(v) for v in result] if isinstance(result, list) else []
