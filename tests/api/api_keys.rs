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

    async fn keys_and_users_list_in_pages_and_refuse_other_lists_cursors(app) {
        for i in 0..5 {
            app.key_with(&["customers:read"]).await;
            let res = app.admin(Method::POST, "/api/v1/users")
                .json(&json!({"email": format!("u{i}@corp.example"), "name": "U", "role": "viewer", "password": "a long enough password"}))
                .send().await.unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
        }
        for (path, total) in [("/api/v1/api-keys", 6), ("/api/v1/users", 5)] {
            let mut seen = Vec::new();
            let mut url = format!("{path}?limit=2");
            loop {
                let page: Value = app.admin(Method::GET, &url).send().await.unwrap().json().await.unwrap();
                seen.extend(page["data"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_owned()));
                match page["next_cursor"].as_str() {
                    Some(c) => url = format!("{path}?limit=2&cursor={c}"),
                    None => break,
                }
            }
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            assert_eq!((seen.len(), unique.len()), (total, total), "{path}: every item once");
        }
        // A cursor belongs to its list.
        let keys: Value = app.admin(Method::GET, "/api/v1/api-keys?limit=1").send().await.unwrap().json().await.unwrap();
        let cursor = keys["next_cursor"].as_str().unwrap();
        for other in ["/api/v1/users", "/api/v1/customers", "/api/v1/tickets", "/api/v1/interactions"] {
            let res = app.admin(Method::GET, &format!("{other}?cursor={cursor}")).send().await.unwrap();
            assert_problem(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
        }
        let res = app.admin(Method::GET, "/api/v1/api-keys?limit=0").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

both_backends! {
    async fn keys_are_versioned_and_change_by_merge_patch(app) {
        let res = app.admin(Method::POST, "/api/v1/api-keys").json(&json!({"name": "Shop", "scopes": ["customers:read", "interactions:read"]})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["etag"], "\"v1\"");
        let created: Value = res.json().await.unwrap();
        let (id, secret) = (created["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned());
        let url = format!("/api/v1/api-keys/{id}");
        assert_eq!(app.with(&secret, Method::GET, "/api/v1/customers").send().await.unwrap().status(), StatusCode::OK);

        let res = app.admin(Method::GET, &url).header("if-none-match", "\"v1\"").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

        // Rename and narrow the scopes: the key no longer reads customers, at once.
        let res = app.admin(Method::PATCH, &url).header("content-type", "application/merge-patch+json").header("if-match", "\"v1\"")
            .body(json!({"name": " Shop (reads) ", "scopes": ["interactions:read"], "expires_at": "2999-01-01T00:00:00Z"}).to_string()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["etag"], "\"v2\"");
        let changed: Value = res.json().await.unwrap();
        assert_eq!((changed["name"].as_str(), changed["scopes"].clone(), changed["version"].as_i64()), (Some("Shop (reads)"), json!(["interactions:read"]), Some(2)));
        assert_eq!(changed["expires_at"], "2999-01-01T00:00:00.000000Z");
        assert_eq!(changed["prefix"], created["prefix"], "the secret stays");
        assert_problem(app.with(&secret, Method::GET, "/api/v1/customers").send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(app.with(&secret, Method::GET, "/api/v1/interactions").send().await.unwrap().status(), StatusCode::OK);

        // A stale If-Match, a bad result, an unknown field, an expiry in the past: refused, nothing written.
        let res = app.admin(Method::PATCH, &url).header("if-match", "\"v1\"").json(&json!({"name": "x"})).send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        for bad in [json!({"scopes": []}), json!({"name": "  "}), json!({"name": null}), json!({"colour": "red"}), json!({"expires_at": "2001-01-01T00:00:00Z"}), json!({"scopes": ["customers:fly"]})] {
            let res = app.admin(Method::PATCH, &url).json(&bad).send().await.unwrap();
            assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let mut now: Value = app.admin(Method::GET, &url).send().await.unwrap().json().await.unwrap();
        let mut changed = changed;
        // Use moves `last_used_at` without a new version; nothing else moved.
        now["last_used_at"] = Value::Null;
        changed["last_used_at"] = Value::Null;
        assert_eq!(now, changed);

        // `null` removes the expiry.
        let res = app.admin(Method::PATCH, &url).json(&json!({"expires_at": null})).send().await.unwrap();
        let v: Value = res.json().await.unwrap();
        assert_eq!((v["expires_at"].clone(), v["version"].as_i64()), (Value::Null, Some(3)));

        // Revoking is guarded by If-Match too, bumps the version once, and a revoked key takes no changes.
        let res = app.admin(Method::DELETE, &url).header("if-match", "\"v2\"").send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        assert_eq!(app.admin(Method::DELETE, &url).header("if-match", "\"v3\"").send().await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(app.admin(Method::DELETE, &url).send().await.unwrap().status(), StatusCode::NO_CONTENT);
        let v: Value = app.admin(Method::GET, &url).send().await.unwrap().json().await.unwrap();
        assert_eq!(v["version"], 4);
        let res = app.admin(Method::PATCH, &url).json(&json!({"name": "back"})).send().await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "api_key_revoked").await;
        assert_problem(app.with(&secret, Method::GET, "/api/v1/interactions").send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized").await;
        let res = app.admin(Method::PATCH, "/api/v1/api-keys/01900000-0000-7000-8000-000000000000").json(&json!({"name": "x"})).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}
