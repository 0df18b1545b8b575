//! Every rule of an Invite, as given (past events) / when (a command) / then (new events or an error).

use std::collections::BTreeSet;

use lodge_domain::contact::{Channel, ContactError};
use lodge_domain::digest::DigestError;
use lodge_domain::invite::*;
use lodge_domain::limits::{MAX_CONTACTS, MAX_MESSAGE_CHARS, MAX_REQUESTS};
use lodge_domain::request::{Answer, Assignment, RequestError, RequestKind};
use lodge_domain::testing::*;
use lodge_domain::text::TextError;
use lodge_domain::{Actor, ContactId, DocumentId, RequestId};

mod send_invite {
    use super::*;

    #[test]
    fn records_the_invite_with_its_text_trimmed_and_numbers_normalised() {
        let events = when(&[], InviteCommand::SendInvite(send_invite())).unwrap();
        let [InviteEvent::InviteSent(sent)] = events.as_slice() else {
            panic!("expected one InviteSent, got {events:?}");
        };
        assert_eq!(sent.invite_id, INVITE);
        assert_eq!(sent.title, "Tax return 2026");
        assert_eq!(sent.sender.phone.as_deref(), Some("+61299990000"));
        assert_eq!(sent.contacts.len(), 2);
        assert_eq!(sent.requests.len(), 3);
        let invite = state(&events);
        assert_eq!(invite.status, InviteStatus::Open);
        assert_eq!(invite.requests_for(ANA).count(), 3);
        assert_eq!(invite.requests_for(BEN).count(), 2, "the passport is Ana's alone");
    }

    #[test]
    fn cannot_be_sent_twice() {
        assert_eq!(
            when(&sent(), InviteCommand::SendInvite(send_invite())),
            Err(InviteError::AlreadySent)
        );
    }

    #[test]
    fn needs_contacts_and_at_most_fifty() {
        let mut none = send_invite();
        none.contacts.clear();
        assert_eq!(when(&[], InviteCommand::SendInvite(none)), Err(InviteError::NoContacts));

        let mut many = send_invite();
        many.contacts = (0..=MAX_CONTACTS as u128)
            .map(|n| {
                contact(
                    ContactId::from_uuid(uuid(0x5000 + n)),
                    "Someone",
                    &format!("c{n}@example.com"),
                    0,
                )
            })
            .collect();
        assert_eq!(
            when(&[], InviteCommand::SendInvite(many)),
            Err(InviteError::TooManyContacts { max: MAX_CONTACTS })
        );
    }

    #[test]
    fn needs_requests_and_at_most_a_hundred() {
        let mut none = send_invite();
        none.requests.clear();
        assert_eq!(when(&[], InviteCommand::SendInvite(none)), Err(InviteError::NoRequests));

        let mut many = send_invite();
        many.requests = (0..=MAX_REQUESTS as u128)
            .map(|n| file_request(RequestId::from_uuid(uuid(0x6000 + n)), "Doc", Assignment::AllContacts))
            .collect();
        assert_eq!(
            when(&[], InviteCommand::SendInvite(many)),
            Err(InviteError::TooManyRequests { max: MAX_REQUESTS })
        );
    }

    #[test]
    fn each_contact_must_be_reachable_on_the_chosen_channels() {
        let mut by_sms = send_invite();
        by_sms.channels = BTreeSet::from([Channel::Email, Channel::Sms]);
        assert_eq!(
            when(&[], InviteCommand::SendInvite(by_sms.clone())),
            Err(InviteError::Contact(ContactError::PhoneMissing {
                name: "Ana Alves".into()
            }))
        );
        by_sms.contacts[0].phone = Some("+1 415 555 0100".into());
        by_sms.contacts[1].phone = Some("+1 415 555 0101".into());
        let events = when(&[], InviteCommand::SendInvite(by_sms)).unwrap();
        assert_eq!(state(&events).contacts[0].phone.as_deref(), Some("+14155550100"));

        let mut sms_only = send_invite();
        sms_only.channels = BTreeSet::from([Channel::Sms]);
        sms_only.contacts[0].email = None;
        sms_only.contacts[0].phone = Some("+14155550100".into());
        sms_only.contacts[1].phone = Some("+14155550101".into());
        assert!(when(&[], InviteCommand::SendInvite(sms_only.clone())).is_ok());

        sms_only.channels = BTreeSet::from([Channel::Email]);
        assert_eq!(
            when(&[], InviteCommand::SendInvite(sms_only)),
            Err(InviteError::Contact(ContactError::EmailMissing {
                name: "Ana Alves".into()
            }))
        );

        let mut no_channel = send_invite();
        no_channel.channels.clear();
        assert_eq!(
            when(&[], InviteCommand::SendInvite(no_channel)),
            Err(InviteError::Contact(ContactError::NoChannel))
        );
    }

