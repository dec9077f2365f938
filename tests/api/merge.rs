use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, TestApp};

async fn get_json(app: &TestApp, path: &str) -> Value {
    let res = app.admin(Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

async fn record(app: &TestApp, body: Value) -> Value {
    app.record_interaction(body).await
}

/// Every timeline event id of a customer.
async fn timeline_ids(app: &TestApp, id: &str) -> BTreeSet<String> {
    let page = get_json(app, &format!("/api/v1/customers/{id}/timeline?limit=200")).await;
    assert!(page["next_cursor"].is_null());
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

both_backends! {
    async fn duplicates_are_found_by_email_phone_and_similar_names_in_a_city(app) {
        let id = |v: Value| v["id"].as_str().unwrap().to_owned();
        let a = id(app.create_customer(json!({"given_name": "Ana", "email": "ana@example.com"})).await);
        let b = id(app.create_customer(json!({"given_name": "Anita", "email": "ANA@example.com "})).await);
        let c = id(app.create_customer(json!({"family_name": "Ruiz", "phone": "+34 600 000 001"})).await);
        let d = id(app.create_customer(json!({"family_name": "Ruiz", "phone": "+34600000001"})).await);
        let e = id(app.create_customer(json!({"given_name": "José", "family_name": "Núñez", "address": {"city": "Madrid"}})).await);
        let f = id(app.create_customer(json!({"given_name": "Jose", "family_name": "Nunez", "address": {"city": "madrid"}})).await);
        app.create_customer(json!({"given_name": "Jose", "family_name": "Nunez", "address": {"city": "Bilbao"}})).await;
        app.create_customer(json!({"given_name": "Maria", "family_name": "Lopez", "address": {"city": "Madrid"}})).await;

        let page = get_json(&app, "/api/v1/customers/duplicates").await;
        let groups: Vec<(String, Vec<String>)> = page["data"].as_array().unwrap().iter().map(|g| (
            g["reason"].as_str().unwrap().to_owned(),
            g["customer_ids"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
        )).collect();
        assert_eq!(groups, vec![
            ("same_email".to_owned(), vec![a, b]),
            ("same_phone".to_owned(), vec![c, d]),
            ("similar_name_same_city".to_owned(), vec![e, f]),
        ]);
        // Pages follow one another.
        let first = get_json(&app, "/api/v1/customers/duplicates?limit=2").await;
        assert_eq!(first["data"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = get_json(&app, &format!("/api/v1/customers/duplicates?limit=2&cursor={cursor}")).await;
        assert_eq!(second["data"][0]["reason"], "similar_name_same_city");
        assert!(second["next_cursor"].is_null());
    }

    async fn a_merge_moves_everything_and_leaves_nothing_pointing_at_the_duplicate(app) {
        let survivor = app.create_customer(json!({"given_name": "Ana", "email": "ana@example.com", "tags": ["vip"]})).await;
        let dup = app.create_customer(json!({"given_name": "Ana", "family_name": "García", "email": "ana.garcia@work.example",
            "phone": "+34600000002", "tags": ["newsletter"], "address": {"city": "Madrid", "country": "ES"}})).await;
        let (s, d) = (survivor["id"].as_str().unwrap().to_owned(), dup["id"].as_str().unwrap().to_owned());
        for (who, day, amount, currency) in [(&s, 1, 1000, "EUR"), (&s, 9, 2500, "EUR"), (&d, 5, 700, "EUR"), (&d, 20, 1200, "USD")] {
            record(&app, json!({"customer_id": who, "channel": "web", "kind": "purchase", "amount_minor": amount,
                "currency": currency, "occurred_at": format!("2025-03-{day:02}T10:00:00Z")})).await;
        }
        record(&app, json!({"customer_id": d, "channel": "phone", "kind": "call", "direction": "inbound", "subject": "Agreed a refund"})).await;

        let mut timeline_before = timeline_ids(&app, &s).await;
        timeline_before.extend(timeline_ids(&app, &d).await);
        let (sum_s, sum_d) = (
            get_json(&app, &format!("/api/v1/customers/{s}/purchase-summary")).await,
            get_json(&app, &format!("/api/v1/customers/{d}/purchase-summary")).await,
        );
        assert_eq!(timeline_before.len(), 5);

        let res = app.admin(Method::POST, &format!("/api/v1/customers/{s}/merge")).json(&json!({"duplicate_id": d})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let outcome: Value = res.json().await.unwrap();
        let merged = &outcome["customer"];
        assert_eq!(merged["id"], s.as_str());
        assert_eq!(merged["email"], "ana@example.com", "the survivor keeps its own");
        assert_eq!(merged["family_name"], "García", "blanks are filled from the duplicate");
        assert_eq!(merged["phone"], "+34600000002");
        assert_eq!(merged["other_emails"], json!(["ana.garcia@work.example"]));
        assert_eq!(merged["tags"], json!(["vip", "newsletter"]));
        assert_eq!(merged["address"]["city"], "Madrid");
        assert_eq!(outcome["merge"]["moved_interactions"], 3);
        assert_eq!(outcome["merge"]["duplicate"]["id"], d.as_str());

        // The survivor's timeline and purchases are those of the two before.
        assert_eq!(timeline_ids(&app, &s).await, timeline_before);
        let after = get_json(&app, &format!("/api/v1/customers/{s}/purchase-summary")).await;
        assert_eq!(after["purchase_count"], sum_s["purchase_count"].as_i64().unwrap() + sum_d["purchase_count"].as_i64().unwrap());
        assert_eq!(after["first_purchase_at"], "2025-03-01T10:00:00.000000Z");
        assert_eq!(after["last_purchase_at"], "2025-03-20T10:00:00.000000Z");
        assert_eq!(after["totals"], json!([
            {"currency": "EUR", "purchase_count": 3, "total_minor": 4200, "first_purchase_at": "2025-03-01T10:00:00.000000Z", "last_purchase_at": "2025-03-09T10:00:00.000000Z"},
            {"currency": "USD", "purchase_count": 1, "total_minor": 1200, "first_purchase_at": "2025-03-20T10:00:00.000000Z", "last_purchase_at": "2025-03-20T10:00:00.000000Z"},
        ]));

        // Nothing points at the duplicate; its id and e-mail find the survivor, in a path, a
        // body and a filter alike.
        let by_old_id = get_json(&app, &format!("/api/v1/interactions?customer_id={d}&limit=200")).await;
        let by_new_id = get_json(&app, &format!("/api/v1/interactions?customer_id={s}&limit=200")).await;
        assert_eq!(by_old_id["data"].as_array().unwrap().len(), 5);
        assert_eq!(by_old_id["data"], by_new_id["data"]);
        assert_eq!(get_json(&app, &format!("/api/v1/customers/{d}/purchase-summary")).await, after);
        assert_eq!(get_json(&app, &format!("/api/v1/customers/{d}/merges")).await.as_array().unwrap().len(), 1);
        assert_eq!(get_json(&app, &format!("/api/v1/customers/{d}")).await["id"], s.as_str());
        assert_eq!(get_json(&app, &format!("/api/v1/customers/{d}/timeline")).await["data"].as_array().unwrap().len(), 5);
        let by_email = get_json(&app, "/api/v1/customers?email=ana.garcia@work.example").await;
        assert_eq!(by_email["data"][0]["id"], s.as_str());
        assert_eq!(by_email["data"].as_array().unwrap().len(), 1);
        // A new interaction for the old id lands on the survivor.
        record(&app, json!({"customer_id": d, "channel": "email", "kind": "message", "direction": "outbound"})).await;
        assert_eq!(timeline_ids(&app, &s).await.len(), 6);
        let all = get_json(&app, "/api/v1/customers?include_archived=true").await;
        assert_eq!(all["data"].as_array().unwrap().len(), 1, "the duplicate is gone");

        let merges = get_json(&app, &format!("/api/v1/customers/{s}/merges")).await;
        assert_eq!(merges.as_array().unwrap().len(), 1);

        // Refusals write nothing.
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{s}/merge")).json(&json!({"duplicate_id": s})).send().await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "merge_self").await;
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{s}/merge")).json(&json!({"duplicate_id": d})).send().await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "merge_self").await;
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{s}/merge"))
            .json(&json!({"duplicate_id": "0193a0a0-0000-7000-8000-000000000001"})).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let res = app.admin(Method::POST, "/api/v1/customers/0193a0a0-0000-7000-8000-000000000001/merge").json(&json!({"duplicate_id": s})).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(get_json(&app, &format!("/api/v1/customers/{s}")).await["version"], merged["version"]);
        let res = app.admin(Method::PATCH, &format!("/api/v1/customers/{d}")).json(&json!({"lifecycle_stage": "customer"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "a patch by the old id changes the survivor");
        assert_eq!(res.json::<Value>().await.unwrap()["id"], s.as_str());
    }
}
