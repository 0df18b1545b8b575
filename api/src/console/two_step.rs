//! Two-step sign-in: after their password, a member gives a code from an authenticator app (TOTP,
//! RFC 6238: six digits, a new one every 30 seconds, from a secret the app and Lodge share). The
//! secret is kept beside the log (a code cannot be checked against a hash of it); a code is accepted
//! once (the last accepted time step is kept, and a code of that step or earlier is refused), one
//! step early or late for a phone's clock. `totp-rs` computes the codes and the `otpauth://` address;
//! `qrcode` draws that address as an SVG the page shows inline (nothing loaded from elsewhere).

use chrono::Utc;
use lodge_domain::StaffId;
use lodge_store::{Store, on, write_on};
use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::ApiError;

/// Seconds a code lasts (what every authenticator app expects).
const STEP_SECONDS: u64 = 30;
/// Digits in a code.
const DIGITS: usize = 6;
/// Steps before and after the current one whose codes are accepted: a phone's clock may be off.
const SKEW: u64 = 1;

/// A new secret: 160 random bits (RFC 4226's recommended length), in base32.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

/// The TOTP of `secret` (base32) for `account` at `issuer`; None if the secret is not base32 of the
/// right length (a form tampered with).
fn totp(secret: &str, issuer: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.trim().to_uppercase()).to_bytes().ok()?;
    // The app shows `issuer: account`; a colon in either would split it wrongly.
    let clean = |text: &str| text.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECONDS,
        bytes,
        Some(clean(issuer)),
        clean(account),
    )
    .ok()
}

/// What the setup page shows: the address an app scans (as an SVG), and the secret to type instead.
pub struct Setup {
    pub secret: String,
    pub qr_svg: String,
}

/// The setup of `secret` for the member `account` (their email) at the firm `issuer`.
pub fn setup(secret: &str, issuer: &str, account: &str) -> Result<Setup, ApiError> {
    let totp = totp(secret, issuer, account).ok_or_else(|| ApiError::Invalid(BAD_SECRET.into()))?;
    let qr = qrcode::QrCode::new(totp.get_url().as_bytes())
        .map_err(|e| ApiError::Internal(format!("drawing the sign-in code: {e}")))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Shown inside the page's HTML: without the XML declaration a standalone SVG starts with.
    let qr_svg = qr_svg.find("<svg").map_or(qr_svg.clone(), |at| qr_svg[at..].to_owned());
    Ok(Setup {
        secret: secret.trim().to_uppercase(),
        qr_svg,
    })
}

const BAD_SECRET: &str = "the setup key is not one Lodge made: start again from Your account";

/// The time step of the code `code` of `secret` now, if it is one of the accepted ones.
fn step_of(secret: &str, code: &str) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "", "member")?;
    let now = u64::try_from(Utc::now().timestamp()).ok()? / STEP_SECONDS;
    (now.saturating_sub(SKEW)..=now + SKEW).find(|step| {
        // `check` compares in constant time.
        totp.check(&code, step * STEP_SECONDS)
    })
}

/// Whether `code` is right for a secret being set up (nothing is stored yet).
pub fn confirms(secret: &str, code: &str) -> bool {
    step_of(secret, code).is_some()
}

/// Turns two-step sign-in on for the member with `secret`, whose `code` was just accepted.
pub async fn turn_on(store: &Store, staff_id: StaffId, secret: &str, code: &str) -> Result<(), ApiError> {
    let step = step_of(secret, code).ok_or_else(|| ApiError::Invalid(WRONG_CODE.into()))?;
    write_on!(store, |c| {
        sqlx::query(
            "INSERT INTO lodge_staff_two_step (staff_id, secret, last_step, turned_on_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (staff_id) DO UPDATE SET secret = excluded.secret, last_step = excluded.last_step,
                                                turned_on_at = excluded.turned_on_at",
        )
        .bind(staff_id.to_string())
        .bind(secret.trim().to_uppercase())
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .bind(Utc::now().to_rfc3339())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

pub const WRONG_CODE: &str =
    "that code is not right: type the six digits your authenticator app shows now (each works once)";

/// Turns it off: the secret and the recovery codes are forgotten. False if it was not on.
pub async fn turn_off(store: &Store, staff_id: StaffId) -> Result<bool, ApiError> {
    let mut tx = store.begin_write().await?;
    let removed = on!(tx, |c| {
        sqlx::query("DELETE FROM lodge_staff_two_step WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .execute(c)
            .await
            .map(|done| done.rows_affected())
    })?;
    on!(tx, |c| {
        sqlx::query("DELETE FROM lodge_staff_recovery_codes WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .execute(c)
            .await
            .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(removed == 1)
}

/// The members who have two-step sign-in on.
pub async fn members_with_it(store: &Store) -> Result<Vec<String>, ApiError> {
    Ok(on!(store, |c| {
        sqlx::query_scalar("SELECT staff_id FROM lodge_staff_two_step")
            .fetch_all(c)
            .await
    })?)
}

/// Whether the member has two-step sign-in on.
pub async fn is_on(store: &Store, staff_id: StaffId) -> Result<bool, ApiError> {
    Ok(secret_of(store, staff_id).await?.is_some())
}

async fn secret_of(store: &Store, staff_id: StaffId) -> Result<Option<String>, ApiError> {
    Ok(on!(store, |c| {
        sqlx::query_scalar("SELECT secret FROM lodge_staff_two_step WHERE staff_id = $1")
            .bind(staff_id.to_string())
            .fetch_optional(c)
            .await
    })?)
}

/// Accepts `code` for the member if it is right and newer than the last one accepted: of two
/// requests with the same code, one succeeds.
pub async fn accept_code(store: &Store, staff_id: StaffId, code: &str) -> Result<bool, ApiError> {
    let Some(secret) = secret_of(store, staff_id).await? else {
        return Ok(false);
    };
    let Some(step) = step_of(&secret, code) else {
        return Ok(false);
    };
    let accepted = write_on!(store, |c| {
        sqlx::query("UPDATE lodge_staff_two_step SET last_step = $2 WHERE staff_id = $1 AND last_step < $2")
            .bind(staff_id.to_string())
            .bind(i64::try_from(step).unwrap_or(i64::MAX))
            .execute(c)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(accepted == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_sets_up_and_its_current_code_confirms_it() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32, "160 bits in base32");
        let setup = setup(&secret, "Firm: Ltd", "olive@firm.example").unwrap();
        assert!(setup.qr_svg.starts_with("<svg") && setup.qr_svg.ends_with("</svg>"));
        let code = totp(&secret, "", "member").unwrap().generate_current().unwrap();
        assert!(confirms(&secret, &code));
        assert!(confirms(
            &secret.to_lowercase(),
            &format!(" {} {} ", &code[..3], &code[3..])
        ));
        assert!(!confirms(&secret, "12345"));
        assert!(!confirms(&secret, "abcdef"));
        assert!(!confirms("not base32!", &code));
    }
}
