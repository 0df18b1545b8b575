//! Random tokens (staff API tokens, portal links, session cookies) and portal passwords. Lodge keeps
//! only hashes: a SHA-256 of each token (tokens are 256 random bits, so a fast hash is enough), and
//! an argon2id hash of each password (people choose passwords, so the hash must be slow).

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash as ParsedHash};
use hmac::{Hmac, Mac};
use lodge_domain::digest::{PasswordHash, TokenHash};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::settings::SecretKey;

use crate::error::ApiError;

/// A fresh random token (256 bits, as 64 hex digits, safe in a URL) with its hash.
pub fn new_token(prefix: &str) -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{prefix}{}", hex::encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// The token of the portal link that command `command_id` made for its `index`th new link (the
/// contact's place in SendInvite, 0 for AddContact and ReissuePortalLink). Derived rather than
/// random, so that a retried request answers with the same link and the notifier can put the link
/// in the email from the event alone; only a holder of the server's secret can compute it.
pub fn portal_link_token(secret: &SecretKey, command_id: Uuid, index: usize) -> (String, TokenHash) {
    derived_token(secret, "portal-link", command_id, index)
}

/// An HMAC of what identifies a secret value under the server's secret.
pub fn derived_token(secret: &SecretKey, purpose: &str, command_id: Uuid, index: usize) -> (String, TokenHash) {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes a key of any length");
    mac.update(format!("lodge/{purpose}/{command_id}/{index}").as_bytes());
    let token = hex::encode(mac.finalize().into_bytes());
    let hash = hash_token(&token);
    (token, hash)
}

/// What Lodge stores and looks up in place of a token.
pub fn hash_token(token: &str) -> TokenHash {
    TokenHash::parse(&hex::encode(Sha256::digest(token.as_bytes()))).expect("a SHA-256 in hex is a token hash")
}

/// Hashes a portal password with argon2id. Slow on purpose: run it off the async threads.
/// `salt` is random, except for a retried request, which must decide the same hash.
pub async fn hash_password(password: String, salt: Option<[u8; 16]>) -> Result<PasswordHash, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = salt.unwrap_or_else(|| {
            let mut salt = [0u8; 16];
            rand::rng().fill_bytes(&mut salt);
            salt
        });
        let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(format!("password salt: {e}")))?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))?;
        PasswordHash::parse(&hash.to_string()).map_err(|e| ApiError::Internal(format!("password hash: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))?
}

/// Whether `password` matches `hash`.
pub async fn password_matches(password: String, hash: PasswordHash) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let parsed =
            ParsedHash::new(hash.as_str()).map_err(|e| ApiError::Internal(format!("stored password hash: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("checking a password: {e}")))?
}
