use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends};

both_backends! {
    async fn a_key_secret_is_shown_once_and_never_listed(app) {
        let res = app.admin(Method::POST, "/api/v1/api-keys").json(&json!({"name": "Shop", "scopes": ["customers:read", "customers:write"]})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let created: Value = res.json().await.unwrap();
        let secret = created["secret"].as_str().unwrap();
        assert!(secret.starts_with("rk_"));
        assert_eq!(created["scopes"], json!(["customers:read", "customers:write"]));

        let listed = app.admin(Method::GET, "/api/v1/api-keys").send().await.unwrap().text().await.unwrap();
        assert!(!listed.contains(secret), "the secret is not in listings");
        assert!(!listed.contains("key_hash"));
        let one = app.admin(Method::GET, &format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap())).send().await.unwrap().text().await.unwrap();
        assert!(!one.contains(secret));

        // Stored hashed: the raw secret is nowhere in the database.
        let stored = rapport_store::api_keys::find_by_hash(&mut app.db.conn().unwrap(), secret).unwrap();
        assert!(stored.is_none(), "the secret itself is not a stored hash");
    }

    async fn bad_key_requests_get_422_and_create_nothing(app) {
        let before = app.admin(Method::GET, "/api/v1/api-keys").send().await.unwrap().json::<Value>().await.unwrap();
        for body in [
            json!({"name": "", "scopes": ["customers:read"]}),
            json!({"name": "x", "scopes": []}),
            json!({"name": "x", "scopes": ["customers:fly"]}),
            json!({"name": "x", "scopes": ["admin"], "expires_at": "2001-01-01T00:00:00Z"}),
            json!({"name": "x", "scopes": ["admin"], "colour": "red"}),
        ] {
            let res = app.admin(Method::POST, "/api/v1/api-keys").json(&body).send().await.unwrap();
            assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let after = app.admin(Method::GET, "/api/v1/api-keys").send().await.unwrap().json::<Value>().await.unwrap();
        assert_eq!(before, after);
        let res = app.admin(Method::DELETE, "/api/v1/api-keys/01900000-0000-7000-8000-000000000000").send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}
