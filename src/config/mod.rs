//! Lodge's configuration: one typed struct, from defaults that work out of the box, then an optional
//! TOML file, then `LODGE_*` environment variables (each later source wins).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

mod environment;

use environment::Variables;

/// The file read when no other is named and it exists.
pub const DEFAULT_FILE: &str = "lodge.toml";

/// Every setting. Secrets (the database URL, which may hold a password, the secret key, the
/// operations token, SMTP's URL, Twilio's token) are [`SecretString`]s: `Debug` and `Serialize`
/// show them as `[redacted]`, and code reads one only by calling `expose_secret`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH` (the embedded default) or `postgres://…`. Env: `LODGE_DATABASE_URL`.
    #[serde(serialize_with = "redacted")]
    pub database_url: SecretString,
    /// PostgreSQL connections per process. Env: `LODGE_DATABASE_MAX_CONNECTIONS`.
    pub database_max_connections: u32,
    /// How often an idle subscriber looks for new events when nothing wakes it, in milliseconds.
    /// Env: `LODGE_POLL_INTERVAL_MS`.
    pub poll_interval_ms: u64,
    /// The address `lodge serve` listens on. Env: `LODGE_LISTEN`.
    pub listen: String,
    /// Connections served at once; one more is answered 503. Env: `LODGE_MAX_CONNECTIONS`.
    pub max_connections: u32,
    /// An address of the operators' own (e.g. `127.0.0.1:9090`) serving `/healthz`, `/readyz` in full
    /// and `/metrics` without a token. Env: `LODGE_OPS_LISTEN`.
    pub ops_listen: Option<String>,
    /// A token that opens `/metrics` and the details of `/readyz` on the public address
    /// (`Authorization: Bearer …`). Env: `LODGE_OPS_TOKEN`.
    #[serde(serialize_with = "redacted_if_set")]
    pub ops_token: Option<SecretString>,
    /// The address people reach Lodge at, for portal links (`{public_url}/p/{token}`); by default
    /// `http://` and the listen address. Env: `LODGE_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// Where uploaded documents are kept. Env: `LODGE_BLOB_URL`.
    pub blob_url: String,
    /// The firm's details, on every portal's Contact tab. Env: `LODGE_FIRM_NAME`, `LODGE_FIRM_EMAIL`, …
    pub firm_name: String,
    pub firm_email: Option<String>,
    pub firm_phone: Option<String>,
    pub firm_address: Option<String>,
    pub firm_logo_url: Option<String>,
    /// An IANA time zone such as `Australia/Sydney`: due dates are days there. Env: `LODGE_FIRM_TIME_ZONE`.
    pub firm_time_zone: String,
    /// How long a contact stays signed in to their portal. Env: `LODGE_SESSION_HOURS`.
    pub session_hours: u32,
    /// How long a staff member stays signed in to the console, however busy
    /// (`LODGE_STAFF_SESSION_HOURS`), and how long unused before it signs them out
    /// (`LODGE_STAFF_IDLE_MINUTES`).
    pub staff_session_hours: u32,
    pub staff_idle_minutes: u32,
    /// The largest file a contact may upload, in MiB. Env: `LODGE_MAX_FILE_MIB`.
    pub max_file_mib: u64,
    /// The server's secret, 64 hex digits; servers sharing a database must share it. Without it,
    /// one is made once and kept in `secret_key_file`. Env: `LODGE_SECRET_KEY`.
    #[serde(serialize_with = "redacted_if_set")]
    pub secret_key: Option<SecretString>,
    /// Env: `LODGE_SECRET_KEY_FILE`.
    pub secret_key_file: String,
    /// The SMTP server for email, e.g. `smtp://user:pass@host:587?tls=required`; none: emails are
    /// recorded as failed. Env: `LODGE_SMTP_URL`.
    #[serde(serialize_with = "redacted_if_set")]
    pub smtp_url: Option<SecretString>,
    /// Who emails come from, `Name <address>`. Env: `LODGE_MAIL_FROM`.
    pub mail_from: String,
    /// Twilio's Messages API for SMS: all of sid, token and a sender are needed. Env:
    /// `LODGE_TWILIO_ACCOUNT_SID`, `LODGE_TWILIO_AUTH_TOKEN`, `LODGE_TWILIO_FROM` (or
    /// `LODGE_TWILIO_MESSAGING_SERVICE_SID`), `LODGE_TWILIO_BASE_URL`.
    pub twilio_account_sid: Option<String>,
    #[serde(serialize_with = "redacted_if_set")]
    pub twilio_auth_token: Option<SecretString>,
    pub twilio_from: Option<String>,
    pub twilio_messaging_service_sid: Option<String>,
    pub twilio_base_url: String,
    /// A folder of email templates that replace Lodge's own, file by file (`invitation.txt`,
    /// `invitation.html`, `reminder.txt`, …; see `notifier/templates/`). Env: `LODGE_TEMPLATES_DIR`.
    pub templates_dir: Option<String>,
    /// The firm's colour on the portal, `#rrggbb`. Env: `LODGE_FIRM_COLOUR`.
    pub firm_colour: String,
    /// The portal's Video tab: an `https://` address to embed, or a video file (`.mp4`, `.webm`)
    /// Lodge serves. Env: `LODGE_PORTAL_VIDEO`.
    pub portal_video: Option<String>,
    /// A folder of the firm's own help articles in Markdown, shown after Lodge's. Env: `LODGE_HELP_DIR`.
    pub help_dir: Option<String>,
    /// The firm's reminders, unless staff choose otherwise for an invite: days before the due date,
    /// comma-separated (`3,1,0`), days between reminders while overdue (0: none), and the most per
    /// contact (0: no reminders). Env: `LODGE_REMINDER_DAYS_BEFORE`, `LODGE_REMINDER_OVERDUE_EVERY_DAYS`,
    /// `LODGE_REMINDERS_AT_MOST`.
    pub reminder_days_before: String,
    pub reminder_overdue_every_days: u32,
    pub reminders_at_most: u32,
    /// Limits on how often a contact, or an address, may open links, post messages, upload and send
    /// forms (429 past them). `false` lifts them, for measuring the command path under load; the
    /// limit on wrong portal passwords stays. Env: `LODGE_RATE_LIMITS`.
    pub rate_limits: bool,
}

