use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::both_backends;

both_backends! {
    async fn health_probes_answer(app) {
        let res = app.anon(Method::GET, "/health/live").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.anon(Method::GET, "/health/ready").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "ready");
        // HEAD answers like GET, without a body (load balancers probe with it).
        for path in ["/health/live", "/health/ready"] {
            let res = app.anon(Method::HEAD, path).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert!(res.bytes().await.unwrap().is_empty(), "{path}");
        }
    }

    async fn metrics_count_requests_by_route_template(app) {
        let id = app.create_customer(json!({"given_name": "Ana"})).await["id"].as_str().unwrap().to_owned();
        app.admin(Method::GET, &format!("/api/v1/customers/{id}")).send().await.unwrap();
        app.admin(Method::GET, "/api/v1/customers/01900000-0000-7000-8000-000000000000").send().await.unwrap();
        let text = app.anon(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert!(text.contains(r#"rapport_http_requests_total{method="GET",route="/api/v1/customers/{id}",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"rapport_http_requests_total{method="GET",route="/api/v1/customers/{id}",status="404"} 1"#), "{text}");
        assert!(text.contains(r#"rapport_http_requests_total{method="POST",route="/api/v1/customers",status="201"} 1"#));
        assert!(text.contains("rapport_http_request_duration_seconds_bucket"));
        assert!(text.contains("rapport_db_pool_connections_idle"));
        assert!(text.contains("rapport_customers_created_total 1"));
        assert!(text.contains("rapport_build_info{backend="));

        // Every path that creates counts: imports too; earned points are points moved.
        let res = app.admin(Method::POST, "/api/v1/customers/import").header("content-type", "application/x-ndjson")
            .body("{\"given_name\": \"Bo\"}\n{\"given_name\": \"Cy\"}\n").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.admin(Method::PUT, "/api/v1/loyalty/program")
            .json(&json!({"earn_rules": [{"currency": "EUR", "points_per_unit": 1}]})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let purchase = app.record_interaction(json!({"customer_id": id, "channel": "web", "kind": "purchase", "amount_minor": 4200, "currency": "EUR"})).await;
        let res = app.admin(Method::POST, "/api/v1/interactions/import").header("content-type", "application/x-ndjson")
            .body(format!("{{\"customer_id\": \"{id}\", \"channel\": \"web\", \"kind\": \"note\"}}\n")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = app.anon(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert!(text.contains("rapport_customers_created_total 3"), "{text}");
        assert!(text.contains("rapport_interactions_created_total 2"), "{text}");
        assert!(text.contains(r#"rapport_loyalty_points_total{direction="issued",kind="earn"} 42"#), "{text}");

        // A purchase changed gives its points back and earns anew; one deleted gives them back.
        let url = format!("/api/v1/interactions/{}", purchase["id"].as_str().unwrap());
        let res = app.admin(Method::PATCH, &url).json(&json!({"amount_minor": 1000})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(app.admin(Method::DELETE, &url).send().await.unwrap().status(), StatusCode::NO_CONTENT);
        let text = app.anon(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert!(text.contains(r#"rapport_loyalty_points_total{direction="issued",kind="earn"} 52"#), "{text}");
        assert!(text.contains(r#"rapport_loyalty_points_total{direction="taken",kind="reverse"} 52"#), "{text}");
    }

    async fn request_ids_are_echoed_or_made(app) {
        let res = app.anon(Method::GET, "/health/live").header("x-request-id", "abc-123").send().await.unwrap();
        assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
        let res = app.anon(Method::GET, "/health/live").header("x-request-id", "bad id with spaces").send().await.unwrap();
        let made = res.headers().get("x-request-id").unwrap().to_str().unwrap();
        assert!(uuid::Uuid::parse_str(made).is_ok());
        let res = app.anon(Method::GET, "/api/v1/customers").send().await.unwrap();
        assert!(res.headers().contains_key("x-request-id"), "problems carry the id too");
    }

    async fn the_docs_page_works_offline(app) {
        let page = app.anon(Method::GET, "/docs").send().await.unwrap().text().await.unwrap();
        assert!(page.contains("/docs/swagger-ui-bundle.js") && page.contains("/api/v1/openapi.json"));
        assert!(!page.contains("https://"), "no CDN");
        let js = app.anon(Method::GET, "/docs/swagger-ui-bundle.js").send().await.unwrap();
        assert_eq!(js.status(), StatusCode::OK);
        assert!(js.bytes().await.unwrap().len() > 500_000);
        assert_eq!(app.anon(Method::GET, "/docs/swagger-ui.css").send().await.unwrap().status(), StatusCode::OK);
    }
}
