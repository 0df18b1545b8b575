//! What a member changes of their own sign-in from "Your account": two-step sign-in on and off, and
//! new recovery codes; and an owner turning it off for a colleague who lost their phone. Each change
//! is on the record (the sign-ins stream). Turning it off and making new codes ask the member for a
//! current code first, so that a browser left signed in cannot take it over.

use lodge_domain::Actor;
use lodge_domain::team::{RecoveryCodesMade, SignInEvent, TwoStepTurnedOff, TwoStepTurnedOn};

use crate::console::extract::ConsoleMember;
use crate::console::record::record;
use crate::console::{recovery_codes, two_step};
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::state::AppState;

fn actor(member: &ConsoleMember) -> Actor {
    Actor::Staff {
        id: member.staff.id,
        name: member.staff.name.clone(),
    }
}

/// What the setup page shows a member turning two-step sign-in on: a new secret, as a picture to
/// scan and as text to type. Nothing is kept until they confirm it with a code.
pub async fn begin_two_step(state: &AppState, member: &ConsoleMember) -> Result<two_step::Setup, ApiError> {
    if two_step::is_on(&state.store, member.staff.id).await? {
        return Err(ApiError::Conflict("two-step sign-in is on already".into()));
    }
    let firm = &state.firm.get().name;
    two_step::setup(
        &two_step::new_secret(),
        firm,
        member.staff.email.as_deref().unwrap_or_default(),
    )
}

/// The setup of a secret the member is confirming (the page again, after a wrong code).
pub fn setup_again(state: &AppState, member: &ConsoleMember, secret: &str) -> Result<two_step::Setup, ApiError> {
    let firm = &state.firm.get().name;
    two_step::setup(secret, firm, member.staff.email.as_deref().unwrap_or_default())
}

/// Turns two-step sign-in on with `secret`, once `code` shows the member's app has it; returns their
/// recovery codes, shown this once. A wrong code is refused with 422 and keeps nothing.
pub async fn turn_on_two_step(
    state: &AppState,
    context: &RequestContext,
    member: &ConsoleMember,
    secret: &str,
    code: &str,
) -> Result<Vec<String>, ApiError> {
    if two_step::is_on(&state.store, member.staff.id).await? {
        return Err(ApiError::Conflict("two-step sign-in is on already".into()));
    }
    if !two_step::confirms(secret, code) {
        return Err(ApiError::Invalid(two_step::WRONG_CODE.into()));
    }
    two_step::turn_on(&state.store, member.staff.id, secret, code).await?;
    let staff_id = member.staff.id;
    record(
        state,
        context,
        actor(member),
        SignInEvent::TwoStepTurnedOn(TwoStepTurnedOn { staff_id }),
    )
    .await?;
    make_codes(state, context, member).await
}

/// New recovery codes for the member, in place of any earlier ones, on the record.
async fn make_codes(
    state: &AppState,
    context: &RequestContext,
    member: &ConsoleMember,
) -> Result<Vec<String>, ApiError> {
    let staff_id = member.staff.id;
    let codes = recovery_codes::make(&state.store, staff_id).await?;
    record(
        state,
        context,
        actor(member),
        SignInEvent::RecoveryCodesMade(RecoveryCodesMade {
            staff_id,
            count: recovery_codes::COUNT,
        }),
    )
    .await?;
    Ok(codes)
}

/// Checks a current code (or a recovery code, used up) before a change to two-step sign-in.
async fn proves(state: &AppState, member: &ConsoleMember, code: &str) -> Result<(), ApiError> {
    let staff_id = member.staff.id;
    if !two_step::is_on(&state.store, staff_id).await? {
        return Err(ApiError::Conflict("two-step sign-in is off".into()));
    }
    if two_step::accept_code(&state.store, staff_id, code).await?
        || recovery_codes::spend(&state.store, staff_id, code).await?
    {
        Ok(())
    } else {
        Err(ApiError::Invalid(two_step::WRONG_CODE.into()))
    }
}

/// Turns two-step sign-in off, after a current code.
pub async fn turn_off_two_step(
    state: &AppState,
    context: &RequestContext,
    member: &ConsoleMember,
    code: &str,
) -> Result<(), ApiError> {
    proves(state, member, code).await?;
    let staff_id = member.staff.id;
    two_step::turn_off(&state.store, staff_id).await?;
    record(
        state,
        context,
        actor(member),
        SignInEvent::TwoStepTurnedOff(TwoStepTurnedOff { staff_id }),
    )
    .await
}

/// An owner turns two-step sign-in off for a colleague who lost their phone and their recovery
/// codes; the colleague's sessions end, so that whoever signs in next does so with the password
/// alone, on the record as the owner's doing.
pub async fn turn_off_for_colleague(
    state: &AppState,
    context: &RequestContext,
    owner: &ConsoleMember,
    staff_id: lodge_domain::StaffId,
) -> Result<(), ApiError> {
    if !two_step::turn_off(&state.store, staff_id).await? {
        return Err(ApiError::NotFound(format!(
            "{staff_id} has no two-step sign-in to turn off"
        )));
    }
    if staff_id != owner.staff.id {
        crate::console::sessions::end_all(&state.store, staff_id).await?;
        state.accounts.forget_member(staff_id);
    }
    record(
        state,
        context,
        actor(owner),
        SignInEvent::TwoStepTurnedOff(TwoStepTurnedOff { staff_id }),
    )
    .await
}

/// New recovery codes in place of the old ones, after a current code; shown this once.
pub async fn new_recovery_codes(
    state: &AppState,
    context: &RequestContext,
    member: &ConsoleMember,
    code: &str,
) -> Result<Vec<String>, ApiError> {
    proves(state, member, code).await?;
    make_codes(state, context, member).await
}
