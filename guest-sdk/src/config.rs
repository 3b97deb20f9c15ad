use crate::PluginError;
use std::str::FromStr;
use std::time::Duration;

/// The operator's configuration for this plugin, as key/value strings.
#[derive(Debug, Clone, Default)]
pub struct Config(Vec<(String, String)>);

impl Config {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Config(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A duration given in milliseconds (`io_timeout_ms = 3000`), `default`
    /// when absent. Zero is refused: a socket timeout cannot be zero.
    pub fn millis(&self, key: &str, default: u64) -> Result<Duration, PluginError> {
        match self.parse_or(key, default)? {
            0 => Err(PluginError::InvalidArgument(format!(
                "config `{key}`: must be at least 1 (milliseconds)"
            ))),
            ms => Ok(Duration::from_millis(ms)),
        }
    }

    /// Parses `key` when present, `default` otherwise; a value that does not
    /// parse is an `invalid-argument` error naming the key.
    pub fn parse_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, PluginError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|_| {
                PluginError::InvalidArgument(format!("config `{key}`: cannot parse {raw:?}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_have_defaults_and_refuse_zero_and_junk() {
        let config = Config::new(vec![
            ("zero".into(), "0".into()),
            ("junk".into(), "soon".into()),
            ("set".into(), "250".into()),
        ]);
        assert_eq!(
            config.millis("absent", 3000).ok(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            config.millis("set", 1).ok(),
            Some(Duration::from_millis(250))
        );
        assert!(
            matches!(config.millis("zero", 1), Err(PluginError::InvalidArgument(m)) if m.contains("at least 1"))
        );
        assert!(config.millis("junk", 1).is_err());
    }
}
