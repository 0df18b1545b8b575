//! Portal links. A link's token is derived, not random: an HMAC, under the server's secret, of the
//! command that made the link and the link's place in it. The command id is in every event's
//! metadata, so whoever holds the secret (the API answering a retried request, the notifier writing
//! the email) can make the link again from the log, while the log itself holds only the token's
//! hash. Pure functions: no I/O, no randomness (the secret comes from outside).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::digest::TokenHash;

/// The server's secret: 256 bits. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub [u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// What Lodge stores and looks up in place of a token.
pub fn hash_token(token: &str) -> TokenHash {
    TokenHash::parse(&hex::encode(Sha256::digest(token.as_bytes()))).expect("a SHA-256 in hex is a token hash")
}

/// An HMAC, as 64 hex digits, of what identifies a secret value, with its hash.
pub fn derived_token(secret: &SecretKey, purpose: &str, command_id: Uuid, index: usize) -> (String, TokenHash) {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes a key of any length");
    mac.update(format!("lodge/{purpose}/{command_id}/{index}").as_bytes());
    let token = hex::encode(mac.finalize().into_bytes());
    let hash = hash_token(&token);
    (token, hash)
}

/// The token of the portal link that command `command_id` made for its `index`th new link (the
/// contact's place in SendInvite; 0 for AddContact and ReissuePortalLink).
pub fn portal_link_token(secret: &SecretKey, command_id: Uuid, index: usize) -> (String, TokenHash) {
    derived_token(secret, "portal-link", command_id, index)
}

/// The token of the sign-in link that command `command_id` made to be emailed to a staff member
/// (`SignInLinkMade`): the notifier makes it again from the event's command id.
pub fn staff_link_token(secret: &SecretKey, command_id: Uuid) -> (String, TokenHash) {
    derived_token(secret, "staff-link", command_id, 0)
}

/// Where a staff member's sign-in link points: `{public_url}/staff/welcome/{token}`.
pub fn staff_link_url(public_url: &str, token: &str) -> String {
    format!("{}/staff/welcome/{token}", public_url.trim_end_matches('/'))
}

/// The address a contact opens: `{public_url}/p/{token}`.
pub fn portal_url(public_url: &str, token: &str) -> String {
    format!("{}/p/{token}", public_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_depends_on_the_secret_the_command_and_the_place() {
        let (key, other_key) = (SecretKey([7; 32]), SecretKey([8; 32]));
        let command = Uuid::from_u128(1);
        let (token, hash) = portal_link_token(&key, command, 0);
        assert_eq!(token.len(), 64);
        assert_eq!(hash, hash_token(&token));
        assert_eq!(
            portal_link_token(&key, command, 0).0,
            token,
            "the same inputs, the same link"
        );
        assert_ne!(portal_link_token(&key, command, 1).0, token);
        assert_ne!(portal_link_token(&key, Uuid::from_u128(2), 0).0, token);
        assert_ne!(portal_link_token(&other_key, command, 0).0, token);
        assert_eq!(
            portal_url("https://lodge.example/", "abc"),
            "https://lodge.example/p/abc"
        );
    }
}
