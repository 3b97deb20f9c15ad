use crate::PluginError;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How often [`udp_exchange`] looks for replies.
const UDP_POLL: Duration = Duration::from_millis(5);

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
    // wasip2 has no receive timeout on UDP sockets: poll without blocking.
    socket.set_nonblocking(true)?;
    let end = Instant::now() + window;
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => replies.push((from, buf[..n].to_vec())),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(replies);
                }
                std::thread::sleep(left.min(UDP_POLL));
            }
            Err(e) => return Err(e.into()),
        }
    }
}
