//! Members' passwords, as argon2id hashes beside the log: none until a member chooses one from a
//! sign-in link.

use chrono::Utc;
use lodge_domain::StaffId;
use lodge_domain::digest::PasswordHash;
use lodge_store::{Store, on, write_on};

use crate::error::ApiError;

/// The shortest password a member may choose. Length is what makes a password hard to guess
/// (NIST SP 800-63B); no rules about digits or symbols.
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 200;

/// Whether a chosen password may be used, and if not, why (the page shows it beside the field).
pub fn check_new_password(password: &str, again: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters: a few words together are easy to remember and hard to guess"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("a password may have at most {MAX_PASSWORD_CHARS} characters"));
    }
    if password != again {
        return Err("the two passwords are not the same: type it again in both".into());
    }
    Ok(())
}

/// The member's password hash, if they have chosen a password.
pub async fn password_hash(store: &Store, staff_id: StaffId) -> Result<Option<PasswordHash>, ApiError> {
    let hash: Option<String> = on!(store, |c| {
        sqlx::query_scalar("SELECT password_hash FROM lodge_staff_credentials WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .fetch_optional(c)
            .await
    })?;
    hash.map(|hash| PasswordHash::parse(&hash).map_err(|e| ApiError::Internal(format!("a stored password hash: {e}"))))
        .transpose()
}

/// Sets (or replaces) the member's password hash.
pub async fn set_password(store: &Store, staff_id: StaffId, hash: &PasswordHash) -> Result<(), ApiError> {
    write_on!(store, |c| {
        sqlx::query(
            "INSERT INTO lodge_staff_credentials (staff_id, password_hash, changed_at) VALUES ($1, $2, $3)
             ON CONFLICT (staff_id) DO UPDATE SET password_hash = excluded.password_hash, changed_at = excluded.changed_at",
        )
        .bind(staff_id.to_string())
        .bind(hash.as_str().to_owned())
        .bind(Utc::now().to_rfc3339())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}
