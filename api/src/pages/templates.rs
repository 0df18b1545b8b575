//! The pages' templates and words. Templates are minijinja files compiled into the binary
//! (`api/pages/templates/`); every word a page shows is in one file (`api/pages/text/en.toml`), so a
//! translation is a copy of it.

use std::path::PathBuf;

use minijinja::{Environment, Value};

use crate::error::ApiError;
use crate::firm::FirmNow;
use crate::pages::assets;
use crate::pages::help::{self, Article};
use crate::settings::Settings;

/// Each template by its name, compiled into the binary from `api/pages/templates/`.
macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../pages/templates/", $name)))),+]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    "macros.html",
    "messages.html",
    "requests.html",
    "request.html",
    "contact.html",
    "help.html",
    "video.html",
    "password.html",
    "opening.html",
    "error.html",
    "switch.html",
    "signed_out.html",
    "console/base.html",
    "console/welcome.html",
    "console/sign_in.html",
    "console/sign_in_code.html",
    "console/forgot.html",
    "console/new_link.html",
    "console/team_record.html",
    "console/settings.html",
    "console/two_step.html",
    "console/dashboard.html",
    "console/account.html",
    "console/error.html",
    "console/invite.html",
    "console/invite_table.html",
    "console/new_invite.html",
    "console/sent.html",
    "console/team.html",
    "console/review.html",
    "console/record.html",
];

const TEXT: &str = include_str!("../../pages/text/en.toml");

/// What the Video tab shows.
#[derive(Debug, Clone)]
pub enum Video {
    None,
    /// An `https://` address shown in a frame.
    Embed(String),
    /// A file Lodge serves.
    File(PathBuf),
}

/// Everything the pages need that does not change while Lodge runs.
pub struct Pages {
    environment: Environment<'static>,
    pub articles: Vec<Article>,
    pub theme_css: String,
    pub asset_version: String,
    pub video: Video,
    /// The Content-Security-Policy every page is served with.
    pub content_security_policy: String,
    text: toml::Table,
}

/// Any serialisable value as a template value.
pub fn serialized<T: serde::Serialize>(value: &T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// `https://host[:port]` of an address, for the Content-Security-Policy.
fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        url::Origin::Tuple(..) => Some(parsed.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// The firm's details as templates read them (`firm.name`, …): looked up when a page is rendered,
/// so that a change an owner saves shows on the next page.
#[derive(Debug)]
struct LiveFirm(FirmNow);

impl minijinja::value::Object for LiveFirm {
    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        self.0
            .value()
            .get_attr(key.as_str()?)
            .ok()
            .filter(|value| !value.is_undefined())
    }
}

impl Pages {
    /// Checks and loads the pages' settings: a mistake (a colour that is none, a missing help
    /// folder or video file) stops Lodge at start, saying what to fix.
    pub fn new(settings: &Settings, firm: FirmNow) -> Result<Self, String> {
        let theme_css = assets::theme_css(&settings.pages.colour)?;
        let asset_version = assets::version(&theme_css);
        let articles = help::load(settings.pages.help_dir.as_deref())?;
        let video = match settings.pages.video.as_deref() {
            None | Some("") => Video::None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Video::Embed(url.to_owned()),
            Some(path) => {
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(format!("the portal video {} is not a file", path.display()));
                }
                Video::File(path)
            }
        };
        let mut images = vec!["'self'".to_owned(), "data:".to_owned()];
        images.extend(settings.firm.logo_url.as_deref().and_then(origin));
        let frames = match &video {
            Video::Embed(url) => origin(url).unwrap_or_else(|| "'none'".into()),
            _ => "'none'".into(),
        };
        let content_security_policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src {}; media-src 'self'; frame-src {frames}; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            images.join(" ")
        );

        let text: toml::Table = toml::from_str(TEXT).map_err(|e| format!("the pages' text: {e}"))?;
        let mut environment = Environment::new();
        environment.set_loader(|name| Ok(TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, s)| (*s).to_owned())));
        environment.add_global("t", serialized(&text));
        // The console's words, as `c`.
        let console = text.get("console").ok_or("the pages' text has no [console] table")?;
        environment.add_global("c", serialized(console));
        environment.add_global("asset_version", asset_version.clone());
        environment.add_global("firm", Value::from_object(LiveFirm(firm.clone())));
        environment.add_filter("nl2br", |text: String| {
            Value::from_safe_string(html_escape::encode_text(&text).replace('\n', "<br>\n"))
        });
        environment.add_filter("filesize", |bytes: u64| {
            humansize::format_size(bytes, humansize::WINDOWS)
        });
        environment.add_filter("day", |day: String| {
            day.parse::<chrono::NaiveDate>()
                .map(|day| day.format("%-d %b %Y").to_string())
                .unwrap_or(day)
        });
        environment.add_filter("when", move |at: String| {
            let time_zone = firm.get().time_zone;
            at.parse::<chrono::DateTime<chrono::Utc>>()
                .map(|at| at.with_timezone(&time_zone).format("%-d %b %Y, %H:%M").to_string())
                .unwrap_or(at)
        });
        for (name, _) in TEMPLATES {
            environment
                .get_template(name)
                .map_err(|e| format!("the page template {name}: {e:#}"))?;
        }
        Ok(Self {
            environment,
            articles,
            theme_css,
            asset_version,
            video,
            content_security_policy,
            text,
        })
    }

    pub fn render(&self, name: &str, values: Value) -> Result<String, ApiError> {
        self.environment
            .get_template(name)
            .and_then(|template| template.render(values))
            .map_err(|e| ApiError::Internal(format!("the page {name} could not be made: {e:#}")))
    }

    /// One of the console's words (the `[console]` table).
    pub fn console_text(&self, key: &str) -> String {
        self.text
            .get("console")
            .and_then(|table| table.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// One of the pages' words.
    pub fn text(&self, key: &str) -> String {
        self.text
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    }
}