    #[test]
    fn rejects_malformed_emails_and_phones() {
        let mut bad_email = send_invite();
        bad_email.contacts[0].email = Some("ana(at)example.com".into());
        assert_eq!(
            when(&[], InviteCommand::SendInvite(bad_email)),
            Err(InviteError::Contact(ContactError::InvalidEmail(
                "ana(at)example.com".into()
            )))
        );
        let mut bad_phone = send_invite();
        bad_phone.contacts[0].phone = Some("555-0100".into());
        assert_eq!(
            when(&[], InviteCommand::SendInvite(bad_phone)),
            Err(InviteError::Contact(ContactError::InvalidPhone("555-0100".into())))
        );
    }

    #[test]
    fn refuses_the_same_contact_twice() {
        let mut same_email = send_invite();
        same_email.contacts[1].email = Some("ANA@example.com".into());
        assert_eq!(
            when(&[], InviteCommand::SendInvite(same_email)),
            Err(InviteError::DuplicateContact {
                name: "Ben Brown".into(),
                same: "email address"
            })
        );

        let mut same_phone = send_invite();
        same_phone.contacts[0].phone = Some("+14155550100".into());
        same_phone.contacts[1].phone = Some("+1 415 555 0100".into());
        assert_eq!(
            when(&[], InviteCommand::SendInvite(same_phone)),
            Err(InviteError::DuplicateContact {
                name: "Ben Brown".into(),
                same: "phone number"
            })
        );

        let mut same_id = send_invite();
        same_id.contacts[1].id = ANA;
        assert_eq!(
            when(&[], InviteCommand::SendInvite(same_id)),
            Err(InviteError::DuplicateId(ANA.as_uuid()))
        );
    }

    #[test]
    fn due_date_may_be_today_but_not_in_the_past() {
        let mut due_today = send_invite();
        due_today.due_on = Some(today());
        assert!(when(&[], InviteCommand::SendInvite(due_today)).is_ok());

        let mut overdue = send_invite();
        let yesterday = today().pred_opt().unwrap();
        overdue.due_on = Some(yesterday);
        assert_eq!(
            when(&[], InviteCommand::SendInvite(overdue)),
            Err(InviteError::DueDateInPast {
                due_on: yesterday,
                today: today()
            })
        );

        let mut undated = send_invite();
        undated.due_on = None;
        assert!(when(&[], InviteCommand::SendInvite(undated)).is_ok());
    }

    #[test]
    fn requests_must_be_assigned_to_contacts_of_the_invite() {
        let mut stranger = send_invite();
        stranger.requests[1].assigned_to = only(&[CARA]);
        assert_eq!(
            when(&[], InviteCommand::SendInvite(stranger)),
            Err(InviteError::UnknownContact(CARA))
        );
        let mut nobody = send_invite();
        nobody.requests[1].assigned_to = only(&[]);
        assert_eq!(
            when(&[], InviteCommand::SendInvite(nobody)),
            Err(InviteError::Request(RequestError::AssignedToNobody {
                title: "Passport".into()
            }))
        );
    }

    #[test]
    fn requests_are_checked() {
        let mut zero_files = send_invite();
        zero_files.requests[0].kind = RequestKind::File {
            allowed_types: vec![],
            max_files: 0,
        };
        assert_eq!(
            when(&[], InviteCommand::SendInvite(zero_files)),
            Err(InviteError::Request(RequestError::MaxFilesOutOfRange {
                value: 0,
                max: 100
            }))
        );

        let mut bad_type = send_invite();
        bad_type.requests[0].kind = RequestKind::File {
            allowed_types: vec!["pdf".into()],
            max_files: 1,
        };
        assert_eq!(
            when(&[], InviteCommand::SendInvite(bad_type)),
            Err(InviteError::Request(RequestError::InvalidAllowedType("pdf".into())))
        );

        let mut empty_form = send_invite();
        empty_form.requests[2].kind = RequestKind::Form { fields: vec![] };
        assert_eq!(
            when(&[], InviteCommand::SendInvite(empty_form)),
            Err(InviteError::Request(RequestError::NoFormFields))
        );

        let mut twice = send_invite();
        if let RequestKind::Form { fields } = &mut twice.requests[2].kind {
            fields[1].name = "tax_number".into();
        }
        assert_eq!(
            when(&[], InviteCommand::SendInvite(twice)),
            Err(InviteError::Request(RequestError::DuplicateFieldName(
                "tax_number".into()
            )))
        );

        let mut no_choices = send_invite();
        if let RequestKind::Form { fields } = &mut no_choices.requests[2].kind {
            fields[4].choices.clear();
        }
        assert_eq!(
            when(&[], InviteCommand::SendInvite(no_choices)),
            Err(InviteError::Request(RequestError::ChoiceWithoutChoices(
                "status".into()
            )))
        );

        let mut same_id = send_invite();
        same_id.requests[1].id = PAYSLIPS;
        assert_eq!(
            when(&[], InviteCommand::SendInvite(same_id)),
            Err(InviteError::DuplicateId(PAYSLIPS.as_uuid()))
        );
    }

