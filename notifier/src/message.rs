//! The words of each email, as plain text and as HTML, from templates: the defaults ship in the
//! binary (`notifier/templates/`), and a firm may override any of them with a file of the same name
//! in its templates folder (`LODGE_TEMPLATES_DIR`). Kept plain and friendly: many contacts open one
//! of these once or twice a year, on a phone.
//!
//! A text template's first line is `Subject: …`; the HTML one extends `layout.html`. Auto-escaping
//! follows the name (`.html` escapes, `.txt` does not).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use lodge_domain::contact::ContactDetails;
use lodge_domain::invite::{Invite, InviteEvent};
use lodge_domain::notification::NotificationKind;
use minijinja::{Environment, Value, context};

/// The templates Lodge ships, by name.
const BUILT_IN: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("portal_button.html", include_str!("../templates/portal_button.html")),
    ("invitation.txt", include_str!("../templates/invitation.txt")),
    ("invitation.html", include_str!("../templates/invitation.html")),
    ("link_reissued.txt", include_str!("../templates/link_reissued.txt")),
    ("link_reissued.html", include_str!("../templates/link_reissued.html")),
    (
        "document_rejected.txt",
        include_str!("../templates/document_rejected.txt"),
    ),
    (
        "document_rejected.html",
        include_str!("../templates/document_rejected.html"),
    ),
    ("staff_message.txt", include_str!("../templates/staff_message.txt")),
    ("staff_message.html", include_str!("../templates/staff_message.html")),
    ("reminder.txt", include_str!("../templates/reminder.txt")),
    ("reminder.html", include_str!("../templates/reminder.html")),
    ("staff_digest.txt", include_str!("../templates/staff_digest.txt")),
    ("staff_digest.html", include_str!("../templates/staff_digest.html")),
    ("sign_in_link.txt", include_str!("../templates/sign_in_link.txt")),
    ("sign_in_link.html", include_str!("../templates/sign_in_link.html")),
];

/// An environment whose HTML escaping leaves `/` alone (minijinja's writes it as `&#x2f;`), so
/// that links in the HTML part read as the same address as in the text part.
fn environment() -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), minijinja::AutoEscape::Html) && !value.is_safe() && !value.is_undefined() {
            let text = value.to_string();
            out.write_str(&html_escape::encode_quoted_attribute(&text))
                .map_err(minijinja::Error::from)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    // Line breaks kept in messages and reasons, the text escaped.
    environment.add_filter("nl2br", |text: String| {
        Value::from_safe_string(html_escape::encode_text(&text).replace('\n', "<br>\n"))
    });
    environment
}

fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, source)| *source)
}

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The email templates: the firm's where it has them, Lodge's otherwise.
pub struct Templates {
    firm: Option<Environment<'static>>,
    built_in: Environment<'static>,
}

impl Templates {
    /// Lodge's own templates only.
    pub fn built_in() -> Self {
        let mut environment = environment();
        environment.set_loader(|name| Ok(built_in(name).map(str::to_owned)));
        Self {
            firm: None,
            built_in: environment,
        }
    }

    /// The firm's templates from `dir` over Lodge's; every one must parse, so that a mistake is
    /// reported when Lodge starts rather than when an email is due.
    pub fn load(dir: Option<&Path>) -> Result<Self, String> {
        let mut templates = Self::built_in();
        let Some(dir) = dir else { return Ok(templates) };
        if !dir.is_dir() {
            return Err(format!("the templates folder {} does not exist", dir.display()));
        }
        let dir: PathBuf = dir.to_owned();
        let mut environment = environment();
        environment.set_loader(move |name| {
            // Only the names Lodge knows: a template cannot reach outside the folder.
            let Some(default) = built_in(name) else { return Ok(None) };
            match std::fs::read_to_string(dir.join(name)) {
                Ok(source) => Ok(Some(source)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Some(default.to_owned())),
                Err(error) => Err(minijinja::Error::new(
                    minijinja::ErrorKind::TemplateNotFound,
                    format!("{name} could not be read: {error}"),
                )),
            }
        });
        for (name, _) in BUILT_IN {
            environment
                .get_template(name)
                .map_err(|error| format!("the email template {name} is not usable: {error:#}"))?;
        }
        templates.firm = Some(environment);
        Ok(templates)
    }

