//! Releases as CNCF Wasm OCI artifacts: a config of media type
//! `application/vnd.wasm.config.v0+json`, one `application/wasm` layer (the
//! component), and the manifest (`plugin.toml`) and signed release carried
//! as annotations of the OCI manifest, so that the artifact stays the one
//! wkg, Spin and wasmCloud read. A pull goes by digest: a tag only says
//! which digest to look at, and every byte read is checked against the
//! digest that named it, within a size bound, before anything else reads it.

use super::Package;
use super::fetch::{REGISTRY_TIMEOUT, Repository, loopback};
use super::release::SignedRelease;
use crate::digest::sha256_oci as digest;
use crate::plugins::{MAX_COMPONENT, MAX_MANIFEST};
use anyhow::{Context, bail};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::{Client, Reference};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER: &str = "application/wasm";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MANIFEST_ANNOTATION: &str = "dev.hub.plugin.manifest";
const RELEASE_ANNOTATION: &str = "dev.hub.plugin.release";
/// The largest OCI manifest read: the plugin manifest and release inside.
const MAX_OCI_MANIFEST: usize = 256 << 10;

/// A release read from a registry, every byte checked against its digest.
pub struct Pulled {
    /// `REGISTRY/NAME@sha256:...`: what was installed, whatever tag led there.
    pub pinned: String,
    pub manifest: String,
    pub component: Vec<u8>,
    pub release: SignedRelease,
    /// The pull's turn, held until the release is installed or dropped:
    /// within a hub process, one pulled component is in memory at a time.
    pub turn: Option<SemaphorePermit<'static>>,
}

/// Pulls take turns (see `Pulled::turn`).
static PULLS: Semaphore = Semaphore::const_new(1);
/// The longest a pull may take, however steadily a registry trickles.
const PULL_DEADLINE: Duration = Duration::from_secs(600);
/// The longest reading a manifest or a bundle alone may take.
const READ_DEADLINE: Duration = Duration::from_secs(120);

/// Pushes a signed package to `reference` (`oci://REGISTRY/NAME:TAG`); the
/// pinned reference of what was pushed.
pub async fn push(package: &Package, reference: &str) -> anyhow::Result<String> {
    let statement = &package.release.statement;
    let config =
        json!({"architecture": "wasm", "os": "wasip2", "layerDigests": [statement.component]});
    let annotations = json!({
        "org.opencontainers.image.title": statement.plugin,
        "org.opencontainers.image.version": statement.version,
        MANIFEST_ANNOTATION: package.manifest,
        RELEASE_ANNOTATION: serde_json::to_string(&package.release)?,
    });
    let layer = (WASM_LAYER, package.component.clone());
    let config = (WASM_CONFIG, serde_json::to_vec(&config)?);
    push_artifact(reference, layer, config, annotations).await
}

/// The marketplace's bundle travels as an OCI artifact of its own: one
/// JSON layer, at most `MAX_BUNDLE` bytes.
const BUNDLE_CONFIG: &str = "application/vnd.hub.market.config.v1+json";
const BUNDLE_LAYER: &str = "application/vnd.hub.market.bundle.v1+json";
pub(super) const MAX_BUNDLE: usize = 4 << 20;

/// Pushes a marketplace's bundle (JSON) to `reference`; its pinned reference.
pub async fn push_bundle(bundle: Vec<u8>, reference: &str) -> anyhow::Result<String> {
    let config = (BUNDLE_CONFIG, b"{}".to_vec());
    push_artifact(reference, (BUNDLE_LAYER, bundle), config, json!({})).await
}