    #[test]
    fn title_is_required() {
        let mut untitled = send_invite();
        untitled.title = "   ".into();
        assert_eq!(
            when(&[], InviteCommand::SendInvite(untitled)),
            Err(InviteError::Text(TextError::Empty { field: "the title" }))
        );
    }

    #[test]
    fn nothing_but_sending_works_before_the_invite_is_sent() {
        assert_eq!(when(&[], upload(1, PAYSLIPS, ANA)), Err(InviteError::NotSent));
        assert_eq!(
            when(&[], message(1, ANA, MessageFrom::Contact, "hi")),
            Err(InviteError::NotSent)
        );
        assert_eq!(when(&[], cancel()), Err(InviteError::NotSent));
    }
}

mod upload_document {
    use super::*;

    #[test]
    fn records_the_document_and_waits_for_review() {
        let history = then(&sent(), upload(1, PAYSLIPS, ANA));
        let invite = state(&history);
        let request = invite.request(PAYSLIPS).unwrap();
        assert_eq!(invite.status_of(request, ANA), RequestStatus::AwaitingReview);
        assert_eq!(invite.status_of(request, BEN), RequestStatus::Open);
        let document = invite.document(DocumentId::from_uuid(uuid(1))).unwrap();
        assert_eq!(document.sha256.as_str(), "ab".repeat(32));
        assert_eq!(document.status, DocumentStatus::AwaitingReview);
    }

    #[test]
    fn a_contact_acts_only_on_requests_assigned_to_it() {
        assert_eq!(
            when(&sent(), upload(1, PASSPORT, BEN)),
            Err(InviteError::NotAssigned {
                request: PASSPORT,
                contact: BEN
            })
        );
        assert_eq!(
            when(&sent(), upload(1, PAYSLIPS, CARA)),
            Err(InviteError::UnknownContact(CARA))
        );
        let unknown = RequestId::from_uuid(uuid(0x3999));
        assert_eq!(
            when(&sent(), upload(1, unknown, ANA)),
            Err(InviteError::UnknownRequest(unknown))
        );
    }

    #[test]
    fn only_to_file_requests() {
        assert_eq!(
            when(&sent(), upload(1, DETAILS, ANA)),
            Err(InviteError::NotAFileRequest(DETAILS))
        );
    }

    #[test]
    fn only_allowed_types() {
        assert!(when(&sent(), upload_as(1, PAYSLIPS, ANA, "image/heic")).is_ok());
        assert!(when(&sent(), upload_as(1, PAYSLIPS, ANA, "Application/PDF; q=1")).is_ok());
        assert_eq!(
            when(&sent(), upload_as(1, PAYSLIPS, ANA, "text/plain")),
            Err(InviteError::TypeNotAllowed {
                content_type: "text/plain".into(),
                allowed: "application/pdf, image/*".into()
            })
        );
        assert_eq!(
            when(&sent(), upload_as(1, PAYSLIPS, ANA, "nonsense")),
            Err(InviteError::InvalidContentType("nonsense".into()))
        );
    }

    #[test]
    fn at_most_max_files_counting_only_pending_and_accepted() {
        let two = then(&then(&sent(), upload(1, PAYSLIPS, ANA)), upload(2, PAYSLIPS, ANA));
        assert_eq!(
            when(&two, upload(3, PAYSLIPS, ANA)),
            Err(InviteError::TooManyFiles {
                request: PAYSLIPS,
                max: 2
            })
        );
        // Ben's files are his own.
        assert!(when(&two, upload(3, PAYSLIPS, BEN)).is_ok());
        // A rejected file frees its place.
        let rejected = then(&two, reject(1, "Blurry"));
        assert!(when(&rejected, upload(3, PAYSLIPS, ANA)).is_ok());
    }

    #[test]
    fn file_metadata_is_checked() {
        let mut command = upload(1, PAYSLIPS, ANA);
        let InviteCommand::UploadDocument(ref mut c) = command else {
            unreachable!()
        };
        c.size_bytes = 0;
        assert_eq!(
            when(&sent(), command.clone()),
            Err(InviteError::EmptyFile("file-1.pdf".into()))
        );

        let InviteCommand::UploadDocument(ref mut c) = command else {
            unreachable!()
        };
        c.size_bytes = 10;
        c.file_name = "../../etc/passwd".into();
        assert_eq!(
            when(&sent(), command.clone()),
            Err(InviteError::InvalidFileName("../../etc/passwd".into()))
        );

        let InviteCommand::UploadDocument(ref mut c) = command else {
            unreachable!()
        };
        c.file_name = "ok.pdf".into();
        c.sha256 = "xyz".into();
        assert_eq!(
            when(&sent(), command),
            Err(InviteError::Digest(DigestError::NotSha256("xyz".into())))
        );
    }

