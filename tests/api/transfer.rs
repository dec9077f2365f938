use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, TestApp};

async fn import(app: &TestApp, path: &str, content_type: &str, body: String) -> reqwest::Response {
    app.admin(Method::POST, path)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn export(app: &TestApp, path: &str) -> String {
    let res = app.admin(Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

/// Starts a raw HTTP/1.1 import of `body` on `base` (`http://host:port`), sending only its first
/// `sent` bytes; the caller sends the rest (or not) on the returned stream.
fn start_upload(base: &str, key: &str, body: &str, sent: usize) -> std::net::TcpStream {
    use std::io::Write;
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /api/v1/customers/import HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..sent]).unwrap();
    stream.flush().unwrap();
    stream
}

/// Reads the whole answer on `stream` (the server closes it); returns its status line and body.
async fn finish_upload(mut stream: std::net::TcpStream) -> (String, String) {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status = text.lines().next().unwrap_or_default().to_owned();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .unwrap()
}

fn ndjson(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

async fn summary(app: &TestApp, customer: &str) -> Value {
    app.admin(
        Method::GET,
        &format!("/api/v1/customers/{customer}/purchase-summary"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

both_backends! {
    async fn importing_the_same_interactions_twice_equals_importing_once(app) {
        let ana = app.create_customer(json!({"given_name": "Ana"})).await["id"].as_str().unwrap().to_owned();
        let rows: Vec<Value> = (0..250).map(|i| json!({
            "customer_id": ana, "channel": "web", "kind": "purchase", "source": "shop",
            "external_ref": format!("order-{i}"), "occurred_at": format!("2025-{:02}-01T10:00:00Z", 1 + i % 12),
            "amount_minor": 100 + i, "currency": if i % 2 == 0 { "EUR" } else { "USD" },
        })).collect();
        let body = ndjson(&rows);
        let indexes = app.interaction_indexes();
        let res = import(&app, "/api/v1/interactions/import", "application/x-ndjson", body.clone()).await;
        assert_eq!(res.status(), StatusCode::OK);
        // Into an empty table, SQLite builds the secondary indexes at the end: the same ones.
        assert_eq!(app.interaction_indexes(), indexes);
        let first: Value = res.json().await.unwrap();
        assert_eq!((first["rows"].as_u64(), first["created"].as_u64(), first["existing"].as_u64()), (Some(250), Some(250), Some(0)), "{first}");
        assert_eq!(first["committed"], true);
        let after_once = export(&app, "/api/v1/interactions/export").await;
        let summary_once = summary(&app, &ana).await;
        assert_eq!(summary_once["purchase_count"], 250);
        assert_eq!(summary_once["totals"][0]["total_minor"], (0..250).filter(|i| i % 2 == 0).map(|i| 100 + i).sum::<i64>());

        let res = import(&app, "/api/v1/interactions/import", "application/x-ndjson", body).await;
        let second: Value = res.json().await.unwrap();
        assert_eq!((second["created"].as_u64(), second["existing"].as_u64()), (Some(0), Some(250)), "{second}");
        assert_eq!(export(&app, "/api/v1/interactions/export").await, after_once, "the same data");
        assert_eq!(summary(&app, &ana).await, summary_once);

        // The export imports back as it is: every row is known by its id.
        let res = import(&app, "/api/v1/interactions/import", "application/x-ndjson", after_once.clone()).await;
        let third: Value = res.json().await.unwrap();
        assert_eq!(third["existing"], 250, "{third}");
        assert_eq!(export(&app, "/api/v1/interactions/export").await, after_once);
    }

    async fn one_bad_row_in_all_or_nothing_writes_nothing_and_names_its_line(app) {
        let ana = app.create_customer(json!({"given_name": "Ana"})).await["id"].as_str().unwrap().to_owned();
        let good = |i: i64| json!({"customer_id": ana, "channel": "email", "kind": "message", "direction": "outbound", "external_ref": format!("m{i}")});
        let mut body = ndjson(&[good(1), good(2), good(3)]);
        body.push_str("{\"customer_id\": \"nope\", \"channel\": \"email\", \"kind\": \"message\"}\n");
        body.push_str(&ndjson(&[json!({"customer_id": ana, "channel": "web", "kind": "purchase", "amount_minor": 0, "currency": "EUR"})]));
        body.push_str("not json at all\n");
        body.push_str(&ndjson(&[good(4)]));

        let indexes = app.interaction_indexes();
        let res = import(&app, "/api/v1/interactions/import", "application/x-ndjson", body.clone()).await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(app.interaction_indexes(), indexes, "rolled back with the rest");
        let report = &problem["report"];
        assert_eq!(report["committed"], false);
        assert_eq!(report["invalid"], 3, "{report}");
        let bad: Vec<(u64, &str)> = report["errors"].as_array().unwrap().iter()
            .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap())).collect();
        assert_eq!(bad, vec![(4, "customer_id"), (5, "row"), (6, "row")]);
        assert_eq!(export(&app, "/api/v1/interactions/export").await, "", "nothing was written");

        let res = import(&app, "/api/v1/interactions/import?mode=skip_invalid", "application/x-ndjson", body).await;
        assert_eq!(res.status(), StatusCode::OK);
        let report: Value = res.json().await.unwrap();
        assert_eq!((report["created"].as_u64(), report["invalid"].as_u64()), (Some(4), Some(3)), "{report}");
        assert_eq!(lines(&export(&app, "/api/v1/interactions/export").await).len(), 4);
        // A well-formed id of nobody is refused by the import itself, whatever the database checks.
        let nobody = ndjson(&[json!({"customer_id": "01900000-0000-7000-8000-000000000001", "channel": "web", "kind": "note"})]);
        let res = import(&app, "/api/v1/interactions/import?mode=skip_invalid", "application/x-ndjson", nobody).await;
        let report: Value = res.json().await.unwrap();
        assert_eq!((report["created"].as_u64(), report["invalid"].as_u64()), (Some(0), Some(1)), "{report}");
        assert_eq!(report["errors"][0]["code"], "not_found", "{report}");
        assert_eq!(app.orphaned_rows(), 0);

        let res = import(&app, "/api/v1/interactions/import", "application/json", "{}".into()).await;
        assert_problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
        let res = import(&app, "/api/v1/interactions/import?mode=sometimes", "application/x-ndjson", String::new()).await;
        assert_problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }

    async fn customers_import_from_csv_and_export_round_trips(app) {
        let csv = "\
given_name,family_name,email,phone,address.city,address.country,tags,custom_attributes,demographics.household_size,preferences.product_categories,external_ref
Ana,García,Ana@Example.com,+34 912 345 678,Madrid,es,vip;newsletter,\"{\"\"size\"\": 38}\",3,books;garden,crm-1
Luca,Rossi,luca@example.it,,Roma,IT,,,,,crm-2
,,,,,,,,,,crm-3
Marie,Curie,marie@example.fr,,Paris,FR,,,twelve,,crm-4
";
        let res = import(&app, "/api/v1/customers/import", "text/csv", csv.into()).await;
        let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let bad: Vec<(u64, &str)> = problem["report"]["errors"].as_array().unwrap().iter()
            .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap())).collect();
        assert_eq!(bad, vec![(4, "row"), (5, "demographics.household_size")]);
        assert_eq!(export(&app, "/api/v1/customers/export").await, "");

        let res = import(&app, "/api/v1/customers/import?mode=skip_invalid", "text/csv", csv.into()).await;
        let report: Value = res.json().await.unwrap();
        assert_eq!(report["created"], 2, "{report}");
        let exported = lines(&export(&app, "/api/v1/customers/export").await);
        assert_eq!(exported.len(), 2);
        let ana = &exported[0];
        assert_eq!(ana["email"], "ana@example.com");
        assert_eq!(ana["phone"], "+34912345678");
        assert_eq!(ana["address"]["country"], "ES");
        assert_eq!(ana["tags"], json!(["vip", "newsletter"]));
        assert_eq!(ana["custom_attributes"], json!({"size": 38}));
        assert_eq!(ana["demographics"]["household_size"], 3);

        // Again: the external references are known, nothing changes.
        let res = import(&app, "/api/v1/customers/import?mode=skip_invalid", "text/csv", csv.into()).await;
        let report: Value = res.json().await.unwrap();
        assert_eq!((report["created"].as_u64(), report["existing"].as_u64()), (Some(0), Some(2)), "{report}");

        // The CSV export reads back into the same customers.
        let as_csv = export(&app, "/api/v1/customers/export?format=csv").await;
        assert!(as_csv.starts_with("id,external_ref,given_name"), "{as_csv}");
        let res = import(&app, "/api/v1/customers/import", "text/csv", as_csv).await;
        let report: Value = res.json().await.unwrap();
        assert_eq!(report["existing"], 2, "{report}");
        assert_eq!(lines(&export(&app, "/api/v1/customers/export").await), exported);
    }

    async fn interactions_can_name_customers_by_their_external_ref(app) {
        let csv = "external_ref,given_name\nc-1,Ana\nc-2,Bo\n";
        let res = import(&app, "/api/v1/customers/import", "text/csv", csv.into()).await;
        assert_eq!(res.status(), StatusCode::OK);
        let rows = "customer_external_ref,channel,kind,amount_minor,currency,occurred_at\n\
                    c-1,in_person,purchase,2500,EUR,2025-05-01T10:00:00Z\n\
                    c-2,web,purchase,990,EUR,2025-05-02T10:00:00Z\n\
                    c-1,web,purchase,500,EUR,2025-05-03T10:00:00Z\n\
                    c-9,web,purchase,500,EUR,2025-05-03T10:00:00Z\n";
        let res = import(&app, "/api/v1/interactions/import?mode=skip_invalid", "text/csv", rows.into()).await;
        let report: Value = res.json().await.unwrap();
        assert_eq!(report["created"], 3, "{report}");
        assert_eq!(report["errors"][0]["line"], 5);
        assert_eq!(report["errors"][0]["field"], "customer_external_ref");
        let customers = lines(&export(&app, "/api/v1/customers/export").await);
        let ana = customers.iter().find(|c| c["given_name"] == "Ana").unwrap()["id"].as_str().unwrap().to_owned();
        let s = summary(&app, &ana).await;
        assert_eq!((s["purchase_count"].as_i64(), s["totals"][0]["total_minor"].as_i64()), (Some(2), Some(3000)));
        let csv_export = export(&app, "/api/v1/interactions/export?format=csv&kind=purchase").await;
        assert_eq!(csv_export.lines().count(), 4, "header and three rows");
        assert_eq!(app.orphaned_rows(), 0);
    }
}

both_backends! {
    async fn a_customer_external_ref_is_unique_listed_and_kept_by_import(app) {
        let created = app.create_customer(json!({"given_name": "Ana", "external_ref": " shop-17 "})).await;
        assert_eq!(created["external_ref"], "shop-17");
        let res = app.admin(Method::POST, "/api/v1/customers").json(&json!({"given_name": "Other", "external_ref": "shop-17"})).send().await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "duplicate_external_ref").await;
        let found = app.admin(Method::GET, "/api/v1/customers?external_ref=shop-17").send().await.unwrap().json::<Value>().await.unwrap();
        assert_eq!(found["data"].as_array().unwrap().len(), 1);
        assert_eq!(found["data"][0]["id"], created["id"]);

        // An import row with that reference is the same customer: nothing is written.
        let res = import(&app, "/api/v1/customers/import", "application/x-ndjson", ndjson(&[json!({"external_ref": "shop-17", "given_name": "Ana B."})])).await;
        let report: Value = res.json().await.unwrap();
        assert_eq!((report["created"].as_u64(), report["existing"].as_u64()), (Some(0), Some(1)), "{report}");
        let exported = lines(&export(&app, "/api/v1/customers/export").await);
        assert_eq!(exported.len(), 1);
        assert_eq!(exported[0]["external_ref"], "shop-17");
        assert_eq!(exported[0]["given_name"], "Ana");
    }

    async fn an_import_still_uploading_holds_up_no_other_write(app) {
        let body = ndjson(&[json!({"given_name": "Ana", "external_ref": "a"}), json!({"given_name": "Bo", "external_ref": "b"})]);
        let mut upload = start_upload(&app.base, &app.admin_key, &body, 10);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // The upload is held open; other writes go on (on SQLite they share one writer).
        let created = tokio::time::timeout(std::time::Duration::from_secs(10), app.create_customer(json!({"given_name": "Meanwhile"}))).await;
        assert!(created.is_ok(), "a customer POST waited for an unfinished upload");
        if let rapport_store::DbConn::Pg(c) = &mut *app.db.conn().unwrap() {
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let open: N = diesel::RunQueryDsl::get_result(diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
            ), c).unwrap();
            assert_eq!(open.n, 0, "no transaction is held open while the body arrives");
        }
        std::io::Write::write_all(&mut upload, &body.as_bytes()[10..]).unwrap();
        let (status, answer) = finish_upload(upload).await;
        assert!(status.contains(" 200 "), "{status}: {answer}");
        assert_eq!(app.customers_snapshot().len(), 3);
    }

    async fn an_import_whose_body_stops_arriving_gets_a_408_and_writes_nothing(app) {
        let server = app.spawn_process(&[("RAPPORT_IMPORT_BODY_TIMEOUT", "1")]).await;
        let body = ndjson(&[json!({"given_name": "Ana"})]);
        let upload = start_upload(&server.base, &app.admin_key, &body, 5);
        let (status, answer) = finish_upload(upload).await;
        assert!(status.contains(" 408 "), "{status}: {answer}");
        let problem: Value = serde_json::from_str(answer.trim()).unwrap();
        assert_eq!(problem["code"], "request_timeout", "{problem}");
        assert!(app.customers_snapshot().is_empty());
        // Over the size limit: 413, nothing written.
        let server = app.spawn_process(&[("RAPPORT_IMPORT_MAX_BYTES", "100")]).await;
        let big = ndjson(&(0..10).map(|i| json!({"given_name": format!("Customer {i}")})).collect::<Vec<_>>());
        let upload = start_upload(&server.base, &app.admin_key, &big, big.len());
        let (status, answer) = finish_upload(upload).await;
        assert!(status.contains(" 413 "), "{status}: {answer}");
        assert!(app.customers_snapshot().is_empty());
    }

    async fn an_import_larger_than_a_json_body_ignores_its_idempotency_key(app) {
        let rows: Vec<Value> = (0..6000).map(|i| json!({"given_name": format!("Customer {i}"), "external_ref": format!("ref-{i}")})).collect();
        let body = ndjson(&rows);
        assert!(body.len() > 256 * 1024, "{} bytes", body.len());
        let send = || app.admin(Method::POST, "/api/v1/customers/import")
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", "import-1")
            .body(body.clone())
            .send();
        let res = send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap()["created"], 6000);
        // Sent again, the rows are known by their external_ref: nothing is written twice.
        let res = send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("idempotent-replayed").is_none());
        assert_eq!(app.customers_snapshot().len(), 6000);
    }

    async fn a_csv_whose_header_names_no_known_column_is_refused_in_every_mode(app) {
        // A tab-separated file read as CSV: one column, named after all of them.
        let tsv = "given_name\tfamily_name\nAna\tRuiz\n".to_owned();
        let blanks = "nombre,apellido\n,\n,\n".to_owned();
        for body in [tsv, blanks] {
            for mode in ["", "?mode=skip_invalid"] {
                let res = import(&app, &format!("/api/v1/customers/import{mode}"), "text/csv", body.clone()).await;
                let p = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
                let error = &p["report"]["errors"][0];
                assert_eq!((error["line"].as_u64(), error["field"].as_str(), error["code"].as_str()), (Some(1), Some("header"), Some("unknown_columns")), "{p}");
            }
        }
        assert!(app.customers_snapshot().is_empty(), "nothing written");
        // One known column is enough; the unknown ones are row errors as before.
        let res = import(&app, "/api/v1/customers/import?mode=skip_invalid", "text/csv", "given_name\nAna\n".to_owned()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(app.customers_snapshot().len(), 1);
    }
}
