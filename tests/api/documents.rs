//! Documents end to end: uploads streamed to blob storage, review, rejection and re-upload,
//! downloads with ranges, and every way an upload can be refused without keeping anything.

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

lodge_eventlog::test_on_both_engines!(
    uploads_are_stored_reviewed_and_downloaded,
    a_rejected_document_is_replaced_and_the_invite_completes,
    refused_uploads_keep_nothing,
    staff_download_every_document_as_one_zip,
    an_upload_in_flight_finishes_when_the_server_stops,
    an_upload_cut_short_keeps_nothing,
);

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn uploads_are_stored_reviewed_and_downloaded(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let payslips = json!(sent.requests[0].id);
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;

    let july = pdf("July payslip");
    let photo = png();
    let uploaded: Uploaded = expect_as(
        ana.upload(
            &payslips,
            &[("../July payslip.pdf", july.clone()), ("IMG_0001.png", photo.clone())],
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let documents = &uploaded.documents;
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[0].file_name, "July payslip.pdf", "no path in a file name");
    assert_eq!(documents[0].sha256, sha256(&july));
    assert_eq!(documents[0].size, july.len() as u64);
    assert_eq!(
        documents[0].content_type, "application/pdf",
        "the type comes from the content"
    );
    assert_eq!(documents[1].content_type, "image/png");
    // Content-addressed, and nothing left in staging.
    assert_eq!(
        app.blob_files(),
        vec![
            format!("sha256/{}", sha256(&july)),
            format!("sha256/{}", sha256(&photo))
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );

    let portal = ana.portal(uploaded.position).await;
    let request = &portal.requests[0];
    assert_eq!(request.status, RequestStatus::WaitingForReview);
    assert_eq!(request.documents.len(), 2);
    assert_eq!(request.documents[0].status, DocumentStatus::WaitingForReview);

    // The contact downloads their own file: same bytes, as an attachment, never sniffed.
    let id = documents[0].id;
    let download = ana.get(&format!("/api/portal/documents/{id}")).await;
    assert_eq!(download.status(), StatusCode::OK);
    let headers = download.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-length"], july.len().to_string().as_str());
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"July payslip.pdf\"")
    );
    assert_eq!(download.bytes().await.unwrap().as_ref(), july.as_slice());
    // A Range resumes a download.
    let part = ana
        .client
        .get(app.url(&format!("/api/portal/documents/{id}")))
        .header("range", "bytes=5-9")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 5-9/{}", july.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &july[5..10]);
    let beyond = ana
        .client
        .get(app.url(&format!("/api/portal/documents/{id}")))
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    expect_problem(beyond, StatusCode::RANGE_NOT_SATISFIABLE, "outside the file").await;

    // Ben cannot download Ana's document, and it does not say whether it exists.
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    expect_problem(
        ben.get(&format!("/api/portal/documents/{id}")).await,
        StatusCode::NOT_FOUND,
        "no document",
    )
    .await;
    app.stop().await;
}