    #[test]
    fn document_ids_are_unique() {
        let once = then(&sent(), upload(1, PAYSLIPS, ANA));
        assert_eq!(
            when(&once, upload(1, PAYSLIPS, BEN)),
            Err(InviteError::DuplicateId(uuid(1)))
        );
    }
}

mod submit_form {
    use super::*;

    #[test]
    fn records_checked_answers() {
        let mut given = answers("  123 456 789 ");
        given.insert("income".into(), Answer::Number("85000.50".into()));
        given.insert("status".into(), Answer::Choice("married".into()));
        given.insert("resident".into(), Answer::YesNo(true));
        let events = when(&sent(), submit(ANA, given)).unwrap();
        let [InviteEvent::FormSubmitted(submitted)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(submitted.answers["tax_number"], Answer::Text("123 456 789".into()));
        assert_eq!(submitted.answers["income"], Answer::Number("85000.50".into()));
        let history = then(&sent(), submit(ANA, answers("1")));
        let invite = state(&history);
        assert_eq!(
            invite.status_of(invite.request(DETAILS).unwrap(), ANA),
            RequestStatus::FormSubmitted
        );
    }

    #[test]
    fn answers_must_fit_the_fields() {
        use lodge_domain::request::FieldType;
        assert_eq!(
            when(&sent(), submit(ANA, Default::default())),
            Err(InviteError::Request(RequestError::MissingAnswer(
                "Tax file number".into()
            )))
        );
        let mut unknown = answers("1");
        unknown.insert("shoe_size".into(), Answer::Text("9".into()));
        assert_eq!(
            when(&sent(), submit(ANA, unknown)),
            Err(InviteError::Request(RequestError::UnknownField("shoe_size".into())))
        );
        let mut wrong = answers("1");
        wrong.insert("income".into(), Answer::Text("lots".into()));
        assert_eq!(
            when(&sent(), submit(ANA, wrong)),
            Err(InviteError::Request(RequestError::WrongAnswerType {
                field: "Income".into(),
                expected: FieldType::Number
            }))
        );
        let mut not_a_number = answers("1");
        not_a_number.insert("income".into(), Answer::Number("1e9".into()));
        assert!(matches!(
            when(&sent(), submit(ANA, not_a_number)),
            Err(InviteError::Request(RequestError::InvalidNumber { .. }))
        ));
        let mut bad_choice = answers("1");
        bad_choice.insert("status".into(), Answer::Choice("it's complicated".into()));
        assert!(matches!(
            when(&sent(), submit(ANA, bad_choice)),
            Err(InviteError::Request(RequestError::InvalidChoice { .. }))
        ));
    }

    #[test]
    fn only_to_form_requests_assigned_to_the_contact() {
        let command = InviteCommand::SubmitForm(SubmitForm {
            request_id: PAYSLIPS,
            contact_id: ANA,
            answers: answers("1"),
        });
        assert_eq!(when(&sent(), command), Err(InviteError::NotAFormRequest(PAYSLIPS)));
        assert_eq!(
            when(&sent(), submit(CARA, answers("1"))),
            Err(InviteError::UnknownContact(CARA))
        );
    }
}

mod review_document {
    use super::*;

    #[test]
    fn accepting_marks_the_request_accepted_for_that_contact() {
        let history = then(&then(&sent(), upload(1, PAYSLIPS, ANA)), accept(1));
        let invite = state(&history);
        assert_eq!(
            invite.status_of(invite.request(PAYSLIPS).unwrap(), ANA),
            RequestStatus::Accepted
        );
        assert_eq!(invite.status, InviteStatus::Open, "other requests are outstanding");
    }

    #[test]
    fn rejecting_needs_a_reason_and_reopens_the_request() {
        let uploaded = then(&sent(), upload(1, PAYSLIPS, ANA));
        assert_eq!(when(&uploaded, reject(1, "  ")), Err(InviteError::RejectionNeedsReason));

        let rejected = then(&uploaded, reject(1, "The second page is missing"));
        let invite = state(&rejected);
        assert_eq!(
            invite.status_of(invite.request(PAYSLIPS).unwrap(), ANA),
            RequestStatus::Rejected {
                reason: "The second page is missing".into()
            }
        );
        let again = then(&rejected, upload(2, PAYSLIPS, ANA));
        let invite = state(&again);
        assert_eq!(
            invite.status_of(invite.request(PAYSLIPS).unwrap(), ANA),
            RequestStatus::AwaitingReview
        );
    }

