//! The firm's details, as given (past events) / when (a command) / then (new events or a refusal).

use lodge_domain::Decider;
use lodge_domain::contact::ContactError;
use lodge_domain::firm::*;
use lodge_domain::reminder::ReminderPlan;
use lodge_domain::text::TextError;

fn details(name: &str) -> FirmDetails {
    FirmDetails {
        name: name.into(),
        email: Some("office@alves.example".into()),
        phone: None,
        address: Some("1 George St\nSydney NSW 2000".into()),
        time_zone: "Australia/Sydney".into(),
        reminders: ReminderPlan::default(),
    }
}

/// What `command` decides after `history`.
fn when(history: &[FirmEvent], command: FirmCommand) -> Result<Vec<FirmEvent>, FirmError> {
    FirmDecider::decide(&FirmDecider::fold(history), &command)
}

/// The events `command` adds after `history`; fails at the caller's line if it is refused.
#[track_caller]
fn then(history: &[FirmEvent], command: FirmCommand) -> Vec<FirmEvent> {
    when(history, command).unwrap_or_else(|refused| panic!("refused: {refused}"))
}

#[track_caller]
fn refused(history: &[FirmEvent], command: FirmCommand, error: FirmError) {
    assert_eq!(when(history, command), Err(error));
}

#[test]
fn the_first_save_records_the_details_tidied() {
    let mut given = details(" Alves & Co ");
    given.email = Some(" office@alves.example ".into());
    given.reminders.days_before = vec![1, 3, 1, 0];
    let events = then(&[], FirmCommand::ChangeDetails(given));
    let mut expected = details("Alves & Co");
    expected.reminders.days_before = vec![3, 1, 0];
    assert_eq!(events, vec![FirmEvent::FirmDetailsChanged(expected.clone())]);
    assert_eq!(FirmDecider::fold(&events).details, Some(expected));
}

#[test]
fn saving_the_same_details_again_records_nothing() {
    let history = then(&[], FirmCommand::ChangeDetails(details("Alves & Co")));
    assert_eq!(
        then(&history, FirmCommand::ChangeDetails(details("Alves & Co"))),
        vec![]
    );
    assert_eq!(
        then(&history, FirmCommand::ChangeDetails(details("Alves & Daughters"))).len(),
        1
    );
}

#[test]
fn a_firm_needs_a_name_a_time_zone_and_usable_contact_details() {
    refused(
        &[],
        FirmCommand::ChangeDetails(details("  ")),
        FirmError::Text(TextError::Empty {
            field: "the firm's name",
        }),
    );
    let mut no_zone = details("Alves & Co");
    no_zone.time_zone = " ".into();
    refused(&[], FirmCommand::ChangeDetails(no_zone), FirmError::NoTimeZone);
    let mut bad_email = details("Alves & Co");
    bad_email.email = Some("office at alves".into());
    assert!(matches!(
        when(&[], FirmCommand::ChangeDetails(bad_email)),
        Err(FirmError::Contact(ContactError::InvalidEmail(_)))
    ));
    let mut too_many = details("Alves & Co");
    too_many.reminders.at_most = MAX_REMINDERS + 1;
    refused(&[], FirmCommand::ChangeDetails(too_many), FirmError::Reminders);
}
