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
