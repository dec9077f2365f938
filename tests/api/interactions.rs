use std::collections::{BTreeMap, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, TestApp};

async fn customer(app: &TestApp, name: &str) -> String {
    app.create_customer(json!({"given_name": name})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn record(app: &TestApp, body: Value) -> Value {
    app.record_interaction(body).await
}

fn purchase(customer: &str, amount: i64, currency: &str, at: &str) -> Value {
    json!({"customer_id": customer, "channel": "web", "kind": "purchase", "direction": "inbound",
        "occurred_at": at, "amount_minor": amount, "currency": currency, "product_category": "books"})
}

/// Every interaction matching `query`, following cursors.
async fn all(app: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("/api/v1/interactions?limit=7&{query}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let res = app.admin(Method::GET, &url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        let page: Value = res.json().await.unwrap();
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn summary(app: &TestApp, customer: &str) -> Value {
    let res = app
        .admin(
            Method::GET,
            &format!("/api/v1/customers/{customer}/purchase-summary"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// The summary recomputed from scratch from the customer's purchase interactions.
async fn expected_summary(app: &TestApp, customer: &str) -> Value {
    let purchases = all(app, &format!("customer_id={customer}&kind=purchase")).await;
    let mut per: BTreeMap<String, (i64, i64, String, String)> = BTreeMap::new();
    for p in &purchases {
        let at = p["occurred_at"].as_str().unwrap().to_owned();
        let e = per
            .entry(p["currency"].as_str().unwrap().to_owned())
            .or_insert((0, 0, at.clone(), at.clone()));
        e.0 += 1;
        e.1 += p["amount_minor"].as_i64().unwrap();
        e.2 = e.2.clone().min(at.clone());
        e.3 = e.3.clone().max(at);
    }
    let totals: Vec<Value> = per
        .iter()
        .map(|(c, (n, t, first, last))| {
            json!({"currency": c, "purchase_count": n, "total_minor": t,
            "first_purchase_at": first, "last_purchase_at": last})
        })
        .collect();
    json!({
        "customer_id": customer,
        "purchase_count": per.values().map(|v| v.0).sum::<i64>(),
        "first_purchase_at": per.values().map(|v| v.2.clone()).min(),
        "last_purchase_at": per.values().map(|v| v.3.clone()).max(),
        "totals": totals,
    })
}

both_backends! {
    async fn interactions_round_trip_with_agent_etag_patch_and_delete(app) {
        let ana = customer(&app, "Ana").await;
        let body = json!({"customer_id": ana, "channel": "phone", "kind": "call", "direction": "outbound",
            "occurred_at": "2026-03-01T10:00:00Z", "subject": "Delivery date",
            "body": "Agreed to deliver on Friday.", "metadata": {"duration_s": 240}});
        let res = app.admin(Method::POST, "/api/v1/interactions").json(&body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap();
        assert_eq!(location, format!("/api/v1/interactions/{id}"));
        assert_eq!(created["agent"]["type"], "api_key");
        assert_eq!(created["source"], "api");
        assert_eq!(created["occurred_at"], "2026-03-01T10:00:00.000000Z");
        assert_eq!(created["metadata"]["duration_s"], 240);

        let res = app.admin(Method::GET, &location).send().await.unwrap();
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(res.json::<Value>().await.unwrap(), created);

        let res = app.admin(Method::PATCH, &location).header("if-match", &etag)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"subject": "Delivery moved", "metadata": {"duration_s": null, "outcome": "ok"}}"#)
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let patched: Value = res.json().await.unwrap();
        assert_eq!(patched["subject"], "Delivery moved");
        assert_eq!(patched["metadata"], json!({"outcome": "ok"}));
        assert_eq!(patched["version"], 2);

        // A stale ETag is refused and changes nothing.
        let res = app.admin(Method::PATCH, &location).header("if-match", &etag)
            .header("content-type", "application/merge-patch+json").body(r#"{"subject": "x"}"#)
            .send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;

        let res = app.admin(Method::DELETE, &location).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let res = app.admin(Method::GET, &location).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn an_external_ref_is_recorded_once_per_source(app) {
        let ana = customer(&app, "Ana").await;
        let mut body = purchase(&ana, 1500, "EUR", "2026-02-01T09:00:00Z");
        body["external_ref"] = json!("order-1");
        body["source"] = json!("Shop");
        let first = record(&app, body.clone()).await;
        assert_eq!(first["source"], "shop");
        for _ in 0..2 {
            let res = app.admin(Method::POST, "/api/v1/interactions").json(&body).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "a repeat returns the existing record");
            assert_eq!(res.json::<Value>().await.unwrap()["id"], first["id"]);
        }
        // The same reference with another amount is not a retry: refused, naming the record.
        let mut changed = body.clone();
        changed["amount_minor"] = json!(2500);
        let res = app.admin(Method::POST, "/api/v1/interactions").json(&changed).send().await.unwrap();
        let p = assert_problem(res, StatusCode::CONFLICT, "duplicate_external_ref").await;
        assert_eq!(p["existing_id"], first["id"]);
        assert_eq!(summary(&app, &ana).await["purchase_count"], 1, "nothing written");
        // The same reference in another source is another record.
        body["source"] = json!("pos");
        let other = record(&app, body).await;
        assert_ne!(other["id"], first["id"]);
        assert_eq!(all(&app, &format!("customer_id={ana}")).await.len(), 2);
        assert_eq!(all(&app, "source=shop&external_ref=order-1").await.len(), 1);
        assert_eq!(summary(&app, &ana).await["purchase_count"], 2);
    }

    async fn bad_interactions_are_refused_and_write_nothing(app) {
        let ana = customer(&app, "Ana").await;
        let cases = [
            (json!({"customer_id": ana, "channel": "web", "kind": "purchase", "currency": "EUR"}), "body"),
            (json!({"customer_id": ana, "channel": "web", "kind": "purchase", "amount_minor": -5, "currency": "EUR"}), "body"),
            (json!({"customer_id": ana, "channel": "phone", "kind": "call", "amount_minor": 5}), "body"),
            (json!({"customer_id": ana, "channel": "web", "kind": "purchase", "amount_minor": 5, "currency": "XYZ"}), "currency"),
            (json!({"customer_id": ana, "channel": "web", "kind": "note", "occurred_at": "2999-01-01T00:00:00Z"}), "occurred_at"),
            (json!({"customer_id": ana, "channel": "pigeon", "kind": "note"}), "channel"),
            (json!({"customer_id": ana, "channel": "web", "kind": "note", "subject": "x".repeat(201)}), "subject"),
            (json!({"customer_id": "0193a0a0-0000-7000-8000-000000000001", "channel": "web", "kind": "note"}), "customer_id"),
        ];
        for (body, field) in cases {
            let res = app.admin(Method::POST, "/api/v1/interactions").json(&body).send().await.unwrap();
            let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            assert_eq!(problem["errors"][0]["field"], field, "{body} → {problem}");
        }
        let res = app.admin(Method::POST, "/api/v1/interactions")
            .header("content-type", "application/json").body("{\"customer_id\": ").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "malformed_json").await;

        // An archived customer gets no new history.
        let res = app.admin(Method::DELETE, &format!("/api/v1/customers/{ana}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let res = app.admin(Method::POST, "/api/v1/interactions")
            .json(&json!({"customer_id": ana, "channel": "web", "kind": "note"})).send().await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "customer_archived").await;

        assert!(all(&app, "").await.is_empty(), "nothing was written");
        assert_eq!(summary(&app, &ana).await["purchase_count"], 0);

        // Scopes: a customers-only key cannot read or write interactions.
        let key = app.key_with(&["customers:read", "customers:write"]).await;
        let res = app.with(&key, Method::GET, "/api/v1/interactions").send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        // The timeline shows a customers-only key none of the interactions.
        let res = app.with(&key, Method::GET, &format!("/api/v1/customers/{ana}/timeline")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap()["data"], json!([]));
        let res = app.with(&key, Method::GET, &format!("/api/v1/customers/{ana}/timeline?kinds=interaction")).send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    }

    async fn lists_filter_and_page_by_time_without_loss_or_repeats(app) {
        let ana = customer(&app, "Ana").await;
        let bo = customer(&app, "Bo").await;
        let campaign = "0193a0a0-0000-7000-8000-0000000000ca";
        let channels = ["email", "phone", "chat", "sms", "social", "in_person", "web", "other"];
        for i in 0..40 {
            let who = if i % 3 == 0 { &bo } else { &ana };
            // Several share a timestamp: the id breaks ties.
            let at = format!("2026-01-{:02}T12:00:00Z", 1 + i / 2);
            let mut body = if i % 4 == 0 {
                purchase(who, 100 + i, "EUR", &at)
            } else {
                json!({"customer_id": who, "channel": channels[i as usize % 8], "kind": "message", "direction": "inbound", "occurred_at": at})
            };
            if i % 5 == 0 {
                body["campaign_id"] = json!(campaign);
            }
            record(&app, body).await;
        }
        let everything = all(&app, "").await;
        assert_eq!(everything.len(), 40);
        let ids: HashSet<_> = everything.iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), 40, "no repeats");
        let keys: Vec<_> = everything.iter().map(|i| (i["occurred_at"].as_str().unwrap().to_owned(), i["id"].as_str().unwrap().to_owned())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.reverse();
        assert_eq!(keys, sorted, "newest first, ties by id");

        let oldest_first = all(&app, "sort=occurred_at").await;
        assert_eq!(oldest_first.iter().rev().cloned().collect::<Vec<_>>(), everything);

        assert_eq!(all(&app, &format!("customer_id={bo}")).await.len(), 14);
        assert_eq!(all(&app, "kind=purchase").await.len(), 10);
        assert_eq!(all(&app, "channel=web").await.len(), 10 + 5);
        assert_eq!(all(&app, &format!("campaign_id={campaign}")).await.len(), 8);
        let window = all(&app, "occurred_after=2026-01-05T00:00:00Z&occurred_before=2026-01-10T00:00:00Z").await;
        assert_eq!(window.len(), 10);

        let res = app.admin(Method::GET, "/api/v1/interactions?kind=gossip").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
        let res = app.admin(Method::GET, "/api/v1/interactions?cursor=nope").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
        let res = app.admin(Method::GET, "/api/v1/interactions?limit=0").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }

    async fn the_timeline_is_one_time_ordered_stream(app) {
        let ana = customer(&app, "Ana").await;
        let other = customer(&app, "Other").await;
        for day in (1..=25).rev() {
            let at = format!("2026-04-{day:02}T08:00:00Z");
            record(&app, json!({"customer_id": ana, "channel": "chat", "kind": "message", "direction": "inbound", "occurred_at": at})).await;
            record(&app, purchase(&ana, 999, "EUR", &at)).await;
        }
        record(&app, json!({"customer_id": other, "channel": "web", "kind": "note"})).await;
        let mut events = Vec::new();
        let mut url = format!("/api/v1/customers/{ana}/timeline?limit=9");
        loop {
            let res = app.admin(Method::GET, &url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let page: Value = res.json().await.unwrap();
            events.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => url = format!("/api/v1/customers/{ana}/timeline?limit=9&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(events.len(), 50);
        assert!(events.iter().all(|e| e["type"] == "interaction" && e["data"]["customer_id"] == ana.as_str()));
        let keys: Vec<_> = events.iter().map(|e| (e["occurred_at"].as_str().unwrap().to_owned(), e["id"].as_str().unwrap().to_owned())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.reverse();
        assert_eq!(keys, sorted);
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 50);

        let res = app.admin(Method::GET, "/api/v1/customers/0193a0a0-0000-7000-8000-000000000001/timeline").send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn the_purchase_summary_never_drifts_from_the_interactions(app) {
        let customers = [customer(&app, "A").await, customer(&app, "B").await, customer(&app, "C").await];
        let currencies = ["EUR", "USD"];
        // A deterministic pseudo-random mix of creates, patches (amount, currency, customer,
        // kind) and deletes.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut ids: Vec<String> = Vec::new();
        for step in 0..60 {
            let action = if ids.is_empty() { 0 } else { next(6) };
            match action {
                0..=2 => {
                    let who = &customers[next(3) as usize];
                    let at = format!("2025-{:02}-{:02}T{:02}:00:00Z", 1 + next(12), 1 + next(28), next(24));
                    let created = record(&app, purchase(who, 1 + next(10_000) as i64, currencies[next(2) as usize], &at)).await;
                    ids.push(created["id"].as_str().unwrap().to_owned());
                }
                3 => {
                    let id = &ids[next(ids.len() as u64) as usize];
                    let patch = match next(4) {
                        0 => json!({"amount_minor": 1 + next(500) as i64}),
                        1 => json!({"currency": currencies[next(2) as usize]}),
                        2 => json!({"customer_id": customers[next(3) as usize]}),
                        _ => json!({"occurred_at": format!("2024-06-{:02}T00:00:00Z", 1 + next(28))}),
                    };
                    let res = app.admin(Method::PATCH, &format!("/api/v1/interactions/{id}"))
                        .header("content-type", "application/merge-patch+json").body(patch.to_string())
                        .send().await.unwrap();
                    assert_eq!(res.status(), StatusCode::OK, "step {step}: {patch}");
                }
                4 => {
                    // A purchase becomes a note (its purchase fields removed), and leaves the totals.
                    let id = &ids[next(ids.len() as u64) as usize];
                    let res = app.admin(Method::PATCH, &format!("/api/v1/interactions/{id}"))
                        .header("content-type", "application/merge-patch+json")
                        .body(r#"{"kind": "note", "amount_minor": null, "currency": null, "product_category": null}"#)
                        .send().await.unwrap();
                    assert_eq!(res.status(), StatusCode::OK, "step {step}");
                }
                _ => {
                    let id = ids.swap_remove(next(ids.len() as u64) as usize);
                    let res = app.admin(Method::DELETE, &format!("/api/v1/interactions/{id}")).send().await.unwrap();
                    assert_eq!(res.status(), StatusCode::NO_CONTENT);
                }
            }
        }
        let mut purchases = 0;
        for c in &customers {
            let got = summary(&app, c).await;
            assert_eq!(got, expected_summary(&app, c).await, "customer {c}");
            purchases += got["purchase_count"].as_i64().unwrap();
        }
        assert!(purchases > 10, "the mix left purchases to check ({purchases})");
    }
}
