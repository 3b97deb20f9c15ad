//! What the device does after `Shelly.Update`: download the image over
//! HTTP, check its sha256, reboot into it, announcing each step to its
//! WebSocket clients as `NotifyEvent`s (`ota_begin`, `ota_progress`,
//! `ota_success`, `ota_error`).

use super::device::{ShellyDevice, UpdateFault};
use super::firmware::Image;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::net::TcpStream;

pub(super) async fn run(device: Arc<ShellyDevice>, image: Image, fault: Option<UpdateFault>) {
    device.push_event(
        "ota_begin",
        json!({"msg": format!("Update to {} started", image.version)}),
    );
    let url = match fault {
        Some(UpdateFault::FailedDownload) => format!("{}.missing", image.url),
        _ => image.url.clone(),
    };
    let expected = match fault {
        Some(UpdateFault::BadChecksum) => "0".repeat(64),
        _ => image.sha256.clone(),
    };
    let outcome = match download(&device, &url).await {
        Ok(digest) if digest == expected => Ok(()),
        Ok(digest) => Err(format!(
            "checksum mismatch: image sha256 {digest}, expected {expected}"
        )),
        Err(e) => Err(format!("download failed: {e}")),
    };
    match outcome {
        Ok(()) => {
            device.push_event("ota_success", json!({"msg": "Update applied, rebooting"}));
            device.reboot_into(&image.version).await;
        }
        Err(msg) => {
            device.push_event("ota_error", json!({"msg": msg}));
            device.update_failed();
        }
    }
}

/// Downloads `url`, announcing progress every 10%; answers the image's hex sha256.
async fn download(device: &ShellyDevice, url: &str) -> Result<String, String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
    let authority = uri.authority().ok_or("url without a host")?.to_string();
    let stream = TcpStream::connect(&authority)
        .await
        .map_err(|e| format!("cannot reach {authority}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::get(uri.path())
        .header(hyper::header::HOST, &authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("firmware server answered {}", response.status()));
    }
    let total = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    let mut body = response.into_body();
    let (mut hasher, mut received, mut announced) = (Sha256::new(), 0u64, 0u64);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("connection lost: {e}"))?;
        if let Some(data) = frame.data_ref() {
            hasher.update(data);
            received += data.len() as u64;
        }
        let percent = (received * 100).checked_div(total).unwrap_or(0).min(100);
        if percent >= announced + 10 {
            announced = percent - percent % 10;
            device.push_event("ota_progress", json!({"progress_percent": announced}));
        }
    }
    Ok(crate::hex(&hasher.finalize()))
}
