//! Outgoing HTTP for plugins granted it: every request goes through the
//! hub's own sender, which checks it with `caps::HttpPolicy`, resolves the
//! name itself and connects only to an address it checked (no second
//! lookup to rebind), speaks TLS itself, and bounds the time and the size
//! of the answer.

use super::AuditLog;
use crate::caps::rules::HttpHost;
use crate::caps::{HttpPolicy, Verdict};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send>;

#[derive(Clone)]
pub struct HttpSender {
    pub plugin: Arc<str>,
    pub policy: Arc<HttpPolicy>,
    pub audit: Arc<AuditLog>,
    pub max_response_bytes: usize,
}

impl WasiHttpHooks for HttpSender {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _: Io,
    ) -> Sent {
        let sender = self.clone();
        Box::new(async move { sender.send(request, options).await })
    }
}

impl HttpSender {
    async fn send(
        self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, Io), Error> {
        let uri = request.uri().clone();
        let https = uri.scheme_str() == Some("https");
        let scheme = if https { "https" } else { "http" };
        let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let destination = format!("{scheme}://{host}:{port}");
        let allowing = HttpHost {
            scheme: scheme.into(),
            host: host.clone(),
            port,
        };
        let verdict = self.policy.check_destination(scheme, &host, port);
        self.decide(&destination, verdict, Some(allowing))
            .map_err(|()| Error::HttpRequestDenied)?;
        let addr = self.resolve(&destination, &host, port).await?;
        let connect = options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(CONNECT_TIMEOUT)
            .min(CONNECT_TIMEOUT);
        let stream = tokio::time::timeout(connect, TcpStream::connect(addr))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Connect)?;
        *request.uri_mut() = path_only(&uri)?;
        let first_byte = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(FIRST_BYTE_TIMEOUT)
            .min(FIRST_BYTE_TIMEOUT);
        if https {
            let tls = tls_connector()
                .connect(server_name(&host)?, stream)
                .await
                .map_err(Error::Tls)?;
            self.exchange(tls, request, first_byte).await
        } else {
            self.exchange(stream, request, first_byte).await
        }
    }

    /// Resolves `host` and refuses it if any of its addresses is blocked;
    /// the address returned is the one connected to.
    async fn resolve(&self, destination: &str, host: &str, port: u16) -> Result<SocketAddr, Error> {
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| Error::DnsTimeout)?
                .map_err(|_| Error::DestinationNotFound)?
                .collect();
        let first = *addrs.first().ok_or(Error::DestinationNotFound)?;
        let verdict = addrs.iter().try_for_each(|a| self.policy.check_address(*a));
        // No grant lets a request into a blocked network.
        self.decide(destination, verdict, None)
            .map_err(|()| Error::DestinationIpProhibited)?;
        Ok(first)
    }

    /// Audits the verdict on `destination`; `allowing`, the host whose
    /// grant would let a refused request through, if one would.
    fn decide(
        &self,
        destination: &str,
        verdict: Result<(), &'static str>,
        allowing: Option<HttpHost>,
    ) -> Result<(), ()> {
        let verdict = verdict.map_or_else(Verdict::Deny, |()| Verdict::Allow);
        let allowing = || allowing.map(|host| host.to_string());
        self.audit
            .access(&self.plugin, "HttpRequest", destination, verdict, allowing);
        if verdict == Verdict::Allow {
            Ok(())
        } else {
            Err(())
        }
    }

    async fn exchange<S>(
        &self,
        stream: S,
        request: http::Request<WasiBody>,
        first_byte: Duration,
    ) -> Result<(http::Response<WasiBody>, Io), Error>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(Error::Hyper)?;
        // The connection must be driven while the request waits for its answer.
        let driver = tokio::spawn(connection);
        let io: Io = Box::new(async move {
            match driver.await {
                Ok(done) => done.map_err(Error::Hyper),
                Err(e) => Err(Error::InternalError(Some(e.to_string()))),
            }
        });
        let response = tokio::time::timeout(first_byte, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(Error::Hyper)?;
        let limit = self.max_response_bytes;
        Ok((response.map(|body| bounded(body, limit)), io))
    }
}

/// The response body, failing once it passes `limit` bytes.
fn bounded(body: Incoming, limit: usize) -> WasiBody {
    Limited::new(body, limit)
        .map_err(move |e| match e.downcast::<hyper::Error>() {
            Ok(e) => Error::Hyper(*e),
            Err(_) => Error::HttpResponseBodySize(Some(limit as u64)),
        })
        .boxed_unsync()
}

fn path_only(uri: &http::Uri) -> Result<http::Uri, Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)
}

fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, Error> {
    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(Error::InvalidDnsNameError)
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    });
    tokio_rustls::TlsConnector::from(config.clone())
}
