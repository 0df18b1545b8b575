//! Documents in an S3-compatible object store instead of local files: the same uploads, downloads
//! and archives through object_store's S3 client, against a real S3 API on loopback (moto's
//! server, installed by `.ci/run`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;

lodge_eventlog::test_on_both_engines!(documents_live_in_an_s3_bucket);

/// An S3 API on a port of its own, stopped on drop.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> String {
    std::env::var("LODGE_TEST_MOTO_SERVER")
        .unwrap_or_else(|_| format!("{}/.ci/venv/bin/moto_server", env!("CARGO_MANIFEST_DIR")))
}

async fn s3_server() -> S3Server {
    let program = moto_server();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "this test needs an S3 API on loopback: moto's server, not found at {program} ({error}).\n\
                 Install it with `python3 -m venv .ci/venv && .ci/venv/bin/pip install 'moto[server]'` \
                 (.ci/run does), or point LODGE_TEST_MOTO_SERVER at moto_server."
            )
        });
    let server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.put(format!("{}/lodge-documents", server.endpoint)).send().await
            && response.status().is_success()
        {
            return server;
        }
        assert!(Instant::now() < deadline, "moto's S3 server did not start within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The keys in the bucket, from the S3 API's own listing.
async fn keys(s3: &S3Server) -> Vec<String> {
    let listing = reqwest::get(format!("{}/lodge-documents?list-type=2", s3.endpoint))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    listing
        .split("<Key>")
        .skip(1)
        .map(|rest| rest.split("</Key>").next().unwrap().to_owned())
        .collect()
}

async fn documents_live_in_an_s3_bucket(db: TestDatabase) {
    let s3 = s3_server().await;
    let endpoint = s3.endpoint.clone();
    let app = TestApp::start_with(db, move |settings| {
        settings.blob_url = "s3://lodge-documents/firm-a".into();
        settings.blob_options = [
            ("AWS_ENDPOINT", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect();
    })
    .await;
    let sent = app.staff().send_invite(&two_contact_invite()).await;
    let payslips = json!(sent.requests[0].id);
    let ana = app.contact(sent.contacts[0].portal_url.as_str()).await;

    // Larger than one S3 part (5 MiB), so that the multipart upload has several.
    let mut big = pdf("a year of payslips");
    big.resize(11 * 1024 * 1024, b'%');
    let uploaded: Uploaded = expect_as(
        ana.upload(&payslips, &[("payslips.pdf", big.clone())]).await,
        StatusCode::CREATED,
    )
    .await;
    let sha = uploaded.documents[0].sha256.clone();
    assert_eq!(
        keys(&s3).await,
        vec![format!("firm-a/sha256/{sha}")],
        "content-addressed, under the prefix, no staging left"
    );

    let id = uploaded.documents[0].id;
    // The portal shows the document once it reaches the upload's position.
    ana.portal(uploaded.position).await;
    let download = ana.get(&format!("/api/portal/documents/{id}")).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().as_ref(), big.as_slice());
    let part = ana
        .client
        .get(app.url(&format!("/api/portal/documents/{id}")))
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &big[1000..2000]);

    // A refused upload leaves nothing in the bucket either.
    expect_problem(
        ana.upload(&payslips, &[("ok.pdf", pdf("fine")), ("bad.bin", vec![0, 1, 2, 3])])
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "",
    )
    .await;
    assert_eq!(keys(&s3).await.len(), 1);

    let invite = &sent.id.to_string();
    expect(
        app.staff()
            .get(&format!("/api/invites/{invite}?after={}", uploaded.position.unwrap()))
            .await,
        StatusCode::OK,
    )
    .await;
    let archive = app.staff().get(&format!("/api/invites/{invite}/documents.zip")).await;
    let bytes = archive.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut content = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_index(0).unwrap(), &mut content).unwrap();
    assert_eq!(content, big);
    app.stop().await;
}
