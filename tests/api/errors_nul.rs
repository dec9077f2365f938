//! Input that PostgreSQL cannot store (NUL characters), oversized amounts and bad export
//! queries are refused with a 4xx on both backends, never a 500 (found by fuzzing).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends};

both_backends! {
    async fn nul_characters_are_refused_everywhere(app) {
        let res = app.admin(Method::POST, "/api/v1/customers").header("content-type", "application/json")
            .body(r#"{"given_name": "A\u0000B"}"#).send().await.unwrap();
        let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["code"], "nul_character");
        // An escaped backslash before "u0000" is ordinary text.
        let ok = app.create_customer(json!({"given_name": "A\\u0000B"})).await;
        assert_eq!(ok["given_name"], "A\\u0000B");
        let id = ok["id"].as_str().unwrap();
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).header("content-type", "application/merge-patch+json")
            .body(r#"{"custom_attributes": {"k\u0000": 1}}"#).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        for q in ["/api/v1/customers?q=a%00b", "/api/v1/interactions?source=a%00b", "/api/v1/interactions/export?external_ref=%00"] {
            let res = app.admin(Method::GET, q).send().await.unwrap();
            assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
        }
        let res = app.admin(Method::POST, "/api/v1/customers/import?mode=skip_invalid").header("content-type", "application/x-ndjson")
            .body("{\"given_name\": \"A\\u0000B\"}\n{\"given_name\": \"C\"}\n").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let report: Value = res.json().await.unwrap();
        assert_eq!((report["created"].as_u64(), report["errors"][0]["code"].as_str()), (Some(1), Some("nul_character")));
        let res = app.admin(Method::POST, "/api/v1/customers/import?mode=skip_invalid").header("content-type", "text/csv")
            .body("given_name\nA\u{0}B\nD\n").send().await.unwrap();
        let report: Value = res.json().await.unwrap();
        assert_eq!((report["created"].as_u64(), report["errors"][0]["line"].as_u64()), (Some(1), Some(2)), "{report}");
    }

    async fn oversized_amounts_and_bad_export_queries_are_refused(app) {
        let c = app.create_customer(json!({"given_name": "Rich"})).await["id"].as_str().unwrap().to_owned();
        let big = |amount: i64| json!({"customer_id": c, "channel": "web", "kind": "purchase", "amount_minor": amount, "currency": "EUR"});
        let res = app.admin(Method::POST, "/api/v1/interactions").json(&big(i64::MAX)).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        // At the per-purchase cap (10^12), a customer's total could overflow only after nine
        // million such purchases; if it ever did, the store answers 409, not 500.
        let res = app.admin(Method::POST, "/api/v1/interactions").json(&big(1_000_000_000_000)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let res = app.admin(Method::GET, "/api/v1/interactions/export?cursor=nope").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
        let res = app.admin(Method::GET, "/api/v1/interactions/export?limit=5").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
        let res = app.admin(Method::GET, "/api/v1/interactions/export?format=csv").send().await.unwrap();
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    }
}
