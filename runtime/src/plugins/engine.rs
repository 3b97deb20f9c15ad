//! The one wasmtime `Engine`, its epoch ticker, and the on-disk cache of
//! compiled components.

use crate::digest::{hex, sha256_hex};
use crate::store::Store;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. A running guest yields to the tokio
/// runtime once per tick, so a busy plugin delays others by at most this.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Deepest WebAssembly stack a plugin may use.
const MAX_WASM_STACK: usize = 512 << 10;

/// Instances (and their memories and fiber stacks) the pooling allocator
/// keeps ready: a fresh instance is then a few microseconds, not a hundred.
/// Address space only is reserved up front.
const POOL: u32 = 4000;
/// The first this-much of a freed instance's memory and of each of its
/// tables is reset by copying its original contents back rather than handed
/// back to the kernel (an `madvise` and a TLB shootdown across cores each):
/// fresh instances about a quarter faster in `hub bench`, for at most this
/// much resident memory per unused slot wasmtime keeps warm. (Wasmtime's
/// PAGEMAP_SCAN variant, still off by default upstream, measured the same.)
const KEEP_RESIDENT: usize = 64 << 10;

/// Which CPU limits the engine enforces. Both, always, when serving; the
/// benchmark turns them off to measure what they cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metering {
    /// A fuel budget per call.
    pub fuel: bool,
    /// Wall-clock deadlines and yielding through epoch interruption.
    pub epoch: bool,
}

impl Default for Metering {
    fn default() -> Self {
        Metering {
            fuel: true,
            epoch: true,
        }
    }
}

pub struct PluginEngine {
    engine: Engine,
    metering: Metering,
    cache_dir: PathBuf,
    /// Where the digest of each artifact written to the cache is recorded:
    /// native code is loaded only if it is what this hub compiled.
    store: Arc<Store>,
    /// The epoch ticker runs while any clone of this lives: the engine, and
    /// every plugin loaded from it (a plugin's watchers may outlive the
    /// hub that started them by a moment, and a guest only yields, and
    /// only meets its deadline, when the epoch moves).
    ticking: Arc<Ticking>,
}

/// Kept alive by whoever needs the epoch to advance.
pub struct Ticking;

impl PluginEngine {
    pub fn new(cache_dir: &Path, metering: Metering, store: Arc<Store>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(metering.fuel)
            .epoch_interruption(metering.epoch)
            .max_wasm_stack(MAX_WASM_STACK)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
        let engine = Engine::new(&config)?;
        crate::store::private_dir(cache_dir).context("the compile cache")?;
        let ticking = Arc::new(Ticking);
        spawn_epoch_ticker(engine.clone(), Arc::downgrade(&ticking))
            .context("start the epoch ticker thread")?;
        Ok(PluginEngine {
            engine,
            metering,
            cache_dir: cache_dir.to_path_buf(),
            store,
            ticking,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn metering(&self) -> Metering {
        self.metering
    }

    /// Keeps the epoch ticker running as long as the returned value lives.
    pub fn ticking(&self) -> Arc<Ticking> {
        self.ticking.clone()
    }

    /// Compiles `bytes`, or loads the result of an earlier compilation by
    /// this same engine configuration and wasmtime version.
    pub fn load(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        let file = format!("{}.cwasm", self.cache_key(bytes));
        let path = self.cache_dir.join(&file);
        if let Some(cached) = self.verified(&file, &path) {
            // SAFETY: these bytes are the ones this hub's engine wrote with
            // `precompile_component` (same compatibility hash, in the name):
            // their digest matches the one recorded in the store when it did.
            match unsafe { Component::deserialize(&self.engine, &cached) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "recompiling, cached component unusable: {e:#}")
                }
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)
            .context("compile the component")?;
        // Unique per writer: concurrent loads of one component must not
        // rename each other's half-written files.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let partial = path.with_extension(format!("{}-{n}.partial", std::process::id()));
        std::fs::write(&partial, &compiled)
            .and_then(|()| std::fs::rename(&partial, &path))
            .with_context(|| format!("write the compile cache {}", path.display()))?;
        self.store
            .put_compiled_digest(&file, &sha256_hex(&compiled))?;
        // SAFETY: these bytes were produced by `precompile_component` above.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(Into::into)
    }

    /// The cached artifact, if its digest is the one recorded when this hub
    /// wrote it. A file changed since, or written by someone else, is not
    /// loaded: it would be native code run inside the hub.
    fn verified(&self, file: &str, path: &Path) -> Option<Vec<u8>> {
        let cached = std::fs::read(path).ok()?;
        match self.store.compiled_digest(file).ok().flatten() {
            Some(recorded) if recorded == sha256_hex(&cached) => return Some(cached),
            Some(_) => {
                tracing::warn!(path = %path.display(), "recompiling: the cached component changed since this hub compiled it")
            }
            // Another hub sharing the cache compiled it: compiled again here,
            // byte for byte the same, and recorded.
            None => {
                tracing::debug!(path = %path.display(), "recompiling: not compiled by this hub")
            }
        }
        None
    }

    /// The interfaces a compiled component imports and exports.
    pub fn interfaces(&self, component: &Component) -> (Vec<String>, Vec<String>) {
        let ty = component.component_type();
        let names = |items: &mut dyn Iterator<Item = &str>| items.map(str::to_string).collect();
        (
            names(&mut ty.imports(&self.engine).map(|(name, _)| name)),
            names(&mut ty.exports(&self.engine).map(|(name, _)| name)),
        )
    }

    fn cache_key(&self, bytes: &[u8]) -> String {
        let mut hasher = DigestHasher(Sha256::new());
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.0.update(bytes);
        hex(&hasher.0.finalize())
    }
}

fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL)
        .total_core_instances(POOL * 8)
        .total_memories(POOL)
        .total_tables(POOL * 8)
        .total_stacks(POOL)
        .max_memory_size(crate::caps::limits::MAX_INSTANCE_MEMORY as usize)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
    pool
}

fn spawn_epoch_ticker(engine: Engine, ticking: Weak<Ticking>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while ticking.strong_count() > 0 {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map(drop)
}

/// Feeds `Hash` output into a SHA-256, so the key is stable across runs
/// (std's `DefaultHasher` promises no such thing).
struct DigestHasher(Sha256);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}
