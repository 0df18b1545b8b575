//! Sign-in links sent by email: a new colleague's first link (from the Team page), a new link an
//! owner makes for a forgotten password, and the one a member asks for themselves from "Forgot your
//! password?". The API keeps the link's hash and puts `SignInLinkMade` on the record; the notifier,
//! following the log, derives the same link from the event's command id and emails it (the log
//! holds no secret). A member's own request is answered the same whether the address has an
//! account or not, and is limited per address and per email.

use std::time::Duration;

use lodge_domain::team::{LinkPurpose, Member, SignInEvent, SignInLinkMade};
use lodge_domain::{Actor, StaffId};

use crate::console::links;
use crate::console::record::record_as;
use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::limits::{self, Rate};
use crate::staff::team;
use crate::state::AppState;

/// How long a link a member asked for themselves lasts: whoever reads their mailbox later should
/// find it dead.
pub const ASKED_FOR_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Requests for a link per email address, and per network address, in [`ASK_WINDOW`].
pub const MAX_ASKS_PER_EMAIL: u32 = 3;
pub const MAX_ASKS_PER_ADDRESS: u32 = 10;
pub const ASK_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Makes a sign-in link for `member` and has it emailed to them; returns its address (an owner's
/// page shows it too). `actor` is whoever caused it.
pub async fn email_link(
    state: &AppState,
    context: &RequestContext,
    actor: Actor,
    staff_id: StaffId,
    member: &Member,
    purpose: LinkPurpose,
    lifetime: Duration,
) -> Result<String, ApiError> {
    let command_id = uuid::Uuid::now_v7();
    let (url, expires_at) =
        links::create_for_email(&state.store, &state.settings, staff_id, command_id, lifetime).await?;
    let event = SignInEvent::SignInLinkMade(SignInLinkMade {
        staff_id,
        name: member.name.clone(),
        email: member.email.clone(),
        purpose,
        expires_at,
    });
    record_as(state, context, actor, event, command_id).await?;
    Ok(url)
}

/// "Forgot your password?": a link for the active member with `email`, if there is one, emailed to
/// them. Nothing tells the person asking whether there was.
pub async fn forgot_password(state: &AppState, context: &RequestContext, email: &str) -> Result<(), ApiError> {
    let Ok(email) = lodge_domain::contact::normalise_email(email) else {
        return Err(ApiError::Invalid(
            "that is not an email address: type the one you sign in with".into(),
        ));
    };
    let email = email.to_lowercase();
    let rate = |most| Rate { most, per: ASK_WINDOW };
    let mut keys = vec![(format!("forgot:email:{email}"), rate(MAX_ASKS_PER_EMAIL))];
    if let Some(ip) = context.source.ip {
        keys.push((format!("forgot:address:{ip}"), rate(MAX_ASKS_PER_ADDRESS)));
    }
    if let Err(retry_after) = limits::take_all(&state.store, &keys).await? {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "a sign-in link was asked for too often: look for the emails already sent, or try again in {} minutes",
                retry_after.as_secs().div_ceil(60)
            ),
            retry_after,
        });
    }
    // Read from the log, not memory: this is rare, and must see the team as it is now.
    let team = team::team(&state.log).await?;
    let Some((staff_id, member)) = team.by_email(&email).filter(|(_, member)| member.active) else {
        return Ok(());
    };
    let member = member.clone();
    email_link(
        state,
        context,
        Actor::System,
        staff_id,
        &member,
        LinkPurpose::Reset,
        ASKED_FOR_LIFETIME,
    )
    .await?;
    Ok(())
}
