//! `rapport seed demo` gives a service desk, and `/tickets/stats` on it agrees with the numbers
//! recomputed here from the tickets themselves (each read through the API, whose SLA clocks
//! are computed on read, not taken from the columns the stats use).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rapport::seed::{default_until, seed_demo, DemoOptions};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{both_backends, TestApp};

async fn get(app: &TestApp, path: &str) -> Value {
    let res = app.admin(Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

async fn all_tickets(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = "/api/v1/tickets?limit=200".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get(app, &url).await;
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

fn median(mut v: Vec<i64>) -> Value {
    v.sort_unstable();
    match v.len() {
        0 => Value::Null,
        n if n % 2 == 1 => json!(v[n / 2] as f64),
        n => json!((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0),
    }
}

/// The numbers of one group, recomputed from the tickets.
fn expected(tickets: &[&Value]) -> Value {
    let mut by_status: BTreeMap<&str, u64> =
        ["new", "open", "pending", "on_hold", "solved", "closed"]
            .into_iter()
            .map(|s| (s, 0))
            .collect();
    let (mut first, mut resolution) = (Vec::new(), Vec::new());
    let (mut with_sla, mut breached) = (0u64, 0u64);
    let mut ratings = [0u64; 5];
    for t in tickets {
        *by_status.get_mut(t["status"].as_str().unwrap()).unwrap() += 1;
        let created = time(&t["created_at"]).unwrap();
        if let Some(r) = time(&t["first_responded_at"]) {
            first.push((r - created).num_seconds());
        }
        if let Some(s) = time(&t["solved_at"]) {
            resolution.push((s - created).num_seconds());
        }
        if t["sla"].is_object() {
            with_sla += 1;
            breached += u64::from(t["sla"]["breached"].as_bool().unwrap());
        }
        if let Some(r) = t["csat"]["rating"].as_u64() {
            ratings[r as usize - 1] += 1;
        }
    }
    let rated: u64 = ratings.iter().sum();
    let total: u64 = ratings
        .iter()
        .enumerate()
        .map(|(i, n)| (i as u64 + 1) * n)
        .sum();
    json!({
        "tickets": tickets.len(),
        "by_status": by_status,
        "first_response": {"count": first.len(), "median_seconds": median(first)},
        "resolution": {"count": resolution.len(), "median_seconds": median(resolution)},
        "sla": {"tickets": with_sla, "breached": breached,
                "breach_rate": if with_sla > 0 { json!(breached as f64 / with_sla as f64) } else { Value::Null }},
        "csat": {"count": rated, "distribution": ratings,
                 "average": if rated > 0 { json!(total as f64 / rated as f64) } else { Value::Null }},
    })
}

/// The report's fields for one group, without its key (`assignee_id`, `category`, `period_start`).
fn numbers(group: &Value) -> Value {
    let mut g = group.clone();
    for k in [
        "assignee_id",
        "category",
        "period_start",
        "from",
        "to",
        "period",
        "by_agent",
        "by_category",
        "by_period",
    ] {
        g.as_object_mut().unwrap().remove(k);
    }
    g
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-9
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| close(v, w))
        }
        _ => a == b,
    }
}

both_backends! {
    async fn ticket_stats_on_the_demo_desk_match_the_tickets_themselves(app) {
        let db = app.db.clone();
        let summary = tokio::task::spawn_blocking(move || {
            let mut options = DemoOptions::new(600, 7, default_until());
            options.chunk = 200;
            seed_demo(&db, &options)
        }).await.unwrap().unwrap();
        assert!(summary.tickets >= 20, "{summary:?}");

        let tickets = all_tickets(&app).await;
        assert_eq!(tickets.len() as u64, summary.tickets);
        let statuses: std::collections::HashSet<&str> = tickets.iter().map(|t| t["status"].as_str().unwrap()).collect();
        assert!(statuses.contains("closed") && statuses.contains("solved"), "{statuses:?}");
        assert!(tickets.iter().any(|t| t["csat"].is_object()));
        assert!(tickets.iter().any(|t| t["sla"]["breached"] == true));
        assert!(tickets.iter().any(|t| t["sla"]["breached"] == false));
        assert!(tickets.iter().any(|t| t["sla"]["business_hours"] == true));
        // Each ticket's purchase is its customer's.
        for t in tickets.iter().take(10) {
            let p = get(&app, &format!("/api/v1/interactions/{}", t["product"]["purchase_interaction_id"].as_str().unwrap())).await;
            assert_eq!(p["customer_id"], t["customer_id"]);
            assert_eq!(p["kind"], "purchase");
        }

        let report = get(&app, "/api/v1/tickets/stats?period=month").await;
        let all: Vec<&Value> = tickets.iter().collect();
        let want = expected(&all);
        assert!(close(&numbers(&report), &want), "overall\n got {}\nwant {want}", numbers(&report));

        let mut agents: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        let mut categories: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        let mut months: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for t in &tickets {
            agents.entry(t["assignee_id"].to_string()).or_default().push(t);
            categories.entry(t["category"].to_string()).or_default().push(t);
            months.entry(format!("\"{}-01\"", &t["created_at"].as_str().unwrap()[..7])).or_default().push(t);
        }
        for (key, groups, field) in [("by_agent", &agents, "assignee_id"), ("by_category", &categories, "category"), ("by_period", &months, "period_start")] {
            let got = report[key].as_array().unwrap();
            assert_eq!(got.len(), groups.len(), "{key}");
            for g in got {
                let members = &groups[&g[field].to_string()];
                let want = expected(members);
                assert!(close(&numbers(g), &want), "{key} {}\n got {}\nwant {want}", g[field], numbers(g));
            }
        }

        // Seeding again adds no tickets.
        let db = app.db.clone();
        let again = tokio::task::spawn_blocking(move || {
            let mut options = DemoOptions::new(600, 7, default_until());
            options.chunk = 200;
            seed_demo(&db, &options)
        }).await.unwrap().unwrap();
        assert_eq!(again.tickets, 0);
        assert_eq!(get(&app, "/api/v1/tickets/stats").await["tickets"].as_u64(), Some(summary.tickets));
    }
}