    /// The email `name` (`invitation`, `reminder`, …) with `values`: the firm's version, or Lodge's
    /// when the firm's cannot be rendered (an email is never lost to a template mistake).
    pub fn render(&self, name: &str, values: Value) -> Rendered {
        if let Some(firm) = &self.firm {
            match render_with(firm, name, &values) {
                Ok(rendered) => return rendered,
                Err(error) => {
                    tracing::error!(template = name, %error, "the firm's email template failed; Lodge's default is used")
                }
            }
        }
        render_with(&self.built_in, name, &values).expect("Lodge's own templates render (tested)")
    }
}

fn render_with(environment: &Environment<'static>, name: &str, values: &Value) -> Result<Rendered, String> {
    let text = environment
        .get_template(&format!("{name}.txt"))
        .and_then(|t| t.render(values))
        .map_err(|e| format!("{e:#}"))?;
    let (subject, body) = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("Subject:") => (first["Subject:".len()..].trim().to_owned(), rest),
        _ => return Err(format!("{name}.txt must begin with a `Subject:` line")),
    };
    let html = environment
        .get_template(&format!("{name}.html"))
        .and_then(|t| t.render(context! { subject => &subject, ..values.clone() }))
        .map_err(|e| format!("{e:#}"))?;
    Ok(Rendered {
        subject,
        text: format!("{}\n", body.trim()),
        html,
    })
}

/// The email carrying a staff member's sign-in link: their first, or one for a forgotten password.
pub fn sign_in_link(
    templates: &Templates,
    firm: &str,
    made: &lodge_domain::team::SignInLinkMade,
    url: &str,
) -> Rendered {
    let welcome = made.purpose == lodge_domain::team::LinkPurpose::Welcome;
    let values = context! {
        firm,
        name => &made.name,
        email => &made.email,
        welcome,
        url,
        expires => made.expires_at.format("%A %-d %B %Y, %H:%M UTC").to_string(),
    };
    templates.render("sign_in_link", values)
}

/// What a notification is about: the event that called for it, on its invite, to one contact.
pub struct About<'a> {
    pub firm: &'a str,
    pub invite: &'a Invite,
    pub contact: &'a ContactDetails,
    pub event: &'a InviteEvent,
    /// The contact's current portal link.
    pub url: &'a str,
}

fn requests_text(n: usize) -> String {
    if n == 1 {
        "1 item".to_owned()
    } else {
        format!("{n} items")
    }
}

fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// What every email to a contact can say.
fn to_contact(about: &About<'_>) -> Value {
    let invite = about.invite;
    context! {
        firm => about.firm,
        contact_name => &about.contact.name,
        sender_name => &invite.sender.name,
        title => &invite.title,
        message => &invite.message,
        requests => invite.requests_for(about.contact.id).count(),
        requests_text => requests_text(invite.requests_for(about.contact.id).count()),
        due_on => invite.due_on.map(long_date),
        portal_url => about.url,
    }
}

/// The email for `kind` (not reminders: see [`reminder`]).
pub fn render(templates: &Templates, kind: NotificationKind, about: &About<'_>) -> Rendered {
    let invite = about.invite;
    let base = to_contact(about);
    match (kind, about.event) {
        (NotificationKind::DocumentRejected, InviteEvent::DocumentRejected(rejected)) => {
            let values = context! {
                file_name => invite.document(rejected.document_id).map_or("a document", |d| d.file_name.as_str()),
                request_title => invite.request(rejected.request_id).map_or("a request", |r| r.title.as_str()),
                reviewer => &rejected.reviewer.name,
                reason => &rejected.reason,
                ..base
            };
            templates.render("document_rejected", values)
        }
        (NotificationKind::StaffMessage, InviteEvent::MessagePosted(posted)) => {
            let author = match &posted.author {
                lodge_domain::Actor::Staff { name, .. } => name.clone(),
                _ => invite.sender.name.clone(),
            };
            templates.render("staff_message", context! { author, body => &posted.body, ..base })
        }
        (NotificationKind::LinkReissued, _) => templates.render("link_reissued", base),
        _ => templates.render("invitation", base),
    }
}