async fn a_rejected_document_is_replaced_and_the_invite_completes(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let mut body = two_contact_invite();
    body["contacts"] = json!([{"name": "Ana Alves", "email": "ana@example.com"}]);
    body["requests"] =
        json!([{"kind": "file", "title": "Passport", "allowed_types": ["application/pdf", "image/*"], "max_files": 1}]);
    let sent = app.staff().send_invite(&body).await;
    let invite = &sent.id.to_string();
    let passport = json!(sent.requests[0].id);
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;

    let first: Uploaded = expect_as(
        ana.upload(&passport, &[("passport.png", png())]).await,
        StatusCode::CREATED,
    )
    .await;
    let document = first.documents[0].id.to_string();
    // One file at most, until it is reviewed.
    expect_problem(
        ana.upload(&passport, &[("again.pdf", pdf("again"))]).await,
        StatusCode::CONFLICT,
        "at most 1",
    )
    .await;

    let review = |document: String, body: Value| {
        let staff = app.staff();
        async move {
            staff
                .post(&format!("/api/invites/{invite}/documents/{document}/review"), &body)
                .await
        }
    };
    expect_problem(
        review(document.clone(), json!({"decision": "reject"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "needs a reason",
    )
    .await;
    let rejected: Recorded = expect_as(
        review(
            document.clone(),
            json!({"decision": "reject", "reason": "The photo is blurred"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let portal = ana.portal(rejected.position).await;
    assert_eq!(portal.requests[0].status, RequestStatus::Rejected);
    assert_eq!(portal.requests[0].reason.as_deref(), Some("The photo is blurred"));
    assert_eq!(portal.requests[0].documents[0].status, DocumentStatus::Rejected);
    expect_problem(
        review(document.clone(), json!({"decision": "accept"})).await,
        StatusCode::CONFLICT,
        "not waiting for review",
    )
    .await;

    let second: Uploaded = expect_as(
        ana.upload(&passport, &[("passport.pdf", pdf("sharper"))]).await,
        StatusCode::CREATED,
    )
    .await;
    let replacement = second.documents[0].id.to_string();
    let accepted: Recorded = expect_as(review(replacement, json!({"decision": "accept"})).await, StatusCode::OK).await;
    let portal = ana.portal(accepted.position).await;
    assert_eq!(portal.requests[0].status, RequestStatus::Accepted);
    assert_eq!(
        portal.totals,
        Totals {
            total: 1,
            done: 1,
            outstanding: 0
        }
    );
    // Every request accepted: Lodge completes the invite by itself.
    assert_eq!(portal.invite.status, InviteStatus::Completed);
    expect_problem(
        ana.upload(&passport, &[("late.pdf", pdf("late"))]).await,
        StatusCode::CONFLICT,
        "",
    )
    .await;
    app.stop().await;
}

async fn refused_uploads_keep_nothing(db: TestDatabase) {
    let app = TestApp::start_with(db, |settings| settings.max_file_bytes = 4096).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let (payslips, form) = (json!(sent.requests[0].id), json!(sent.requests[1].id));
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    let events = app.event_count().await;

    let mut big = pdf("big");
    big.resize(4097, b' ');
    expect_problem(
        ana.upload(&payslips, &[("big.pdf", big)]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than",
    )
    .await;
    expect_problem(
        ana.upload(
            &payslips,
            &[(
                "setup.exe",
                b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec(),
            )],
        )
        .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "does not accept",
    )
    .await;
    expect_problem(
        ana.upload(&payslips, &[("notes.txt", b"hello".to_vec())]).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "text/plain",
    )
    .await;
    expect_problem(
        ana.upload(&payslips, &[("empty.pdf", Vec::new())]).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "",
    )
    .await;
    // A good file followed by a bad one: neither is kept.
    expect_problem(
        ana.upload(&payslips, &[("good.pdf", pdf("good")), ("bad.bin", vec![0, 1, 2, 3])])
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "",
    )
    .await;
    // Four files where three fit.
    let four: Vec<(&str, Vec<u8>)> = (0..4).map(|i| ("p.pdf", pdf(&format!("payslip {i}")))).collect();
    expect_problem(ana.upload(&payslips, &four).await, StatusCode::CONFLICT, "at most 3").await;
    expect_problem(
        ana.upload(&form, &[("a.pdf", pdf("a"))]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "is a form",
    )
    .await;
    // The form is Ana's alone: to Ben it does not exist.
    expect_problem(
        ben.upload(&form, &[("a.pdf", pdf("a"))]).await,
        StatusCode::NOT_FOUND,
        "no request",
    )
    .await;
    let nothing = ana
        .client
        .post(app.url(&format!(
            "/api/portal/requests/{}/documents",
            payslips.as_str().unwrap()
        )))
        .multipart(reqwest::multipart::Form::new().text("note", "hi"))
        .send()
        .await
        .unwrap();
    expect_problem(nothing, StatusCode::BAD_REQUEST, "field named `file`").await;
    let not_multipart = ana
        .post(
            &format!("/api/portal/requests/{}/documents", payslips.as_str().unwrap()),
            &json!({}),
        )
        .await;
    expect_problem(not_multipart, StatusCode::BAD_REQUEST, "multipart").await;
    let anonymous = app
        .anonymous()
        .post(app.url(&format!(
            "/api/portal/requests/{}/documents",
            payslips.as_str().unwrap()
        )))
        .multipart(
            reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(pdf("x")).file_name("x.pdf")),
        )
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "").await;

    assert_eq!(app.event_count().await, events, "nothing recorded");
    assert_eq!(app.blob_files(), Vec::<String>::new(), "no file kept");
    app.stop().await;
}

async fn staff_download_every_document_as_one_zip(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let invite = &sent.id.to_string();
    let payslips = json!(sent.requests[0].id);
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let ben = app.contact(sent.contacts[1].portal_url.as_str()).await;
    let (july, august, blurred) = (pdf("july"), pdf("august"), png());
    let ana_files: Uploaded = expect_as(
        ana.upload(
            &payslips,
            &[("payslip.pdf", july.clone()), ("payslip.pdf", august.clone())],
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let ben_files: Uploaded = expect_as(
        ben.upload(&payslips, &[("photo.png", blurred)]).await,
        StatusCode::CREATED,
    )
    .await;
    let rejected: Recorded = expect_as(
        app.staff()
            .post(
                &format!("/api/invites/{invite}/documents/{}/review", ben_files.documents[0].id),
                &json!({"decision": "reject", "reason": "Blurred"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(rejected.position > ana_files.position);
    expect(
        app.staff()
            .get(&format!("/api/invites/{invite}?after={}", rejected.position.unwrap()))
            .await,
        StatusCode::OK,
    )
    .await;

    let response = app.staff().get(&format!("/api/invites/{invite}/documents.zip")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a valid ZIP");
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).unwrap();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).unwrap();
        files.push((file.name().to_owned(), content));
    }
    assert_eq!(
        files,
        vec![
            ("Ana Alves/Payslips/payslip.pdf".to_owned(), july),
            ("Ana Alves/Payslips/payslip (2).pdf".to_owned(), august),
        ],
        "accepted and pending documents, not the rejected one"
    );
    let nobody = uuid::Uuid::now_v7();
    expect_problem(
        app.staff().get(&format!("/api/invites/{nobody}/documents.zip")).await,
        StatusCode::NOT_FOUND,
        "no invite",
    )
    .await;
    app.stop().await;
}

async fn an_upload_in_flight_finishes_when_the_server_stops(db: TestDatabase) {
    let mut app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let payslips = &sent.requests[0].id.to_string().to_owned();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;

    // A file sent slowly, in pieces, from a phone on a poor connection.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|chunk| (chunk, r)) });
    let file = pdf("sent slowly");
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), file.len() as u64)
        .file_name("slow.pdf");
    let upload = ana
        .client
        .post(app.url(&format!("/api/portal/requests/{payslips}/documents")))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send();
    let upload = tokio::spawn(upload);
    sender.send(Ok(file[..8].to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // SIGTERM arrives mid-upload: the server stops taking connections but finishes this request.
    let stopped = app.begin_shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!stopped.is_finished(), "the server waits for the upload in flight");
    sender.send(Ok(file[8..].to_vec())).await.unwrap();
    drop(sender);
    let response = upload.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    tokio::time::timeout(std::time::Duration::from_secs(10), stopped)
        .await
        .expect("the server stops once the upload is done")
        .unwrap();
    assert_eq!(app.blob_files(), vec![format!("sha256/{}", sha256(&file))]);
    assert_eq!(app.event_count().await, 3, "sent, opened, uploaded");
}

async fn an_upload_cut_short_keeps_nothing(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let payslips = &sent.requests[0].id.to_string().to_owned();
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;
    let events = app.event_count().await;

    // The phone loses its connection halfway through a file.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|chunk| (chunk, r)) });
    let mut file = pdf("cut short");
    file.resize(256 * 1024, b' ');
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), file.len() as u64)
        .file_name("cut.pdf");
    let upload = tokio::spawn(
        ana.client
            .post(app.url(&format!("/api/portal/requests/{payslips}/documents")))
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send(),
    );
    sender.send(Ok(file[..128 * 1024].to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    sender
        .send(Err(std::io::Error::other("connection lost")))
        .await
        .unwrap();
    assert!(upload.await.unwrap().is_err(), "the client sees its upload fail");

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !app.blob_files().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {:?}",
            app.blob_files()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.event_count().await, events, "nothing recorded");
    app.stop().await;
}