/// How a secret reads when the configuration is shown.
const REDACTED: &str = "[redacted]";

fn redacted<S: Serializer>(_secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(REDACTED)
}

fn redacted_if_set<S: Serializer>(secret: &Option<SecretString>, serializer: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => serializer.serialize_str(REDACTED),
        None => serializer.serialize_none(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://./lodge-data/lodge.db".into(),
            database_max_connections: 16,
            poll_interval_ms: 500,
            listen: "127.0.0.1:8080".into(),
            max_connections: 1000,
            ops_listen: None,
            ops_token: None,
            public_url: None,
            blob_url: "./lodge-data/blobs".into(),
            firm_name: "Lodge".into(),
            firm_email: None,
            firm_phone: None,
            firm_address: None,
            firm_logo_url: None,
            firm_time_zone: "UTC".into(),
            session_hours: 8,
            staff_session_hours: 12,
            staff_idle_minutes: 60,
            max_file_mib: 100,
            secret_key: None,
            secret_key_file: "./lodge-data/secret.key".into(),
            smtp_url: None,
            mail_from: "Lodge <lodge@localhost>".into(),
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from: None,
            twilio_messaging_service_sid: None,
            twilio_base_url: "https://api.twilio.com".into(),
            templates_dir: None,
            firm_colour: "#1f5f8b".into(),
            portal_video: None,
            help_dir: None,
            reminder_days_before: "3,1,0".into(),
            reminder_overdue_every_days: 3,
            reminders_at_most: 10,
            rate_limits: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Setting(String),
}

impl Config {
    /// Loads the configuration. `file` is the file named on the command line or in `LODGE_CONFIG`;
    /// without one, `lodge.toml` is read if it exists.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(file, Variables::from_environment())
    }

    /// [`Config::load`] with `variables` in place of the process's environment.
    fn load_with(file: Option<&Path>, variables: Variables) -> Result<Self, ConfigError> {
        // A setting no source names takes its default (`#[serde(default)]`).
        let mut figment = Figment::new();
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_FILE).exists() => figment = figment.merge(Toml::file_exact(DEFAULT_FILE)),
            None => {}
        }
        // Variables arrive as text; a setting that is a number reads its text as one (lossy).
        figment
            .merge(variables)
            .extract_lossy()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    fn keys() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
            _ => unreachable!("Config serialises to an object"),
        }
    }

    /// What the API needs, checked: a time zone that exists, a public URL that is one. The server's
    /// key is read (or made) by [`Config::secret_key`] first, a step of its own: converting settings
    /// writes nothing.
    pub fn api_settings(&self, secret_key: lodge_api::SecretKey) -> Result<lodge_api::Settings, ConfigError> {
        let invalid = |what: String| ConfigError::Setting(what);
        let time_zone: chrono_tz::Tz = self.firm_time_zone.parse().map_err(|_| {
            invalid(format!(
                "firm_time_zone `{}` is not an IANA time zone such as Europe/London",
                self.firm_time_zone
            ))
        })?;
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(invalid(format!(
                "public_url `{public_url}` must start with http:// or https://"
            )));
        }
        if self.session_hours == 0
            || self.max_file_mib == 0
            || self.max_connections == 0
            || self.staff_session_hours == 0
            || self.staff_idle_minutes == 0
        {
            return Err(invalid(
                "session_hours, staff_session_hours, staff_idle_minutes, max_file_mib and max_connections must be at least 1"
                    .into(),
            ));
        }
        Ok(lodge_api::Settings {
            public_url,
            blob_url: self.blob_url.clone(),
            // Object stores take their settings and credentials from the environment, as their own
            // tools do, rather than from Lodge's file.
            blob_options: std::env::vars()
                .filter(|(key, _)| key.starts_with("AWS_"))
                .map(|(key, value)| (key, value.into()))
                .collect(),
            firm: lodge_api::Firm {
                name: self.firm_name.clone(),
                email: self.firm_email.clone(),
                phone: self.firm_phone.clone(),
                address: self.firm_address.clone(),
                time_zone,
                logo_url: self.firm_logo_url.clone(),
                reminders: self.reminder_plan()?,
            },
            session_lifetime: std::time::Duration::from_secs(u64::from(self.session_hours) * 3600),
            max_file_bytes: self.max_file_mib * 1024 * 1024,
            read_wait: std::time::Duration::from_secs(5),
            secret_key,
            pages: lodge_api::settings::PageSettings {
                colour: self.firm_colour.clone(),
                video: self.portal_video.clone(),
                help_dir: self.help_dir.as_ref().map(PathBuf::from),
            },
            limits: lodge_api::limits::Limits {
                enabled: self.rate_limits,
                ..Default::default()
            },
            connections: lodge_api::listener::Connections {
                max_open: self.max_connections as usize,
                ..Default::default()
            },
            operations: lodge_api::settings::Operations {
                token_hash: match self.ops_token.as_ref().map(|token| token.expose_secret().trim()) {
                    Some(token) if token.len() < 16 => {
                        return Err(invalid("ops_token must be at least 16 characters".into()));
                    }
                    Some(token) => Some(lodge_api::secrets::hash_token(token)),
                    None => None,
                },
            },
            console: lodge_api::settings::ConsoleSettings {
                idle: std::time::Duration::from_secs(u64::from(self.staff_idle_minutes) * 60),
                lifetime: std::time::Duration::from_secs(u64::from(self.staff_session_hours) * 3600),
                ..Default::default()
            },
        })
    }

    /// What the notifier needs, from the same settings the API reads.
    pub fn notifier_settings(
        &self,
        api: &lodge_api::Settings,
    ) -> Result<lodge_notifier::NotifierSettings, ConfigError> {
        let templates = lodge_notifier::Templates::load(self.templates_dir.as_deref().map(Path::new))
            .map_err(|e| ConfigError::Setting(format!("templates_dir: {e}")))?;
        Ok(lodge_notifier::NotifierSettings {
            smtp_url: self.smtp_url.clone(),
            mail_from: self.mail_from.clone(),
            public_url: api.public_url.clone(),
            secret_key: api.secret_key.clone(),
            firm_name: api.firm.name.clone(),
            twilio: match (&self.twilio_account_sid, &self.twilio_auth_token) {
                (Some(sid), Some(token)) => Some(lodge_notifier::TwilioSettings {
                    account_sid: sid.clone(),
                    auth_token: token.clone(),
                    from: self.twilio_from.clone(),
                    messaging_service_sid: self.twilio_messaging_service_sid.clone(),
                    base_url: self.twilio_base_url.clone(),
                }),
                _ => None,
            },
            retry: lodge_notifier::RetrySettings::default(),
            reminders: self.reminder_plan()?,
            reminder_check_every: std::time::Duration::from_secs(60),
            time_zone: api.firm.time_zone,
            digest: lodge_notifier::DigestSettings::default(),
            templates: std::sync::Arc::new(templates),
            clock: lodge_notifier::system_clock(),
        })
    }

    /// The firm's default reminders, checked as staff's own would be.
    fn reminder_plan(&self) -> Result<lodge_domain::reminder::ReminderPlan, ConfigError> {
        let days_before = self
            .reminder_days_before
            .split(',')
            .map(str::trim)
            .filter(|day| !day.is_empty())
            .map(|day| {
                day.parse::<u32>().map_err(|_| {
                    ConfigError::Setting(format!(
                        "reminder_days_before `{}` must be whole days separated by commas, such as 3,1,0",
                        self.reminder_days_before
                    ))
                })
            })
            .collect::<Result<Vec<u32>, _>>()?;
        lodge_domain::reminder::ReminderPlan {
            days_before,
            overdue_every_days: self.reminder_overdue_every_days,
            at_most: self.reminders_at_most,
        }
        .checked()
        .map_err(|e| ConfigError::Setting(format!("reminders: {e}")))
    }

    /// The configured secret, or the one kept in `secret_key_file`, made on first use (readable by
    /// its owner only).
    pub fn secret_key(&self) -> Result<lodge_api::SecretKey, ConfigError> {
        let parse = |text: &str, from: &str| {
            let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
            bytes
                .map(lodge_api::SecretKey)
                .ok_or_else(|| ConfigError::Setting(format!("{from} must be 64 hex digits (256 bits)")))
        };
        if let Some(key) = &self.secret_key {
            return parse(key.expose_secret(), "secret_key");
        }
        let path = Path::new(&self.secret_key_file);
        match std::fs::read_to_string(path) {
            Ok(text) => parse(&text, &self.secret_key_file),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = lodge_api::settings::random_secret_key();
                let cannot = |e: std::io::Error| ConfigError::Setting(format!("cannot write {}: {e}", path.display()));
                if let Some(folder) = path.parent() {
                    std::fs::create_dir_all(folder).map_err(cannot)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(cannot)?;
                std::io::Write::write_all(&mut file, hex::encode(key.0).as_bytes()).map_err(cannot)?;
                file.sync_all().map_err(cannot)?;
                Ok(key)
            }
            Err(error) => Err(ConfigError::Setting(format!("cannot read {}: {error}", path.display()))),
        }
    }

    /// The database URL fit to print: any password masked.
    pub fn database_url_shown(&self) -> String {
        lodge_eventlog::redact_url(self.database_url.expose_secret())
    }

    pub fn log_options(&self) -> lodge_eventlog::LogOptions {
        lodge_eventlog::LogOptions {
            max_connections: self.database_max_connections,
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
        }
    }
}

#[cfg(test)]
mod tests;
