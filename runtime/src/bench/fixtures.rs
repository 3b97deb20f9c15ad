//! What the rows measure with: the closed-loop load, the frames it sends, a hub
//! with the bench plugin, data directories of many installed plugins.

use super::Bench;
use super::load::{Frames, Load};
use crate::plugins::{Hub, HubSettings, Metering};
use std::sync::Arc;

const CONNECTIONS: usize = 8;
const PIPELINE: usize = 16;

/// One round of the closed-loop load.
pub(super) fn closed_loop(b: &Bench) -> Load {
    Load {
        connections: CONNECTIONS,
        pipeline: PIPELINE,
        duration: b.options.round_for(),
        rate: None,
    }
}

pub(super) fn get_frames() -> Frames {
    Arc::new(|conn, id| {
        format!(
            "{{\"id\":{id},\"domain\":\"bench\",\"service\":\"get_attributes\",\"identity\":\"dev-{}\"}}",
            conn % CONNECTIONS
        )
    })
}

/// A hub with the bench plugin and its devices discovered.
pub(super) async fn bench_hub(
    b: &Bench,
    name: &str,
    metering: Metering,
) -> anyhow::Result<super::Served> {
    let settings = HubSettings {
        metering,
        ..b.settings(name)
    };
    let served = b
        .serve(
            settings,
            &[("bench", vec![("count", CONNECTIONS.to_string())])],
        )
        .await?;
    super::discover_all(&served.hub).await?;
    Ok(served)
}

/// `count` different components, so that a cold start compiles each.
pub(super) fn variants(
    b: &Bench,
    count: usize,
) -> anyhow::Result<Vec<(std::path::PathBuf, std::path::PathBuf)>> {
    let bytes = std::fs::read(b.options.component("bench"))?;
    let manifest = std::fs::read_to_string(b.options.manifest("bench"))?;
    (0..count)
        .map(|i| {
            let dir = b.work.join("variants").join(i.to_string());
            std::fs::create_dir_all(&dir)?;
            // A custom section makes each component distinct to the compile cache.
            let name = b"hub-bench-variant";
            let payload = (i as u32).to_le_bytes();
            let size = 1 + name.len() + payload.len();
            let mut variant = bytes.clone();
            variant.extend([0u8, size as u8, name.len() as u8]);
            variant.extend(name);
            variant.extend(payload);
            std::fs::write(dir.join("plugin.wasm"), variant)?;
            std::fs::write(
                dir.join("plugin.toml"),
                manifest.replacen("id = \"bench\"", &format!("id = \"bench-{i}\""), 1),
            )?;
            Ok((dir.join("plugin.wasm"), dir.join("plugin.toml")))
        })
        .collect()
}

/// A data directory with `plugins` installed (variants reused round-robin)
/// and `devices` bench devices each, compiled into `cache`.
pub(super) fn prepare(
    b: &Bench,
    name: &str,
    plugins: usize,
    devices: usize,
    cache: &std::path::Path,
) -> anyhow::Result<std::path::PathBuf> {
    let variants = variants(b, plugins.min(20))?;
    let settings = HubSettings {
        cache_dir: cache.to_path_buf(),
        ..b.settings(name)
    };
    let data_dir = settings.data_dir.clone();
    let hub = Hub::open(settings)?;
    for i in 0..plugins {
        let (wasm, manifest) = &variants[i % variants.len()];
        let manifest_text = std::fs::read_to_string(manifest)?;
        let own = b.work.join("manifests").join(format!("{name}-{i}.toml"));
        std::fs::create_dir_all(own.parent().unwrap_or(&b.work))?;
        std::fs::write(
            &own,
            manifest_text.replacen(
                &format!("id = \"bench-{}\"", i % variants.len()),
                &format!("id = \"bench-{i}\""),
                1,
            ),
        )?;
        let config = [("count".to_string(), devices.to_string())].into();
        b.install(&hub, wasm, &own, config)?;
    }
    Ok(data_dir)
}
