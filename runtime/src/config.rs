//! The hub's configuration file (TOML). Plugins are not listed here: they
//! are installed and granted with `hub plugin install` and `hub grants`.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! data_dir = "/var/lib/hub"
//! install_dir = "/var/lib/hub/incoming"   # WebSocket `install` reads only here
//!
//! [[tokens]]
//! name = "admin"          # the actor in the audit log
//! token = "a-long-random-secret"
//! scope = "operator"      # may manage plugins and grants
//!
//! [[tokens]]
//! name = "kitchen-tablet"
//! token = "another-long-secret"
//! scope = "user"          # devices only
//! areas = ["kitchen"]     # optional: only devices placed in these areas
//!
//! [limits]
//! call_deadline_ms = 10000
//!
//! [limits.quotas]          # each plugin's budget as a whole
//! max_devices = 64
//! total_memory_bytes = 268435456
//!
//! [server]
//! max_connections = 512
//! max_connections_per_address = 32
//! header_timeout_ms = 10000
//! auth_failures_allowed = 10
//!
//! [market]                 # after `hub trust pin-market`
//! status = "oci://registry.example/market/metadata:status"
//! refresh_seconds = 900
//! auto_update = false      # true: reviewed updates within the grant install on their own
//! ```

use crate::caps::Limits;
use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    pub listen: SocketAddr,
    pub tokens: Vec<Token>,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub limits: Limits,
    /// Networks no plugin's HTTP request may reach (default: loopback,
    /// private, link-local, CGNAT, multicast and unspecified ranges).
    #[serde(default = "crate::caps::http::default_blocked")]
    pub http_blocked: Vec<ipnet::IpNet>,
    /// Connection limits and time-outs of the listening port.
    #[serde(default)]
    pub server: ServerLimits,
    /// Where operators' WebSocket `install` requests may read components
    /// and manifests from; without it, plugins are installed with the CLI only.
    #[serde(default)]
    pub install_dir: Option<PathBuf>,
    /// Where the pinned marketplace publishes its bundle, fetched on a schedule.
    #[serde(default)]
    pub market: Option<MarketConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// `oci://REGISTRY/NAME:TAG` of the marketplace's bundle.
    pub status: String,
    /// How often it is fetched (default 15 minutes, at least 1 second).
    #[serde(default = "default_refresh")]
    pub refresh_seconds: u64,
    /// After each fetch, install the reviewed updates that ask for no more
    /// than their plugin's grant (default: off; wider ones always wait).
    #[serde(default)]
    pub auto_update: bool,
}

fn default_refresh() -> u64 {
    900
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Devices and the hub's plugin management.
    Operator,
    /// Devices only.
    User,
}

/// A client credential, sent in the `smart-assistant-token` header or `?token=`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub name: String,
    pub token: String,
    pub scope: TokenScope,
    /// The areas whose devices it may see and control; every device when
    /// absent. User tokens only.
    #[serde(default)]
    pub areas: Option<Vec<String>>,
}

pub fn default_data_dir() -> PathBuf {
    PathBuf::from(".hub")
}

impl HubConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let mut config: HubConfig =
            toml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        let beside = path.parent().unwrap_or(Path::new("."));
        config.data_dir = beside.join(&config.data_dir);
        config.install_dir = config.install_dir.map(|dir| beside.join(dir));
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.tokens.is_empty() {
            bail!("no [[tokens]]: nobody could connect");
        }
        for token in &self.tokens {
            if token.token.len() < 16 {
                bail!("token {:?} is shorter than 16 characters", token.name);
            }
            if token.scope == TokenScope::Operator && token.areas.is_some() {
                bail!(
                    "token {:?}: areas limit user tokens; an operator token manages plugins \
                     and the audit log, which span every area",
                    token.name
                );
            }
        }
        Ok(())
    }
}

/// The `[server]` table of the hub's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerLimits {
    /// Connections open at once, from everyone.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_connections_per_address: usize,
    /// A client must send its whole request head within this; an idle
    /// HTTP connection is closed after it too.
    #[serde(rename = "header_timeout_ms", with = "crate::caps::limits::millis")]
    pub header_timeout: Duration,
    /// Failed sign-ins an address may make before it must wait.
    pub auth_failures_allowed: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 512,
            max_connections_per_address: 32,
            header_timeout: Duration::from_secs(10),
            auth_failures_allowed: 10,
        }
    }
}

/// One `--config KEY=VALUE` setting of a plugin's configuration.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tokens: &str) -> anyhow::Result<HubConfig> {
        let config: HubConfig = toml::from_str(&format!("listen = \"127.0.0.1:0\"\n{tokens}"))?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn areas_limit_user_tokens_only() {
        let user = "[[tokens]]\nname = \"tablet\"\ntoken = \"0123456789abcdef\"\nscope = \"user\"\nareas = [\"kitchen\"]";
        let parsed = config(user).unwrap();
        assert_eq!(parsed.tokens[0].areas, Some(vec!["kitchen".to_string()]));
        let operator = user.replace("\"user\"", "\"operator\"");
        let refused = config(&operator).unwrap_err().to_string();
        assert!(refused.contains("areas limit user tokens"), "{refused}");
    }
}
