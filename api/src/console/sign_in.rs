//! What the console's sign-in pages do: choose a password from a one-time link, sign in with email
//! and password (then, for a member with two-step sign-in, a code: `second_step`), sign out (here,
//! or everywhere). Each is one use case; each outcome is on the record.

use std::time::Duration;

use axum_extra::extract::cookie::Cookie;
use lodge_domain::digest::PasswordHash;
use lodge_domain::team::{
    Member, PasswordChosen, RefusalReason, SecondStep, SignInEvent, SignInMethod, SignInRefused, SignedIn, SignedOut,
};
use lodge_domain::{Actor, StaffId};
use tokio::sync::OnceCell;

use crate::console::extract::ConsoleMember;
use crate::console::record::record;
use crate::console::{credentials, links, pending, recovery_codes, sessions, two_step};
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::limits::{self, Rate};
use crate::secrets;
use crate::staff::team;
use crate::state::AppState;

/// Wrong sign-ins checked per account, and per address, in [`ATTEMPT_WINDOW`] before 429. Per
/// address it is looser: an office shares one.
pub const MAX_TRIES_PER_ACCOUNT: u32 = 5;
pub const MAX_TRIES_PER_ADDRESS: u32 = 20;
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Where a right password (or sign-in link) leads: signed in, or, for a member with two-step
/// sign-in, to the code (the cookie carries the half-done sign-in).
pub enum Proved {
    SignedIn(Cookie<'static>),
    CodeNeeded(Cookie<'static>),
}

/// What a person who is not signed in is told: never which of the email or password was wrong.
const NO_MATCH: &str = "that email address and password do not match an account here";

fn spent_link() -> ApiError {
    ApiError::NotFound(
        "this sign-in link was used already, replaced by a newer one, or is too old: ask an owner for a new one \
         (`lodge staff link --email …` on the server)"
            .into(),
    )
}

/// Whose a sign-in link is, for the page that asks them to choose a password.
pub async fn link_member(state: &AppState, token: &str) -> Result<(StaffId, Member), ApiError> {
    let staff_id = links::find(&state.store, token).await?.ok_or_else(spent_link)?;
    // Read from the log, not memory: a sign-in is rare, and must see the team as it is now.
    let team = team::team(&state.log).await?;
    let member = team.members.get(&staff_id).cloned().ok_or_else(spent_link)?;
    if !member.active {
        return Err(deactivated(&member));
    }
    Ok((staff_id, member))
}

fn deactivated(member: &Member) -> ApiError {
    ApiError::Unauthenticated(format!(
        "{}'s account was deactivated: an owner can reactivate it",
        member.name
    ))
}

/// A new password from a sign-in link: kept as its hash, the link spent, and the member signed in
/// (a new session; the browser's earlier one, `replacing`, ends). A password that will not do is
/// refused with 422, saying why, and changes nothing.
pub async fn choose_password(
    state: &AppState,
    context: &RequestContext,
    token: &str,
    password: String,
    again: &str,
    replacing: Option<&str>,
) -> Result<Proved, ApiError> {
    let (staff_id, member) = link_member(state, token).await?;
    credentials::check_new_password(&password, again).map_err(ApiError::Invalid)?;
    let hash = secrets::hash_password(password, None).await?;
    // Of two tabs posting the same link, one spends it; the other is told the link is spent.
    if !links::spend(&state.store, token).await? {
        return Err(spent_link());
    }
    credentials::set_password(&state.store, staff_id, &hash).await?;
    // A new password (a forgotten one, say) ends every session the member had.
    sessions::end_all(&state.store, staff_id).await?;
    state.accounts.forget_member(staff_id);
    let actor = Actor::Staff {
        id: staff_id,
        name: member.name.clone(),
    };
    record(
        state,
        context,
        actor.clone(),
        SignInEvent::PasswordChosen(PasswordChosen { staff_id }),
    )
    .await?;
    proved(state, context, staff_id, actor, SignInMethod::Link, replacing).await
}

/// Signs in with email and password. At most [`MAX_TRIES_PER_ACCOUNT`] tries per account and
/// [`MAX_TRIES_PER_ADDRESS`] per address are checked in [`ATTEMPT_WINDOW`], however they arrive (each
/// takes a slot before any hashing; a right password gives its slots back); every refusal is on the
/// record with its reason, while the person is told only that the two do not match.
pub async fn sign_in(
    state: &AppState,
    context: &RequestContext,
    email: &str,
    password: String,
    replacing: Option<&str>,
) -> Result<Proved, ApiError> {
    let email = lodge_domain::contact::normalise_email(email)
        .map_err(|_| ApiError::Unauthenticated(NO_MATCH.into()))?
        .to_lowercase();
    let mut keys = vec![(format!("sign-in:account:{email}"), rate(MAX_TRIES_PER_ACCOUNT))];
    if let Some(ip) = context.source.ip {
        keys.push((format!("sign-in:address:{ip}"), rate(MAX_TRIES_PER_ADDRESS)));
    }
    let slots = take_tries(state, &keys).await?;
    // Read from the log, not memory: a sign-in is rare, and must see the team as it is now.
    let team = team::team(&state.log).await?;
    let found = team.by_email(&email).map(|(id, member)| (id, member.clone()));
    let stored = match &found {
        Some((id, _)) => credentials::password_hash(&state.store, *id).await?,
        None => None,
    };
    // An unknown account costs the same hashing as a known one, so the time taken tells nothing.
    let matches = match stored {
        Some(hash) => secrets::password_matches(password, hash).await?,
        None => {
            secrets::password_matches(password, stand_in_hash().await?).await?;
            false
        }
    };
    let refusal = match &found {
        None => Some(RefusalReason::UnknownAccount),
        Some(_) if !matches => Some(RefusalReason::WrongPassword),
        Some((_, member)) if !member.active => Some(RefusalReason::Deactivated),
        Some(_) => None,
    };
    if let Some(reason) = refusal {
        let event = SignInEvent::SignInRefused(SignInRefused {
            email: email.clone(),
            staff_id: found.as_ref().map(|(id, _)| *id),
            reason,
        });
        record(state, context, Actor::System, event).await?;
        return Err(match (&found, reason) {
            (Some((_, member)), RefusalReason::Deactivated) => deactivated(member),
            _ => tries_left(NO_MATCH, &slots),
        });
    }
    for slot in slots {
        limits::give_back(&state.store, slot).await?;
    }
    let (staff_id, member) = found.expect("a member signs in");
    let actor = Actor::Staff {
        id: staff_id,
        name: member.name,
    };
    proved(state, context, staff_id, actor, SignInMethod::Password, replacing).await
}

fn rate(most: u32) -> Rate {
    Rate {
        most,
        per: ATTEMPT_WINDOW,
    }
}

/// A slot under each limit of `keys`, or 429 saying how long to wait.
async fn take_tries(state: &AppState, keys: &[(String, Rate)]) -> Result<Vec<limits::Slot>, ApiError> {
    limits::take_all(&state.store, keys)
        .await?
        .map_err(|retry_after| ApiError::TooManyRequests {
            detail: format!(
                "too many sign-in attempts: try again in {} minutes, or ask an owner for a sign-in link",
                retry_after.as_secs().div_ceil(60)
            ),
            retry_after,
        })
}

/// A refusal that says how many tries are left before the wait.
fn tries_left(refusal: &str, slots: &[limits::Slot]) -> ApiError {
    let left = slots.first().map_or(0, |slot| slot.left);
    ApiError::Unauthenticated(if left == 0 {
        format!("{refusal}; that was the last try for now, so wait 15 minutes")
    } else {
        format!("{refusal}; {left} more tries before a 15-minute wait")
    })
}

/// The member proved their password (or link): signed in, or on to the code if they have two-step
/// sign-in.
async fn proved(
    state: &AppState,
    context: &RequestContext,
    staff_id: StaffId,
    actor: Actor,
    method: SignInMethod,
    replacing: Option<&str>,
) -> Result<Proved, ApiError> {
    if two_step::is_on(&state.store, staff_id).await? {
        return Ok(Proved::CodeNeeded(
            pending::start(&state.store, &state.settings, staff_id, method).await?,
        ));
    }
    let cookie = open_session(state, context, staff_id, actor, method, None, replacing).await?;
    Ok(Proved::SignedIn(cookie))
}

/// Code tries checked per member in [`ATTEMPT_WINDOW`]: a six-digit code is guessed one time in a
/// million; five tries per quarter hour keep a guesser far from it.
pub const MAX_CODE_TRIES: u32 = 5;

/// The second step of a sign-in: a code from the member's app, or one of their recovery codes, for
/// the half-done sign-in `pending_token`. A wrong code is on the record and counts as a try; a
/// half-done sign-in that is unknown or too old sends the person back to the sign-in page.
pub async fn second_step(
    state: &AppState,
    context: &RequestContext,
    pending_token: &str,
    code: &str,
    replacing: Option<&str>,
) -> Result<Cookie<'static>, ApiError> {
    let Some((staff_id, method)) = pending::find(&state.store, pending_token).await? else {
        return Err(ApiError::Unauthenticated(
            "that sign-in took too long or was finished already: sign in again".into(),
        ));
    };
    let team = team::team(&state.log).await?;
    let member = team
        .members
        .get(&staff_id)
        .cloned()
        .ok_or_else(|| ApiError::Unauthenticated("sign in again".into()))?;
    if !member.active {
        pending::end(&state.store, pending_token).await?;
        return Err(deactivated(&member));
    }
    let slots = take_tries(state, &[(format!("sign-in:code:{staff_id}"), rate(MAX_CODE_TRIES))]).await?;
    let used = if two_step::accept_code(&state.store, staff_id, code).await? {
        Some(SecondStep::Code)
    } else if recovery_codes::spend(&state.store, staff_id, code).await? {
        Some(SecondStep::RecoveryCode)
    } else {
        None
    };
    let actor = Actor::Staff {
        id: staff_id,
        name: member.name.clone(),
    };
    let Some(used) = used else {
        let event = SignInEvent::SignInRefused(SignInRefused {
            email: member.email.clone(),
            staff_id: Some(staff_id),
            reason: RefusalReason::WrongCode,
        });
        record(state, context, Actor::System, event).await?;
        return Err(tries_left(two_step::WRONG_CODE, &slots));
    };
    // Of two tabs posting a right code at once, one signs in.
    if !pending::end(&state.store, pending_token).await? {
        return Err(ApiError::Unauthenticated(
            "that sign-in was finished already: sign in again".into(),
        ));
    }
    for slot in slots {
        limits::give_back(&state.store, slot).await?;
    }
    open_session(state, context, staff_id, actor, method, Some(used), replacing).await
}

/// A new session for a member who proved who they are, on the record.
async fn open_session(
    state: &AppState,
    context: &RequestContext,
    staff_id: StaffId,
    actor: Actor,
    method: SignInMethod,
    second_step: Option<SecondStep>,
    replacing: Option<&str>,
) -> Result<Cookie<'static>, ApiError> {
    let cookie = sessions::open(&state.store, &state.settings, context, staff_id).await?;
    if let Some(old) = replacing {
        sessions::end(&state.store, old).await?;
        state.accounts.forget_session(secrets::hash_token(old).as_str());
    }
    record(
        state,
        context,
        actor,
        SignInEvent::SignedIn(SignedIn {
            staff_id,
            method,
            second_step,
        }),
    )
    .await?;
    Ok(cookie)
}

/// Ends this session, or every one of the member's.
pub async fn sign_out(
    state: &AppState,
    context: &RequestContext,
    member: &ConsoleMember,
    everywhere: bool,
) -> Result<(), ApiError> {
    let staff_id = member.staff.id;
    if everywhere {
        sessions::end_all(&state.store, staff_id).await?;
        state.accounts.forget_member(staff_id);
    } else {
        sessions::end_session(&state.store, &member.session).await?;
        state.accounts.forget_session(&member.session.hash);
    }
    let event = SignInEvent::SignedOut(SignedOut { staff_id, everywhere });
    record(
        state,
        context,
        Actor::Staff {
            id: staff_id,
            name: member.staff.name.clone(),
        },
        event,
    )
    .await
}

/// A hash of no one's password, checked against when an account is unknown.
async fn stand_in_hash() -> Result<PasswordHash, ApiError> {
    static HASH: OnceCell<PasswordHash> = OnceCell::const_new();
    HASH.get_or_try_init(|| secrets::hash_password("not anyone's password".into(), None))
        .await
        .cloned()
}
