//! Every rule of the firm's team, as given (past events) / when (a command) / then (new events or a
//! refusal).

use lodge_domain::contact::ContactError;
use lodge_domain::team::*;
use lodge_domain::testing::team::*;
use lodge_domain::text::TextError;

mod adding {
    use super::*;

    #[test]
    fn the_first_member_is_an_owner_added_by_the_operator() {
        refused(
            &[],
            add(
                Authority::Operator,
                OLIVE,
                "olive@firm.example",
                "Olive Owner",
                Role::Staff,
            ),
            TeamError::FirstMustBeOwner,
        );
        let events = then(
            &[],
            add(
                Authority::Operator,
                OLIVE,
                "  olive@firm.example ",
                " Olive Owner ",
                Role::Owner,
            ),
        );
        assert_eq!(
            events,
            vec![joined(OLIVE, "olive@firm.example", "Olive Owner", Role::Owner)]
        );
        let olive = member(&events, OLIVE);
        assert!(olive.active);
        assert_eq!(olive.role, Role::Owner);
    }

    #[test]
    fn no_one_but_the_operator_starts_a_team() {
        refused(
            &[],
            add(
                Authority::Member(OLIVE),
                OLIVE,
                "olive@firm.example",
                "Olive Owner",
                Role::Owner,
            ),
            TeamError::NotAnOwner,
        );
    }

    #[test]
    fn only_an_owner_or_the_operator_adds_colleagues() {
        let new = |by| add(by, NEW, "nia@firm.example", "Nia New", Role::Staff);
        refused(&team(), new(Authority::Member(SAM)), TeamError::NotAnOwner);
        refused(&team(), new(Authority::Member(VAL)), TeamError::NotAnOwner);
        refused(&team(), new(Authority::Member(NEW)), TeamError::NotAnOwner);
        assert_eq!(
            member(&then(&team(), new(Authority::Member(OLIVE))), NEW).role,
            Role::Staff
        );
        assert_eq!(member(&then(&team(), new(Authority::Operator)), NEW).name, "Nia New");
    }

    #[test]
    fn a_deactivated_owner_no_longer_adds_anyone() {
        let mut history = team();
        history.push(joined(NEW, "nia@firm.example", "Nia New", Role::Owner));
        let history = then(&history, deactivate(Authority::Operator, OLIVE));
        refused(
            &history,
            add(Authority::Member(OLIVE), VAL, "vic@firm.example", "Vic", Role::Viewer),
            TeamError::NotAnOwner,
        );
    }

    #[test]
    fn an_email_names_one_member_whatever_its_case_even_once_deactivated() {
        refused(
            &team(),
            add(Authority::Operator, NEW, "SAM@firm.example", "Sam Again", Role::Viewer),
            TeamError::EmailTaken {
                email: "SAM@firm.example".into(),
            },
        );
        let history = then(&team(), deactivate(Authority::Operator, SAM));
        refused(
            &history,
            add(Authority::Operator, NEW, "sam@firm.example", "Sam Again", Role::Viewer),
            TeamError::EmailTaken {
                email: "sam@firm.example".into(),
            },
        );
    }

    #[test]
    fn a_member_needs_an_email_and_a_name_and_a_new_id() {
        refused(
            &team(),
            add(Authority::Operator, NEW, "nia at firm", "Nia New", Role::Staff),
            TeamError::Email(ContactError::InvalidEmail("nia at firm".into())),
        );
        refused(
            &team(),
            add(Authority::Operator, NEW, "nia@firm.example", "  ", Role::Staff),
            TeamError::Text(TextError::Empty {
                field: "a member's name",
            }),
        );
        refused(
            &team(),
            add(Authority::Operator, SAM, "nia@firm.example", "Nia New", Role::Staff),
            TeamError::DuplicateId(SAM),
        );
    }
}

mod roles {
    use super::*;

