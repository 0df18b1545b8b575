//! What the API needs to know about its deployment, filled from Lodge's configuration.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where portal links point, without a trailing slash: links are `{public_url}/p/{token}`.
    pub public_url: String,
    /// Where uploaded documents are kept: a folder, or an object store URL (`s3://bucket/prefix`).
    pub blob_url: String,
    /// The object store's settings (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, …); none for a folder. Each
    /// value is kept as a secret: `AWS_SECRET_ACCESS_KEY` is one.
    pub blob_options: Vec<(String, SecretString)>,
    pub firm: Firm,
    /// How long a portal session lasts.
    pub session_lifetime: Duration,
    /// The largest file a contact may upload.
    pub max_file_bytes: u64,
    /// The longest a read waits for the read models to reach a position it asks for (`?after=`).
    pub read_wait: Duration,
    /// The server's secret: portal links made by a request with an Idempotency-Key are derived from
    /// it, so that a retry can answer with the same links. Servers sharing a database share it.
    pub secret_key: SecretKey,
    /// How the portal's pages look and what they show beyond the invite.
    pub pages: PageSettings,
    /// How often a contact, or an address, may open links, post messages, upload, send forms.
    pub limits: crate::limits::Limits,
    /// How long a client may take to send its headers, and how many connections are served at once.
    pub connections: crate::listener::Connections,
    /// Who may read `/metrics` and the details of `/readyz` on the public address.
    pub operations: Operations,
    /// How long staff stay signed in to the console.
    pub console: ConsoleSettings,
}

/// The console's sessions and sign-in links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however much it is used.
    pub lifetime: Duration,
    /// A one-time sign-in link opens nothing after this long.
    pub link_lifetime: Duration,
}

impl Default for ConsoleSettings {
    /// A working day signed in, an hour away from the desk signs out; a link a week, for the
    /// colleague who reads it on Monday.
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(60 * 60),
            lifetime: Duration::from_secs(12 * 3600),
            link_lifetime: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// `/metrics` and the details of `/readyz` (per-route counts, the log's head, each projector's
/// place) are for operators: served on a separate listen address of their own (no token needed
/// there), or on the public one to a request carrying the operations token. Without either they
/// are not served at all; `/healthz` and whether `/readyz` is ready stay open to all.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    /// The SHA-256 of the operations token (`Authorization: Bearer …`); the token itself is not kept.
    pub token_hash: Option<lodge_domain::digest::TokenHash>,
}

/// The portal pages' firm-specific parts.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// The firm's colour, `#rrggbb`: the header, buttons and links.
    pub colour: String,
    /// The Video tab: an `https://` address to embed (YouTube, Vimeo, …), or a video file Lodge
    /// serves; none: the tab says there is no video yet.
    pub video: Option<String>,
    /// A folder of the firm's own help articles (`*.md`), listed after Lodge's.
    pub help_dir: Option<PathBuf>,
}

impl Default for PageSettings {
    fn default() -> Self {
        Self {
            colour: "#1f5f8b".into(),
            video: None,
            help_dir: None,
        }
    }
}

pub use lodge_domain::links::SecretKey;

/// A fresh random secret, for a first run or a test.
pub fn random_secret_key() -> SecretKey {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    SecretKey(key)
}

impl Settings {
    /// Settings fit for a test or a first run: a local public URL and an unnamed firm.
    pub fn local(blob_dir: PathBuf) -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            blob_url: blob_dir.display().to_string(),
            blob_options: Vec::new(),
            firm: Firm::default(),
            session_lifetime: Duration::from_secs(8 * 3600),
            max_file_bytes: 100 * 1024 * 1024,
            read_wait: Duration::from_secs(5),
            secret_key: random_secret_key(),
            pages: PageSettings::default(),
            limits: crate::limits::Limits::default(),
            connections: crate::listener::Connections::default(),
            operations: Operations::default(),
            console: ConsoleSettings::default(),
        }
    }

    /// Secure cookies need https; a plain-http deployment (a laptop, a test) could not keep them.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The firm's details: the portal's Contact tab, and the time zone its due dates are in.
#[derive(Debug, Clone, Serialize)]
pub struct Firm {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    #[serde(serialize_with = "time_zone_name")]
    pub time_zone: chrono_tz::Tz,
    pub logo_url: Option<String>,
    /// The reminders invites follow unless they have their own (not shown to contacts).
    #[serde(skip)]
    pub reminders: lodge_domain::reminder::ReminderPlan,
}

impl Default for Firm {
    fn default() -> Self {
        Self {
            name: "Lodge".into(),
            email: None,
            phone: None,
            address: None,
            time_zone: chrono_tz::UTC,
            logo_url: None,
            reminders: lodge_domain::reminder::ReminderPlan::default(),
        }
    }
}

fn time_zone_name<S: serde::Serializer>(tz: &chrono_tz::Tz, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(tz.name())
}
