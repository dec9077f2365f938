use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends};

/// The `message`s of a 422's `errors`, as `field: message` lines.
fn messages(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["field"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect()
}

both_backends! {
    async fn the_cli_refuses_what_the_api_refuses_with_the_same_messages(app) {
        // Users: a bad e-mail, a blank name, a short password.
        let res = app.admin(Method::POST, "/api/v1/users")
            .json(&json!({"email": "not-an-email", "name": "  ", "role": "agent", "password": "short"}))
            .send().await.unwrap();
        let api = messages(&assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await);
        assert_eq!(api.len(), 3, "{api:?}");
        let (ok, _, stderr) = app.cli(&["users", "create", "--email", "not-an-email", "--name", "  ", "--role", "agent"], &[("RAPPORT_USER_PASSWORD", "short")]);
        assert!(!ok);
        for line in &api {
            assert!(stderr.contains(line.as_str()), "the CLI should say {line:?}; it said {stderr}");
        }
        let (ok, _, stderr) = app.cli(&["users", "create", "--email", "a@b.example", "--name", "A", "--role", "boss"], &[("RAPPORT_USER_PASSWORD", "a long enough password")]);
        assert!(!ok);
        assert!(stderr.contains("unknown role `boss`; valid: admin, manager"), "{stderr}");
        // What both accept, both create; the second is a clear conflict, not a rule name.
        let (ok, stdout, stderr) = app.cli(&["users", "create", "--email", "Cli@Corp.example", "--name", "Cli", "--role", "agent"], &[("RAPPORT_USER_PASSWORD", "a long enough password")]);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("<cli@corp.example>"), "{stdout}");
        let (ok, _, stderr) = app.cli(&["users", "create", "--email", "cli@corp.example", "--name", "Cli", "--role", "agent"], &[("RAPPORT_USER_PASSWORD", "a long enough password")]);
        assert!(!ok);
        assert!(stderr.contains("a user with this e-mail already exists"), "{stderr}");

        // API keys: a blank name, no scopes.
        let res = app.admin(Method::POST, "/api/v1/api-keys").json(&json!({"name": " ", "scopes": []})).send().await.unwrap();
        let api = messages(&assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await);
        assert_eq!(api.len(), 2, "{api:?}");
        let (ok, _, stderr) = app.cli(&["keys", "create", "--name", " ", "--scopes", ""], &[]);
        assert!(!ok);
        for line in &api {
            assert!(stderr.contains(line.as_str()), "the CLI should say {line:?}; it said {stderr}");
        }
        let (ok, _, stderr) = app.cli(&["keys", "create", "--name", "shop", "--scopes", "customers:read customers:wipe"], &[]);
        assert!(!ok);
        assert!(stderr.contains("unknown scope `customers:wipe`; valid: admin, customers:read"), "{stderr}");
    }

    async fn admins_manage_staff_accounts_end_to_end(app) {
        let res = app.admin(Method::POST, "/api/v1/users")
            .json(&json!({"email": "Marta@Corp.example", "name": "Marta", "role": "agent", "password": "correct horse battery"}))
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let marta: Value = res.json().await.unwrap();
        assert_eq!(marta["email"], "marta@corp.example");
        assert!(marta.get("password").is_none() && marta.get("password_hash").is_none());
        let id = marta["id"].as_str().unwrap().to_owned();

        // Bad requests write nothing.
        for body in [
            json!({"email": "marta@corp.example", "name": "Again", "role": "agent", "password": "another long one"}),
            json!({"email": "not-an-email", "name": "X", "role": "agent", "password": "long enough pass"}),
            json!({"email": "x@corp.example", "name": "X", "role": "agent", "password": "short"}),
            json!({"email": "x@corp.example", "name": " ", "role": "agent", "password": "long enough pass"}),
            json!({"email": "x@corp.example", "name": "X", "role": "overlord", "password": "long enough pass"}),
        ] {
            let res = app.admin(Method::POST, "/api/v1/users").json(&body).send().await.unwrap();
            let expected = if body["name"] == "Again" { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
            assert_eq!(res.status(), expected, "{body}");
        }
        let all: Value = app.admin(Method::GET, "/api/v1/users").send().await.unwrap().json().await.unwrap();
        assert_eq!(all["data"].as_array().unwrap().len(), 1);

        // She signs in and sees herself; an agent cannot manage users.
        let tokens: Value = app.sign_in("marta@corp.example", "correct horse battery").await.json().await.unwrap();
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let me: Value = app.with(&access, Method::GET, "/api/v1/auth/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["subject"], format!("user:{id}"));
        assert_eq!(me["user"]["name"], "Marta");
        assert!(me["scopes"].as_array().unwrap().contains(&json!("customers:write")));
        assert_problem(app.with(&access, Method::GET, "/api/v1/users").send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;

        // Promote: the next token carries the new role's scopes.
        let res = app.admin(Method::PATCH, &format!("/api/v1/users/{id}")).json(&json!({"role": "admin", "name": "Marta R."})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let tokens2: Value = app.sign_in("marta@corp.example", "correct horse battery").await.json().await.unwrap();
        assert_eq!(app.with(tokens2["access_token"].as_str().unwrap(), Method::GET, "/api/v1/users").send().await.unwrap().status(), StatusCode::OK);

        // Disable: no more sign-in, and her refresh tokens are dead.
        let res = app.admin(Method::PATCH, &format!("/api/v1/users/{id}")).json(&json!({"disabled": true})).send().await.unwrap();
        let disabled: Value = res.json().await.unwrap();
        assert!(disabled["disabled_at"].is_string());
        assert_problem(app.sign_in("marta@corp.example", "correct horse battery").await, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let res = app.anon(Method::POST, "/api/v1/auth/token").json(&json!({"grant_type": "refresh_token", "refresh_token": tokens2["refresh_token"]})).send().await.unwrap();
        assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let res = app.admin(Method::PATCH, &format!("/api/v1/users/{id}")).json(&json!({"name": null, "colour": "red"})).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_problem(app.admin(Method::GET, "/api/v1/users/01900000-0000-7000-8000-000000000000").send().await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;

        // Versioned like every resource: ETag, 304, If-Match.
        let url = format!("/api/v1/users/{id}");
        let res = app.admin(Method::GET, &url).send().await.unwrap();
        assert_eq!(res.headers()["etag"], "\"v3\"");
        let v3: Value = res.json().await.unwrap();
        assert_eq!(v3["version"], 3);
        assert_eq!(app.admin(Method::GET, &url).header("if-none-match", "\"v3\"").send().await.unwrap().status(), StatusCode::NOT_MODIFIED);
        let res = app.admin(Method::PATCH, &url).header("if-match", "\"v2\"").json(&json!({"disabled": false})).send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        for bad in [json!({"name": "   "}), json!({"role": "boss"}), json!({"email": "x@y.example"}), json!({"disabled": "yes"}), json!({"role": null})] {
            let res = app.admin(Method::PATCH, &url).json(&bad).send().await.unwrap();
            assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let unchanged: Value = app.admin(Method::GET, &url).send().await.unwrap().json().await.unwrap();
        assert_eq!(unchanged, v3, "refused patches write nothing");
        let res = app.admin(Method::PATCH, &url).header("content-type", "application/merge-patch+json").header("if-match", "\"v3\"")
            .body(r#"{"disabled": false, "name": "  Marta Rossi "}"#).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["etag"], "\"v4\"");
        let enabled: Value = res.json().await.unwrap();
        assert_eq!((enabled["name"].as_str(), enabled["disabled_at"].clone(), enabled["role"].as_str()), (Some("Marta Rossi"), Value::Null, Some("admin")));
        assert_eq!(app.sign_in("marta@corp.example", "correct horse battery").await.status(), StatusCode::OK);
    }

    async fn who_am_i_names_the_api_key(app) {
        let me: Value = app.admin(Method::GET, "/api/v1/auth/me").send().await.unwrap().json().await.unwrap();
        assert!(me["subject"].as_str().unwrap().starts_with("api_key:"));
        assert_eq!(me["scopes"], json!(["admin"]));
        assert_eq!(me["api_key"]["name"], "bootstrap admin");
        assert!(me["user"].is_null());
    }
}