    #[test]
    fn a_rejection_stays_open_until_the_contact_uploads_again() {
        let two = then(&then(&sent(), upload(1, PAYSLIPS, ANA)), upload(2, PAYSLIPS, ANA));
        let history = then(&then(&two, reject(1, "Blurry")), accept(2));
        let invite = state(&history);
        assert_eq!(
            invite.status_of(invite.request(PAYSLIPS).unwrap(), ANA),
            RequestStatus::Rejected {
                reason: "Blurry".into()
            }
        );
    }

    #[test]
    fn only_documents_waiting_for_review() {
        let accepted = then(&then(&sent(), upload(1, PAYSLIPS, ANA)), accept(1));
        assert_eq!(
            when(&accepted, reject(1, "changed my mind")),
            Err(InviteError::NotAwaitingReview {
                document: DocumentId::from_uuid(uuid(1)),
                status: "accepted"
            })
        );
        assert_eq!(
            when(&sent(), accept(7)),
            Err(InviteError::UnknownDocument(DocumentId::from_uuid(uuid(7))))
        );
    }

    #[test]
    fn the_invite_completes_by_itself_when_everything_is_done() {
        let mut history = sent();
        for (doc, request, contact) in [(1, PAYSLIPS, ANA), (2, PASSPORT, ANA), (3, PAYSLIPS, BEN)] {
            history = then(&then(&history, upload(doc, request, contact)), accept(doc));
        }
        history = then(&history, submit(ANA, answers("1")));
        assert_eq!(state(&history).status, InviteStatus::Open, "Ben's form is outstanding");
        let last = when(&history, submit(BEN, answers("2"))).unwrap();
        assert_eq!(
            last.last(),
            Some(&InviteEvent::InviteCompleted(InviteCompleted { completed_by: None }))
        );

        // The same when the last thing done is an acceptance.
        let mut history = sent();
        history = then(&history, submit(ANA, answers("1")));
        history = then(&history, submit(BEN, answers("2")));
        for (doc, request, contact) in [(1, PAYSLIPS, ANA), (2, PASSPORT, ANA), (3, PAYSLIPS, BEN)] {
            history = then(&history, upload(doc, request, contact));
        }
        history = then(&then(&history, accept(1)), accept(2));
        let last = when(&history, accept(3)).unwrap();
        assert_eq!(last.len(), 2);
        assert!(matches!(
            last[1],
            InviteEvent::InviteCompleted(InviteCompleted { completed_by: None })
        ));
        assert_eq!(state(&then(&history, accept(3))).status, InviteStatus::Completed);
    }
}

mod post_message {
    use super::*;

    #[test]
    fn staff_and_contacts_write_in_the_contact_thread() {
        let events = when(&sent(), message(1, ANA, MessageFrom::Staff(staff()), "Any questions?")).unwrap();
        assert!(matches!(
            &events[..],
            [InviteEvent::MessagePosted(MessagePosted { author: Actor::Staff { .. }, contact_id, .. })] if *contact_id == ANA
        ));
        let events = when(&sent(), message(2, ANA, MessageFrom::Contact, "Yes, one.")).unwrap();
        assert!(matches!(
            &events[..],
            [InviteEvent::MessagePosted(MessagePosted { author: Actor::Contact { name, .. }, .. })] if name == "Ana Alves"
        ));
    }

    #[test]
    fn must_have_text_and_at_most_ten_thousand_characters() {
        assert_eq!(
            when(&sent(), message(1, ANA, MessageFrom::Contact, " \n ")),
            Err(InviteError::Text(TextError::Empty { field: "the message" }))
        );
        let longest = "x".repeat(MAX_MESSAGE_CHARS);
        assert!(when(&sent(), message(1, ANA, MessageFrom::Contact, &longest)).is_ok());
        assert_eq!(
            when(&sent(), message(1, ANA, MessageFrom::Contact, &format!("{longest}x"))),
            Err(InviteError::Text(TextError::TooLong {
                field: "the message",
                length: MAX_MESSAGE_CHARS + 1,
                max: MAX_MESSAGE_CHARS
            }))
        );
    }

    #[test]
    fn only_to_contacts_of_the_invite_and_with_fresh_ids() {
        assert_eq!(
            when(&sent(), message(1, CARA, MessageFrom::Contact, "hi")),
            Err(InviteError::UnknownContact(CARA))
        );
        let once = then(&sent(), message(1, ANA, MessageFrom::Contact, "hi"));
        assert_eq!(
            when(&once, message(1, ANA, MessageFrom::Contact, "hi")),
            Err(InviteError::DuplicateId(uuid(1)))
        );
    }
}

mod closed_invites {
    use super::*;

    fn completed() -> Vec<InviteEvent> {
        then(&sent(), InviteCommand::CompleteInvite(CompleteInvite { by: staff() }))
    }