/// Pushes one layer and its config, each `(media type, bytes)`, under
/// `reference`, the manifest carrying `annotations`; the pinned reference.
async fn push_artifact(
    reference: &str,
    (layer_type, layer): (&str, Vec<u8>),
    (config_type, config): (&str, Vec<u8>),
    annotations: serde_json::Value,
) -> anyhow::Result<String> {
    let (client, reference) = client_for(reference)?;
    let (layer_digest, layer_size) = (digest(&layer), layer.len());
    let (config_digest, config_size) = (digest(&config), config.len());
    for (what, bytes, at) in [
        ("layer", layer, &layer_digest),
        ("config", config, &config_digest),
    ] {
        client
            .push_blob(&reference, bytes, at)
            .await
            .with_context(|| format!("push the {what}"))?;
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": layer_type, "digest": layer_digest, "size": layer_size}],
        "annotations": annotations,
    });
    let body = serde_json::to_vec(&manifest)?;
    let pinned = bare(&reference.clone_with_digest(digest(&body)));
    let content_type = hyper::header::HeaderValue::from_static(OCI_MANIFEST);
    client
        .push_manifest_raw(&reference, body, content_type)
        .await
        .context("push the manifest")?;
    Ok(pinned)
}

/// Pulls the bundle `reference` names: its bytes, checked against the
/// layer digest and bound. What they say is checked by `Trusted::accept`.
pub async fn pull_bundle(reference: &str) -> anyhow::Result<Vec<u8>> {
    let reference = parse(reference)?;
    let mut repository = Repository::of(&reference, READ_DEADLINE)?;
    let (artifact, _) = manifest(&mut repository, &reference).await?;
    let [layer] = artifact.layers.as_slice() else {
        bail!("a marketplace bundle has exactly one layer");
    };
    if artifact.config.media_type != BUNDLE_CONFIG || layer.media_type != BUNDLE_LAYER {
        bail!("{reference} is not a marketplace bundle");
    }
    if !(0..=MAX_BUNDLE as i64).contains(&layer.size) {
        bail!(
            "the bundle is {} bytes; at most {MAX_BUNDLE} are read",
            layer.size
        );
    }
    read_blob(&mut repository, layer).await
}

/// Pulls the release `reference` names, checking on the way: the manifest's
/// digest (against the reference's, when it pins one), its shape (a Wasm
/// config, exactly one Wasm layer, the plugin's manifest and release
/// annotations, each within its bound), and the component's digest.
pub async fn pull(reference: &str) -> anyhow::Result<Pulled> {
    let turn = turn().await?;
    Ok(Pulled {
        turn: Some(turn),
        ..pull_now(reference).await?
    })
}

/// A turn to hold a component in memory until it is installed (see
/// `Pulled::turn`), waited for no longer than a pull may take.
pub async fn turn() -> anyhow::Result<SemaphorePermit<'static>> {
    let waited = tokio::time::timeout(PULL_DEADLINE, PULLS.acquire()).await;
    Ok(waited.map_err(|_| Busy)??)
}

/// The hub's own turn was not had in time: the hub is busy, not the
/// registry out of reach.
#[derive(Debug, thiserror::Error)]
#[error("another install has held the hub's turn for 10 minutes: try again later")]
pub struct Busy;

/// Manifests read at once (each up to 256 KiB, for `updates`).
static PEEKS: Semaphore = Semaphore::const_new(4);

async fn pull_now(reference: &str) -> anyhow::Result<Pulled> {
    let reference = parse(reference)?;
    let mut repository = Repository::of(&reference, PULL_DEADLINE)?;
    let (artifact, pinned) = manifest(&mut repository, &reference).await?;
    let layer = artifact.check()?;
    let manifest = artifact.annotation(MANIFEST_ANNOTATION, MAX_MANIFEST as usize)?;
    let release = artifact.annotation(RELEASE_ANNOTATION, MAX_MANIFEST as usize)?;
    let release: SignedRelease = serde_json::from_str(release).context("the release annotation")?;
    let component = read_blob(&mut repository, layer).await?;
    Ok(Pulled {
        pinned: bare(&pinned),
        manifest: manifest.to_string(),
        component,
        release,
        turn: None,
    })
}

/// The `plugin.toml` of the release `reference` names, read from its OCI
/// manifest alone (no component): what an update would ask for.
pub async fn peek(reference: &str) -> anyhow::Result<String> {
    let _turn = PEEKS.acquire().await?;
    let reference = parse(reference)?;
    let mut repository = Repository::of(&reference, READ_DEADLINE)?;
    let (artifact, _) = manifest(&mut repository, &reference).await?;
    artifact.check()?;
    Ok(artifact
        .annotation(MANIFEST_ANNOTATION, MAX_MANIFEST as usize)?
        .to_string())
}

