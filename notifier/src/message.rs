//! The words of each notification, as plain text and as HTML. Kept plain and friendly: many
//! contacts open one of these once or twice a year, on a phone.

use chrono::NaiveDate;
use html_escape::encode_text as html;
use lodge_domain::contact::ContactDetails;
use lodge_domain::invite::{Invite, InviteEvent};
use lodge_domain::notification::NotificationKind;

/// What a notification is about: the event that called for it, on its invite, to one contact.
pub struct About<'a> {
    pub firm: &'a str,
    pub invite: &'a Invite,
    pub contact: &'a ContactDetails,
    pub event: &'a InviteEvent,
    /// The contact's current portal link.
    pub url: &'a str,
}

/// What an invitation says.
pub struct Invitation<'a> {
    pub firm: &'a str,
    pub contact_name: &'a str,
    pub sender_name: &'a str,
    pub title: &'a str,
    pub message: Option<&'a str>,
    pub requests: usize,
    pub due_on: Option<NaiveDate>,
    pub portal_url: &'a str,
    /// A new link replacing an old one, rather than a first invitation.
    pub reissued: bool,
}

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn requests(n: usize) -> String {
    if n == 1 {
        "1 item".to_owned()
    } else {
        format!("{n} items")
    }
}

pub fn invitation(i: &Invitation<'_>) -> Rendered {
    let subject = if i.reissued {
        format!("{}: your new link for \"{}\"", i.firm, i.title)
    } else {
        format!("{}: \"{}\" — please send {}", i.firm, i.title, requests(i.requests))
    };
    let due = i
        .due_on
        .map(|d| format!(" by {}", d.format("%A %-d %B %Y")))
        .unwrap_or_default();
    let opening = if i.reissued {
        format!(
            "{} sent you a new link to your portal for \"{}\". The old link no longer works.",
            i.sender_name, i.title
        )
    } else {
        format!(
            "{} of {} asks you for {}{due}: \"{}\".",
            i.sender_name,
            i.firm,
            requests(i.requests),
            i.title
        )
    };
    let mut text = format!("Hello {},\n\n{opening}\n\n", i.contact_name);
    if let Some(message) = i.message {
        text.push_str(&format!("{message}\n\n"));
    }
    text.push_str(&format!(
        "Open your portal to see what is needed and upload it (a phone is fine):\n{}\n\nThis link is yours alone; please do not share it.\n\n{}\n",
        i.portal_url, i.firm
    ));
    let mut body = format!("<p>Hello {},</p>\n<p>{}</p>\n", html(i.contact_name), html(&opening));
    if let Some(message) = i.message {
        body.push_str(&format!("<p>{}</p>\n", html(message).replace('\n', "<br>\n")));
    }
    body.push_str(&format!(
        "<p><a href=\"{url}\" style=\"display:inline-block;padding:12px 20px;background:#1f5f8b;color:#ffffff;text-decoration:none;border-radius:6px\">Open your portal</a></p>\n\
         <p>Or copy this address into your browser: {url}</p>\n<p>This link is yours alone; please do not share it.</p>\n<p>{firm}</p>\n",
        url = html_escape::encode_double_quoted_attribute(i.portal_url),
        firm = html(i.firm)
    ));
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\n<body style=\"font-family:sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a\">\n{body}</body></html>\n",
        html(&subject)
    );
    Rendered { subject, text, html }
}

