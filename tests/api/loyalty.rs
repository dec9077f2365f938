use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, TestApp};

async fn customer(app: &TestApp, name: &str) -> String {
    app.create_customer(json!({"given_name": name})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The seeds' supermarket: one point per dollar, tiers by lifetime points.
fn supermarket(expiry_days: i64) -> Value {
    json!({
        "earn_rules": [{"currency": "USD", "points_per_unit": 1}],
        "rounding": "down",
        "tiers": [
            {"name": "bronze", "min_points": 0, "earn_multiplier_percent": 100},
            {"name": "silver", "min_points": 1000, "earn_multiplier_percent": 125},
            {"name": "gold", "min_points": 5000, "earn_multiplier_percent": 150}
        ],
        "expiry_days": expiry_days
    })
}

async fn put_program(app: &TestApp, body: &Value) -> Value {
    let res = app
        .admin(Method::PUT, "/api/v1/loyalty/program")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn adjust(app: &TestApp, customer: &str, points: i64) -> reqwest::Response {
    app.admin(
        Method::POST,
        &format!("/api/v1/customers/{customer}/loyalty/transactions"),
    )
    .json(&json!({"points": points, "reason": "test"}))
    .send()
    .await
    .unwrap()
}

async fn adjusted(app: &TestApp, customer: &str, points: i64) -> Value {
    let res = adjust(app, customer, points).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn account(app: &TestApp, customer: &str) -> Value {
    let res = app
        .admin(
            Method::GET,
            &format!("/api/v1/customers/{customer}/loyalty"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// The whole ledger, newest first, following cursors two entries at a time.
async fn ledger(app: &TestApp, customer: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("/api/v1/customers/{customer}/loyalty/transactions?limit=2");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let res = app.admin(Method::GET, &url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.unwrap();
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn buy(app: &TestApp, customer: &str, amount_minor: i64, currency: &str) -> String {
    app.record_interaction(
        json!({"customer_id": customer, "channel": "in_person", "kind": "purchase",
        "amount_minor": amount_minor, "currency": currency}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// (kind, points) of the ledger, oldest first.
async fn movements(app: &TestApp, customer: &str) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = ledger(app, customer)
        .await
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["points"].as_i64().unwrap(),
            )
        })
        .collect();
    out.reverse();
    out
}

both_backends! {
    async fn the_timeline_shows_each_kind_only_to_credentials_with_its_scope(app) {
        put_program(&app, &supermarket(365)).await;
        let c = customer(&app, "Eva").await;
        buy(&app, &c, 80_000, "USD").await;
        let res = app.admin(Method::POST, "/api/v1/tickets")
            .json(&json!({"customer_id": c, "subject": "Late delivery"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let kinds = |key: String, query: &'static str| {
            let app = &app;
            let c = c.clone();
            async move {
                let res = app.with(&key, Method::GET, &format!("/api/v1/customers/{c}/timeline{query}")).send().await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{query}");
                let page: Value = res.json().await.unwrap();
                let mut kinds: Vec<String> = page["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
                kinds.sort();
                kinds.dedup();
                kinds
            }
        };
        assert_eq!(kinds(app.admin_key.clone(), "").await, ["interaction", "loyalty_entry", "ticket_event"]);
        // Without loyalty:read and tickets:read, their entries are left out.
        let narrow = app.key_with(&["customers:read", "interactions:read"]).await;
        assert_eq!(kinds(narrow.clone(), "").await, ["interaction"]);
        let wide = app.key_with(&["customers:read", "loyalty:read", "tickets:read"]).await;
        assert_eq!(kinds(wide.clone(), "").await, ["loyalty_entry", "ticket_event"]);
        // A client chooses the kinds; asking for one the key may not read is refused.
        assert_eq!(kinds(app.admin_key.clone(), "?kinds=ticket_event,loyalty_entry").await, ["loyalty_entry", "ticket_event"]);
        assert_eq!(kinds(wide.clone(), "?kinds=ticket_event").await, ["ticket_event"]);
        let res = app.with(&narrow, Method::GET, &format!("/api/v1/customers/{c}/timeline?kinds=loyalty_entry")).send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.admin(Method::GET, &format!("/api/v1/customers/{c}/timeline?kinds=interaction,emails")).send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }

    async fn the_supermarket_purchases_earn_by_tier_and_give_back_when_withdrawn(app) {
        put_program(&app, &supermarket(365)).await;
        let c = customer(&app, "Eva").await;
        let big = buy(&app, &c, 80_000, "USD").await;
        let acc = account(&app, &c).await;
        assert_eq!((acc["balance"].as_i64(), acc["tier"]["name"].as_str()), (Some(800), Some("bronze")));
        assert_eq!(acc["next_tier"]["points_needed"], 200);
        // Earned at bronze: ×1. Then silver (1 200 lifetime): ×1.25.
        let mid = buy(&app, &c, 40_000, "USD").await;
        let small = buy(&app, &c, 10_000, "USD").await;
        buy(&app, &c, 10_000, "EUR").await; // no earn rule for EUR
        assert_eq!(movements(&app, &c).await, vec![("earn".into(), 800), ("earn".into(), 400), ("earn".into(), 125)]);
        let acc = account(&app, &c).await;
        assert_eq!((acc["balance"].as_i64(), acc["lifetime_points"].as_i64()), (Some(1325), Some(1325)));
        assert_eq!(acc["tier"], json!({"name": "silver", "earn_multiplier_percent": 125}));
        let earns = ledger(&app, &c).await;
        assert_eq!(earns[0]["source"], json!({"type": "interaction", "id": small}));
        // The timeline shows the purchases and what they earned.
        let timeline: Value = app.admin(Method::GET, &format!("/api/v1/customers/{c}/timeline?limit=100"))
            .send().await.unwrap().json().await.unwrap();
        let kinds: Vec<&str> = timeline["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "loyalty_entry").count(), 3, "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "interaction").count(), 4, "{kinds:?}");

        // Deleting a purchase reverses what it earned; the tier follows (down to bronze).
        let res = app.admin(Method::DELETE, &format!("/api/v1/interactions/{mid}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let acc = account(&app, &c).await;
        assert_eq!((acc["balance"].as_i64(), acc["lifetime_points"].as_i64()), (Some(925), Some(925)));
        assert_eq!(acc["tier"]["name"], "bronze");
        let reversal = &ledger(&app, &c).await[0];
        assert_eq!((reversal["kind"].as_str(), reversal["points"].as_i64()), (Some("reverse"), Some(-400)));
        assert_eq!(reversal["reverses_id"], earns[1]["id"]);

        // A changed amount gives back and earns anew (at the tier of the moment: bronze).
        let res = app.admin(Method::PATCH, &format!("/api/v1/interactions/{small}")).header("if-match", "\"v1\"")
            .header("content-type", "application/merge-patch+json").body(r#"{"amount_minor": 20000}"#)
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        // A change that does not touch what it earns moves nothing.
        let res = app.admin(Method::PATCH, &format!("/api/v1/interactions/{small}")).header("if-match", "\"v2\"")
            .header("content-type", "application/merge-patch+json").body(r#"{"subject": "till 3"}"#)
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let acc = account(&app, &c).await;
        assert_eq!((acc["balance"].as_i64(), acc["tier"]["name"].as_str()), (Some(1000), Some("silver")));

        // Spent points stay spent: withdrawing the first purchase takes back only what is left.
        adjusted(&app, &c, -900).await;
        let res = app.admin(Method::DELETE, &format!("/api/v1/interactions/{big}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let acc = account(&app, &c).await;
        assert_eq!((acc["balance"].as_i64(), acc["lifetime_points"].as_i64()), (Some(0), Some(200)));
        let all = movements(&app, &c).await;
        assert_eq!(all.last().unwrap(), &("reverse".to_owned(), -100));
        assert_eq!(all.iter().map(|m| m.1).sum::<i64>(), 0);
    }

    async fn the_program_is_versioned_validated_and_admin_only(app) {
        let res = app.admin(Method::GET, "/api/v1/loyalty/program").send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;

        let v1 = put_program(&app, &supermarket(365)).await;
        assert_eq!(v1["version"], 1);
        assert_eq!(v1["tiers"][1]["name"], "silver");
        let res = app.admin(Method::GET, "/api/v1/loyalty/program").send().await.unwrap();
        assert_eq!(res.headers()["etag"], "\"v1\"");
        let got: Value = res.json().await.unwrap();
        assert_eq!(got, v1);

        // If-Match guards against overwriting someone else's change.
        let stale = app.admin(Method::PUT, "/api/v1/loyalty/program").header("If-Match", "\"v0\"")
            .json(&supermarket(30)).send().await.unwrap();
        assert_problem(stale, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        let res = app.admin(Method::PUT, "/api/v1/loyalty/program").header("If-Match", "\"v1\"")
            .json(&supermarket(30)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["etag"], "\"v2\"");

        // Invalid programs write nothing.
        let mut unordered = supermarket(30);
        unordered["tiers"][2]["min_points"] = json!(10);
        for bad in [
            unordered,
            json!({"earn_rules": [{"currency": "EURO", "points_per_unit": 1}]}),
            json!({"tiers": [{"name": "x", "min_points": 0, "earn_multiplier_percent": 50}]}),
            json!({"expiry_days": 0}),
            json!({"surprise": true}),
        ] {
            let res = app.admin(Method::PUT, "/api/v1/loyalty/program").json(&bad).send().await.unwrap();
            assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let res = app.admin(Method::GET, "/api/v1/loyalty/program").send().await.unwrap();
        let got: Value = res.json().await.unwrap();
        assert_eq!((got["version"].as_i64(), got["expiry_days"].as_i64()), (Some(2), Some(30)));

        // Reading needs loyalty:read; changing needs admin.
        let reader = app.key_with(&["loyalty:read", "loyalty:write"]).await;
        let res = app.with(&reader, Method::GET, "/api/v1/loyalty/program").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.with(&reader, Method::PUT, "/api/v1/loyalty/program").json(&supermarket(1)).send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.anon(Method::GET, "/api/v1/loyalty/program").send().await.unwrap();
        assert_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    async fn taking_points_uses_the_lots_that_expire_first_and_never_overdraws(app) {
        put_program(&app, &supermarket(30)).await;
        let c = customer(&app, "Ana").await;
        let a = adjusted(&app, &c, 600).await;
        assert_eq!((a["kind"].as_str(), a["program_version"].as_i64()), (Some("adjust"), Some(1)));
        assert!(a["expires_at"].is_string(), "{a}");
        // A later program expires sooner: the second lot is the first to go.
        put_program(&app, &supermarket(10)).await;
        let b = adjusted(&app, &c, 500).await;
        assert!(b["expires_at"].as_str() < a["expires_at"].as_str(), "{a} {b}");

        let spend = adjusted(&app, &c, -700).await;
        assert_eq!(spend["points"], -700);
        assert_eq!(spend["program_version"], 2);
        assert_eq!(
            spend["lots"],
            json!([{"lot_id": b["id"], "points": 500}, {"lot_id": a["id"], "points": 200}])
        );

        let acc = account(&app, &c).await;
        assert_eq!(acc["balance"], 400);
        assert_eq!(acc["lifetime_points"], 1100);
        assert_eq!(acc["tier"]["name"], "silver");
        assert_eq!(acc["next_tier"], json!({"name": "gold", "min_points": 5000, "points_needed": 3900}));
        assert_eq!(acc["expiring"]["within_30_days"], 400);

        // More than there is: 409, nothing written.
        let res = adjust(&app, &c, -401).await;
        assert_problem(res, StatusCode::CONFLICT, "insufficient_points").await;
        let entries = ledger(&app, &c).await;
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0]["id"], spend["id"], "newest first");
        assert_eq!(entries.iter().map(|e| e["points"].as_i64().unwrap()).sum::<i64>(), 400);
        assert_eq!(account(&app, &c).await["balance"], 400);

        // Bad adjustments are refused and write nothing.
        for bad in [json!({"points": 0, "reason": "x"}), json!({"points": 5}), json!({"points": 5, "reason": "  "}),
                    json!({"points": "5", "reason": "x"}), json!({"points": 5, "reason": "x", "kind": "earn"})] {
            let res = app.admin(Method::POST, &format!("/api/v1/customers/{c}/loyalty/transactions"))
                .json(&bad).send().await.unwrap();
            assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let unknown = uuid::Uuid::now_v7();
        let res = adjust(&app, &unknown.to_string(), 5).await;
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
        let res = app.admin(Method::GET, &format!("/api/v1/customers/{unknown}/loyalty")).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
        let reader = app.key_with(&["loyalty:read"]).await;
        let res = app.with(&reader, Method::POST, &format!("/api/v1/customers/{c}/loyalty/transactions"))
            .json(&json!({"points": 5, "reason": "x"})).send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(ledger(&app, &c).await.len(), 3);
    }

    async fn the_expiry_run_expires_what_is_left_once(app) {
        put_program(&app, &supermarket(1)).await;
        let c = customer(&app, "Bea").await;
        let first = adjusted(&app, &c, 100).await;
        adjusted(&app, &c, 50).await;
        adjusted(&app, &c, -30).await;

        let later = rapport_domain::now() + chrono::Duration::days(2);
        // The CLI's dry run says what the run will do, and writes nothing.
        let as_of = later.to_rfc3339();
        let (ok, stdout, stderr) = app.cli(&["loyalty", "expire", "--dry-run", "--as-of", &as_of], &[]);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("would expire 120 points of 1 customers"), "{stdout}");
        assert_eq!(account(&app, &c).await["balance"], 120);
        let db = app.db.clone();
        let run = move || rapport_store::loyalty::expire_all(&db, later).unwrap();
        let (customers, points) = tokio::task::spawn_blocking(run.clone()).await.unwrap();
        assert_eq!((customers, points), (1, 120));
        // Again: nothing left to expire.
        assert_eq!(tokio::task::spawn_blocking(run).await.unwrap(), (0, 0));

        let entries = ledger(&app, &c).await;
        let expired: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "expire").collect();
        assert_eq!(expired.len(), 2, "{entries:?}");
        assert_eq!(expired.iter().map(|e| e["points"].as_i64().unwrap()).sum::<i64>(), -120);
        // The 30 spent came from the first lot; its expiry took the other 70 of it.
        let of_first: i64 = expired
            .iter()
            .flat_map(|e| e["lots"].as_array().unwrap())
            .filter(|u| u["lot_id"] == first["id"])
            .map(|u| u["points"].as_i64().unwrap())
            .sum();
        assert_eq!(of_first, 70);
        assert_eq!(account(&app, &c).await["balance"], 0);
        let res = adjust(&app, &c, -1).await;
        assert_problem(res, StatusCode::CONFLICT, "insufficient_points").await;
    }

    async fn concurrent_takes_never_overdraw(app) {
        let c = customer(&app, "Cai").await;
        adjusted(&app, &c, 200).await;
        // Two servers on one database, as behind a load balancer.
        let peer = app.peer().await;
        let mut tasks = Vec::new();
        for i in 0..40 {
            let server = if i % 2 == 0 { app.base.clone() } else { peer.base.clone() };
            let (client, key, c) = (app.client.clone(), app.admin_key.clone(), c.clone());
            tasks.push(tokio::spawn(async move {
                client
                    .post(format!("{server}/api/v1/customers/{c}/loyalty/transactions"))
                    .bearer_auth(key)
                    .json(&json!({"points": -10, "reason": "race"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                StatusCode::CREATED => ok += 1,
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(ok, 20);
        assert_eq!(account(&app, &c).await["balance"], 0);
        let entries = ledger(&app, &c).await;
        assert_eq!(entries.len(), 21);
        assert_eq!(entries.iter().map(|e| e["points"].as_i64().unwrap()).sum::<i64>(), 0);
    }

    async fn a_merge_brings_the_duplicates_points(app) {
        let s = customer(&app, "Dora").await;
        let d = customer(&app, "Dora").await;
        adjusted(&app, &s, 100).await;
        adjusted(&app, &d, 50).await;
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{s}/merge"))
            .json(&json!({"duplicate_id": d})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(account(&app, &s).await["balance"], 150);
        // The duplicate's id leads to the survivor's account.
        let via_old = account(&app, &d).await;
        assert_eq!((via_old["customer_id"].as_str(), via_old["balance"].as_i64()), (Some(s.as_str()), Some(150)));
        assert_eq!(ledger(&app, &s).await.len(), 2);
    }
}

async fn add_reward(app: &TestApp, body: Value) -> Value {
    let res = app
        .admin(Method::POST, "/api/v1/loyalty/rewards")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn redeem(app: &TestApp, customer: &str, reward: &Value) -> reqwest::Response {
    app.admin(
        Method::POST,
        &format!("/api/v1/customers/{customer}/loyalty/redemptions"),
    )
    .json(&json!({"reward_id": reward["id"]}))
    .send()
    .await
    .unwrap()
}

both_backends! {
    async fn the_supermarket_rewards_ten_percent_at_1000_and_two_vouchers_at_5000(app) {
        put_program(&app, &supermarket(365)).await;
        let ten = add_reward(&app, json!({"name": "10 % off a purchase", "kind": "percent_discount",
            "cost_points": 1000, "percent_off": 10})).await;
        let vouchers = add_reward(&app, json!({"name": "Two partner vouchers", "kind": "voucher",
            "cost_points": 5000, "partner": "Cinema Roma", "quantity": 2, "stock": 1})).await;
        for bad in [json!({"name": "x", "kind": "percent_discount", "cost_points": 10}),
                    json!({"name": "x", "kind": "voucher", "cost_points": 0}),
                    json!({"name": "x", "kind": "fixed_discount", "cost_points": 5, "amount_minor": 500})] {
            let res = app.admin(Method::POST, "/api/v1/loyalty/rewards").json(&bad).send().await.unwrap();
            assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let catalog: Value = app.admin(Method::GET, "/api/v1/loyalty/rewards").send().await.unwrap().json().await.unwrap();
        assert_eq!(catalog["data"].as_array().unwrap().len(), 2);

        let c = customer(&app, "Fede").await;
        buy(&app, &c, 99_900, "USD").await; // 999 points: one short
        let res = redeem(&app, &c, &ten).await;
        assert_problem(res, StatusCode::CONFLICT, "insufficient_points").await;
        assert_eq!(movements(&app, &c).await.len(), 1, "a refused redemption writes nothing");

        buy(&app, &c, 100, "USD").await; // 1 000
        let res = redeem(&app, &c, &ten).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let r: Value = res.json().await.unwrap();
        assert_eq!((r["points"].as_i64(), r["status"].as_str()), (Some(1000), Some("issued")));
        assert_eq!(r["terms"]["percent_off"], 10);
        let code = r["codes"][0].as_str().unwrap();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(account(&app, &c).await["balance"], 0);

        // 5 000 more (silver from 1 000 lifetime: ×1.25 → $4 000 earns 5 000): two vouchers.
        buy(&app, &c, 400_000, "USD").await;
        let res = redeem(&app, &c, &vouchers).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let v: Value = res.json().await.unwrap();
        let codes: Vec<&str> = v["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(codes.len(), 2);
        assert_ne!(codes[0], codes[1]);
        let left: Value = app.admin(Method::GET, &format!("/api/v1/loyalty/rewards/{}", vouchers["id"].as_str().unwrap()))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(left["stock"], 0);
        let ledger_now = ledger(&app, &c).await;
        assert_eq!(ledger_now[0]["kind"], "redeem");
        assert_eq!(ledger_now[0]["source"], json!({"type": "redemption", "id": v["id"]}));

        // Cancelling gives the points back to their lots and the stock back; once.
        let cancel = format!("/api/v1/customers/{c}/loyalty/redemptions/{}/cancel", v["id"].as_str().unwrap());
        let res = app.admin(Method::POST, &cancel).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let cancelled: Value = res.json().await.unwrap();
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(account(&app, &c).await["balance"], 5000);
        let back = &ledger(&app, &c).await[0];
        assert_eq!((back["kind"].as_str(), back["points"].as_i64()), (Some("reverse"), Some(5000)));
        assert_eq!(back["lots"], ledger_now[0]["lots"], "the same lots get their points back");
        let res = app.admin(Method::POST, &cancel).send().await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "redemption_cancelled").await;
        let left: Value = app.admin(Method::GET, &format!("/api/v1/loyalty/rewards/{}", vouchers["id"].as_str().unwrap()))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(left["stock"], 1);

        // Retired rewards cannot be redeemed; unknown ones are a 422.
        let res = app.admin(Method::DELETE, &format!("/api/v1/loyalty/rewards/{}", ten["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_problem(redeem(&app, &c, &ten).await, StatusCode::CONFLICT, "reward_inactive").await;
        let res = redeem(&app, &c, &json!({"id": uuid::Uuid::now_v7()})).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(account(&app, &c).await["balance"], 5000);
    }

    async fn two_hundred_concurrent_redemptions_for_fifty_and_retries_move_points_once(app) {
        let c = customer(&app, "Gil").await;
        let reward = add_reward(&app, json!({"name": "Coffee", "kind": "voucher", "cost_points": 10})).await;
        adjusted(&app, &c, 505).await; // covers 50, with 5 left over
        // Three servers on PostgreSQL, as behind a load balancer; one on SQLite.
        let mut servers = vec![app.base.clone()];
        let mut peers = Vec::new();
        if app.db.backend == rapport_store::Backend::Postgres {
            for _ in 0..2 {
                let peer = app.peer().await;
                servers.push(peer.base.clone());
                peers.push(peer);
            }
        }
        let mut tasks = Vec::new();
        for i in 0..200 {
            let server = servers[i % servers.len()].clone();
            let (client, key, c, rid) = (app.client.clone(), app.admin_key.clone(), c.clone(), reward["id"].clone());
            tasks.push(tokio::spawn(async move {
                client.post(format!("{server}/api/v1/customers/{c}/loyalty/redemptions"))
                    .bearer_auth(key).json(&json!({"reward_id": rid})).send().await.unwrap().status()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                StatusCode::CREATED => ok += 1,
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(ok, 50);
        assert_eq!(account(&app, &c).await["balance"], 5);
        let entries = ledger(&app, &c).await;
        assert_eq!(entries.len(), 51);
        assert_eq!(entries.iter().map(|e| e["points"].as_i64().unwrap()).sum::<i64>(), 5);

        // A retried request with the same Idempotency-Key moves points once, on any server.
        adjusted(&app, &c, 15).await;
        let mut answers = Vec::new();
        for server in servers.iter().chain(servers.iter()) {
            let res = app.client.post(format!("{server}/api/v1/customers/{c}/loyalty/redemptions"))
                .bearer_auth(&app.admin_key).header("idempotency-key", "coffee-1")
                .json(&json!({"reward_id": reward["id"]})).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
            answers.push(res.json::<Value>().await.unwrap()["id"].clone());
        }
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        assert_eq!(account(&app, &c).await["balance"], 10);
        drop(peers);
    }

    async fn rewards_are_edited_under_if_match_and_a_customers_redemptions_are_listed(app) {
        let r = add_reward(&app, json!({"name": "Cinema", "kind": "voucher", "cost_points": 100,
            "partner": "Cinema Roma", "stock": 5})).await;
        let url = format!("/api/v1/loyalty/rewards/{}", r["id"].as_str().unwrap());
        let patch = |body: Value, etag: Option<&str>| {
            let mut req = app.admin(Method::PATCH, &url)
                .header("content-type", "application/merge-patch+json").body(body.to_string());
            if let Some(e) = etag { req = req.header("if-match", e); }
            req.send()
        };
        let res = app.admin(Method::GET, &url).send().await.unwrap();
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();

        // Invalid results and stray fields are 422 and change nothing.
        for bad in [json!({"cost_points": 0}), json!({"percent_off": 10}), json!({"active": "yes"}),
                    json!({"version": 7}), json!({"name": null})] {
            assert_problem(patch(bad, None).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let res = patch(json!({"cost_points": 150, "description": "Any film"}), Some(&etag)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let new_etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let edited: Value = res.json().await.unwrap();
        assert_eq!((edited["cost_points"].as_i64(), edited["description"].as_str(), edited["stock"].as_i64()),
            (Some(150), Some("Any film"), Some(5)));
        assert_problem(patch(json!({"cost_points": 90}), Some(&etag)).await.unwrap(),
            StatusCode::PRECONDITION_FAILED, "precondition_failed").await;

        // A redemption takes stock, which moves the version on: the old ETag is stale.
        let c = customer(&app, "Ines").await;
        adjusted(&app, &c, 1000).await;
        let first: Value = redeem(&app, &c, &r).await.json().await.unwrap();
        assert_eq!(first["points"], 150);
        assert_problem(patch(json!({"cost_points": 90}), Some(&new_etag)).await.unwrap(),
            StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        // Without If-Match the edit applies to the current row and keeps its stock.
        let res = patch(json!({"cost_points": 200, "active": false}), None).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let off: Value = res.json().await.unwrap();
        assert_eq!((off["stock"].as_i64(), off["active"].as_bool()), (Some(4), Some(false)));
        assert_problem(redeem(&app, &c, &r).await, StatusCode::CONFLICT, "reward_inactive").await;
        let on: Value = patch(json!({"active": true}), None).await.unwrap().json().await.unwrap();
        assert_eq!(on["active"], true);
        let second: Value = redeem(&app, &c, &r).await.json().await.unwrap();
        assert_eq!(second["points"], 200);
        let third: Value = redeem(&app, &c, &r).await.json().await.unwrap();
        let cancel = format!("/api/v1/customers/{c}/loyalty/redemptions/{}/cancel", second["id"].as_str().unwrap());
        assert_eq!(app.admin(Method::POST, &cancel).send().await.unwrap().status(), StatusCode::OK);

        // The first redemption keeps the terms it was made under. Listed newest first, by status.
        let list = |q: &'static str| {
            let url = format!("/api/v1/customers/{c}/loyalty/redemptions{q}");
            let req = app.admin(Method::GET, &url);
            async move {
                let res = req.send().await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                res.json::<Value>().await.unwrap()
            }
        };
        let all = list("").await;
        let ids: Vec<&Value> = all["data"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
        assert_eq!(ids, vec![&third["id"], &second["id"], &first["id"]]);
        assert_eq!(all["data"][2]["terms"]["cost_points"], 150);
        let page = list("?limit=2").await;
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let rest: Value = app.admin(Method::GET, &format!("/api/v1/customers/{c}/loyalty/redemptions?limit=2&cursor={cursor}"))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(rest["data"][0]["id"], first["id"]);
        assert!(rest["next_cursor"].is_null());
        let cancelled = list("?status=cancelled").await;
        assert_eq!(cancelled["data"].as_array().unwrap().len(), 1);
        assert_eq!(cancelled["data"][0]["id"], second["id"]);
        assert_eq!(list("?status=issued").await["data"].as_array().unwrap().len(), 2);
        let res = app.admin(Method::GET, &format!("/api/v1/customers/{c}/loyalty/redemptions?status=lost")).send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
        let res = app.admin(Method::GET, &format!("/api/v1/customers/{}/loyalty/redemptions", uuid::Uuid::now_v7())).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}
