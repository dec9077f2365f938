use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, TestApp};

fn full_customer() -> Value {
    json!({
        "given_name": "Ana",
        "family_name": "García",
        "email": "Ana.Garcia@Example.com",
        "phone": "+34 912 345 678",
        "other_emails": ["ana@work.example"],
        "other_phones": ["+39 06 1234 5678"],
        "address": {"line1": "Calle Mayor 1", "city": "Madrid", "region": "Madrid", "postal_code": "28013", "country": "es"},
        "birth_date": "1985-05-12",
        "social_handles": {"instagram": "@ana"},
        "demographics": {"occupation": "Engineer", "income_band": "upper_middle", "education": "master", "household_size": 3},
        "preferences": {"language": "es", "currency": "eur", "channel": "email", "product_categories": ["Books", "garden"]},
        "tags": ["VIP", "newsletter"],
        "custom_attributes": {"shoe_size": 38, "loyalty_card": "A-17"},
        "acquisition_channel": "referral",
        "lifecycle_stage": "customer"
    })
}

async fn get(app: &TestApp, id: &str) -> reqwest::Response {
    app.admin(Method::GET, &format!("/api/v1/customers/{id}"))
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn every_versioned_resource_answers_its_own_etag_with_304(app) {
        let c = app.create_customer(json!({"given_name": "Ana"})).await;
        let i = app.record_interaction(json!({"customer_id": c["id"], "channel": "web", "kind": "note"})).await;
        let put = app.admin(Method::PUT, "/api/v1/loyalty/program")
            .json(&json!({"earn_rules": [{"currency": "EUR", "points_per_unit": 1}]})).send().await.unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let reward: Value = app.admin(Method::POST, "/api/v1/loyalty/rewards")
            .json(&json!({"name": "10 % off", "kind": "percent_discount", "cost_points": 1000, "percent_off": 10}))
            .send().await.unwrap().json().await.unwrap();
        let policy: Value = app.admin(Method::POST, "/api/v1/sla-policies")
            .json(&json!({"name": "Urgent", "priority": "urgent", "first_response_minutes": 60, "resolution_minutes": 480}))
            .send().await.unwrap().json().await.unwrap();
        for path in [
            format!("/api/v1/customers/{}", c["id"].as_str().unwrap()),
            format!("/api/v1/interactions/{}", i["id"].as_str().unwrap()),
            "/api/v1/loyalty/program".to_owned(),
            format!("/api/v1/loyalty/rewards/{}", reward["id"].as_str().unwrap()),
            format!("/api/v1/sla-policies/{}", policy["id"].as_str().unwrap()),
        ] {
            let res = app.admin(Method::GET, &path).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let etag = res.headers()["etag"].to_str().unwrap().to_owned();
            let res = app.admin(Method::GET, &path).header("if-none-match", &etag).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(res.headers()["etag"].to_str().unwrap(), etag, "{path}");
            let res = app.admin(Method::GET, &path).header("if-none-match", "\"v999\"").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }
        // Retiring, revoking, archiving and deleting all answer 204.
        let key: Value = app.admin(Method::POST, "/api/v1/api-keys").json(&json!({"name": "x", "scopes": ["customers:read"]})).send().await.unwrap().json().await.unwrap();
        for path in [
            format!("/api/v1/loyalty/rewards/{}", reward["id"].as_str().unwrap()),
            format!("/api/v1/sla-policies/{}", policy["id"].as_str().unwrap()),
            format!("/api/v1/api-keys/{}", key["id"].as_str().unwrap()),
            format!("/api/v1/interactions/{}", i["id"].as_str().unwrap()),
            format!("/api/v1/customers/{}", c["id"].as_str().unwrap()),
        ] {
            let res = app.admin(Method::DELETE, &path).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
            assert!(res.bytes().await.unwrap().is_empty(), "{path}");
        }
    }

    async fn create_then_get_round_trips_every_field_normalised(app) {
        let res = app.admin(Method::POST, "/api/v1/customers").json(&full_customer()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let etag = res.headers().get("etag").unwrap().to_str().unwrap().to_owned();
        let location = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
        let created: Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap();
        assert_eq!(location, format!("/api/v1/customers/{id}"));
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
        assert_eq!(created["email"], "ana.garcia@example.com");
        assert_eq!(created["phone"], "+34912345678");
        assert_eq!(created["address"]["country"], "ES");
        assert_eq!(created["preferences"]["currency"], "EUR");
        assert_eq!(created["tags"], json!(["vip", "newsletter"]));
        assert_eq!(created["custom_attributes"]["shoe_size"], 38);

        let res = get(&app, id).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get("etag").unwrap(), etag.as_str());
        let fetched: Value = res.json().await.unwrap();
        assert_eq!(fetched, created, "what is read back is what was returned on create");

        let res = app.admin(Method::GET, &format!("/api/v1/customers/{id}")).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    }

    async fn a_list_item_is_the_same_json_as_a_single_read(app) {
        // Lists serialise stored rows without building owned customers first; a single read and
        // the create response go through the same view, and all three must agree field by field.
        let res = app.admin(Method::POST, "/api/v1/customers").json(&full_customer()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let created: Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let res = get(&app, &id).await;
        let single_text = res.text().await.unwrap();
        let single: Value = serde_json::from_str(&single_text).unwrap();
        let res = app.admin(Method::GET, "/api/v1/customers?limit=200").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page_text = res.text().await.unwrap();
        let page: Value = serde_json::from_str(&page_text).unwrap();
        let item = page["data"].as_array().unwrap().iter().find(|c| c["id"] == id.as_str()).unwrap();
        assert_eq!(item, &single);
        assert_eq!(single, created);
        // Byte for byte too: the list item's text is the single read's text.
        assert!(page_text.contains(&single_text), "{page_text}\n{single_text}");
        for key in ["given_name", "other_emails", "address", "birth_date", "social_handles", "demographics",
                    "preferences", "tags", "custom_attributes", "acquisition_channel", "lifecycle_stage",
                    "created_at", "updated_at", "archived_at", "version"] {
            assert!(single.get(key).is_some(), "{key} missing");
        }
    }

    async fn patch_applies_a_merge_patch_and_guards_with_if_match(app) {
        let created = app.create_customer(full_customer()).await;
        let id = created["id"].as_str().unwrap();
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}"))
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "\"v1\"")
            .body(json!({"family_name": null, "address": {"city": "Sevilla"}, "tags": ["gold"], "custom_attributes": {"shoe_size": null}}).to_string())
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get("etag").unwrap(), "\"v2\"");
        let patched: Value = res.json().await.unwrap();
        assert_eq!(patched["family_name"], Value::Null);
        assert_eq!(patched["address"]["city"], "Sevilla");
        assert_eq!(patched["address"]["line1"], "Calle Mayor 1", "untouched members stay");
        assert_eq!(patched["tags"], json!(["gold"]));
        assert_eq!(patched["custom_attributes"], json!({"loyalty_card": "A-17"}));
        assert_eq!(patched["created_at"], created["created_at"]);
        assert_ne!(patched["updated_at"], created["updated_at"]);

        // A stale ETag: 412, nothing written.
        let before = app.customers_snapshot();
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).header("if-match", "\"v1\"").json(&json!({"given_name": "Eve"})).send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        // A patch that makes the customer invalid: 422, nothing written.
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).json(&json!({"email": "not-an-email", "birth_date": "2999-01-01"})).send().await.unwrap();
        let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<_> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["birth_date", "email"]);
        // Removing every identity is refused too.
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).json(&json!({"given_name": null, "email": null, "phone": null})).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(app.customers_snapshot(), before);

        let res = app.admin(Method::PATCH, "/api/v1/customers/01900000-0000-7000-8000-000000000000").json(&json!({"given_name": "X"})).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn delete_archives_hides_from_lists_and_freezes(app) {
        let id = app.create_customer(json!({"given_name": "Gone"})).await["id"].as_str().unwrap().to_owned();
        app.create_customer(json!({"given_name": "Stays"})).await;
        let res = app.admin(Method::DELETE, &format!("/api/v1/customers/{id}")).header("if-match", "\"v7\"").send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        let res = app.admin(Method::DELETE, &format!("/api/v1/customers/{id}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);

        let list: Value = app.admin(Method::GET, "/api/v1/customers").send().await.unwrap().json().await.unwrap();
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        let list: Value = app.admin(Method::GET, "/api/v1/customers?include_archived=true").send().await.unwrap().json().await.unwrap();
        assert_eq!(list["data"].as_array().unwrap().len(), 2);

        let archived: Value = get(&app, &id).await.json().await.unwrap();
        assert!(archived["archived_at"].is_string());
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).json(&json!({"given_name": "Back"})).send().await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "customer_archived").await;
        let res = app.admin(Method::DELETE, &format!("/api/v1/customers/{id}")).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
        assert_problem(get(&app, "01900000-0000-7000-8000-000000000000").await, StatusCode::NOT_FOUND, "not_found").await;

        // Restored, it takes changes again; a live customer has nothing to restore.
        let stale = format!("\"v{}\"", archived["version"].as_i64().unwrap() - 1);
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{id}/restore")).header("if-match", stale).send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{id}/restore")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let restored: Value = res.json().await.unwrap();
        assert!(restored["archived_at"].is_null(), "{restored}");
        assert_eq!(restored["version"], archived["version"].as_i64().unwrap() + 1);
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{id}")).json(&json!({"given_name": "Back"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{id}/restore")).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
        let reader = app.key_with(&["customers:read"]).await;
        let res = app.with(&reader, Method::POST, &format!("/api/v1/customers/{id}/restore")).send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    }

    async fn list_filters_combine(app) {
        app.create_customer(json!({"given_name": "Ana", "family_name": "Ruiz", "email": "ana@shop.es", "tags": ["vip"], "address": {"city": "Madrid", "country": "ES"}, "lifecycle_stage": "customer"})).await;
        app.create_customer(json!({"given_name": "Luca", "family_name": "Rossi", "email": "luca@negozio.it", "tags": ["vip", "b2b"], "address": {"city": "Roma", "country": "IT"}, "lifecycle_stage": "lead"})).await;
        app.create_customer(json!({"given_name": "Anabel", "email": "anabel_100%@mail.es", "address": {"city": "Madrid", "country": "ES"}, "lifecycle_stage": "prospect"})).await;
        let names = |q: &'static str| {
            let app = &app;
            async move {
                let res = app.admin(Method::GET, &format!("/api/v1/customers?sort=created_at&{q}")).send().await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{q}");
                let body: Value = res.json().await.unwrap();
                body["data"].as_array().unwrap().iter().map(|c| c["given_name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        assert_eq!(names("q=ANA").await, vec!["Ana", "Anabel"]);
        assert_eq!(names("q=rossi").await, vec!["Luca"]);
        assert_eq!(names("q=100%25").await, vec!["Anabel"], "LIKE wildcards in q are literal");
        assert_eq!(names("q=_").await, vec!["Anabel"]);
        assert_eq!(names("email=LUCA@negozio.it").await, vec!["Luca"]);
        assert_eq!(names("tag=VIP").await, vec!["Ana", "Luca"]);
        assert_eq!(names("tag=b2b").await, vec!["Luca"]);
        assert_eq!(names("city=Madrid").await, vec!["Ana", "Anabel"]);
        assert_eq!(names("country=it").await, vec!["Luca"]);
        assert_eq!(names("lifecycle_stage=prospect").await, vec!["Anabel"]);
        assert_eq!(names("city=Madrid&tag=vip").await, vec!["Ana"]);
        // A repeated filter means any of its values; different filters still combine.
        assert_eq!(names("tag=b2b&tag=nope").await, vec!["Luca"]);
        assert_eq!(names("country=IT&country=es").await, vec!["Ana", "Luca", "Anabel"]);
        assert_eq!(names("country=IT&country=es&tag=vip&tag=b2b").await, vec!["Ana", "Luca"]);
        assert_eq!(names("tag=").await.len(), 3, "an empty value filters nothing");
        assert_eq!(names("created_after=2000-01-01T00:00:00Z").await.len(), 3);
        assert_eq!(names("created_before=2000-01-01T00:00:00Z").await.len(), 0);
        let newest_first: Value = app.admin(Method::GET, "/api/v1/customers").send().await.unwrap().json().await.unwrap();
        let order: Vec<_> = newest_first["data"].as_array().unwrap().iter().map(|c| c["given_name"].as_str().unwrap()).collect();
        assert_eq!(order, vec!["Anabel", "Luca", "Ana"], "default sort is -created_at");
    }
}