/// An artifact's OCI manifest, within its bound and matching the digest
/// the reference pins, if it pins one; with the reference pinned to it.
async fn manifest(
    repository: &mut Repository,
    reference: &Reference,
) -> anyhow::Result<(Artifact, Reference)> {
    let at = reference.digest().or(reference.tag()).unwrap_or("latest");
    let raw = repository
        .manifest(at, OCI_MANIFEST, MAX_OCI_MANIFEST)
        .await
        .with_context(|| format!("read the manifest of {reference}"))?;
    let manifest_digest = digest(&raw);
    if let Some(pinned) = reference.digest()
        && pinned != manifest_digest
    {
        bail!("the registry answered a manifest of digest {manifest_digest} for {pinned}");
    }
    let artifact: Artifact = serde_json::from_slice(&raw).context("the registry's manifest")?;
    Ok((artifact, reference.clone_with_digest(manifest_digest)))
}

/// The layer's bytes, at most its declared size (bounded by the caller),
/// whose digest must be the one the manifest names.
async fn read_blob(repository: &mut Repository, layer: &OciDescriptor) -> anyhow::Result<Vec<u8>> {
    let bytes = repository
        .blob(&layer.digest, layer.size as usize)
        .await
        .context("read the layer")?;
    let got = digest(&bytes);
    if got != layer.digest {
        bail!(
            "the registry sent a layer of digest {got} for {}",
            layer.digest
        );
    }
    Ok(bytes)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Artifact {
    media_type: Option<String>,
    config: OciDescriptor,
    layers: Vec<OciDescriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Artifact {
    /// The component's layer, once the manifest is a plugin release's shape.
    fn check(&self) -> anyhow::Result<&OciDescriptor> {
        if self
            .media_type
            .as_deref()
            .is_some_and(|t| t != OCI_MANIFEST)
        {
            bail!("not an OCI image manifest: {:?}", self.media_type);
        }
        if self.config.media_type != WASM_CONFIG {
            bail!(
                "not a Wasm artifact: its config is {}, not {WASM_CONFIG}",
                self.config.media_type
            );
        }
        let [layer] = self.layers.as_slice() else {
            bail!(
                "a plugin release has exactly one layer; this one has {}",
                self.layers.len()
            );
        };
        if layer.media_type != WASM_LAYER {
            bail!("its layer is {}, not {WASM_LAYER}", layer.media_type);
        }
        if !(0..=MAX_COMPONENT as i64).contains(&layer.size) {
            bail!(
                "its component is {} bytes; at most {MAX_COMPONENT} are installed",
                layer.size
            );
        }
        Ok(layer)
    }

    fn annotation(&self, name: &str, most: usize) -> anyhow::Result<&str> {
        let value = self.annotations.get(name).with_context(|| {
            format!("the artifact carries no {name} annotation: not a hub plugin release")
        })?;
        if value.len() > most {
            bail!("its {name} annotation is over {most} bytes");
        }
        Ok(value)
    }
}

/// `oci://REGISTRY/NAME:TAG` or `oci://REGISTRY/NAME@DIGEST`, parsed.
fn parse(reference: &str) -> anyhow::Result<Reference> {
    let text = reference
        .strip_prefix("oci://")
        .with_context(|| format!("{reference:?} is not an oci:// reference"))?;
    text.parse()
        .with_context(|| format!("{reference:?} is not REGISTRY/NAME:TAG or REGISTRY/NAME@DIGEST"))
}

/// A client pushing to `reference`'s registry: plain HTTP on loopback only.
fn client_for(reference: &str) -> anyhow::Result<(Client, Reference)> {
    let parsed = parse(reference)?;
    super::fetch::tls();
    let config = ClientConfig {
        connect_timeout: Some(REGISTRY_TIMEOUT),
        read_timeout: Some(REGISTRY_TIMEOUT),
        protocol: if loopback(parsed.registry()) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        ..Default::default()
    };
    Ok((Client::new(config), parsed))
}

/// `REGISTRY/NAME@DIGEST` or `REGISTRY/NAME:TAG`, as `oci://` references write it.
fn bare(reference: &Reference) -> String {
    let place = format!("{}/{}", reference.registry(), reference.repository());
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) => format!("oci://{place}@{digest}"),
        (None, Some(tag)) => format!("oci://{place}:{tag}"),
        (None, None) => format!("oci://{place}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A registry answering each request's head with `respond(its own
    /// address, the head)`: a status line with headers, and a body.
    async fn registry<F>(respond: F) -> std::net::SocketAddr
    where
        F: Fn(std::net::SocketAddr, &str) -> (String, Vec<u8>) + Clone + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let respond = respond.clone();
                tokio::spawn(async move {
                    let mut request = vec![0u8; 8192];
                    let n = stream.read(&mut request).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&request[..n]).to_lowercase();
                    let (status, body) = respond(addr, &head);
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                });
            }
        });
        addr
    }

    /// A registry that answers every manifest request with `manifest` and
    /// every blob request with `blob`, whatever was asked: the misbehaviour
    /// a real registry cannot be made to show.
    async fn lying_registry(manifest: Vec<u8>, blob: Vec<u8>) -> std::net::SocketAddr {
        registry(move |_, head| {
            let (kind, body) = if head.contains("/manifests/") {
                (OCI_MANIFEST, manifest.clone())
            } else {
                ("application/octet-stream", blob.clone())
            };
            (format!("200 OK\r\ncontent-type: {kind}"), body)
        })
        .await
    }

    /// A registry that asks for a bearer token from `realm` (`ADDR` is its
    /// own address), whose `/token` answers `token`, and that serves a
    /// release only to a read carrying `Bearer t0k`.
    async fn signing_in(realm: &'static str, token: Vec<u8>) -> std::net::SocketAddr {
        let manifest = manifest_for(b"c", 1);
        registry(move |addr, head| {
            let challenge = format!(
                "401 Unauthorized\r\nwww-authenticate: Bearer realm=\"{}\",service=\"registry\"",
                realm.replace("ADDR", &addr.to_string())
            );
            if head.starts_with("get /token") {
                ("200 OK".into(), token.clone())
            } else if !head.contains("authorization: bearer t0k") {
                (challenge, Vec::new())
            } else if head.contains("/manifests/") {
                ("200 OK".into(), manifest.clone())
            } else {
                ("200 OK".into(), b"c".to_vec())
            }
        })
        .await
    }

    /// What pulling `reference` came to: `pulled`, or the error.
    async fn outcome(reference: &str) -> String {
        match pull(reference).await {
            Ok(_) => "pulled".into(),
            Err(e) => format!("{e:#}"),
        }
    }

    async fn pull_from(addr: std::net::SocketAddr) -> String {
        outcome(&format!("oci://{addr}/p:1")).await
    }

    #[tokio::test]
    async fn a_token_the_registry_asks_for_is_fetched_and_sent_with_each_read() {
        let addr = signing_in("http://ADDR/token", br#"{"token":"t0k"}"#.to_vec()).await;
        assert_eq!(pull_from(addr).await, "pulled");
    }

    #[tokio::test]
    async fn a_redirect_is_followed_on_the_registry_but_never_to_plain_http_elsewhere() {
        // Blobs move within the registry (followed), or to another port of
        // loopback, another origin over plain HTTP (refused).
        let manifest = manifest_for(b"c", 1);
        let moved = registry(move |addr, head| {
            if head.contains("/manifests/") {
                ("200 OK".into(), manifest.clone())
            } else if head.contains("/moved") {
                ("200 OK".into(), b"c".to_vec())
            } else {
                (
                    format!("307 Temporary Redirect\r\nlocation: http://{addr}/moved"),
                    Vec::new(),
                )
            }
        })
        .await;
        assert_eq!(pull_from(moved).await, "pulled");
        let away = registry(|_, head| {
            if head.contains("/manifests/") {
                (
                    "307 Temporary Redirect\r\nlocation: http://127.0.0.1:1/x".into(),
                    Vec::new(),
                )
            } else {
                ("404 Not Found".into(), Vec::new())
            }
        })
        .await;
        let refused = pull_from(away).await;
        assert!(
            refused.contains("away from the registry, only https"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_token_realm_away_from_the_registry_over_plain_http_is_never_asked() {
        let metadata = "http://169.254.169.254/latest/meta-data";
        let addr = signing_in(metadata, Vec::new()).await;
        let refused = pull_from(addr).await;
        assert!(
            refused.contains("away from the registry, only https"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_token_answer_past_its_bound_is_refused() {
        let addr = signing_in("http://ADDR/token", vec![b' '; 1 << 20]).await;
        let refused = pull_from(addr).await;
        assert!(
            refused.contains("more than the 65536 bytes a token answer may have"),
            "{refused}"
        );
    }

    fn manifest_for(component: &[u8], size: usize) -> Vec<u8> {
        let release = super::super::Statement {
            plugin: "x".into(),
            version: "1.0.0".into(),
            component: digest(component),
            manifest: digest(b"id = \"x\""),
        }
        .sign(&ed25519_dalek::SigningKey::from_bytes(&[1; 32]));
        let release = serde_json::to_string(&release).unwrap();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": WASM_CONFIG, "digest": digest(b"{}"), "size": 2},
            "layers": [{"mediaType": WASM_LAYER, "digest": digest(component), "size": size}],
            "annotations": {MANIFEST_ANNOTATION: "id = \"x\"", RELEASE_ANNOTATION: release},
        });
        serde_json::to_vec(&manifest).unwrap()
    }

    async fn pulled(manifest: Vec<u8>, blob: &[u8], reference: &str) -> String {
        let addr = lying_registry(manifest, blob.to_vec()).await;
        outcome(&reference.replace("ADDR", &addr.to_string())).await
    }

    #[tokio::test]
    async fn other_bytes_for_a_digest_are_refused() {
        let manifest = manifest_for(b"the component", 13);
        let refused = pulled(manifest, b"another thing", "oci://ADDR/p:1").await;
        assert!(refused.contains(&digest(b"another thing")), "{refused}");
    }

    #[tokio::test]
    async fn a_body_longer_than_declared_is_cut_off() {
        let manifest = manifest_for(b"the component", 13);
        let refused = pulled(manifest, &[0; 64 << 10], "oci://ADDR/p:1").await;
        assert!(refused.contains("more than the 13 bytes"), "{refused}");
    }

    #[tokio::test]
    async fn a_manifest_past_its_bound_is_not_read_to_its_end() {
        let mut manifest = manifest_for(b"c", 1);
        manifest.resize(MAX_OCI_MANIFEST * 4, b' ');
        let refused = pulled(manifest, b"c", "oci://ADDR/p:1").await;
        assert!(
            refused.contains(&format!("more than the {MAX_OCI_MANIFEST} bytes")),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_manifest_other_than_the_pinned_digest_is_refused() {
        let manifest = manifest_for(b"the component", 13);
        let pinned = format!("oci://ADDR/p@{}", digest(b"the manifest asked for"));
        let served = digest(&manifest);
        let refused = pulled(manifest, b"the component", &pinned).await;
        assert!(refused.contains(&served), "{refused}");
    }

    #[tokio::test]
    async fn an_artifact_not_shaped_as_a_release_is_refused() {
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&manifest_for(b"c", 1)).unwrap();
        manifest["layers"][0]["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar");
        let refused = pulled(
            serde_json::to_vec(&manifest).unwrap(),
            b"c",
            "oci://ADDR/p:1",
        )
        .await;
        assert!(refused.contains("not application/wasm"), "{refused}");
        let oversize = manifest_for(b"c", (MAX_COMPONENT + 1) as usize);
        let refused = pulled(oversize, b"c", "oci://ADDR/p:1").await;
        assert!(refused.contains("at most"), "{refused}");
    }
}
