//! The environment's layer of the configuration: `LODGE_*` variables, each value kept as text.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::Config;

/// The `LODGE_*` variables that name a setting, each kept as the text it is. figment's own `Env`
/// provider reads every value as TOML-like data first, so `LODGE_TWILIO_FROM=+15550001111` became a
/// number and `LODGE_FIRM_NAME=true` a boolean, and a text setting then refused them; here every
/// value is text, and [`Config::load_with`] reads the text of a numeric setting as a number.
/// Other `LODGE_*` variables (for tests, benchmarks) are not configuration and are left out.
pub(super) struct Variables(Vec<(String, String)>);

impl Variables {
    const PREFIX: &str = "LODGE_";

    pub(super) fn from_environment() -> Self {
        Self::from_pairs(
            std::env::vars_os()
                .filter_map(|(key, value)| Some((key.into_string().ok()?, value.to_string_lossy().into_owned()))),
        )
    }

    pub(super) fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let keys = Config::keys();
        Self(
            pairs
                .into_iter()
                .filter_map(|(name, value)| {
                    let key = name.strip_prefix(Self::PREFIX)?.to_ascii_lowercase();
                    keys.contains(&key).then_some((key, value))
                })
                .collect(),
        )
    }
}

impl Provider for Variables {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable(s)")
            .interpolater(|_profile, keys| format!("{}{}", Variables::PREFIX, keys.join(".").to_ascii_uppercase()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = self
            .0
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.clone())))
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}
