use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, TestApp};

async fn customer(app: &TestApp, name: &str) -> String {
    app.create_customer(json!({"given_name": name})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn open_ticket(app: &TestApp, body: Value) -> Value {
    let res = app
        .admin(Method::POST, "/api/v1/tickets")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.with(token, Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

async fn patch(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("/api/v1/tickets/{id}"))
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn set_status(app: &TestApp, id: &str, status: &str) -> Value {
    let res = patch(app, id, json!({"status": status})).await;
    assert_eq!(res.status(), StatusCode::OK, "-> {status}");
    res.json().await.unwrap()
}

async fn reply(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.with(
        token,
        Method::POST,
        &format!("/api/v1/tickets/{id}/messages"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn add_policy(app: &TestApp, body: Value) -> Value {
    let res = app
        .admin(Method::POST, "/api/v1/sla-policies")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

/// Reaches `status` by legal steps from `new`.
async fn walk_to(app: &TestApp, id: &str, status: &str) {
    let path: &[&str] = match status {
        "new" => &[],
        "open" => &["open"],
        "pending" => &["pending"],
        "on_hold" => &["on_hold"],
        "solved" => &["solved"],
        "closed" => &["solved", "closed"],
        other => panic!("{other}"),
    };
    for s in path {
        set_status(app, id, s).await;
    }
}

const STATUSES: [&str; 6] = ["new", "open", "pending", "on_hold", "solved", "closed"];

fn legal(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("new", "open" | "pending" | "on_hold" | "solved")
            | ("open", "pending" | "on_hold" | "solved")
            | ("pending", "open" | "on_hold" | "solved")
            | ("on_hold", "open" | "pending" | "solved")
            | ("solved", "open" | "closed")
    )
}

both_backends! {
    async fn every_transition_is_allowed_or_refused_with_the_allowed_ones_named(app) {
        let c = customer(&app, "Ana").await;
        for from in STATUSES {
            for to in STATUSES {
                if from == to { continue; }
                let t = open_ticket(&app, json!({"customer_id": c, "subject": format!("{from} to {to}")})).await;
                let id = t["id"].as_str().unwrap();
                walk_to(&app, id, from).await;
                let res = patch(&app, id, json!({"status": to})).await;
                if legal(from, to) {
                    assert_eq!(res.status(), StatusCode::OK, "{from} -> {to}");
                    let t: Value = res.json().await.unwrap();
                    assert_eq!(t["status"], to);
                } else {
                    let p = assert_problem(res, StatusCode::CONFLICT, "illegal_transition").await;
                    let detail = p["detail"].as_str().unwrap();
                    assert!(detail.contains(&format!("cannot become {to}")), "{detail}");
                    assert!(detail.contains("allowed:"), "{detail}");
                    // The extension member lists exactly the legal moves from here.
                    let allowed: Vec<&str> = p["allowed_statuses"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
                    let legal_now: Vec<&str> = STATUSES.iter().copied().filter(|s| legal(from, s)).collect();
                    assert_eq!(allowed, legal_now, "{from}");
                    let now = get(&app, &app.admin_key, &format!("/api/v1/tickets/{id}")).await;
                    assert_eq!(now["status"], from, "a refused change writes nothing");
                }
            }
        }
        // Every change is an event: who, when, from, to.
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "History", "priority": "low"})).await;
        let id = t["id"].as_str().unwrap();
        set_status(&app, id, "open").await;
        patch(&app, id, json!({"priority": "high", "category": "hardware"})).await;
        let events = get(&app, &app.admin_key, &format!("/api/v1/tickets/{id}/events")).await;
        let seen: Vec<(String, Value, Value)> = events["data"].as_array().unwrap().iter()
            .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["from"].clone(), e["to"].clone())).collect();
        assert_eq!(seen, vec![
            ("created".into(), Value::Null, json!("new")),
            ("status".into(), json!("new"), json!("open")),
            ("priority".into(), json!("low"), json!("high")),
            ("category".into(), Value::Null, json!("hardware")),
        ]);
        assert_eq!(events["data"][1]["actor"]["type"], "api_key");
    }

    async fn reopening_a_solved_ticket_is_bounded_by_the_window_and_closed_is_final(app) {
        let c = customer(&app, "Bea").await;
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "Screen"})).await;
        let id = t["id"].as_str().unwrap();
        set_status(&app, id, "solved").await;
        let res = app.admin(Method::PUT, "/api/v1/tickets/settings").json(&json!({"reopen_window_hours": 0})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let p = assert_problem(patch(&app, id, json!({"status": "open"})).await, StatusCode::CONFLICT, "reopen_window_closed").await;
        assert!(p["detail"].as_str().unwrap().contains("within 0 hours"), "{p}");
        let res = app.admin(Method::PUT, "/api/v1/tickets/settings").json(&json!({"reopen_window_hours": 9000})).send().await.unwrap();
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        app.admin(Method::PUT, "/api/v1/tickets/settings").json(&json!({"reopen_window_hours": 24})).send().await.unwrap();
        let reopened = set_status(&app, id, "open").await;
        assert!(reopened["solved_at"].is_null());
        set_status(&app, id, "solved").await;
        set_status(&app, id, "closed").await;
        let p = assert_problem(patch(&app, id, json!({"status": "open"})).await, StatusCode::CONFLICT, "illegal_transition").await;
        assert!(p["detail"].as_str().unwrap().contains("closed is final"), "{p}");
        assert_problem(reply(&app, &app.admin_key, id, json!({"body": "hello?"})).await, StatusCode::CONFLICT, "ticket_closed").await;
    }

    async fn business_hours_push_due_times_past_the_weekend_and_breaches_show(app) {
        // Mon–Fri 9–17 in Madrid; urgent: 4 business hours to resolve, 1 to answer.
        let madrid = json!({"time_zone": "Europe/Madrid",
            "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}]});
        add_policy(&app, json!({"name": "Urgent", "priority": "urgent", "first_response_minutes": 60,
            "resolution_minutes": 240, "calendar": madrid})).await;
        add_policy(&app, json!({"name": "Normal 24/7", "priority": "normal", "first_response_minutes": 600,
            "resolution_minutes": 100000})).await;
        let c = customer(&app, "Carla").await;
        // Friday 20 November 2026, 16:00 in Madrid (15:00 UTC): one business hour left that day.
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "Till down", "priority": "urgent",
            "opened_at": "2026-11-20T15:00:00Z"})).await;
        let sla = &t["sla"];
        assert_eq!(sla["policy_name"], "Urgent");
        assert_eq!(sla["business_hours"], true);
        assert_eq!(sla["first_response"]["due_at"], "2026-11-20T16:00:00.000000Z");
        // 1 h on Friday, 3 h on Monday from 09:00: Monday 12:00 in Madrid.
        assert_eq!(sla["resolution"]["due_at"], "2026-11-23T11:00:00.000000Z");
        assert_eq!((sla["first_response"]["breached"].as_bool(), sla["resolution"]["breached"].as_bool()), (Some(true), Some(true)));
        assert!(sla["resolution"]["remaining_seconds"].as_i64().unwrap() < 0);
        // Saturday 21 November, 20:00: outside hours; the clock starts on Monday at 09:00.
        let sat = open_ticket(&app, json!({"customer_id": c, "subject": "Weekend", "priority": "urgent",
            "opened_at": "2026-11-21T19:00:00Z"})).await;
        assert_eq!(sat["sla"]["first_response"]["due_at"], "2026-11-23T09:00:00.000000Z");
        assert_eq!(sat["sla"]["resolution"]["due_at"], "2026-11-23T12:00:00.000000Z");
        // A weekday evening: starts next morning.
        let eve = open_ticket(&app, json!({"customer_id": c, "subject": "Evening", "priority": "urgent",
            "opened_at": "2026-11-17T19:30:00Z"})).await;
        assert_eq!(eve["sla"]["first_response"]["due_at"], "2026-11-18T09:00:00.000000Z");

        // Breached tickets are listed as such; a fresh 24/7 ticket is not.
        let fresh = open_ticket(&app, json!({"customer_id": c, "subject": "Fresh"})).await;
        assert_eq!(fresh["sla"]["breached"], false);
        let breached = get(&app, &app.admin_key, "/api/v1/tickets?sla_breached=true").await;
        let ids: Vec<&Value> = breached["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
        assert_eq!(ids.len(), 3);
        assert!(!ids.contains(&&fresh["id"]));
        let fine = get(&app, &app.admin_key, "/api/v1/tickets?sla_breached=false").await;
        assert_eq!(fine["data"].as_array().unwrap().len(), 1);
        assert_eq!(fine["data"][0]["id"], fresh["id"]);
        let metrics = app.anon(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("rapport_tickets_sla_breached{clock=\"first_response\"} 3"), "{metrics}");

        // A re-prioritised ticket takes the other policy.
        let res = patch(&app, fresh["id"].as_str().unwrap(), json!({"priority": "urgent"})).await;
        let moved: Value = res.json().await.unwrap();
        assert_eq!(moved["sla"]["policy_name"], "Urgent");

        // Bad calendars and duplicate targets are refused.
        let bad = json!({"name": "x", "priority": "low", "first_response_minutes": 10, "resolution_minutes": 20,
            "calendar": {"time_zone": "Mars/Olympus", "hours": [{"days": ["mon"], "open": "10:00", "close": "09:00"}]}});
        let p = assert_problem(app.admin(Method::POST, "/api/v1/sla-policies").json(&bad).send().await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"calendar.time_zone") && fields.contains(&"calendar.hours[0].close"), "{fields:?}");
        let dup = json!({"name": "again", "priority": "urgent", "first_response_minutes": 1, "resolution_minutes": 2});
        assert_problem(app.admin(Method::POST, "/api/v1/sla-policies").json(&dup).send().await.unwrap(),
            StatusCode::CONFLICT, "duplicate_sla_policy").await;
        let list = get(&app, &app.admin_key, "/api/v1/sla-policies").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
    }

    async fn pending_pauses_the_resolution_clock(app) {
        add_policy(&app, json!({"name": "24/7", "priority": "normal", "first_response_minutes": 60,
            "resolution_minutes": 600})).await;
        let c = customer(&app, "Dani").await;
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "Waiting"})).await;
        let id = t["id"].as_str().unwrap().to_owned();
        let url = format!("/api/v1/tickets/{id}");
        let paused = set_status(&app, &id, "pending").await;
        assert_eq!(paused["sla"]["resolution"]["paused"], true);
        let left = paused["sla"]["resolution"]["remaining_seconds"].as_i64().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let later = get(&app, &app.admin_key, &url).await;
        assert_eq!(later["sla"]["resolution"]["remaining_seconds"].as_i64().unwrap(), left, "frozen while pending");
        // The projected due time moved on with the clock standing still.
        let due = |v: &Value| chrono::DateTime::parse_from_rfc3339(v["sla"]["resolution"]["due_at"].as_str().unwrap()).unwrap();
        assert!(due(&later) > due(&paused));
        // The first-response clock does not pause.
        assert!(later["sla"]["first_response"]["remaining_seconds"].as_i64().unwrap()
            < paused["sla"]["first_response"]["remaining_seconds"].as_i64().unwrap());
        // A customer's reply through the portal opens it again, and the clock runs.
        let portal = app.key_with(&["tickets:portal"]).await;
        let res = reply(&app, &portal, &id, json!({"body": "Here is the photo"})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let running = get(&app, &app.admin_key, &url).await;
        assert_eq!((running["status"].as_str(), running["sla"]["resolution"]["paused"].as_bool()), (Some("open"), Some(false)));
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let after = get(&app, &app.admin_key, &url).await;
        assert!(after["sla"]["resolution"]["remaining_seconds"].as_i64().unwrap() < left);
        let solved = set_status(&app, &id, "solved").await;
        assert_eq!(solved["sla"]["resolution"]["met_at"], solved["solved_at"]);
        assert_eq!(solved["sla"]["resolution"]["breached"], false);
    }

    async fn the_first_public_agent_reply_stamps_first_response_and_notes_stay_internal(app) {
        let c = customer(&app, "Eva").await;
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "Laptop fan"})).await;
        let id = t["id"].as_str().unwrap();
        let portal = app.key_with(&["tickets:portal"]).await;
        let agent = app.key_with(&["tickets:write", "tickets:read"]).await;
        // A note and a customer message do not count as a response.
        assert_eq!(reply(&app, &agent, id, json!({"body": "Check warranty", "visibility": "internal"})).await.status(), StatusCode::CREATED);
        assert_eq!(reply(&app, &portal, id, json!({"body": "Any news?"})).await.status(), StatusCode::CREATED);
        let t = get(&app, &agent, &format!("/api/v1/tickets/{id}")).await;
        assert!(t["first_responded_at"].is_null());
        assert_eq!(t["status"], "new");
        let res = reply(&app, &agent, id, json!({"body": "We are on it"})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let m: Value = res.json().await.unwrap();
        let t = get(&app, &agent, &format!("/api/v1/tickets/{id}")).await;
        assert_eq!(t["first_responded_at"], m["created_at"]);
        assert_eq!(t["status"], "open", "answering a new ticket opens it");
        reply(&app, &agent, id, json!({"body": "Second"})).await;
        let again = get(&app, &agent, &format!("/api/v1/tickets/{id}")).await;
        assert_eq!(again["first_responded_at"], m["created_at"]);

        // Staff see all four messages; the customer-facing key sees the three public ones.
        let staff = get(&app, &agent, &format!("/api/v1/tickets/{id}/messages")).await;
        assert_eq!(staff["data"].as_array().unwrap().len(), 4);
        let public = get(&app, &portal, &format!("/api/v1/tickets/{id}/messages")).await;
        let bodies: Vec<&str> = public["data"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
        assert_eq!(bodies, vec!["Any news?", "We are on it", "Second"]);
        assert_eq!(public["data"][0]["author"], json!({"type": "customer", "id": c}));
        // The portal can neither write notes nor see the events, nor change the ticket.
        let res = reply(&app, &portal, id, json!({"body": "psst", "visibility": "internal"})).await;
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.with(&portal, Method::GET, &format!("/api/v1/tickets/{id}/events")).send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.with(&portal, Method::PATCH, &format!("/api/v1/tickets/{id}"))
            .header("content-type", "application/merge-patch+json").body("{\"status\":\"solved\"}").send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.with(&portal, Method::GET, "/api/v1/tickets").send().await.unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        let mine = get(&app, &portal, &format!("/api/v1/customers/{c}/tickets")).await;
        assert_eq!(mine["data"].as_array().unwrap().len(), 1);
        let events = get(&app, &agent, &format!("/api/v1/tickets/{id}/events")).await;
        assert!(events["data"].as_array().unwrap().iter().any(|e| e["kind"] == "first_response"));
        let metrics = app.anon(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("rapport_tickets_created_total 1"), "{metrics}");
        assert!(metrics.contains("rapport_ticket_status_changes_total{to=\"open\"} 1"), "{metrics}");
    }

    async fn satisfaction_is_rated_once_after_solving_through_the_customer_facing_scope(app) {
        let c = customer(&app, "Fer").await;
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "Refund"})).await;
        let id = t["id"].as_str().unwrap();
        let portal = app.key_with(&["tickets:portal"]).await;
        let agent = app.key_with(&["tickets:write", "tickets:read"]).await;
        let rate = |token: String, body: Value| {
            let req = app.with(&token, Method::POST, &format!("/api/v1/tickets/{id}/satisfaction")).json(&body);
            async move { req.send().await.unwrap() }
        };
        assert_problem(rate(portal.clone(), json!({"rating": 5})).await, StatusCode::CONFLICT, "ticket_not_solved").await;
        set_status(&app, id, "solved").await;
        assert_problem(rate(agent.clone(), json!({"rating": 5})).await, StatusCode::FORBIDDEN, "forbidden").await;
        for bad in [json!({"rating": 6}), json!({"rating": 0}), json!({"rating": 4, "extra": 1})] {
            assert_problem(rate(portal.clone(), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let res = rate(portal.clone(), json!({"rating": 4, "comment": "Quick"})).await;
        assert_eq!(res.status(), StatusCode::OK);
        let rated: Value = res.json().await.unwrap();
        assert_eq!((rated["csat"]["rating"].as_i64(), rated["csat"]["comment"].as_str()), (Some(4), Some("Quick")));
        assert_problem(rate(portal.clone(), json!({"rating": 1})).await, StatusCode::CONFLICT, "already_rated").await;
        let t = get(&app, &agent, &format!("/api/v1/tickets/{id}")).await;
        assert_eq!(t["csat"]["rating"], 4);
    }

    async fn tickets_are_filtered_and_a_customer_s_earlier_tickets_on_the_model_are_at_hand(app) {
        let c = customer(&app, "Gus").await;
        let other = customer(&app, "Hal").await;
        let phone = json!({"model": "Pixel 9", "serial": "SN1"});
        let first = open_ticket(&app, json!({"customer_id": c, "subject": "Battery drains", "product": phone,
            "tags": ["Battery"], "category": "hardware", "priority": "high"})).await;
        let second = open_ticket(&app, json!({"customer_id": c, "subject": "Screen flickers", "product": phone,
            "description": "After the update the SCREEN flickers"})).await;
        open_ticket(&app, json!({"customer_id": c, "subject": "Invoice", "category": "billing"})).await;
        open_ticket(&app, json!({"customer_id": other, "subject": "Battery", "product": {"model": "Pixel 9"}})).await;
        let third = open_ticket(&app, json!({"customer_id": c, "subject": "Restarts", "product": {"model": "Pixel 9"}})).await;
        let related = get(&app, &app.admin_key, &format!("/api/v1/tickets/{}/related", third["id"].as_str().unwrap())).await;
        let ids: Vec<&Value> = related["data"].as_array().unwrap().iter().map(|t| &t["id"]).collect();
        assert_eq!(ids, vec![&second["id"], &first["id"]], "the same customer's, same model, newest first");

        let count = |q: &'static str| {
            let req = app.admin(Method::GET, &format!("/api/v1/tickets?{q}"));
            async move {
                let res = req.send().await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{q}");
                res.json::<Value>().await.unwrap()["data"].as_array().unwrap().len()
            }
        };
        assert_eq!(count("product_model=Pixel%209").await, 4);
        assert_eq!(count("tag=battery").await, 1);
        assert_eq!(count("category=billing").await, 1);
        assert_eq!(count("priority=high").await, 1);
        assert_eq!(count("q=screen").await, 1, "subject or description, any case");
        assert_eq!(count("q=battery").await, 2);
        assert_eq!(count("q=100%25").await, 0, "LIKE characters are literal");
        assert_eq!(count(Box::leak(format!("customer_id={c}").into_boxed_str())).await, 4);
        assert_eq!(count("status=new,open").await, 5);
        assert_eq!(count("status=solved").await, 0);
        assert_eq!(count("status=new&status=open").await, 5, "repeated: any of them");
        assert_eq!(count("status=solved&status=new,open").await, 5);
        assert_eq!(count("unassigned=true").await, 5);
        let page = get(&app, &app.admin_key, "/api/v1/tickets?limit=2&sort=created_at").await;
        assert_eq!(page["data"][0]["id"], first["id"]);
        let cursor = page["next_cursor"].as_str().unwrap();
        let next = get(&app, &app.admin_key, &format!("/api/v1/tickets?limit=2&sort=created_at&cursor={cursor}")).await;
        assert_ne!(next["data"][0]["id"], first["id"]);
        for bad in ["status=lost", "priority=meh", "limit=0", "sla_breached=maybe", "cursor=zzz", "nope=1"] {
            let res = app.admin(Method::GET, &format!("/api/v1/tickets?{bad}")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        }

        // Ticket events are on the customer's timeline.
        let timeline = get(&app, &app.admin_key, &format!("/api/v1/customers/{c}/timeline")).await;
        assert!(timeline["data"].as_array().unwrap().iter().any(|e| e["type"] == "ticket_event"), "{timeline}");
    }

    async fn bad_tickets_are_refused_and_write_nothing(app) {
        let c = customer(&app, "Ivo").await;
        let cases = [
            json!({"customer_id": c}),
            json!({"customer_id": c, "subject": " "}),
            json!({"customer_id": c, "subject": "x", "priority": "asap"}),
            json!({"customer_id": c, "subject": "x", "status": "solved"}),
            json!({"customer_id": c, "subject": "x", "opened_at": "2999-01-01T00:00:00Z"}),
            json!({"customer_id": c, "subject": "x", "assignee_id": uuid::Uuid::now_v7()}),
            json!({"customer_id": uuid::Uuid::now_v7(), "subject": "x"}),
            json!({"customer_id": c, "subject": "x", "product": {"purchase_interaction_id": uuid::Uuid::now_v7()}}),
            json!({"customer_id": c, "subject": "x", "tags": [""]}),
            json!({"customer_id": c, "subject": "x", "unknown": 1}),
        ];
        for body in cases {
            let res = app.admin(Method::POST, "/api/v1/tickets").json(&body).send().await.unwrap();
            assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        }
        let list = get(&app, &app.admin_key, "/api/v1/tickets").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 0);
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "ok"})).await;
        let id = t["id"].as_str().unwrap();
        let res = patch(&app, id, json!({"opened_at": "2020-01-01T00:00:00Z"})).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let res = app.admin(Method::PATCH, &format!("/api/v1/tickets/{id}"))
            .header("content-type", "application/merge-patch+json").header("if-match", "\"v9\"")
            .body("{\"subject\":\"new\"}").send().await.unwrap();
        assert_problem(res, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
        let same = get(&app, &app.admin_key, &format!("/api/v1/tickets/{id}")).await;
        assert_eq!((same["subject"].as_str(), same["version"].as_i64()), (Some("ok"), Some(1)));
        let res = reply(&app, &app.admin_key, id, json!({"body": ""})).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let res = app.admin(Method::GET, &format!("/api/v1/tickets/{}", uuid::Uuid::now_v7())).send().await.unwrap();
        assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
        // A range that ends before it starts holds no tickets.
        let empty = get(&app, &app.admin_key, "/api/v1/tickets/stats?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z").await;
        let all = get(&app, &app.admin_key, "/api/v1/tickets/stats").await;
        assert_ne!(empty, all);
        assert_eq!(empty["by_period"], json!([]));
        let res = app.admin(Method::GET, "/api/v1/tickets/stats?from=yesterday").send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }

    async fn stats_count_statuses_medians_breaches_and_csat(app) {
        add_policy(&app, json!({"name": "24/7", "priority": "normal", "first_response_minutes": 60,
            "resolution_minutes": 600})).await;
        let c = customer(&app, "Jon").await;
        let portal = app.key_with(&["tickets:portal"]).await;
        // Three tickets opened at known times; each answered and solved now.
        let mut ids = Vec::new();
        for (i, opened) in ["2026-11-24T00:00:00Z", "2026-11-24T06:00:00Z", "2026-11-24T12:00:00Z"].iter().enumerate() {
            let t = open_ticket(&app, json!({"customer_id": c, "subject": format!("t{i}"), "opened_at": opened,
                "category": if i == 0 { "billing" } else { "hardware" }})).await;
            ids.push(t["id"].as_str().unwrap().to_owned());
        }
        open_ticket(&app, json!({"customer_id": c, "subject": "still new", "priority": "low"})).await;
        for (id, rating) in ids.iter().zip([5, 3, 4]) {
            reply(&app, &app.admin_key, id, json!({"body": "done"})).await;
            set_status(&app, id, "solved").await;
            let res = app.with(&portal, Method::POST, &format!("/api/v1/tickets/{id}/satisfaction"))
                .json(&json!({"rating": rating})).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        }
        let s = get(&app, &app.admin_key, "/api/v1/tickets/stats?period=day").await;
        assert_eq!(s["tickets"], 4);
        assert_eq!(s["by_status"]["solved"], 3);
        assert_eq!(s["by_status"]["new"], 1);
        assert_eq!(s["by_status"]["closed"], 0);
        assert_eq!(s["csat"]["count"], 3);
        assert_eq!(s["csat"]["average"], 4.0);
        assert_eq!(s["csat"]["distribution"], json!([0, 0, 1, 1, 1]));
        // All three were answered long after their 60-minute target: the median first response
        // is the middle ticket's, opened 06:00.
        let t1 = get(&app, &app.admin_key, &format!("/api/v1/tickets/{}", ids[1])).await;
        let responded = chrono::DateTime::parse_from_rfc3339(t1["first_responded_at"].as_str().unwrap()).unwrap();
        let opened = chrono::DateTime::parse_from_rfc3339("2026-11-24T06:00:00Z").unwrap();
        assert_eq!(s["first_response"]["median_seconds"].as_f64().unwrap(), (responded - opened).num_seconds() as f64);
        assert_eq!(s["first_response"]["count"], 3);
        assert_eq!(s["resolution"]["count"], 3);
        assert_eq!(s["sla"]["tickets"], 3, "the low-priority ticket has no policy");
        assert_eq!(s["sla"]["breached"], 3);
        assert_eq!(s["sla"]["breach_rate"], 1.0);
        let cats: Vec<(Value, Value)> = s["by_category"].as_array().unwrap().iter().map(|g| (g["category"].clone(), g["tickets"].clone())).collect();
        assert_eq!(cats, vec![(Value::Null, json!(1)), (json!("billing"), json!(1)), (json!("hardware"), json!(2))]);
        assert_eq!(s["by_period"][0]["period_start"], "2026-11-24");
        assert_eq!(s["by_agent"].as_array().unwrap().len(), 1);
        let window = get(&app, &app.admin_key, "/api/v1/tickets/stats?from=2026-11-24T05:00:00Z&to=2026-11-24T13:00:00Z").await;
        assert_eq!(window["tickets"], 2);
    }

    async fn edge_values_round_trip_and_closed_tickets_stay_closed(app) {
        // The largest double survives jsonb (serde_json parses it back exactly); so do tiny ones.
        let big = json!({"x": 1.7976931348623157e308, "y": -2.2250738585072014e-308, "z": 12345678901234567890u64});
        let c = app.create_customer(json!({"given_name": "Kim", "custom_attributes": big})).await;
        let cid = c["id"].as_str().unwrap();
        assert_eq!(get(&app, &app.admin_key, &format!("/api/v1/customers/{cid}")).await["custom_attributes"], big);
        get(&app, &app.admin_key, "/api/v1/customers").await;
        let t = open_ticket(&app, json!({"customer_id": cid, "subject": "ÉCRAN roto", "custom_fields": big})).await;
        let id = t["id"].as_str().unwrap();
        assert_eq!(get(&app, &app.admin_key, &format!("/api/v1/tickets/{id}")).await["custom_fields"], big);
        // Case-insensitive search beyond ASCII, on both backends.
        for q in ["%C3%A9cran", "%C3%89CRAN", "roto"] {
            let found = get(&app, &app.admin_key, &format!("/api/v1/tickets?q={q}")).await;
            assert_eq!(found["data"].as_array().unwrap().len(), 1, "{q}");
        }
        // Dates before 1970 are refused.
        for at in ["0000-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z"] {
            for body in [json!({"customer_id": cid, "subject": "old", "opened_at": at}),
                         json!({"customer_id": cid, "subject": "old", "product": {"model": "M", "purchased_at": at}})] {
                let res = app.admin(Method::POST, "/api/v1/tickets").json(&body).send().await.unwrap();
                assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
            }
        }
        // Solving a ticket nobody answered stops its first-response clock too.
        add_policy(&app, json!({"name": "n", "priority": "normal", "first_response_minutes": 1, "resolution_minutes": 10})).await;
        let quick = open_ticket(&app, json!({"customer_id": cid, "subject": "spam"})).await;
        let quick_id = quick["id"].as_str().unwrap();
        let solved = set_status(&app, quick_id, "solved").await;
        assert_eq!(solved["sla"]["first_response"]["met_at"], solved["solved_at"]);
        assert_eq!(solved["sla"]["breached"], false);
        // A closed ticket takes no more changes.
        set_status(&app, quick_id, "closed").await;
        let p = assert_problem(patch(&app, quick_id, json!({"priority": "urgent"})).await, StatusCode::CONFLICT, "ticket_closed").await;
        assert!(p["detail"].as_str().unwrap().contains("closed"), "{p}");
        // A merged duplicate's id stands for the survivor in a patch and in the list filter.
        let dup = customer(&app, "Kim2").await;
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{cid}/merge")).json(&json!({"duplicate_id": dup})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let res = patch(&app, id, json!({"customer_id": dup})).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap()["customer_id"], cid);
        let listed = get(&app, &app.admin_key, &format!("/api/v1/tickets?customer_id={dup}")).await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    }

    async fn a_merge_moves_the_duplicate_s_tickets_and_redemptions(app) {
        let survivor = customer(&app, "Lia").await;
        let dup = customer(&app, "Lia B").await;
        let t = open_ticket(&app, json!({"customer_id": dup, "subject": "Old phone"})).await;
        reply(&app, &app.admin_key, t["id"].as_str().unwrap(), json!({"body": "hi"})).await;
        let reward = app.admin(Method::POST, "/api/v1/loyalty/rewards")
            .json(&json!({"name": "Coffee", "kind": "voucher", "cost_points": 10})).send().await.unwrap().json::<Value>().await.unwrap();
        app.admin(Method::POST, &format!("/api/v1/customers/{dup}/loyalty/transactions"))
            .json(&json!({"points": 50, "reason": "test"})).send().await.unwrap();
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{dup}/loyalty/redemptions"))
            .json(&json!({"reward_id": reward["id"]})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{survivor}/merge")).json(&json!({"duplicate_id": dup})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        let moved = get(&app, &app.admin_key, &format!("/api/v1/tickets/{}", t["id"].as_str().unwrap())).await;
        assert_eq!(moved["customer_id"], survivor);
        let mine = get(&app, &app.admin_key, &format!("/api/v1/customers/{survivor}/tickets")).await;
        assert_eq!(mine["data"].as_array().unwrap().len(), 1);
        let r = get(&app, &app.admin_key, &format!("/api/v1/customers/{survivor}/loyalty/redemptions")).await;
        assert_eq!(r["data"].as_array().unwrap().len(), 1);
        let timeline = get(&app, &app.admin_key, &format!("/api/v1/customers/{survivor}/timeline")).await;
        assert!(timeline["data"].as_array().unwrap().iter().any(|e| e["type"] == "ticket_event"));
    }

    async fn customers_reopen_by_replying_and_solving_first_meets_the_first_response(app) {
        add_policy(&app, json!({"name": "fast", "priority": "normal", "first_response_minutes": 1, "resolution_minutes": 600})).await;
        let c = customer(&app, "Mia").await;
        let portal = app.key_with(&["tickets:portal"]).await;
        // The customer writing back about a solved ticket reopens it, within the window only.
        let t = open_ticket(&app, json!({"customer_id": c, "subject": "Still broken"})).await;
        let id = t["id"].as_str().unwrap();
        set_status(&app, id, "solved").await;
        assert_eq!(reply(&app, &portal, id, json!({"body": "It happened again"})).await.status(), StatusCode::CREATED);
        let t = get(&app, &app.admin_key, &format!("/api/v1/tickets/{id}")).await;
        assert_eq!((t["status"].as_str(), t["solved_at"].as_str()), (Some("open"), None));
        set_status(&app, id, "solved").await;
        app.admin(Method::PUT, "/api/v1/tickets/settings").json(&json!({"reopen_window_hours": 0})).send().await.unwrap();
        let p = assert_problem(reply(&app, &portal, id, json!({"body": "And again"})).await, StatusCode::CONFLICT, "reopen_window_closed").await;
        assert!(p["detail"].as_str().unwrap().contains("allowed now: closed"), "{p}");
        app.admin(Method::PUT, "/api/v1/tickets/settings").json(&json!({"reopen_window_hours": 168})).send().await.unwrap();
        // A portal key opens tickets now, not in the past.
        let res = app.with(&portal, Method::POST, "/api/v1/tickets")
            .json(&json!({"customer_id": c, "subject": "x", "opened_at": "2026-01-01T00:00:00Z"})).send().await.unwrap();
        let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "opened_at");

        // Two tickets 50 s into a 1-minute first-response target, solved before anyone answered.
        let opened = (chrono::Utc::now() - chrono::Duration::seconds(50)).to_rfc3339();
        let mut ids = Vec::new();
        for subject in ["reopened", "answered later"] {
            let t = open_ticket(&app, json!({"customer_id": c, "subject": subject, "opened_at": opened})).await;
            let id = t["id"].as_str().unwrap().to_owned();
            let solved = set_status(&app, &id, "solved").await;
            assert_eq!((solved["sla"]["first_response"]["breached"].as_bool(), solved["sla"]["first_response"]["met_at"].clone()),
                (Some(false), solved["solved_at"].clone()));
            ids.push(id);
        }
        tokio::time::sleep(std::time::Duration::from_millis(12_000)).await;
        // Reopened unanswered: the clock goes on without the 12 s spent solved.
        let reopened = set_status(&app, &ids[0], "open").await;
        assert!(reopened["sla"]["first_response"]["met_at"].is_null());
        assert_eq!(reopened["sla"]["first_response"]["breached"], false, "{}", reopened["sla"]);
        // Answered after solving: the solve met the target first.
        reply(&app, &app.admin_key, &ids[1], json!({"body": "Closing as a duplicate"})).await;
        let later = get(&app, &app.admin_key, &format!("/api/v1/tickets/{}", ids[1])).await;
        assert_eq!(later["sla"]["first_response"]["met_at"], later["solved_at"]);
        assert_eq!(later["sla"]["first_response"]["breached"], false);
        let breached = get(&app, &app.admin_key, "/api/v1/tickets?sla_breached=true").await;
        assert_eq!(breached["data"].as_array().unwrap().len(), 0, "{breached}");

        // A cursor keeps to the order it was made for.
        let page = get(&app, &app.admin_key, "/api/v1/tickets?limit=1&sort=created_at").await;
        let cursor = page["next_cursor"].as_str().unwrap();
        let res = app.admin(Method::GET, &format!("/api/v1/tickets?limit=1&cursor={cursor}")).send().await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
    }

    async fn ratings_patches_and_settings_race_without_errors_across_servers(app) {
        let mut servers = vec![app.base.clone()];
        let mut peers = Vec::new();
        if app.db.backend == rapport_store::Backend::Postgres {
            let peer = app.peer().await;
            servers.push(peer.base.clone());
            peers.push(peer);
        }
        let c = customer(&app, "Noa").await;
        let portal = app.key_with(&["tickets:portal"]).await;
        for round in 0..8 {
            let t = open_ticket(&app, json!({"customer_id": c, "subject": format!("race {round}")})).await;
            let id = t["id"].as_str().unwrap().to_owned();
            set_status(&app, &id, "solved").await;
            let rate = app.client.post(format!("{}/api/v1/tickets/{id}/satisfaction", servers[0]))
                .bearer_auth(&portal).json(&json!({"rating": 3})).send();
            let reopen = app.client.patch(format!("{}/api/v1/tickets/{id}", servers[servers.len() - 1]))
                .bearer_auth(&app.admin_key).header("content-type", "application/merge-patch+json")
                .body("{\"status\":\"open\"}").send();
            let (rated, reopened) = tokio::join!(rate, reopen);
            let (rated, reopened) = (rated.unwrap().status(), reopened.unwrap().status());
            assert!(matches!(rated, StatusCode::OK | StatusCode::CONFLICT), "rate {rated}");
            assert_eq!(reopened, StatusCode::OK);
            // A rating lands only on a solved ticket: before the reopen, never after it.
            let events = get(&app, &app.admin_key, &format!("/api/v1/tickets/{id}/events")).await;
            let kinds: Vec<String> = events["data"].as_array().unwrap().iter()
                .map(|e| format!("{}:{}", e["kind"].as_str().unwrap(), e["to"].as_str().unwrap_or(""))).collect();
            if rated == StatusCode::OK {
                let r = kinds.iter().position(|k| k.starts_with("rated")).unwrap();
                let o = kinds.iter().position(|k| k == "status:open").unwrap();
                assert!(r < o, "{kinds:?}");
            } else {
                assert!(!kinds.iter().any(|k| k.starts_with("rated")), "{kinds:?}");
            }
        }
        let mut puts = Vec::new();
        for i in 0..20 {
            let server = servers[i % servers.len()].clone();
            let (client, key) = (app.client.clone(), app.admin_key.clone());
            puts.push(tokio::spawn(async move {
                client.put(format!("{server}/api/v1/tickets/settings")).bearer_auth(key)
                    .json(&json!({"reopen_window_hours": 10 + i})).send().await.unwrap().status()
            }));
        }
        for p in puts {
            assert_eq!(p.await.unwrap(), StatusCode::OK);
        }
        let s = get(&app, &app.admin_key, "/api/v1/tickets/settings").await;
        assert!((10..30).contains(&s["reopen_window_hours"].as_i64().unwrap()));
        drop(peers);
    }
}
