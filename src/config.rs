//! Lodge's configuration: one typed struct, from defaults that work out of the box, then an optional
//! TOML file, then `LODGE_*` environment variables (each later source wins).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The file read when no other is named and it exists.
pub const DEFAULT_FILE: &str = "lodge.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH` (the embedded default) or `postgres://…`. Env: `LODGE_DATABASE_URL`.
    pub database_url: String,
    /// PostgreSQL connections per process. Env: `LODGE_DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// How often an idle subscriber looks for new events when nothing wakes it, in milliseconds.
    /// Env: `LODGE_POLL_INTERVAL_MS`.
    pub poll_interval_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://./lodge-data/lodge.db".into(),
            database_max_connections: 16,
            poll_interval_ms: 500,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
}

impl Config {
    /// Loads the configuration. `file` is the file named on the command line or in `LODGE_CONFIG`;
    /// without one, `lodge.toml` is read if it exists.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_FILE).exists() => figment = figment.merge(Toml::file_exact(DEFAULT_FILE)),
            None => {}
        }
        // Only the keys of this struct: other LODGE_* variables (for tests, benchmarks) are not config.
        let keys = Self::keys();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        figment = figment.merge(Env::prefixed("LODGE_").only(&keys));
        figment.extract().map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    fn keys() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => unreachable!("Config serialises to an object"),
        }
    }

    pub fn log_options(&self) -> lodge_eventlog::LogOptions {
        lodge_eventlog::LogOptions {
            max_connections: self.database_max_connections,
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
        }
    }
}

/// A database URL fit to print: any password is masked.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _password)) => format!(
                "{}{user}:***{}{}",
                &url[..authority_start],
                &authority[at..],
                &url[authority_end..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_url("postgres://lodge:s3cret@db.example:5432/lodge?sslmode=require"),
            "postgres://lodge:***@db.example:5432/lodge?sslmode=require"
        );
        assert_eq!(redact_url("postgres://lodge@db/lodge"), "postgres://lodge@db/lodge");
        assert_eq!(
            redact_url("sqlite://./lodge-data/lodge.db"),
            "sqlite://./lodge-data/lodge.db"
        );
    }

    #[test]
    fn keys_are_the_fields() {
        assert_eq!(
            Config::keys(),
            vec!["database_max_connections", "database_url", "poll_interval_ms"]
        );
    }
}
