//! Random tokens (staff API tokens, portal links, session cookies) and portal passwords. Lodge keeps
//! only hashes: a SHA-256 of each token (tokens are 256 random bits, so a fast hash is enough), and
//! an argon2id hash of each password (people choose passwords, so the hash must be slow).

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash as ParsedHash};
use lodge_domain::digest::{PasswordHash, TokenHash};
use rand::RngCore;

use crate::error::ApiError;

pub use lodge_domain::links::{derived_token, hash_token, portal_link_token};

/// A fresh random token (256 bits, as 64 hex digits, safe in a URL) with its hash.
pub fn new_token(prefix: &str) -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{prefix}{}", hex::encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

/// argon2id hashes computed at once, at most. Each takes about 19 MiB (argon2's default memory
/// cost) and a core for tens of milliseconds: a burst of password tries waits its turn here rather
/// than taking the server's memory.
const HASHES_AT_ONCE: usize = 4;
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHES_AT_ONCE);

/// Runs `work` (an argon2 computation) off the async threads, in its turn.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing: {e}")))
}

/// Hashes a portal password with argon2id. Slow on purpose: run it off the async threads.
/// `salt` is random, except for a retried request, which must decide the same hash.
pub async fn hash_password(password: String, salt: Option<[u8; 16]>) -> Result<PasswordHash, ApiError> {
    hashing(move || {
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
    .await?
}

/// Whether `password` matches `hash`.
pub async fn password_matches(password: String, hash: PasswordHash) -> Result<bool, ApiError> {
    hashing(move || {
        let parsed =
            ParsedHash::new(hash.as_str()).map_err(|e| ApiError::Internal(format!("stored password hash: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?
}
