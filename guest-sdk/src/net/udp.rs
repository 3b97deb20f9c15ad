use crate::PluginError;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Sends `payload` to `target` from an ephemeral port and collects every
/// reply that arrives within `window` (as discovery protocols answer).
pub fn udp_exchange(
    target: SocketAddr,
    payload: &[u8],
    window: Duration,
) -> Result<Vec<(SocketAddr, Vec<u8>)>, PluginError> {
    let bind = match target {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let socket = UdpSocket::bind(bind)?;
    socket
        .send_to(payload, target)
        .map_err(|e| PluginError::from(e).context(format!("send to {target}")))?;
    socket.set_nonblocking(true)?;
    let end = Instant::now() + window;
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => replies.push((from, buf[..n].to_vec())),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() || !wait_readable(&socket, left)? {
                    return Ok(replies);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Blocks until a datagram is waiting (true) or `timeout` passes (false):
/// wasip2 sockets take no receive timeout, but `poll` works on them.
fn wait_readable(socket: &UdpSocket, timeout: Duration) -> Result<bool, PluginError> {
    let mut fd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fd` is one valid pollfd for a socket that outlives the call.
    match unsafe { libc::poll(&mut fd, 1, millis) } {
        n if n < 0 => Err(std::io::Error::last_os_error().into()),
        n => Ok(n > 0),
    }
}
