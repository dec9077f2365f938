//! Two servers on one database, as behind a load balancer: nothing a client relies on may live
//! in one server's memory only.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends};

both_backends! {
    async fn two_servers_on_one_database_agree(app) {
        let peer = app.peer().await;
        // Written through one, read through the other.
        let created = app.create_customer(json!({"given_name": "Ana", "tags": ["vip"]})).await;
        let id = created["id"].as_str().unwrap();
        let res = peer.admin(Method::GET, &format!("/api/v1/customers/{id}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap(), created);

        // An Idempotency-Key used on one server is honoured by the other.
        let send = |server: &crate::helpers::TestApp| {
            server.admin(Method::POST, "/api/v1/customers").header("idempotency-key", "shared").json(&json!({"given_name": "Once"})).send()
        };
        let first: Value = send(&app).await.unwrap().json().await.unwrap();
        let replay = send(&peer).await.unwrap();
        assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
        assert_eq!(replay.json::<Value>().await.unwrap()["id"], first["id"]);

        // Concurrent writes through both land, and the stale ETag is caught across servers.
        let a = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).header("if-match", "\"v1\"").json(&json!({"family_name": "Ruiz"})).send();
        let b = peer.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).header("if-match", "\"v1\"").json(&json!({"family_name": "Rossi"})).send();
        let (a, b) = futures_util::join!(a, b);
        let mut statuses = [a.unwrap().status(), b.unwrap().status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED], "exactly one of two racing If-Match writes wins");

        // Sessions work on both: the signing secret comes from the shared database.
        let key = app.key_with(&["customers:read"]).await;
        assert_eq!(peer.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap().status(), StatusCode::OK);
        // Revoked on one server: refused by the other within its key-cache time.
        let listed: Value = app.admin(Method::GET, "/api/v1/api-keys").send().await.unwrap().json().await.unwrap();
        let prefix: String = key.chars().take(11).collect();
        let key_id = listed["data"].as_array().unwrap().iter().find(|k| k["prefix"] == prefix).unwrap()["id"].as_str().unwrap().to_owned();
        assert_eq!(app.admin(Method::DELETE, &format!("/api/v1/api-keys/{key_id}")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_problem(app.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized").await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
        while peer.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap().status() != StatusCode::UNAUTHORIZED {
            assert!(std::time::Instant::now() < deadline, "the other server still accepted a revoked key after 8 s");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}
