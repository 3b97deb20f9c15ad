//! The hub's reads from a registry, each answer bounded as it arrives: a
//! registry is a stranger's server, and `oci-client` (which the hub keeps
//! for pushing) reads manifests, token answers and error bodies whole. An
//! error answer's body is never read; a token is fetched only from a realm
//! over HTTPS, or on loopback from a registry on loopback.

use anyhow::{Context, bail};
use oci_client::Reference;
use reqwest::header::{ACCEPT, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode, Url};
use serde::Deserialize;
use std::time::Duration;

/// A registry that does not connect or answer within this is out of reach.
pub const REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer to a token request read.
const MAX_TOKEN: usize = 64 << 10;

/// One repository of a registry, read anonymously.
pub struct Repository {
    http: reqwest::Client,
    /// `http://HOST:PORT` on loopback, `https://HOST[:PORT]` elsewhere.
    base: String,
    name: String,
    /// The bearer token the registry asked for, once fetched.
    token: Option<String>,
}

impl Repository {
    pub fn of(reference: &Reference) -> anyhow::Result<Repository> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let registry = reference.resolve_registry();
        let scheme = if loopback(registry) { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .connect_timeout(REGISTRY_TIMEOUT)
            .read_timeout(REGISTRY_TIMEOUT)
            .build()?;
        Ok(Repository {
            http,
            base: format!("{scheme}://{registry}"),
            name: reference.repository().to_string(),
            token: None,
        })
    }

    /// The manifest `at` (a tag or a digest), of at most `most` bytes.
    pub async fn manifest(
        &mut self,
        at: &str,
        media_type: &str,
        most: usize,
    ) -> anyhow::Result<Vec<u8>> {
        let path = format!("manifests/{at}");
        self.get(&path, media_type, most, "a manifest may have")
            .await
    }

    /// The blob `digest`, of at most `most` bytes (its declared size).
    pub async fn blob(&mut self, digest: &str, most: usize) -> anyhow::Result<Vec<u8>> {
        let path = format!("blobs/{digest}");
        let what = "the manifest declares for the layer";
        self.get(&path, "application/octet-stream", most, what)
            .await
    }

    async fn get(
        &mut self,
        path: &str,
        accept: &str,
        most: usize,
        what: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}/v2/{}/{path}", self.base, self.name);
        let mut response = self.send(&url, accept).await?;
        if response.status() == StatusCode::UNAUTHORIZED && self.token.is_none() {
            let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
            let challenge = challenge
                .context("the registry refused an anonymous read and named no way to sign in")?;
            self.token = Some(self.sign_in(&challenge).await?);
            response = self.send(&url, accept).await?;
        }
        let status = response.status();
        if !status.is_success() {
            bail!("the registry answered {status}");
        }
        read_bounded(response, most, what).await
    }

    async fn send(&self, url: &str, accept: &str) -> anyhow::Result<Response> {
        let mut request = self.http.get(url).header(ACCEPT, accept);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        Ok(request.send().await?)
    }

    /// An anonymous pull token from the realm the registry's challenge names.
    async fn sign_in(&self, challenge: &HeaderValue) -> anyhow::Result<String> {
        let challenge = challenge
            .to_str()
            .context("the registry's sign-in challenge")?;
        let bearer = http_auth::parse_challenges(challenge)
            .ok()
            .and_then(|all| {
                all.into_iter()
                    .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
            })
            .context("the registry asks for a sign-in other than an anonymous bearer token")?;
        let param = |name: &str| {
            let found = bearer
                .params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name));
            found.map(|(_, v)| v.to_unescaped())
        };
        let realm = param("realm").context("the registry's challenge names no realm")?;
        let mut url = Url::parse(&realm).with_context(|| format!("the token realm {realm:?}"))?;
        let on_loopback = url.host_str().is_some_and(loopback) && self.base.starts_with("http://");
        if url.scheme() != "https" && !on_loopback {
            bail!(
                "the registry names the token realm {realm}: only https, or loopback for a registry on loopback"
            );
        }
        let scope = format!("repository:{}:pull", self.name);
        url.query_pairs_mut().append_pair("scope", &scope);
        if let Some(service) = param("service") {
            url.query_pairs_mut().append_pair("service", &service);
        }
        let response = self.http.get(url).send().await?;
        let status = response.status();
        if !status.is_success() {
            bail!("the token realm answered {status}");
        }
        let body = read_bounded(response, MAX_TOKEN, "a token answer may have").await?;
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = serde_json::from_slice(&body).context("the token realm's answer")?;
        token
            .token
            .or(token.access_token)
            .context("the token realm's answer holds no token")
    }
}

/// The body of `response`, refused as soon as it passes `most` bytes.
async fn read_bounded(mut response: Response, most: usize, what: &str) -> anyhow::Result<Vec<u8>> {
    if response.content_length().is_some_and(|n| n > most as u64) {
        bail!("the registry sent more than the {most} bytes {what}");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > most {
            bail!("the registry sent more than the {most} bytes {what}");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether `registry` (`HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`) is
/// on loopback.
pub fn loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next(),
        None => registry.split(':').next(),
    };
    let host = host.unwrap_or_default();
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `error` is a registry out of reach (no connection, or none
/// answering in time) rather than one that answered something refused.
pub fn out_of_reach(error: &anyhow::Error) -> bool {
    use oci_client::errors::OciDistributionError;
    error.chain().any(|cause| {
        let transport = cause
            .downcast_ref::<reqwest::Error>()
            .is_some_and(|e| e.is_connect() || e.is_timeout());
        transport
            || cause.is::<std::io::Error>()
            || matches!(
                cause.downcast_ref::<OciDistributionError>(),
                Some(OciDistributionError::RequestError(_))
            )
    })
}
