//! The hub's reads from a registry, each answer bounded as it arrives: a
//! registry is a stranger's server, and `oci-client` (which the hub keeps
//! for pushing) reads manifests, token answers and error bodies whole. An
//! error answer's body is never read; redirects and the token realm are
//! followed only where `caps::registry` allows, the registry's token goes
//! to the registry alone, and every read ends by its deadline however
//! slowly a registry trickles.

use crate::caps::registry::{self, Hop};
use anyhow::{Context, bail};
use oci_client::Reference;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, HeaderValue, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode, Url};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A registry that does not connect or answer within this is out of reach.
pub const REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer to a token request read.
const MAX_TOKEN: usize = 64 << 10;
/// Redirects followed for one read.
const MAX_HOPS: usize = 3;

/// One repository of a registry, read anonymously until a deadline.
pub struct Repository {
    /// For the registry itself, which the operator named.
    own: reqwest::Client,
    /// For anywhere else, its names resolved only outside blocked networks.
    foreign: reqwest::Client,
    /// `http://HOST:PORT/` on loopback, `https://HOST[:PORT]/` elsewhere.
    origin: Url,
    name: String,
    /// The bearer token the registry asked for, once fetched.
    token: Option<String>,
    deadline: Instant,
}

impl Repository {
    /// The repository `reference` names, whose reads all end `within` from now.
    pub fn of(reference: &Reference, within: Duration) -> anyhow::Result<Repository> {
        tls();
        let registry = reference.resolve_registry();
        let scheme = if loopback(registry) { "http" } else { "https" };
        let origin = Url::parse(&format!("{scheme}://{registry}/"))
            .with_context(|| format!("the registry {registry:?}"))?;
        let client = || {
            reqwest::Client::builder()
                .connect_timeout(REGISTRY_TIMEOUT)
                .read_timeout(REGISTRY_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                // Directly, never through HTTP(S)_PROXY: a proxy would
                // resolve foreign names where the hub cannot check them.
                .no_proxy()
        };
        Ok(Repository {
            own: client().build()?,
            foreign: client().dns_resolver(Arc::new(OutsideBlocked)).build()?,
            origin,
            name: reference.repository().to_string(),
            token: None,
            deadline: Instant::now() + within,
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

    /// The blob `digest` (`sha256:HEX`), of at most `most` bytes (its
    /// declared size).
    pub async fn blob(&mut self, digest: &str, most: usize) -> anyhow::Result<Vec<u8>> {
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            bail!("{digest:?} is not a sha256 digest");
        }
        let path = format!("blobs/{digest}");
        let what = "the manifest declares for the layer";
        self.get(&path, "application/octet-stream", most, what)
            .await
    }

    /// GETs `path` of the repository, signing in once if the registry asks.
    async fn get(
        &mut self,
        path: &str,
        accept: &str,
        most: usize,
        what: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let deadline = self.deadline;
        let read = async {
            let url = self.origin.join(&format!("v2/{}/{path}", self.name))?;
            let mut response = self.follow(url.clone(), accept).await?;
            if response.status() == StatusCode::UNAUTHORIZED && self.token.is_none() {
                let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
                let challenge = challenge.context(
                    "the registry refused an anonymous read and named no way to sign in",
                )?;
                self.token = Some(self.sign_in(&challenge).await?);
                response = self.follow(url, accept).await?;
            }
            let status = response.status();
            if !status.is_success() {
                bail!("the registry answered {status}");
            }
            read_bounded(response, most, what).await
        };
        let late = || {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the registry did not finish answering in time",
            )
        };
        tokio::time::timeout_at(deadline, read)
            .await
            .map_err(|_| late())?
    }

    /// The answer to a GET of `url`, after at most `MAX_HOPS` redirects,
    /// each as `caps::registry` allows; the token goes to the registry only.
    async fn follow(&self, mut url: Url, accept: &str) -> anyhow::Result<Response> {
        for _ in 0..=MAX_HOPS {
            let hop = registry::may_follow(&self.origin, &url).map_err(anyhow::Error::msg)?;
            let client = match hop {
                Hop::Own => &self.own,
                Hop::Foreign => &self.foreign,
            };
            let mut request = client.get(url.clone()).header(ACCEPT, accept);
            if let (Hop::Own, Some(token)) = (hop, &self.token) {
                request = request.bearer_auth(token);
            }
            let response = request.send().await?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok());
            let location = location.context("the registry redirected without a Location")?;
            url = url.join(location).context("the registry's redirect")?;
        }
        bail!("the registry redirected more than {MAX_HOPS} times")
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
        let scope = format!("repository:{}:pull", self.name);
        url.query_pairs_mut().append_pair("scope", &scope);
        if let Some(service) = param("service") {
            url.query_pairs_mut().append_pair("service", &service);
        }
        let response = self.follow(url, "application/json").await?;
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

/// Resolves names for foreign hops, refusing any name with an address in a
/// network `caps::registry` keeps them out of (DNS rebinding included).
struct OutsideBlocked;

impl Resolve for OutsideBlocked {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                registry::check_foreign_address(addr.ip())
                    .map_err(|why| format!("{host} resolves to {}: {why}", addr.ip()))?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// reqwest's rustls comes without a provider (oci-client's too): the hub's
/// is ring, installed once for the process.
pub(super) fn tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    error.chain().any(|cause| {
        let transport = cause
            .downcast_ref::<reqwest::Error>()
            .is_some_and(|e| e.is_connect() || e.is_timeout() || e.is_body());
        transport || cause.is::<std::io::Error>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_foreign_name_resolving_into_a_blocked_network_is_not_reached() {
        let name: Name = "localhost".parse().unwrap();
        let refused = OutsideBlocked
            .resolve(name)
            .await
            .err()
            .map(|e| e.to_string());
        assert!(
            refused
                .as_deref()
                .unwrap_or_default()
                .contains("localhost resolves to"),
            "{refused:?}"
        );
    }

    #[test]
    fn only_loopback_registries_are_spoken_to_over_plain_http() {
        for registry in ["localhost", "127.0.0.1:5000", "[::1]:5000", "[::1]"] {
            assert!(loopback(registry), "{registry}");
        }
        for registry in [
            "registry.example",
            "10.0.0.1:5000",
            "127.0.0.1.example",
            "[::ffff:8.8.8.8]",
        ] {
            assert!(!loopback(registry), "{registry}");
        }
    }
}
