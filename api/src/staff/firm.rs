//! Owners change the firm's details (its name, contact details, time zone, default reminders): a
//! command on the `firm` stream, decided by the firm's rules; this server takes the change up at
//! once, others when their log watcher sees it.

use lodge_domain::Actor;
use lodge_domain::firm::{FirmCommand, FirmDecider, FirmDetails};
use lodge_domain::team::Role;
use lodge_eventlog::{StreamId, command};

use crate::error::ApiError;
use crate::extract::RequestContext;
use crate::staff::tokens::StaffMember;
use crate::state::AppState;

pub async fn change_details(
    state: &AppState,
    staff: &StaffMember,
    context: &RequestContext,
    details: FirmDetails,
) -> Result<(), ApiError> {
    if staff.role != Role::Owner {
        return Err(ApiError::Forbidden("only an owner changes the firm's details".into()));
    }
    let zone = details.time_zone.trim();
    if !zone.is_empty() && zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::Invalid(format!(
            "`{zone}` is not a time zone: give a name such as Europe/London or Australia/Sydney"
        )));
    }
    let metadata = context.metadata(Actor::from(&staff.as_domain()), "change-firm-details");
    command::execute::<FirmDecider>(
        &state.log,
        &StreamId::firm(),
        &FirmCommand::ChangeDetails(details),
        &metadata,
    )
    .await?;
    state.firm.load(&state.log).await?;
    Ok(())
}
