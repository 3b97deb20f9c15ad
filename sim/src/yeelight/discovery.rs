//! The discovery responder: answers `M-SEARCH ... ST: wifi_bulb` with one
//! unicast reply per bulb, as a multicast group of real bulbs would.

use super::{Bulb, Fault};
use std::sync::Arc;
use tokio::net::UdpSocket;

pub(super) async fn answer(socket: UdpSocket, bulbs: Vec<Arc<Bulb>>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let request = String::from_utf8_lossy(&buf[..n]);
        if !(request.starts_with("M-SEARCH") && request.contains("wifi_bulb")) {
            continue;
        }
        for bulb in bulbs.iter().filter(|b| b.fault() != Fault::Hang) {
            if let Err(e) = socket
                .send_to(bulb.search_response().as_bytes(), from)
                .await
            {
                tracing::debug!(%from, "discovery reply failed: {e}");
            }
        }
    }
}