/// A reminder: when it is due, and how much is still needed.
pub fn reminder(
    templates: &Templates,
    about: &About<'_>,
    today: NaiveDate,
    outstanding: usize,
    total: usize,
) -> Rendered {
    let when = match about.invite.due_on.map(|due| (due - today).num_days()) {
        Some(0) => "is due today".to_owned(),
        Some(1) => "is due tomorrow".to_owned(),
        Some(days) if days > 1 => format!("is due in {days} days"),
        Some(days) => format!("was due {} day{} ago", -days, if days == -1 { "" } else { "s" }),
        None => "is waiting for you".to_owned(),
    };
    templates.render("reminder", context! { when, outstanding, total, ..to_contact(about) })
}

/// One thing a contact did, as a digest to staff tells it.
#[derive(serde::Serialize)]
pub struct Activity {
    /// When, as `HH:MM` in the firm's time zone (with the date when not today).
    pub at: String,
    pub who: String,
    pub what: String,
    /// A message's text.
    pub detail: Option<String>,
}

/// What contacts did on an invite since its sender last heard, for the sender.
pub fn staff_digest(
    templates: &Templates,
    firm: &str,
    invite: &Invite,
    activities: &[Activity],
    (done, total): (usize, usize),
) -> Rendered {
    templates.render(
        "staff_digest",
        context! {
            firm,
            staff_name => &invite.sender.name,
            title => &invite.title,
            activities => Value::from(minijinja::value::Serde(activities)),
            done,
            total,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lodge_domain::testing;

    /// About the invite's first contact, with a fixed link.
    fn about<'a>(firm: &'a str, invite: &'a Invite, event: &'a InviteEvent) -> About<'a> {
        About {
            firm,
            invite,
            contact: &invite.contacts[0],
            event,
            url: "https://lodge.example/p/abc",
        }
    }

    fn sample() -> (Invite, InviteEvent) {
        let events = testing::sent();
        (testing::state(&events), events[0].clone())
    }

    #[test]
    fn an_invitation_says_what_who_when_and_where_and_escapes_html() {
        let (mut invite, event) = sample();
        invite.title = "Tax return <2026>".into();
        invite.message = Some("Photos are fine.\nThanks!".into());
        invite.due_on = NaiveDate::from_ymd_opt(2026, 12, 24);
        let about = about("Alves & <Co>", &invite, &event);
        let rendered = render(&Templates::built_in(), NotificationKind::Invitation, &about);
        let n = invite.requests_for(invite.contacts[0].id).count();
        assert_eq!(
            rendered.subject,
            format!("Alves & <Co>: \"Tax return <2026>\" — please send {n} items")
        );
        assert!(
            rendered.text.contains("by Thursday 24 December 2026"),
            "{}",
            rendered.text
        );
        assert!(rendered.text.contains("https://lodge.example/p/abc"));
        assert!(rendered.html.contains("Alves &amp; &lt;Co&gt;"), "{}", rendered.html);
        assert!(rendered.html.contains("Tax return &lt;2026&gt;"));
        assert!(rendered.html.contains("href=\"https://lodge.example/p/abc\""));
        assert!(rendered.html.contains("Photos are fine.<br>"), "{}", rendered.html);
        assert!(
            rendered.html.contains("<title>Alves &amp; &lt;Co&gt;:"),
            "the subject is the page title"
        );
    }

    use lodge_domain::team::{LinkPurpose, SignInLinkMade};

    #[test]
    fn every_built_in_template_renders() {
        let (invite, event) = sample();
        let about = about("Firm", &invite, &event);
        let templates = Templates::built_in();
        for kind in [NotificationKind::Invitation, NotificationKind::LinkReissued] {
            assert!(!render(&templates, kind, &about).subject.is_empty());
        }
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert!(
            reminder(&templates, &about, today, 1, 2)
                .text
                .contains("1 of 2 items are still needed")
        );
        let digest = staff_digest(
            &templates,
            "Firm",
            &invite,
            &[Activity {
                at: "09:30".into(),
                who: "Ana".into(),
                what: "wrote".into(),
                detail: Some("Here <b>you</b> go".into()),
            }],
            (1, 4),
        );
        assert!(digest.subject.contains("(1 update)"), "{}", digest.subject);
        assert!(
            digest.text.contains("- 09:30 Ana wrote:\n  Here <b>you</b> go"),
            "{}",
            digest.text
        );
        assert!(
            digest.html.contains("Here &lt;b&gt;you&lt;/b&gt; go"),
            "{}",
            digest.html
        );
        for (purpose, subject) in [
            (LinkPurpose::Welcome, "Firm: your account on its document portal"),
            (LinkPurpose::Reset, "Firm: choose a new password"),
        ] {
            let made = SignInLinkMade {
                staff_id: lodge_domain::StaffId::from_uuid(uuid::Uuid::from_u128(1)),
                name: "Sam <Staff>".into(),
                email: "sam@firm.example".into(),
                purpose,
                expires_at: "2026-12-13T10:00:00Z".parse().unwrap(),
            };
            let url = "https://lodge.example/staff/welcome/abc";
            let email = sign_in_link(&templates, "Firm", &made, url);
            assert_eq!(email.subject, subject);
            assert!(email.text.contains(url) && email.html.contains(url));
            assert!(
                email.text.contains("until Sunday 13 December 2026, 10:00 UTC"),
                "{}",
                email.text
            );
            assert!(email.html.contains("Sam &lt;Staff&gt;"), "{}", email.html);
            assert_eq!(email.text.contains("Did not ask?"), purpose == LinkPurpose::Reset);
        }
    }

    #[test]
    fn a_firm_overrides_one_template_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reminder.txt"),
            "Subject: Psst, {{ title }}\n\nDear {{ contact_name }}, {{ outstanding }} to go: {{ portal_url }}\n",
        )
        .unwrap();
        let templates = Templates::load(Some(dir.path())).unwrap();
        let (invite, event) = sample();
        let about = about("Firm", &invite, &event);
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let custom = reminder(&templates, &about, today, 2, 3);
        assert_eq!(custom.subject, format!("Psst, {}", invite.title));
        assert!(custom.text.contains("2 to go: https://lodge.example/p/abc"));
        assert!(
            custom.html.contains("2 of 3 items are still needed"),
            "Lodge's HTML part is kept"
        );
        let invitation = render(&templates, NotificationKind::Invitation, &about);
        assert!(invitation.text.contains("asks you for"), "other templates are Lodge's");

        std::fs::write(dir.path().join("invitation.html"), "{% if %}").unwrap();
        let error = Templates::load(Some(dir.path())).err().unwrap();
        assert!(error.contains("invitation.html"), "{error}");
        assert!(Templates::load(Some(&dir.path().join("missing"))).is_err());
    }

    #[test]
    fn a_firm_template_that_fails_at_send_time_falls_back_to_lodges() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("invitation.txt"), "No subject line here\n").unwrap();
        let templates = Templates::load(Some(dir.path())).unwrap();
        let (invite, event) = sample();
        let about = about("Firm", &invite, &event);
        let rendered = render(&templates, NotificationKind::Invitation, &about);
        assert!(rendered.text.contains("asks you for"), "{}", rendered.text);
    }
}