    #[test]
    fn nothing_but_messages_after_cancel_or_completion() {
        let uploaded = then(&sent(), upload(1, PAYSLIPS, ANA));
        for (closed, status) in [
            (then(&uploaded, cancel()), InviteStatus::Cancelled),
            (
                then(&uploaded, InviteCommand::CompleteInvite(CompleteInvite { by: staff() })),
                InviteStatus::Completed,
            ),
        ] {
            let refused = Err(InviteError::Closed { status });
            assert_eq!(when(&closed, upload(2, PAYSLIPS, BEN)), refused);
            assert_eq!(when(&closed, accept(1)), refused);
            assert_eq!(when(&closed, submit(ANA, answers("1"))), refused);
            assert_eq!(when(&closed, cancel()), refused);
            assert_eq!(
                when(&closed, InviteCommand::CompleteInvite(CompleteInvite { by: staff() })),
                refused
            );
            assert_eq!(
                when(
                    &closed,
                    InviteCommand::AddContact(AddContact {
                        contact: contact(CARA, "Cara", "cara@example.com", 3),
                        by: staff()
                    })
                ),
                refused
            );
            assert_eq!(
                when(
                    &closed,
                    InviteCommand::ChangeDueDate(ChangeDueDate {
                        due_on: None,
                        today: today(),
                        by: staff()
                    })
                ),
                refused
            );
            assert_eq!(
                when(
                    &closed,
                    InviteCommand::ReissuePortalLink(ReissuePortalLink {
                        contact_id: ANA,
                        portal_link: token(9),
                        by: staff()
                    })
                ),
                refused
            );
            assert!(when(&closed, message(1, ANA, MessageFrom::Contact, "Thanks!")).is_ok());
            assert!(when(&closed, message(2, BEN, MessageFrom::Staff(staff()), "You're welcome")).is_ok());
        }
    }

    #[test]
    fn staff_may_complete_an_invite_with_requests_outstanding() {
        let history = completed();
        assert_eq!(state(&history).status, InviteStatus::Completed);
        assert!(matches!(
            history.last(),
            Some(InviteEvent::InviteCompleted(InviteCompleted { completed_by: Some(_) }))
        ));
    }
}

mod changes_to_a_sent_invite {
    use super::*;

    fn change_due(due_on: Option<chrono::NaiveDate>) -> InviteCommand {
        InviteCommand::ChangeDueDate(ChangeDueDate {
            due_on,
            today: today(),
            by: staff(),
        })
    }

    #[test]
    fn due_date_moves_forward_or_goes_away_but_not_into_the_past() {
        let later = today() + chrono::Days::new(30);
        let events = when(&sent(), change_due(Some(later))).unwrap();
        assert!(matches!(
            &events[..],
            [InviteEvent::DueDateChanged(DueDateChanged { due_on: Some(d), previous: Some(_), .. })] if *d == later
        ));
        assert!(when(&sent(), change_due(None)).is_ok());
        let yesterday = today().pred_opt().unwrap();
        assert_eq!(
            when(&sent(), change_due(Some(yesterday))),
            Err(InviteError::DueDateInPast {
                due_on: yesterday,
                today: today()
            })
        );
        let unchanged = state(&sent()).due_on;
        assert_eq!(when(&sent(), change_due(unchanged)), Ok(vec![]), "no change, no event");
    }

    #[test]
    fn an_added_contact_gets_the_requests_for_all_contacts() {
        let add = InviteCommand::AddContact(AddContact {
            contact: contact(CARA, "Cara Cruz", "cara@example.com", 3),
            by: staff(),
        });
        let history = then(&sent(), add);
        let invite = state(&history);
        let for_cara: Vec<RequestId> = invite.requests_for(CARA).map(|r| r.id).collect();
        assert_eq!(for_cara, vec![PAYSLIPS, DETAILS]);
    }

    #[test]
    fn added_contacts_are_checked_like_the_first_ones() {
        let twin = InviteCommand::AddContact(AddContact {
            contact: contact(CARA, "Ana again", "ana@EXAMPLE.com", 3),
            by: staff(),
        });
        assert!(matches!(
            when(&sent(), twin),
            Err(InviteError::DuplicateContact {
                same: "email address",
                ..
            })
        ));
        let same_link = InviteCommand::AddContact(AddContact {
            contact: contact(CARA, "Cara", "cara@example.com", 1),
            by: staff(),
        });
        assert!(matches!(
            when(&sent(), same_link),
            Err(InviteError::DuplicateContact {
                same: "portal link",
                ..
            })
        ));
        let mut history = sent();
        for n in 0..(MAX_CONTACTS as u128 - 2) {
            history = then(
                &history,
                InviteCommand::AddContact(AddContact {
                    contact: contact(
                        ContactId::from_uuid(uuid(0x7000 + n)),
                        "Someone",
                        &format!("c{n}@example.com"),
                        (n + 10) as u8,
                    ),
                    by: staff(),
                }),
            );
        }
        assert_eq!(
            when(
                &history,
                InviteCommand::AddContact(AddContact {
                    contact: contact(CARA, "One too many", "cara@example.com", 3),
                    by: staff()
                })
            ),
            Err(InviteError::TooManyContacts { max: MAX_CONTACTS })
        );
    }

