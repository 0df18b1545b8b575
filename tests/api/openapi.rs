//! The OpenAPI document: served, valid enough to follow, and in step with the router (which adds
//! each API route with its description, so none is served undocumented).

use std::collections::BTreeSet;

use crate::support::*;
use lodge_eventlog::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::Value;

lodge_eventlog::test_on_both_engines!(the_openapi_document_covers_every_endpoint);

/// Every `$ref` in the document.
fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    found.insert(inner.as_str().unwrap().to_owned());
                } else {
                    refs(inner, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

async fn the_openapi_document_covers_every_endpoint(db: TestDatabase) {
    let app = TestApp::start(db).await;
    let document = expect(
        app.anonymous().get(app.url("/api/openapi.json")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );

    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            let responses = operation["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} documents no response");
        }
    }
    // The router adds each API route with its description (utoipa-axum), so the document lists
    // what is served; here, each documented endpoint must also answer.
    assert!(documented.len() > 25, "{documented:?}");
    assert!(documented.contains(&("delete".to_owned(), "/api/portal/session".to_owned())));

    // Each documented endpoint exists: the router answers, not its "no endpoint" fallback.
    let id = uuid::Uuid::now_v7();
    for (method, path) in &documented {
        let url = app.url(
            &path
                .replace("{invite_id}", &id.to_string())
                .replace("{contact_id}", &id.to_string())
                .replace("{document_id}", &id.to_string())
                .replace("{request_id}", &id.to_string())
                .replace("{token}", "0123456789abcdef"),
        );
        let request = match method.as_str() {
            "get" => app.anonymous().get(url),
            "post" => app.anonymous().post(url),
            "patch" => app.anonymous().patch(url),
            "delete" => app.anonymous().delete(url),
            other => panic!("a method the test does not know: {other}"),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !body.contains("there is no endpoint"),
            "{method} {path} is documented but not served: {status} {body}"
        );
    }

    // Every reference resolves, and errors are problem documents.
    let mut found = BTreeSet::new();
    refs(&document, &mut found);
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for reference in &found {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .expect("a schema reference");
        assert!(schemas.contains_key(name), "{reference} is not defined");
    }
    let send = &document["paths"]["/api/invites"]["post"];
    assert!(
        send["responses"]["422"]["content"]["application/problem+json"].is_object(),
        "{send}"
    );
    assert!(document["components"]["securitySchemes"]["staff_token"].is_object());
    app.stop().await;
}
