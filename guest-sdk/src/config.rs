use crate::PluginError;
use std::str::FromStr;

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