    #[test]
    fn an_added_request_is_checked() {
        let statement = RequestId::from_uuid(uuid(0x3004));
        let add = |request| InviteCommand::AddRequest(AddRequest { request, by: staff() });
        let history = then(&sent(), add(file_request(statement, "Bank statement", only(&[BEN]))));
        let invite = state(&history);
        assert_eq!(invite.requests_for(BEN).count(), 3);
        assert_eq!(
            when(&history, add(file_request(statement, "Again", Assignment::AllContacts))),
            Err(InviteError::DuplicateId(statement.as_uuid()))
        );
        assert_eq!(
            when(&sent(), add(file_request(statement, "For a stranger", only(&[CARA])))),
            Err(InviteError::UnknownContact(CARA))
        );
    }

    #[test]
    fn a_reissued_link_replaces_the_old_one() {
        let reissue = |contact_id, link| {
            InviteCommand::ReissuePortalLink(ReissuePortalLink {
                contact_id,
                portal_link: token(link),
                by: staff(),
            })
        };
        let history = then(&sent(), reissue(ANA, 7));
        assert_eq!(state(&history).contact(ANA).unwrap().portal_link, token(7));
        assert!(matches!(
            when(&history, reissue(BEN, 7)),
            Err(InviteError::DuplicateContact {
                same: "portal link",
                ..
            })
        ));
        assert_eq!(when(&sent(), reissue(CARA, 8)), Err(InviteError::UnknownContact(CARA)));
    }
}

mod portal_access {
    use super::*;

    fn access(contact_id: ContactId, access: PortalAccess, user_agent: &str) -> InviteCommand {
        InviteCommand::RecordPortalAccess(RecordPortalAccess {
            contact_id,
            access,
            ip: Some("203.0.113.7".parse().unwrap()),
            user_agent: Some(user_agent.into()),
        })
    }

    #[test]
    fn visits_are_recorded_with_a_cleaned_user_agent() {
        let events = when(&sent(), access(ANA, PortalAccess::Opened, "Mozilla/5.0\u{0}\n")).unwrap();
        let [InviteEvent::PortalOpened(opened)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(opened.user_agent.as_deref(), Some("Mozilla/5.0"));
        let long = when(&sent(), access(ANA, PortalAccess::Opened, &"a".repeat(5_000))).unwrap();
        let [InviteEvent::PortalOpened(opened)] = long.as_slice() else {
            panic!()
        };
        assert_eq!(opened.user_agent.as_ref().unwrap().len(), 512);
    }

    #[test]
    fn a_refused_password_needs_a_password() {
        assert_eq!(
            when(&sent(), access(ANA, PortalAccess::PasswordRefused, "x")),
            Err(InviteError::NoPortalPassword)
        );
        let mut protected = send_invite();
        protected.portal_password = Some(password());
        let history = then(&[], InviteCommand::SendInvite(protected));
        assert!(when(&history, access(ANA, PortalAccess::PasswordRefused, "x")).is_ok());
    }

    #[test]
    fn visits_are_recorded_even_after_the_invite_is_cancelled() {
        let cancelled = then(&sent(), cancel());
        assert!(when(&cancelled, access(BEN, PortalAccess::Opened, "x")).is_ok());
        assert_eq!(
            when(&cancelled, access(CARA, PortalAccess::Opened, "x")),
            Err(InviteError::UnknownContact(CARA))
        );
    }
}

#[test]
fn all_channels_are_named_in_snake_case() {
    assert_eq!(
        serde_json::to_string(&BTreeSet::from([Channel::Email, Channel::Sms])).unwrap(),
        r#"["email","sms"]"#
    );
}

mod notifications {
    use super::*;
    use lodge_domain::notification::NotificationKind;

    fn record(contact_id: ContactId, outcome: NotificationOutcome) -> InviteCommand {
        InviteCommand::RecordNotification(RecordNotification {
            contact_id,
            channel: Channel::Email,
            kind: NotificationKind::Invitation,
            to: "ana@example.com".into(),
            cause: uuid(0x9001),
            outcome,
        })
    }