    #[test]
    fn an_owner_changes_a_role_and_the_record_says_from_what() {
        let history = then(&team(), change_role(Authority::Member(OLIVE), SAM, Role::Viewer));
        assert_eq!(
            history.last(),
            Some(&TeamEvent::MemberRoleChanged(MemberRoleChanged {
                staff_id: SAM,
                from: Role::Staff,
                to: Role::Viewer,
            }))
        );
        assert_eq!(member(&history, SAM).role, Role::Viewer);
        refused(
            &team(),
            change_role(Authority::Member(SAM), VAL, Role::Owner),
            TeamError::NotAnOwner,
        );
    }

    #[test]
    fn asking_for_the_role_a_member_has_changes_nothing() {
        assert_eq!(
            when(&team(), change_role(Authority::Operator, SAM, Role::Staff)),
            Ok(vec![])
        );
    }

    #[test]
    fn the_last_active_owner_cannot_step_down_until_there_is_another() {
        refused(
            &team(),
            change_role(Authority::Member(OLIVE), OLIVE, Role::Staff),
            TeamError::LastOwner,
        );
        let history = then(&team(), change_role(Authority::Member(OLIVE), SAM, Role::Owner));
        let history = then(&history, change_role(Authority::Member(SAM), OLIVE, Role::Staff));
        assert_eq!(member(&history, OLIVE).role, Role::Staff);
    }

    #[test]
    fn a_deactivated_owner_does_not_count_as_the_other_owner() {
        let history = then(&team(), change_role(Authority::Operator, SAM, Role::Owner));
        let history = then(&history, deactivate(Authority::Operator, SAM));
        refused(
            &history,
            change_role(Authority::Operator, OLIVE, Role::Viewer),
            TeamError::LastOwner,
        );
    }

    #[test]
    fn a_deactivated_member_keeps_their_role_until_reactivated() {
        let history = then(&team(), deactivate(Authority::Operator, SAM));
        refused(
            &history,
            change_role(Authority::Operator, SAM, Role::Owner),
            TeamError::Deactivated {
                name: "Sam Staff".into(),
            },
        );
        let history = then(&history, reactivate(Authority::Member(OLIVE), SAM));
        assert_eq!(member(&history, SAM).role, Role::Staff);
        assert!(member(&history, SAM).active);
    }

    #[test]
    fn each_role_includes_the_ones_below_it() {
        assert!(Role::Owner.includes(Role::Staff) && Role::Owner.includes(Role::Viewer));
        assert!(Role::Staff.includes(Role::Viewer) && !Role::Staff.includes(Role::Owner));
        assert!(!Role::Viewer.includes(Role::Staff));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().unwrap_err().contains("owner, staff or viewer"));
    }
}

mod deactivating {
    use super::*;

    #[test]
    fn an_owner_deactivates_a_member_once() {
        let history = then(&team(), deactivate(Authority::Member(OLIVE), VAL));
        assert!(!member(&history, VAL).active);
        assert_eq!(when(&history, deactivate(Authority::Member(OLIVE), VAL)), Ok(vec![]));
        refused(&team(), deactivate(Authority::Member(VAL), SAM), TeamError::NotAnOwner);
    }

    #[test]
    fn the_last_active_owner_cannot_be_deactivated() {
        refused(&team(), deactivate(Authority::Operator, OLIVE), TeamError::LastOwner);
        refused(
            &team(),
            deactivate(Authority::Member(OLIVE), OLIVE),
            TeamError::LastOwner,
        );
    }

    #[test]
    fn reactivating_an_active_member_changes_nothing() {
        assert_eq!(when(&team(), reactivate(Authority::Operator, SAM)), Ok(vec![]));
    }

    #[test]
    fn a_member_the_team_never_had_is_named_in_the_refusal() {
        refused(
            &team(),
            deactivate(Authority::Operator, NEW),
            TeamError::UnknownMember(NEW),
        );
        refused(
            &team(),
            reactivate(Authority::Operator, NEW),
            TeamError::UnknownMember(NEW),
        );
        refused(
            &team(),
            change_role(Authority::Operator, NEW, Role::Staff),
            TeamError::UnknownMember(NEW),
        );
    }
}
