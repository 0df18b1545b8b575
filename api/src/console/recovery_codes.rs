//! Recovery codes: ten one-time codes a member keeps on paper, for signing in without their phone.
//! Shown once when made; only each one's SHA-256 is kept (they are 50 random bits each, and a code
//! tried is limited as passwords are, so a fast hash is enough). Making new ones ends the old ones.

use lodge_domain::StaffId;
use lodge_store::{Store, on, write_on};
use rand::Rng;

use crate::error::ApiError;
use crate::secrets;

/// Codes made at once.
pub const COUNT: u32 = 10;

/// Letters a code is made of: no 0/O, 1/I/L, to read from paper without doubt.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a code, shown as two groups of five.
const LENGTH: usize = 10;

fn new_code() -> String {
    let mut rng = rand::rng();
    let raw: String = (0..LENGTH)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &raw[..LENGTH / 2], &raw[LENGTH / 2..])
}

/// How a code is written down however it is typed: upper case, without spaces or dashes.
fn normalised(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// New codes for the member, replacing any earlier ones; returned this once.
pub async fn make(store: &Store, staff_id: StaffId) -> Result<Vec<String>, ApiError> {
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    let mut tx = store.begin_write().await?;
    on!(tx, |c| {
        sqlx::query("DELETE FROM lodge_staff_recovery_codes WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .execute(c)
            .await
            .map(|_| ())
    })?;
    for code in &codes {
        let hash = secrets::hash_token(&normalised(code));
        on!(tx, |c| {
            sqlx::query("INSERT INTO lodge_staff_recovery_codes (code_hash, staff_id) VALUES ($1, $2)")
                .bind(hash.as_str().to_owned())
                .bind(staff_id.to_string())
                .execute(c)
                .await
                .map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(codes)
}

/// Uses up one of the member's codes: true if `code` was one (of two requests with it, one is).
pub async fn spend(store: &Store, staff_id: StaffId, code: &str) -> Result<bool, ApiError> {
    let hash = secrets::hash_token(&normalised(code));
    let spent = write_on!(store, |c| {
        sqlx::query("DELETE FROM lodge_staff_recovery_codes WHERE code_hash = $1 AND staff_id = $2")
            .bind(hash.as_str().to_owned())
            .bind(staff_id.to_string())
            .execute(c)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(spent == 1)
}

/// How many of the member's codes are left.
pub async fn left(store: &Store, staff_id: StaffId) -> Result<i64, ApiError> {
    Ok(on!(store, |c| {
        sqlx::query_scalar("SELECT count(*) FROM lodge_staff_recovery_codes WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .fetch_one(c)
            .await
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_easy_to_copy_and_typed_any_way_they_match() {
        let code = new_code();
        assert_eq!(code.len(), LENGTH + 1);
        assert!(code.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert_eq!(
            normalised(&code),
            normalised(&format!(" {} ", code.to_lowercase().replace('-', " ")))
        );
        assert_ne!(new_code(), new_code());
    }
}
