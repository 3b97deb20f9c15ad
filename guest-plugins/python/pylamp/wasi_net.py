"""Sockets through WASI 0.2, as the hub grants them: a datagram exchange
for discovery, and a connection that reads and writes lines. Every wait has
a deadline: a device that never answers must not hold a call until the
hub's own deadline. Pollables are dropped before the streams they watch
(`with`), as the component model requires."""

from componentize_py_types import Err
from wit_world.imports import (
    instance_network,
    monotonic_clock,
    poll,
    streams,
    tcp_create_socket,
    types,
    udp,
    udp_create_socket,
)
from wit_world.imports.network import (
    ErrorCode,
    IpAddressFamily,
    IpSocketAddress_Ipv4,
    Ipv4SocketAddress,
)


def failure(what, error):
    """A socket error as the hub's plugin error: a refusal by the grant is
    `unreachable`, naming the grant."""
    code = error
    if code == ErrorCode.ACCESS_DENIED:
        return Err(types.PluginError_Unreachable(f"{what}: refused by the hub's network grant"))
    if code == ErrorCode.TIMEOUT:
        return Err(types.PluginError_Timeout(f"{what}: timed out"))
    return Err(types.PluginError_Unreachable(f"{what}: {getattr(code, 'name', code)}"))


# The longest line a device may send, and the most datagrams a search keeps:
# a device cannot make the plugin hold more.
MAX_LINE = 64 * 1024
MAX_REPLIES = 256


def address(text):
    """`ip:port`, IPv4."""
    try:
        host, port = text.strip().rsplit(":", 1)
        octets = tuple(int(o) for o in host.split("."))
        port = int(port)
        if len(octets) != 4 or not all(0 <= o <= 255 for o in octets) or not 0 <= port <= 65535:
            raise ValueError(text)
        return IpSocketAddress_Ipv4(Ipv4SocketAddress(port, octets))
    except ValueError:
        raise Err(types.PluginError_InvalidArgument(f"{text!r} is not an ip:port"))


def _deadline(timeout_ms):
    return monotonic_clock.now() + timeout_ms * 1_000_000


def _wait(pollable, deadline):
    """True once `pollable` is ready, False at `deadline`."""
    with monotonic_clock.subscribe_instant(deadline) as timer:
        return 0 in poll.poll([pollable, timer])


def _finish(start, finish, subscribe, deadline):
    """Runs a WASI two-step operation (`start-*`, then `finish-*` once ready)."""
    start()
    while True:
        try:
            return finish()
        except Err as e:
            if e.value != ErrorCode.WOULD_BLOCK:
                raise
        with subscribe() as ready:
            if not _wait(ready, deadline):
                raise Err(ErrorCode.TIMEOUT)


def udp_exchange(target, payload, window_ms):
    """Sends `payload` to `target` and gathers the datagrams that answer
    within `window_ms`."""
    deadline = _deadline(window_ms)
    network = instance_network.instance_network()
    sock = udp_create_socket.create_udp_socket(IpAddressFamily.IPV4)
    anywhere = IpSocketAddress_Ipv4(Ipv4SocketAddress(0, (0, 0, 0, 0)))
    try:
        _finish(lambda: sock.start_bind(network, anywhere), sock.finish_bind, sock.subscribe, deadline)
        incoming, outgoing = sock.stream(None)
        with incoming, outgoing:
            # `send` may carry only as many datagrams as `check-send` permits.
            while outgoing.check_send() == 0:
                with outgoing.subscribe() as ready:
                    if not _wait(ready, deadline):
                        raise Err(ErrorCode.TIMEOUT)
            outgoing.send([udp.OutgoingDatagram(payload, target)])
            replies = []
            while monotonic_clock.now() < deadline and len(replies) < MAX_REPLIES:
                with incoming.subscribe() as ready:
                    if not _wait(ready, deadline):
                        break
                replies += [d.data for d in incoming.receive(16)]
            return replies[:MAX_REPLIES]
    except Err as e:
        raise failure(f"search at {target.value.address}", e.value)
    finally:
        sock.__exit__(None, None, None)


class LineConn:
    """A TCP connection carrying lines, each read within `timeout_ms`."""

    def __init__(self, target, timeout_ms):
        self.timeout_ms = timeout_ms
        self.pending = b""
        network = instance_network.instance_network()
        self.sock = tcp_create_socket.create_tcp_socket(IpAddressFamily.IPV4)
        deadline = _deadline(timeout_ms)
        try:
            self.input, self.output = _finish(
                lambda: self.sock.start_connect(network, target),
                self.sock.finish_connect,
                self.sock.subscribe,
                deadline,
            )
        except Err as e:
            self.sock.__exit__(None, None, None)
            raise failure("connect", e.value)

    def close(self):
        self.input.__exit__(None, None, None)
        self.output.__exit__(None, None, None)
        self.sock.__exit__(None, None, None)

    def send_line(self, line):
        try:
            self.output.blocking_write_and_flush((line + "\r\n").encode())
        except Err as e:
            raise Err(types.PluginError_Unreachable(f"send: {e.value}"))

    def read_line(self):
        deadline = _deadline(self.timeout_ms)
        while b"\n" not in self.pending:
            if len(self.pending) > MAX_LINE:
                raise Err(types.PluginError_InvalidArgument(f"the device sent a line longer than {MAX_LINE} bytes"))
            with self.input.subscribe() as ready:
                if not _wait(ready, deadline):
                    raise Err(types.PluginError_Timeout("the device did not answer in time"))
            try:
                self.pending += self.input.read(4096)
            except Err as e:
                if isinstance(e.value, streams.StreamError_Closed):
                    raise Err(types.PluginError_Unreachable("the device closed the connection"))
                raise Err(types.PluginError_Unreachable(f"read: {e.value}"))
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode(errors="replace").strip()
