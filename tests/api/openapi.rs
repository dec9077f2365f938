//! The committed `openapi/openapi.json` must be what the code generates. Regenerate with
//! `cargo run -- openapi > openapi/openapi.json` (or run this test with `UPDATE_OPENAPI=1`).

use reqwest::Method;

use crate::helpers::{Backend, TestApp};

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = rapport_api::openapi::document_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer_jwt"].is_object());
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let served = app
        .anon(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, rapport_api::openapi::document_json());
}

#[test]
fn every_schema_reference_in_the_document_resolves() {
    let doc: serde_json::Value =
        serde_json::from_str(&rapport_api::openapi::document_json()).unwrap();
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling reference to {name}");
    }
}

/// Every POST the idempotency middleware honours documents `Idempotency-Key`, and the exempt
/// ones do not (their descriptions say why).
#[test]
fn every_post_that_honours_an_idempotency_key_documents_it() {
    let doc: serde_json::Value =
        serde_json::from_str(&rapport_api::openapi::document_json()).unwrap();
    let mut honoured = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let Some(post) = ops.get("post") else {
            continue;
        };
        let documented = post["parameters"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
        });
        // Outside the credentialed scope (sign-in) or exempt: the header is ignored there.
        let ignored = path == "/api/v1/auth/token"
            || rapport_api::idempotency::EXEMPT.contains(&path.as_str());
        assert_eq!(documented, !ignored, "{path}");
        honoured += usize::from(documented);
    }
    assert!(honoured >= 14, "{honoured}");
}
