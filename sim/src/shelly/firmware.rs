//! The simulated vendor firmware server: images published by version,
//! served over HTTP in paced chunks so that a download takes a while and
//! reports progress, as a real one over Wi-Fi does.

use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

const IMAGE_BYTES: usize = 256 << 10;
const CHUNKS: usize = 16;

/// A published firmware image, as the device learns of it.
#[derive(Debug, Clone)]
pub struct Image {
    pub version: String,
    pub build_id: String,
    pub url: String,
    /// Hex sha256 the downloaded image must have.
    pub sha256: String,
}

pub struct Firmware {
    addr: SocketAddr,
    download_time: Duration,
    images: Mutex<HashMap<String, Bytes>>,
}

impl Firmware {
    pub async fn start(
        listener: TcpListener,
        download_time: Duration,
    ) -> anyhow::Result<(Arc<Self>, impl Future<Output = ()>)> {
        let firmware = Arc::new(Firmware {
            addr: listener.local_addr()?,
            download_time,
            images: Mutex::new(HashMap::new()),
        });
        Ok((firmware.clone(), serve(listener, firmware)))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes an image for `app` at `version` downloadable.
    pub fn publish(&self, app: &str, version: &str) -> Image {
        let name = format!("{app}-{version}.zip");
        let line = format!("simulated {app} firmware {version}\n");
        let bytes: Vec<u8> = line.bytes().cycle().take(IMAGE_BYTES).collect();
        let sha256 = crate::hex(&Sha256::digest(&bytes));
        self.images()
            .insert(format!("/fw/{name}"), Bytes::from(bytes));
        Image {
            version: version.to_string(),
            build_id: format!("20250101-000000/{version}-g1111111"),
            url: format!("http://{}/fw/{name}", self.addr),
            sha256,
        }
    }

    fn images(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        self.images
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

type Body = BoxBody<Bytes, Infallible>;

async fn serve(listener: TcpListener, firmware: Arc<Firmware>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let firmware = firmware.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let firmware = firmware.clone();
                async move { Ok::<_, Infallible>(answer(&firmware, &request)) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(firmware: &Firmware, request: &Request<Incoming>) -> Response<Body> {
    let Some(image) = firmware.images().get(request.uri().path()).cloned() else {
        let mut missing = Response::new(Full::new(Bytes::from_static(b"no such image")).boxed());
        *missing.status_mut() = StatusCode::NOT_FOUND;
        return missing;
    };
    let pause = firmware.download_time / CHUNKS as u32;
    let chunks: Vec<Bytes> = image
        .chunks(image.len().div_ceil(CHUNKS))
        .map(Bytes::copy_from_slice)
        .collect();
    let paced = futures_util::stream::iter(chunks).then(move |chunk| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, Infallible>(Frame::data(chunk))
    });
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(paced)));
    response.headers_mut().insert(
        hyper::header::CONTENT_LENGTH,
        hyper::header::HeaderValue::from(image.len()),
    );
    response
}
