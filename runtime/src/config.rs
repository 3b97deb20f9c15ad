//! The hub's configuration file (TOML).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! token = "change-me"
//! data_dir = ".hub"
//!
//! [[plugins]]
//! id = "yeelight"
//! component = "plugins/yeelight.wasm"
//! allow = ["192.168.31.0/24", "239.255.255.250/32"]
//! config = { discovery = "239.255.255.250:1982" }
//! limits = { call_deadline_ms = 10000 }
//! ```

use crate::caps::Limits;
use anyhow::{Context, bail};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    pub listen: SocketAddr,
    /// Clients present it in the `smart-assistant-token` header or `?token=`.
    pub token: String,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub plugins: Vec<PluginSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    pub id: String,
    pub component: PathBuf,
    /// Networks the plugin may reach; nothing else.
    #[serde(default)]
    pub allow: Vec<IpNet>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: Limits,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(".hub")
}

impl HubConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let mut config: HubConfig =
            toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for plugin in &mut config.plugins {
            plugin.component = base.join(&plugin.component);
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.token.len() < 8 {
            bail!("token must be at least 8 characters");
        }
        let mut seen = std::collections::BTreeSet::new();
        for plugin in &self.plugins {
            let id = &plugin.id;
            let well_formed = !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !well_formed {
                bail!("plugin id {id:?}: use 1-64 characters of a-z, 0-9, - and _");
            }
            if id == "plugin" {
                bail!("plugin id \"plugin\" is reserved for hub management requests");
            }
            if !seen.insert(id) {
                bail!("plugin id {id:?} appears twice");
            }
        }
        Ok(())
    }
}