    #[test]
    fn deliveries_and_failures_are_recorded() {
        let delivered = when(
            &sent(),
            record(
                ANA,
                NotificationOutcome::Delivered {
                    provider_message_id: Some("<abc@mail>".into()),
                },
            ),
        )
        .unwrap();
        let [InviteEvent::NotificationSent(sent_event)] = delivered.as_slice() else {
            panic!("{delivered:?}")
        };
        assert_eq!(sent_event.provider_message_id.as_deref(), Some("<abc@mail>"));
        assert_eq!(sent_event.cause, uuid(0x9001));
        let failed = when(
            &sent(),
            record(
                ANA,
                NotificationOutcome::Failed {
                    reason: "550 no such user\r\n".into(),
                    permanent: true,
                },
            ),
        )
        .unwrap();
        let [InviteEvent::NotificationFailed(failure)] = failed.as_slice() else {
            panic!("{failed:?}")
        };
        assert_eq!(
            failure.reason, "550 no such user",
            "control characters are cleaned, not refused"
        );
        assert!(failure.permanent);
    }

    #[test]
    fn only_about_a_contact_of_the_invite_but_whatever_its_status() {
        let delivered = NotificationOutcome::Delivered {
            provider_message_id: None,
        };
        assert_eq!(
            when(&sent(), record(CARA, delivered.clone())),
            Err(InviteError::UnknownContact(CARA))
        );
        assert_eq!(when(&[], record(ANA, delivered.clone())), Err(InviteError::NotSent));
        let cancelled = then(&sent(), cancel());
        assert!(when(&cancelled, record(ANA, delivered)).is_ok());
    }
}

mod reminders {
    use super::*;
    use lodge_domain::reminder::{ReminderError, ReminderPlan};

    fn change(reminders: Option<ReminderPlan>) -> InviteCommand {
        InviteCommand::ChangeReminders(ChangeReminders { reminders, by: staff() })
    }

    fn weekly() -> ReminderPlan {
        ReminderPlan {
            days_before: vec![1, 7, 7],
            overdue_every_days: 7,
            at_most: 4,
        }
    }

    #[test]
    fn staff_choose_an_invites_plan_tidied_and_go_back_to_the_firms() {
        let events = when(&sent(), change(Some(weekly()))).unwrap();
        let [InviteEvent::RemindersChanged(changed)] = events.as_slice() else {
            panic!("{events:?}")
        };
        let chosen = changed.reminders.clone().unwrap();
        assert_eq!(chosen.days_before, vec![7, 1], "furthest first, once each");
        assert_eq!(changed.previous, None);
        let history = then(&sent(), change(Some(weekly())));
        assert_eq!(state(&history).reminders, Some(chosen));
        assert_eq!(
            when(&history, change(Some(weekly()))),
            Ok(vec![]),
            "no change, no event"
        );
        let back = then(&history, change(None));
        assert_eq!(state(&back).reminders, None);
    }

    #[test]
    fn a_plan_out_of_bounds_is_refused_and_a_closed_invite_keeps_its_own() {
        let far = ReminderPlan {
            days_before: vec![400],
            ..weekly()
        };
        assert_eq!(
            when(&sent(), change(Some(far))),
            Err(InviteError::Reminder(ReminderError::TooFarAhead(400)))
        );
        let cancelled = then(&sent(), cancel());
        assert!(matches!(
            when(&cancelled, change(Some(weekly()))),
            Err(InviteError::Closed { .. })
        ));
    }
}

mod staff_digests {
    use super::*;

    fn digest(covers: Vec<uuid::Uuid>, outcome: NotificationOutcome) -> InviteCommand {
        InviteCommand::RecordStaffDigest(RecordStaffDigest {
            to: "sam@firm.example".into(),
            covers,
            outcome,
        })
    }

    #[test]
    fn a_digest_is_recorded_to_the_sender_whatever_the_invites_status() {
        let cancelled = then(&sent(), cancel());
        let events = when(
            &cancelled,
            digest(
                vec![uuid(0x9001)],
                NotificationOutcome::Failed {
                    reason: "421 try later\r\n".into(),
                    permanent: false,
                },
            ),
        )
        .unwrap();
        let [InviteEvent::StaffDigestFailed(failed)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(failed.staff_id, state(&sent()).sender.id);
        assert_eq!(failed.reason, "421 try later");
        assert!(!failed.permanent);
        let sent_digest = when(
            &sent(),
            digest(
                vec![uuid(0x9001), uuid(0x9002)],
                NotificationOutcome::Delivered {
                    provider_message_id: Some("<m@x>".into()),
                },
            ),
        )
        .unwrap();
        assert!(matches!(sent_digest.as_slice(), [InviteEvent::StaffDigestSent(d)] if d.covers.len() == 2));
    }

    #[test]
    fn a_digest_tells_of_something() {
        let delivered = NotificationOutcome::Delivered {
            provider_message_id: None,
        };
        assert_eq!(when(&sent(), digest(vec![], delivered)), Err(InviteError::EmptyDigest));
    }
}
