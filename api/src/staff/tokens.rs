//! Staff API tokens: created and revoked with `lodge token`, checked on every staff request.

use chrono::Utc;
use lodge_domain::team::Role;
use lodge_domain::{Sender, StaffId};
use lodge_store::{Store, on, write_on};
use uuid::Uuid;

use crate::error::ApiError;
use crate::secrets;

/// The staff member a token belongs to: the actor of every event their requests cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: StaffId,
    pub name: String,
    pub email: Option<String>,
    /// The token the request came with: what it makes (a view link) lives only as long as it.
    pub token_id: Uuid,
    /// What they may do: their role in the team, or staff for a token made by name alone (before
    /// the firm had a team, or for a script).
    pub role: Role,
}

impl StaffMember {
    /// Who this member's requests write as, so that their reads show their writes.
    pub fn writer(&self) -> crate::own_writes::Writer {
        crate::own_writes::Writer::Staff(self.token_id)
    }

    pub fn as_domain(&self) -> lodge_domain::StaffMember {
        lodge_domain::StaffMember {
            id: self.id,
            name: self.name.clone(),
        }
    }
}

#[derive(Clone)]
pub struct CreatedToken {
    pub id: Uuid,
    pub staff: StaffMember,
    /// The token itself: shown once, never stored.
    pub token: String,
}

/// Without the token: a secret never reaches a log, even through `{:?}`.
impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("id", &self.id)
            .field("staff", &self.staff)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// Creates a token for a staff member. An email already used by a token names the same member.
pub async fn create(store: &Store, name: &str, email: Option<&str>) -> Result<CreatedToken, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::Invalid(
            "a staff member's name must be 1 to 200 characters".into(),
        ));
    }
    let email = email
        .map(lodge_domain::contact::normalise_email)
        .transpose()
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let known: Option<String> = match &email {
        Some(email) => on!(store, |c| {
            sqlx::query_scalar("SELECT staff_id FROM lodge_staff_tokens WHERE lower(email) = lower($1) LIMIT 1")
                .bind(email)
                .fetch_optional(c)
                .await
        })?,
        None => None,
    };
    let staff_id = match known {
        Some(id) => id
            .parse()
            .map_err(|e| ApiError::Internal(format!("a stored staff id: {e}")))?,
        None => Uuid::now_v7(),
    };
    insert(store, StaffId::from_uuid(staff_id), name, email, Role::Staff).await
}

/// Creates a token for member `staff_id` of the team, under their name and email: requests with it
/// act as them, with the role they have at the time of each request.
pub async fn create_for_member(
    store: &Store,
    staff_id: StaffId,
    name: &str,
    email: &str,
    role: Role,
) -> Result<CreatedToken, ApiError> {
    insert(store, staff_id, name, Some(email.to_owned()), role).await
}

/// Stores a new token's hash for `staff_id` and returns the token, shown this once.
async fn insert(
    store: &Store,
    staff_id: StaffId,
    name: &str,
    email: Option<String>,
    role: Role,
) -> Result<CreatedToken, ApiError> {
    let id = Uuid::now_v7();
    let (token, hash) = secrets::new_token("lodge_staff_");
    write_on!(store, |c| {
        sqlx::query(
            "INSERT INTO lodge_staff_tokens (id, staff_id, name, email, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(staff_id.to_string())
        .bind(name)
        .bind(email.clone())
        .bind(hash.as_str().to_owned())
        .bind(Utc::now().to_rfc3339())
        .execute(c)
        .await
        .map(|_| ())
    })?;
    Ok(CreatedToken {
        id,
        staff: StaffMember {
            id: staff_id,
            name: name.to_owned(),
            email,
            token_id: id,
            role,
        },
        token,
    })
}

/// Revokes a token by its id; returns whether a live token was revoked.
pub async fn revoke(store: &Store, id: Uuid) -> Result<bool, ApiError> {
    revoke_where(store, id, None).await
}

/// Revokes one of a member's own tokens; returns whether a live token of theirs was revoked.
pub async fn revoke_own(store: &Store, staff_id: StaffId, id: Uuid) -> Result<bool, ApiError> {
    revoke_where(store, id, Some(staff_id)).await
}

async fn revoke_where(store: &Store, id: Uuid, staff_id: Option<StaffId>) -> Result<bool, ApiError> {
    let revoked = write_on!(store, |c| {
        sqlx::query(
            "UPDATE lodge_staff_tokens SET revoked_at = $1
             WHERE id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR staff_id = $3)",
        )
        .bind(Utc::now().to_rfc3339())
        .bind(id.to_string())
        .bind(staff_id.map(|id| id.to_string()))
        .execute(c)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(revoked == 1)
}

pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, ApiError> {
    listed(store, None).await
}

/// A member's own tokens, live and revoked, oldest first.
pub async fn list_for_member(store: &Store, staff_id: StaffId) -> Result<Vec<TokenInfo>, ApiError> {
    listed(store, Some(staff_id)).await
}

async fn listed(store: &Store, staff_id: Option<StaffId>) -> Result<Vec<TokenInfo>, ApiError> {
    // id, name, email, created, revoked.
    type Row = (String, String, Option<String>, String, Option<String>);
    let rows: Vec<Row> = on!(store, |c| {
        sqlx::query_as(
            "SELECT id, name, email, created_at, revoked_at FROM lodge_staff_tokens
             WHERE ($1 IS NULL OR staff_id = $1) ORDER BY created_at",
        )
        .bind(staff_id.map(|id| id.to_string()))
        .fetch_all(c)
        .await
    })?;
    rows.into_iter()
        .map(|(id, name, email, created_at, revoked_at)| {
            Ok(TokenInfo {
                id: id
                    .parse()
                    .map_err(|e| ApiError::Internal(format!("a stored token id: {e}")))?,
                name,
                email,
                created_at,
                revoked_at,
            })
        })
        .collect()
}

/// The staff member a live token belongs to.
pub async fn authenticate(store: &Store, token: &str) -> Result<Option<StaffMember>, ApiError> {
    let hash = secrets::hash_token(token);
    let row: Option<(String, String, String, Option<String>)> = on!(store, |c| {
        sqlx::query_as(
            "SELECT id, staff_id, name, email FROM lodge_staff_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash.as_str().to_owned())
        .fetch_optional(c)
        .await
    })?;
    let stored = |what: &str, e: uuid::Error| ApiError::Internal(format!("a stored {what}: {e}"));
    row.map(|(token_id, id, name, email)| {
        Ok(StaffMember {
            id: id.parse().map_err(|e| stored("staff id", e))?,
            name,
            email,
            token_id: token_id.parse().map_err(|e| stored("token id", e))?,
            role: Role::Staff,
        })
    })
    .transpose()
}

/// The sender of an invite: the staff member, reachable at their own email or else the firm's.
pub fn sender(staff: &StaffMember, firm_email: Option<&str>, firm_phone: Option<&str>) -> Result<Sender, ApiError> {
    let email = staff.email.as_deref().or(firm_email).ok_or_else(|| {
        ApiError::Invalid(
            "contacts need an email address to reach the sender: create this token with --email, or set the firm's email (LODGE_FIRM_EMAIL)"
                .into(),
        )
    })?;
    Ok(Sender {
        id: staff.id,
        name: staff.name.clone(),
        email: email.to_owned(),
        phone: firm_phone.map(str::to_owned),
    })
}
