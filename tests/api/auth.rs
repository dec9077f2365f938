use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, TestApp};

/// Every operation of the document that needs a credential.
async fn protected_operations(app: &TestApp) -> Vec<(Method, String)> {
    let doc: Value = app
        .anon(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = op.get("security").is_some_and(|s| {
                s.as_array().is_some_and(|a| {
                    a.iter()
                        .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
                })
            });
            if public {
                continue;
            }
            let concrete = path.replace("{id}", "01900000-0000-7000-8000-000000000000");
            ops.push((method.to_uppercase().parse().unwrap(), concrete));
        }
    }
    assert!(
        ops.len() >= 9,
        "expected the document to list the protected routes, got {ops:?}"
    );
    ops
}

fn token(secret: &[u8], claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn create_user(app: &TestApp, email: &str, role: &str) {
    // Users are created by the CLI, which calls the same store functions as this.
    let hash = rapport_api::auth::hash_password("a long enough password").unwrap();
    let t = rapport_domain::now();
    let role = rapport_domain::auth::Role::parse(role).unwrap();
    let user = rapport_domain::auth::User {
        id: uuid::Uuid::now_v7(),
        email: email.into(),
        name: "Test".into(),
        role,
        created_at: t,
        updated_at: t,
        disabled_at: None,
        version: 1,
    };
    let mut conn = app.db.conn().unwrap();
    rapport_store::users::insert(&mut conn, &user, &hash).unwrap();
}

both_backends! {
    async fn every_protected_route_answers_401_problem_without_credentials(app) {
        for (method, path) in protected_operations(&app).await {
            let res = app.anon(method.clone(), &path).header("content-type", "application/json").body("{}").send().await.unwrap();
            assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer realm=\"rapport\"");
            assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
            let res = app.with("rk_not_a_real_key", method.clone(), &path).send().await.unwrap();
            assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
            let res = app.with("not.a.jwt", method, &path).send().await.unwrap();
            assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
        // Routes that do not exist under /api/v1 are not revealed either.
        let res = app.anon(Method::GET, "/api/v1/nothing-here").send().await.unwrap();
        assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    async fn a_read_only_key_reads_but_gets_403_on_every_write(app) {
        let id = app.create_customer(json!({"given_name": "Ana"})).await["id"].as_str().unwrap().to_owned();
        let key = app.key_with(&["customers:read"]).await;
        let res = app.with(&key, Method::GET, &format!("/api/v1/customers/{id}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let before = app.customers_snapshot();
        for (method, path) in [
            (Method::POST, "/api/v1/customers".to_owned()),
            (Method::PATCH, format!("/api/v1/customers/{id}")),
            (Method::DELETE, format!("/api/v1/customers/{id}")),
            (Method::POST, "/api/v1/api-keys".to_owned()),
            (Method::GET, "/api/v1/api-keys".to_owned()),
        ] {
            let res = app.with(&key, method, &path).json(&json!({"given_name": "Eve"})).send().await.unwrap();
            let body = assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
            assert!(body["detail"].as_str().unwrap().contains("scope"));
        }
        assert_eq!(app.customers_snapshot(), before, "a refused write changed nothing");
    }

    async fn a_revoked_key_stops_working_at_once(app) {
        let key = app.key_with(&["customers:read"]).await;
        assert_eq!(app.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap().status(), StatusCode::OK);
        let listed: Value = app.admin(Method::GET, "/api/v1/api-keys").send().await.unwrap().json().await.unwrap();
        let prefix: String = key.chars().take(11).collect();
        let entry = listed["data"].as_array().unwrap().iter().find(|k| k["prefix"] == prefix).unwrap();
        assert!(entry["last_used_at"].is_string(), "use is recorded: {entry}");
        let res = app.admin(Method::DELETE, &format!("/api/v1/api-keys/{}", entry["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let res = app.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap();
        assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    async fn a_key_revoked_by_another_process_stops_working_within_the_cache_time(app) {
        let key = app.key_with(&["customers:read"]).await;
        assert_eq!(app.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap().status(), StatusCode::OK);
        // Revoke it the way `rapport keys revoke` or another server would: in the database,
        // behind this process's back.
        let id = {
            let mut conn = app.db.conn().unwrap();
            let k = rapport_store::api_keys::find_by_hash(&mut conn, &rapport_api::auth::hash_secret(&key)).unwrap().unwrap();
            rapport_store::api_keys::revoke(&mut conn, k.id, None, rapport_domain::now()).unwrap();
            k.id
        };
        assert!(!id.is_nil());
        // Requests are not checked against the database one by one: right after the revocation
        // the cached verification still answers…
        let status = app.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "verified keys are cached, not looked up per request");
        // …for at most the cache time (5 s by default); then the key is refused.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
        loop {
            let status = app.with(&key, Method::GET, "/api/v1/customers").send().await.unwrap().status();
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK);
            assert!(std::time::Instant::now() < deadline, "a key revoked elsewhere still worked after 8 s");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    async fn expired_forged_and_unsigned_jwts_are_refused(app) {
        let secret = app.jwt_secret();
        let sub = uuid::Uuid::now_v7().to_string();
        let good = json!({"sub": sub, "iss": "rapport", "aud": "rapport-api", "exp": now() + 600, "nbf": now(), "iat": now(), "jti": "x", "role": "admin", "scope": "admin"});
        let res = app.with(&token(secret.as_bytes(), good.clone()), Method::GET, "/api/v1/customers").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "a well-formed token signed with the instance secret works");

        let mut expired = good.clone();
        expired["exp"] = json!(now() - 60);
        let mut early = good.clone();
        early["nbf"] = json!(now() + 600);
        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = json!("someone-else");
        let mut wrong_iss = good.clone();
        wrong_iss["iss"] = json!("evil");
        let forged = token(b"not the secret, not the secret, not it", good.clone());
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&good));
        let hs512 = encode(&Header::new(Algorithm::HS512), &good, &EncodingKey::from_secret(secret.as_bytes())).unwrap();
        for bad in [
            token(secret.as_bytes(), expired),
            token(secret.as_bytes(), early),
            token(secret.as_bytes(), wrong_aud),
            token(secret.as_bytes(), wrong_iss),
            forged,
            unsigned,
            hs512,
        ] {
            let res = app.with(&bad, Method::GET, "/api/v1/customers").send().await.unwrap();
            assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }

    async fn staff_sign_in_gives_role_scoped_tokens_and_refresh_rotates(app) {
        create_user(&app, "viewer@example.com", "viewer").await;
        assert_problem(app.sign_in("viewer@example.com", "wrong password!").await, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert_problem(app.sign_in("nobody@example.com", "a long enough password").await, StatusCode::UNAUTHORIZED, "unauthorized").await;

        let res = app.sign_in("Viewer@Example.com", "a long enough password").await;
        assert_eq!(res.status(), StatusCode::OK);
        let tokens: Value = res.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(app.with(access, Method::GET, "/api/v1/customers").send().await.unwrap().status(), StatusCode::OK);
        let res = app.with(access, Method::POST, "/api/v1/customers").json(&json!({"given_name": "X"})).send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;

        // Refresh rotates: the new refresh token works once; replaying the old one fails and
        // revokes the family, so the new one dies too.
        let old = tokens["refresh_token"].as_str().unwrap().to_owned();
        let refresh = |t: String| app.anon(Method::POST, "/api/v1/auth/token").json(&json!({"grant_type": "refresh_token", "refresh_token": t})).send();
        let res = refresh(old.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let rotated: Value = res.json().await.unwrap();
        let new = rotated["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(new, old);
        assert_problem(refresh(old).await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert_problem(refresh(new).await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    async fn signing_out_revokes_the_refresh_token(app) {
        create_user(&app, "agent@example.com", "agent").await;
        let tokens: Value = app.sign_in("agent@example.com", "a long enough password").await.json().await.unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let res = app.with(access, Method::POST, "/api/v1/auth/revoke").json(&json!({"refresh_token": refresh})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let res = app.anon(Method::POST, "/api/v1/auth/token").json(&json!({"grant_type": "refresh_token", "refresh_token": refresh})).send().await.unwrap();
        assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}