/// The email for `kind`.
pub fn render(kind: NotificationKind, about: &About<'_>) -> Rendered {
    let invite = about.invite;
    match (kind, about.event) {
        (NotificationKind::DocumentRejected, InviteEvent::DocumentRejected(rejected)) => {
            let file = invite
                .document(rejected.document_id)
                .map_or("a document".to_owned(), |d| format!("\"{}\"", d.file_name));
            let request = invite
                .request(rejected.request_id)
                .map_or("a request".to_owned(), |r| format!("\"{}\"", r.title));
            let opening = format!(
                "{} could not accept {file} for {request}, and asks you to send another.",
                rejected.reviewer.name
            );
            note(
                about,
                format!("{}: please send {request} again", about.firm),
                &opening,
                Some(&format!("Why: {}", rejected.reason)),
                "Open your portal to send another file",
            )
        }
        (NotificationKind::StaffMessage, InviteEvent::MessagePosted(posted)) => {
            let author = match &posted.author {
                lodge_domain::Actor::Staff { name, .. } => name.clone(),
                _ => invite.sender.name.clone(),
            };
            note(
                about,
                format!("{}: a message about \"{}\"", about.firm, invite.title),
                &format!("{author} wrote to you about \"{}\":", invite.title),
                Some(&posted.body),
                "Open your portal to reply",
            )
        }
        (kind, _) => invitation(&Invitation {
            firm: about.firm,
            contact_name: &about.contact.name,
            sender_name: &invite.sender.name,
            title: &invite.title,
            message: invite.message.as_deref(),
            requests: invite.requests_for(about.contact.id).count(),
            due_on: invite.due_on,
            portal_url: about.url,
            reissued: kind == NotificationKind::LinkReissued,
        }),
    }
}

/// A reminder: when it is due, and how much is still needed.
pub fn reminder(about: &About<'_>, today: NaiveDate, outstanding: usize, total: usize) -> Rendered {
    let invite = about.invite;
    let when = match invite.due_on.map(|due| (due - today).num_days()) {
        Some(0) => "is due today".to_owned(),
        Some(1) => "is due tomorrow".to_owned(),
        Some(days) if days > 1 => format!("is due in {days} days"),
        Some(days) => format!("was due {} day{} ago", -days, if days == -1 { "" } else { "s" }),
        None => "is waiting for you".to_owned(),
    };
    let subject = format!("Reminder from {}: \"{}\" {when}", about.firm, invite.title);
    let still = format!(
        "{outstanding} of {total} {} still needed.",
        if total == 1 { "item is" } else { "items are" }
    );
    note(
        about,
        subject,
        &format!("A reminder: \"{}\" {when}. {still}", invite.title),
        None,
        "Open your portal to send what is left",
    )
}

/// A short note with a quote and the way back to the portal.
fn note(about: &About<'_>, subject: String, opening: &str, quote: Option<&str>, action: &str) -> Rendered {
    let mut text = format!("Hello {},\n\n{opening}\n\n", about.contact.name);
    let mut body = format!(
        "<p>Hello {},</p>\n<p>{}</p>\n",
        html(&about.contact.name),
        html(opening)
    );
    if let Some(quote) = quote {
        text.push_str(&format!("{quote}\n\n"));
        body.push_str(&format!(
            "<blockquote>{}</blockquote>\n",
            html(quote).replace('\n', "<br>\n")
        ));
    }
    text.push_str(&format!("{action}:\n{}\n\n{}\n", about.url, about.firm));
    body.push_str(&format!(
        "<p><a href=\"{url}\">{}</a></p>\n<p>Or copy this address into your browser: {url}</p>\n<p>{}</p>\n",
        html(action),
        html(about.firm),
        url = html_escape::encode_double_quoted_attribute(about.url),
    ));
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\n<body style=\"font-family:sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a\">\n{body}</body></html>\n",
        html(&subject)
    );
    Rendered { subject, text, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_says_what_who_when_and_where() {
        let rendered = invitation(&Invitation {
            firm: "Alves & <Co>",
            contact_name: "Ana",
            sender_name: "Sam Staff",
            title: "Tax return 2026",
            message: Some("Photos are fine.\nThanks!"),
            requests: 3,
            due_on: NaiveDate::from_ymd_opt(2026, 12, 24),
            portal_url: "https://lodge.example/p/abc",
            reissued: false,
        });
        assert_eq!(
            rendered.subject,
            "Alves & <Co>: \"Tax return 2026\" — please send 3 items"
        );
        assert!(rendered.text.contains("by Thursday 24 December 2026"));
        assert!(rendered.text.contains("https://lodge.example/p/abc"));
        assert!(rendered.html.contains("Alves &amp; &lt;Co&gt;"), "{}", rendered.html);
        assert!(rendered.html.contains("href=\"https://lodge.example/p/abc\""));
        assert!(rendered.html.contains("Photos are fine.<br>"));
    }
}
