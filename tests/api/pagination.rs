use std::collections::HashSet;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{both_backends, TestApp};

async fn walk(app: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/customers?limit=37&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.admin(Method::GET, &path).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 37);
        out.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(out.len() <= 2000, "pagination does not loop");
    }
    out
}

both_backends! {
    async fn paging_through_1000_customers_loses_and_repeats_nothing(app) {
        let created: Vec<String> = futures_util::stream::iter(0..1000)
            .map(|i| {
                let app = &app;
                async move {
                    let c = app.create_customer(json!({"given_name": format!("C{i:04}"), "tags": if i % 3 == 0 { vec!["third"] } else { vec![] }})).await;
                    c["id"].as_str().unwrap().to_owned()
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let all: HashSet<_> = created.iter().cloned().collect();
        assert_eq!(all.len(), 1000);

        for sort in ["created_at", "-created_at", "updated_at", "-updated_at"] {
            let seen = walk(&app, &format!("sort={sort}")).await;
            let ids: Vec<_> = seen.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
            let unique: HashSet<_> = ids.iter().cloned().collect();
            assert_eq!(ids.len(), 1000, "{sort}: every customer once");
            assert_eq!(unique, all, "{sort}: exactly the created customers");
            let key = if sort.contains("created") { "created_at" } else { "updated_at" };
            let keys: Vec<(String, String)> = seen.iter().map(|c| (c[key].as_str().unwrap().to_owned(), c["id"].as_str().unwrap().to_owned())).collect();
            let mut sorted = keys.clone();
            sorted.sort_by(|a, b| {
                let ta = chrono::DateTime::parse_from_rfc3339(&a.0).unwrap();
                let tb = chrono::DateTime::parse_from_rfc3339(&b.0).unwrap();
                ta.cmp(&tb).then(a.1.cmp(&b.1))
            });
            if sort.starts_with('-') {
                sorted.reverse();
            }
            assert_eq!(keys, sorted, "{sort}: in order");
        }

        // Filters page the same way.
        let thirds = walk(&app, "tag=third&sort=created_at").await;
        assert_eq!(thirds.len(), 334);
    }
}

both_backends! {
    async fn a_cursor_works_only_on_the_list_that_made_it(app) {
        let ana = app.create_customer(json!({"given_name": "Ana"})).await;
        app.create_customer(json!({"given_name": "Bea"})).await;
        app.key_with(&["customers:read"]).await;
        let id = ana["id"].as_str().unwrap().to_owned();
        for _ in 0..2 {
            app.record_interaction(json!({"customer_id": id, "channel": "email", "kind": "note"})).await;
            let res = app.admin(Method::POST, &format!("/api/v1/customers/{id}/loyalty/transactions")).json(&json!({"points": 10, "reason": "goodwill"})).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
            let res = app.admin(Method::POST, "/api/v1/tickets").json(&json!({"customer_id": id, "subject": "Help"})).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
        }
        let lists = [
            "/api/v1/customers".to_owned(),
            "/api/v1/interactions".to_owned(),
            format!("/api/v1/customers/{id}/timeline"),
            format!("/api/v1/customers/{id}/loyalty/transactions"),
            "/api/v1/tickets".to_owned(),
            "/api/v1/api-keys?include_revoked=true".to_owned(),
        ];
        let mut cursors = Vec::new();
        for list in &lists {
            let sep = if list.contains('?') { '&' } else { '?' };
            let page: Value = app.admin(Method::GET, &format!("{list}{sep}limit=1")).send().await.unwrap().json().await.unwrap();
            let cursor = page["next_cursor"].as_str().unwrap_or_else(|| panic!("{list}: one page only")).to_owned();
            // Its own list takes it.
            let res = app.admin(Method::GET, &format!("{list}{sep}limit=1&cursor={cursor}")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{list}");
            cursors.push(cursor);
        }
        for (i, list) in lists.iter().enumerate() {
            let sep = if list.contains('?') { '&' } else { '?' };
            for (j, cursor) in cursors.iter().enumerate() {
                if i == j {
                    continue;
                }
                let res = app.admin(Method::GET, &format!("{list}{sep}cursor={cursor}")).send().await.unwrap();
                crate::helpers::assert_problem(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
            }
        }
    }
}
