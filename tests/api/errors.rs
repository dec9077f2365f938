//! Every error class on the customers routes: the right 4xx problem, and nothing written.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_problem, both_backends};

both_backends! {
    async fn bad_bodies_get_the_right_4xx_and_write_nothing(app) {
        let existing = app.create_customer(json!({"given_name": "Ana"})).await;
        let id = existing["id"].as_str().unwrap().to_owned();
        let before = app.customers_snapshot();
        let big = format!("{{\"given_name\": \"{}\"}}", "x".repeat(300 * 1024));
        let cases: Vec<(Method, String, &str, String, StatusCode, &str)> = vec![
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": ".into(), StatusCode::BAD_REQUEST, "malformed_json"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": \"A\"} trailing".into(), StatusCode::BAD_REQUEST, "malformed_json"),
            (Method::POST, "/api/v1/customers".into(), "text/plain", "{\"given_name\": \"A\"}".into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (Method::POST, "/api/v1/customers".into(), "application/json", big.clone(), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": 5}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "[]".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": \"A\", \"shoe\": 1}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"email\": \"nope\"}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"phone\": \"12\"}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": \"A\", \"lifecycle_stage\": \"vip\"}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": \"A\", \"preferences\": {\"currency\": \"ABC\"}}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": \"A\", \"demographics\": {\"household_size\": 0}}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", format!("{{\"given_name\": \"{}\"}}", "x".repeat(101)), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{\"given_name\": \"A\", \"birth_date\": \"1985-13-45\"}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::POST, "/api/v1/customers".into(), "application/json", "{}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::PATCH, format!("/api/v1/customers/{id}"), "application/json", "{\"given_name\": ".into(), StatusCode::BAD_REQUEST, "malformed_json"),
            (Method::PATCH, format!("/api/v1/customers/{id}"), "text/csv", "given_name\nB".into(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (Method::PATCH, format!("/api/v1/customers/{id}"), "application/merge-patch+json", big, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            (Method::PATCH, format!("/api/v1/customers/{id}"), "application/json", "\"B\"".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::PATCH, format!("/api/v1/customers/{id}"), "application/json", "{\"tags\": \"vip\"}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::PATCH, format!("/api/v1/customers/{id}"), "application/json", "{\"address\": {\"country\": \"Spain\"}}".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            (Method::PATCH, "/api/v1/customers/not-a-uuid".into(), "application/json", "{}".into(), StatusCode::BAD_REQUEST, "invalid_path"),
        ];
        for (method, path, content_type, body, status, code) in cases {
            let res = app.admin(method.clone(), &path).header("content-type", content_type).body(body.clone()).send().await.unwrap();
            let problem = assert_problem(res, status, code).await;
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                let errors = problem["errors"].as_array().expect("422 lists field errors");
                assert!(!errors.is_empty() && errors.iter().all(|e| e["field"].is_string() && e["code"].is_string() && e["message"].is_string()), "{problem}");
            }
        }
        assert_eq!(app.customers_snapshot(), before, "no bad request wrote anything");
    }

    async fn a_422_names_the_offending_fields(app) {
        let res = app.admin(Method::POST, "/api/v1/customers").json(&json!({"email": "x", "address": {"country": "ZZ"}, "other_phones": ["nope"]})).send().await.unwrap();
        let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<_> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["address.country", "email", "other_phones"]);
        let res = app.admin(Method::POST, "/api/v1/customers").json(&json!({"given_name": "A", "demographics": {"household_size": "three"}})).send().await.unwrap();
        let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "demographics.household_size");
    }

    async fn bad_queries_paths_routes_and_methods_get_problems(app) {
        app.create_customer(json!({"given_name": "Ana"})).await;
        for q in ["limit=0", "limit=201", "limit=ten", "sort=name", "cursor=garbage", "created_after=yesterday", "lifecycle_stage=vip", "colour=red", "include_archived=maybe"] {
            let res = app.admin(Method::GET, &format!("/api/v1/customers?{q}")).send().await.unwrap();
            let code = if q.starts_with("cursor") { "invalid_cursor" } else { "invalid_query" };
            assert_problem(res, StatusCode::BAD_REQUEST, code).await;
        }
        // A cursor made for another sort is refused rather than misread.
        app.create_customer(json!({"given_name": "Luca"})).await;
        let page: serde_json::Value = app.admin(Method::GET, "/api/v1/customers?limit=1").send().await.unwrap().json().await.unwrap();
        let cursor = page["next_cursor"].as_str().unwrap();
        let res = app.admin(Method::GET, &format!("/api/v1/customers?limit=1&sort=updated_at&cursor={cursor}")).send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;

        assert_problem(app.admin(Method::GET, "/api/v1/customers/123").send().await.unwrap(), StatusCode::BAD_REQUEST, "invalid_path").await;
        assert_problem(app.admin(Method::GET, "/api/v1/nothing").send().await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
        assert_problem(app.anon(Method::GET, "/nothing").send().await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
        assert_problem(app.admin(Method::PUT, "/api/v1/customers").send().await.unwrap(), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
        assert_problem(app.anon(Method::POST, "/health/live").send().await.unwrap(), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
}

both_backends! {
    async fn an_integral_number_is_an_integer_however_it_is_written(app) {
        // JSON has one kind of number and JSON Schema calls 250.0 an integer: so does the API.
        let c = app.create_customer(json!({"given_name": "Ana"})).await;
        let url = format!("/api/v1/customers/{}/loyalty/transactions", c["id"].as_str().unwrap());
        let res = app.admin(Method::POST, &url).header("content-type", "application/json").body(r#"{"points": 250.0, "reason": "goodwill"}"#).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let res = app.admin(Method::POST, &url).header("content-type", "application/json").body(r#"{"points": 2.5e2, "reason": "goodwill"}"#).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let res = app.admin(Method::POST, &url).header("content-type", "application/json").body(r#"{"points": 2.5, "reason": "goodwill"}"#).send().await.unwrap();
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "points");
        let account: serde_json::Value = app.admin(Method::GET, &format!("/api/v1/customers/{}/loyalty", c["id"].as_str().unwrap())).send().await.unwrap().json().await.unwrap();
        assert_eq!(account["balance"], 500);
    }

    async fn a_bad_patch_is_a_422_whatever_its_if_match(app) {
        let c = app.create_customer(json!({"given_name": "Ana"})).await;
        let url = format!("/api/v1/customers/{}", c["id"].as_str().unwrap());
        let res = app.admin(Method::PATCH, &url).header("if-match", "\"v9\"").json(&json!({"tags": 5})).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let res = app.admin(Method::PATCH, &url).header("if-match", "\"v9\"").json(&json!({"tags": ["vip"]})).send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        // `null` removes a field: one the resource does not have is refused, not ignored.
        for unknown in [json!({"colour": null}), json!({"address": {"planet": null}})] {
            let res = app.admin(Method::PATCH, &url).json(&unknown).send().await.unwrap();
            let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(problem["errors"][0]["code"], "unknown_field", "{problem}");
        }
                // A tag this server never issued is judged the same way: the body first.
        let res = app.admin(Method::PATCH, &url).header("if-match", "null").json(&json!({"tags": 5})).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let res = app.admin(Method::PATCH, &url).header("if-match", "null").json(&json!({"tags": ["vip"]})).send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        let res = app.admin(Method::DELETE, &url).header("if-match", "W/\"x\"").send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        let now: serde_json::Value = app.admin(Method::GET, &url).send().await.unwrap().json().await.unwrap();
        assert_eq!((now["version"].as_i64(), now["tags"].clone()), (Some(1), json!([])));
    }
}
