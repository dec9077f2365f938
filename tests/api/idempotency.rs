use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends};

both_backends! {
    async fn a_retried_post_with_the_same_key_replays_the_first_response(app) {
        let send = |key: &'static str, body: Value| {
            app.admin(Method::POST, "/api/v1/customers").header("idempotency-key", key).json(&body).send()
        };
        let first = send("k-1", json!({"given_name": "Ana"})).await.unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let location = first.headers().get("location").unwrap().clone();
        let first: Value = first.json().await.unwrap();

        let again = send("k-1", json!({"given_name": "Ana"})).await.unwrap();
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
        assert_eq!(again.headers().get("location").unwrap(), &location);
        assert_eq!(again.json::<Value>().await.unwrap(), first, "the same customer, not a new one");
        assert_eq!(app.customers_snapshot().len(), 1);

        // Same key, different request: refused, nothing written.
        let res = send("k-1", json!({"given_name": "Eve"})).await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
        // A new key is a new request; no key, too.
        assert_eq!(send("k-2", json!({"given_name": "Ana"})).await.unwrap().status(), StatusCode::CREATED);
        let res = app.admin(Method::POST, "/api/v1/customers").json(&json!({"given_name": "Ana"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(app.customers_snapshot().len(), 3);

        // Keys belong to the caller: another key's "k-1" is its own.
        let other = app.key_with(&["customers:write"]).await;
        let res = app.with(&other, Method::POST, "/api/v1/customers").header("idempotency-key", "k-1").json(&json!({"given_name": "Eve"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(app.customers_snapshot().len(), 4);
    }

    async fn a_failed_first_attempt_is_replayed_as_it_was(app) {
        // A 422 is the answer to that request: the retry gets the same 422, and writes nothing.
        let send = || app.admin(Method::POST, "/api/v1/customers").header("idempotency-key", "bad-1").json(&json!({"email": "nope"})).send();
        let first = send().await.unwrap();
        let first = assert_problem(first, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let again = send().await.unwrap();
        assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
        assert_eq!(assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await, first);
        assert!(app.customers_snapshot().is_empty());
        let res = app.admin(Method::POST, "/api/v1/customers").header("idempotency-key", "").json(&json!({"given_name": "A"})).send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    async fn concurrent_retries_create_exactly_one_customer(app) {
        let statuses: Vec<StatusCode> = futures_util::stream::iter(0..20)
            .map(|_| {
                let app = &app;
                async move {
                    app.admin(Method::POST, "/api/v1/customers").header("idempotency-key", "same").json(&json!({"given_name": "Once"})).send().await.unwrap().status()
                }
            })
            .buffer_unordered(20)
            .collect()
            .await;
        assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
        assert!(statuses.contains(&StatusCode::CREATED));
        assert_eq!(app.customers_snapshot().len(), 1, "one customer whatever the interleaving");
    }
}
