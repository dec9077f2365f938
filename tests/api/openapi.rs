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

/// What an `Idempotency-Key` can answer by itself is documented wherever one is taken.
#[test]
fn every_keyed_operation_documents_what_the_key_can_answer() {
    let doc: serde_json::Value =
        serde_json::from_str(&rapport_api::openapi::document_json()).unwrap();
    let mut keyed = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let takes_key = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key"));
            if !takes_key {
                continue;
            }
            keyed += 1;
            for (status, code) in [
                ("409", "idempotency_in_progress"),
                ("422", "idempotency_key_reused"),
            ] {
                let description = op["responses"][status]["description"]
                    .as_str()
                    .unwrap_or("");
                assert!(
                    description.contains(code),
                    "{method} {path}: {status} does not name {code}"
                );
            }
        }
    }
    assert!(keyed >= 14, "{keyed}");
}

/// A body whose shape depends on its kind has one schema per kind, and every kind has one.
#[test]
fn kind_dependent_bodies_have_a_schema_per_kind() {
    let doc: serde_json::Value =
        serde_json::from_str(&rapport_api::openapi::document_json()).unwrap();
    for (schema, kinds) in [
        (
            "RewardDraft",
            doc["components"]["schemas"]["RewardKind"]["enum"].clone(),
        ),
        (
            "InteractionDraft",
            doc["components"]["schemas"]["InteractionKind"]["enum"].clone(),
        ),
    ] {
        let mapping = doc["components"]["schemas"][schema]["discriminator"]["mapping"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} has no discriminator"));
        let mut mapped: Vec<&str> = mapping.keys().map(String::as_str).collect();
        let mut all: Vec<&str> = kinds
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        mapped.sort_unstable();
        all.sort_unstable();
        assert_eq!(mapped, all, "{schema}");
    }
}

/// The answers every operation of a kind can give are documented on every such operation.
#[test]
fn every_operation_documents_the_answers_of_its_kind() {
    let doc: serde_json::Value =
        serde_json::from_str(&rapport_api::openapi::document_json()).unwrap();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            if !public {
                assert!(responses.contains_key("401"), "{method} {path}: no 401");
            }
            let json_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.keys().any(|k| k.contains("json")));
            if json_body {
                for status in ["400", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path}: no {status}"
                    );
                }
            }
            if path.contains('{') {
                assert!(
                    responses.contains_key("400"),
                    "{method} {path}: no 400 for a bad id"
                );
            }
        }
    }
}

/// The paths the routes register, read from their `configure` functions, against the
/// document's: the same set both ways (besides the documentation's own pages).
#[test]
fn every_registered_path_is_documented_and_every_documented_path_is_registered() {
    fn scan(dir: &std::path::Path, found: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, found);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("web::resource(").skip(1) {
                let args = part.split(')').next().unwrap_or("");
                for literal in args.split('"').skip(1).step_by(2) {
                    let absolute = ["/api/v1/", "/health/", "/metrics", "/docs"]
                        .iter()
                        .any(|p| literal.starts_with(p));
                    found.insert(if absolute {
                        literal.to_owned()
                    } else {
                        format!("/api/v1{literal}")
                    });
                }
            }
        }
    }
    let mut registered = std::collections::BTreeSet::new();
    scan(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../api/src/routes")),
        &mut registered,
    );
    assert!(registered.len() > 40, "{registered:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&rapport_api::openapi::document_json()).unwrap();
    let documented: std::collections::BTreeSet<String> =
        doc["paths"].as_object().unwrap().keys().cloned().collect();
    let pages = [
        "/docs",
        "/docs/",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
        "/api/v1/openapi.json",
    ];
    let undocumented: Vec<&String> = registered
        .iter()
        .filter(|p| !documented.contains(*p) && !pages.contains(&p.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    let unserved: Vec<&String> = documented
        .iter()
        .filter(|p| !registered.contains(*p))
        .collect();
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

/// Every documented operation reaches a handler, and every other method on a documented path is
/// a 405: the server serves exactly the operations the document names.
#[tokio::test]
async fn the_server_answers_exactly_the_documented_methods() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&rapport_api::openapi::document_json()).unwrap();
    let id = "01900000-0000-7000-8000-000000000000";
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let url = path
            .split('/')
            .map(|s| if s.starts_with('{') { id } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["get", "post", "put", "patch", "delete"] {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Revoking the test's own key is not wanted; any other id is a 404 anyway.
            let res = app
                .admin(m, &url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body = res.text().await.unwrap();
            if ops.get(method).is_some() {
                assert_ne!(
                    status,
                    reqwest::StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
                assert!(
                    !body.contains("no such resource or route"),
                    "{method} {path} reached no handler: {body}"
                );
            } else {
                assert_eq!(
                    status,
                    reqwest::StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {body}"
                );
            }
        }
    }
}
