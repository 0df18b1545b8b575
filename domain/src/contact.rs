//! Contacts: the people an Invite goes to, and how they are reached.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::digest::TokenHash;
use crate::ids::ContactId;

/// A way to send a contact their portal link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    Email,
    Sms,
}

/// A contact as an Invite records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactDetails {
    pub id: ContactId,
    pub name: String,
    pub email: Option<String>,
    /// E.164, e.g. `+14155550123`.
    pub phone: Option<String>,
    /// The hash of the contact's current portal link token.
    pub portal_link: TokenHash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("`{0}` is not a valid email address")]
    InvalidEmail(String),
    #[error("`{0}` is not a phone number in international format (E.164), such as +14155550123")]
    InvalidPhone(String),
    #[error("{name} has no email address, but this invite is sent by email")]
    EmailMissing { name: String },
    #[error("{name} has no phone number, but this invite is sent by SMS")]
    PhoneMissing { name: String },
    #[error("choose at least one channel for the portal link: email, sms or both")]
    NoChannel,
}

/// Trims an email address and checks it is one (RFC 5321/5322 syntax).
pub fn normalise_email(value: &str) -> Result<String, ContactError> {
    let trimmed = value.trim();
    if email_address::EmailAddress::is_valid(trimmed) && !trimmed.contains(['<', '>']) {
        Ok(trimmed.to_owned())
    } else {
        Err(ContactError::InvalidEmail(value.to_owned()))
    }
}

/// Accepts a phone number in international form, allowing the spaces, dashes, dots and brackets
/// people type, and returns it as E.164 (`+` and 8 to 15 digits), which is what SMS providers take.
///
/// Hand-written rather than the `phonenumber` crate: E.164 is a one-line format, and full parsing of
/// national numbers would need a default region that an Invite does not have.
pub fn normalise_phone(value: &str) -> Result<String, ContactError> {
    let compact: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    let valid =
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if valid {
        Ok(compact)
    } else {
        Err(ContactError::InvalidPhone(value.to_owned()))
    }
}

/// Checks that a contact can be reached on every channel the invite uses.
pub fn check_reachable(contact: &ContactDetails, channels: &BTreeSet<Channel>) -> Result<(), ContactError> {
    if channels.is_empty() {
        return Err(ContactError::NoChannel);
    }
    if channels.contains(&Channel::Email) && contact.email.is_none() {
        return Err(ContactError::EmailMissing {
            name: contact.name.clone(),
        });
    }
    if channels.contains(&Channel::Sms) && contact.phone.is_none() {
        return Err(ContactError::PhoneMissing {
            name: contact.name.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normalise_email("  ana@example.com ").unwrap(), "ana@example.com");
        assert!(normalise_email("ana").is_err());
        assert!(normalise_email("ana@").is_err());
        assert!(normalise_email("Ana <ana@example.com>").is_err());
    }

    #[test]
    fn phones_are_normalised_to_e164() {
        assert_eq!(normalise_phone("+1 (415) 555-0123").unwrap(), "+14155550123");
        assert_eq!(normalise_phone("+44 20 7946 0958").unwrap(), "+442079460958");
        assert!(
            normalise_phone("0415 555 0123").is_err(),
            "national form has no country"
        );
        assert!(normalise_phone("+0123456789").is_err());
        assert!(normalise_phone("+1234").is_err());
        assert!(normalise_phone("+1415555012345678").is_err());
        assert!(normalise_phone("+1415abc0123").is_err());
    }
}
