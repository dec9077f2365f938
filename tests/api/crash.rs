//! An `Idempotency-Key` keeps its promise when the server dies: the binary is made to abort at a
//! fault point (as a SIGKILL there would), started again, and the client retries with the same
//! key. The key is then either answered (the write had committed) or free to run again (it had
//! not): never stuck, never applied twice.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, both_backends, ServerProcess, TestApp};

async fn post(
    app: &TestApp,
    server: &ServerProcess,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    app.client
        .request(Method::POST, server.url(path))
        .bearer_auth(&app.admin_key)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
}

/// The server dies between reserving `key` and writing: the key is held for the dead attempt's
/// lease, then the first retry takes it over and writes once.
async fn died_before_writing(app: &TestApp, path: &str, body: Value) -> Value {
    let lease = std::time::Duration::from_secs(4);
    let mut dying = app
        .spawn_process(&[
            ("RAPPORT_FAULT", "idempotency:reserved=abort"),
            ("RAPPORT_IDEMPOTENCY_LEASE", "4"),
        ])
        .await;
    let sent = std::time::Instant::now();
    assert!(
        post(app, &dying, path, &format!("died:{path}"), &body)
            .await
            .is_err(),
        "no answer from a dead server"
    );
    assert!(!dying.exited().await.success());
    let server = app.spawn_process(&[]).await;
    let res = post(app, &server, path, &format!("died:{path}"), &body)
        .await
        .unwrap();
    // Within the lease the key is busy (unless this machine took that long to restart).
    if sent.elapsed() < lease - std::time::Duration::from_millis(500) {
        let retry_after: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=4).contains(&retry_after), "{retry_after}");
        assert_problem(res, StatusCode::CONFLICT, "idempotency_in_progress").await;
        tokio::time::sleep(
            lease.saturating_sub(sent.elapsed()) + std::time::Duration::from_millis(200),
        )
        .await;
    } else {
        assert!(res.status().is_success(), "{}", res.status());
    }
    let res = post(app, &server, path, &format!("died:{path}"), &body)
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let first: Value = res.json().await.unwrap();
    let again = post(app, &server, path, &format!("died:{path}"), &body)
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    first
}

/// The server dies after the write committed, before it answered: the retry gets the answer.
async fn died_after_committing(app: &TestApp, path: &str, body: Value) -> Value {
    let mut dying = app
        .spawn_process(&[("RAPPORT_FAULT", "idempotency:committed=abort")])
        .await;
    assert!(
        post(app, &dying, path, &format!("done:{path}"), &body)
            .await
            .is_err(),
        "no answer from a dead server"
    );
    assert!(!dying.exited().await.success());
    let server = app.spawn_process(&[]).await;
    let res = post(app, &server, path, &format!("done:{path}"), &body)
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers()["idempotent-replayed"],
        "true",
        "the committed write's answer"
    );
    res.json().await.unwrap()
}

both_backends! {
    async fn a_customer_post_whose_server_died_is_written_exactly_once_on_retry(app) {
        let before = died_before_writing(&app, "/api/v1/customers", json!({"given_name": "Before"})).await;
        let after = died_after_committing(&app, "/api/v1/customers", json!({"given_name": "After"})).await;
        let names: Vec<String> = app.customers_snapshot().into_iter().map(|(_, s)| s).collect();
        assert_eq!(names.len(), 2, "one customer per key: {names:?}");
        for c in [&before, &after] {
            let res = app.admin(Method::GET, &format!("/api/v1/customers/{}", c["id"].as_str().unwrap())).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        }
    }

    async fn a_purchase_and_a_redemption_whose_server_died_move_points_exactly_once(app) {
        let res = app.admin(Method::PUT, "/api/v1/loyalty/program")
            .json(&json!({"earn_rules": [{"currency": "EUR", "points_per_unit": 1}]})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let reward: Value = app.admin(Method::POST, "/api/v1/loyalty/rewards")
            .json(&json!({"name": "5 off", "kind": "fixed_discount", "cost_points": 100, "amount_minor": 500, "currency": "EUR"}))
            .send().await.unwrap().json().await.unwrap();
        let c = app.create_customer(json!({"given_name": "Eva"})).await["id"].as_str().unwrap().to_owned();
        let buy = |n: i64| json!({"customer_id": c, "channel": "web", "kind": "purchase", "amount_minor": n, "currency": "EUR"});
        died_before_writing(&app, "/api/v1/interactions", buy(30_000)).await;
        died_after_committing(&app, "/api/v1/interactions", buy(20_000)).await;
        let redeem = format!("/api/v1/customers/{c}/loyalty/redemptions");
        died_after_committing(&app, &redeem, json!({"reward_id": reward["id"]})).await;

        let account: Value = app.admin(Method::GET, &format!("/api/v1/customers/{c}/loyalty")).send().await.unwrap().json().await.unwrap();
        assert_eq!(account["balance"], 300 + 200 - 100, "{account}");
        let summary: Value = app.admin(Method::GET, &format!("/api/v1/customers/{c}/purchase-summary")).send().await.unwrap().json().await.unwrap();
        assert_eq!(summary["purchase_count"], 2, "{summary}");
    }
}

/// A TCP proxy to PostgreSQL that a test can cut (every connection dropped, new ones refused)
/// and mend again: the database going away under a running server.
struct CuttableProxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    streams: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl CuttableProxy {
    fn start(target: &str) -> CuttableProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let streams = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (target, flag, all) = (target.to_owned(), up.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                };
                let mut guard = all.lock().unwrap();
                guard.push(client.try_clone().unwrap());
                guard.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        CuttableProxy { port, up, streams }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn mend(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_post_cut_off_from_postgres_mid_request_is_written_once_on_retry() {
    let Some(app) = TestApp::spawn(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let url = app.database_url().to_owned();
    let (head, db) = url.rsplit_once('/').unwrap();
    let target = head
        .rsplit_once('@')
        .map_or(head, |(_, h)| h)
        .trim_start_matches("postgres://");
    let proxy = CuttableProxy::start(target);
    let user = head
        .trim_start_matches("postgres://")
        .split_once('@')
        .map_or("postgres", |(u, _)| u);
    let via_proxy = format!("postgres://{user}@127.0.0.1:{}/{db}", proxy.port);
    let server = ServerProcess::start(
        &via_proxy,
        &[
            ("RAPPORT_FAULT", "idempotency:reserved=sleep:1500"),
            ("RAPPORT_IDEMPOTENCY_LEASE", "3"),
        ],
    )
    .await;
    let body = json!({"given_name": "Cut"});
    let sent = std::time::Instant::now();
    let first = post(&app, &server, "/api/v1/customers", "cut-1", &body);
    let cut = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        proxy.cut();
    };
    let (res, ()) = futures_util::join!(first, cut);
    // The key was reserved, then the database went away under the request: it failed on our
    // side, and could not even free its key.
    let res = res.unwrap();
    assert!(res.status().is_server_error(), "{}", res.status());
    proxy.mend();
    // Within the lease the key is busy; after it, the first retry writes, once. Broken pooled
    // connections may fail a few requests first, with a 5xx that wrote nothing.
    let mut outcome = None;
    for _ in 0..50 {
        let res = post(&app, &server, "/api/v1/customers", "cut-1", &body)
            .await
            .unwrap();
        let status = res.status();
        if status.is_success() {
            outcome = Some(res.json::<Value>().await.unwrap());
            break;
        }
        if status == StatusCode::CONFLICT {
            assert!(
                sent.elapsed() < std::time::Duration::from_secs(4),
                "busy after the lease"
            );
            assert_problem(res, StatusCode::CONFLICT, "idempotency_in_progress").await;
        } else {
            assert!(status.is_server_error(), "{status}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let created = outcome.expect("the retry after the lease writes");
    assert_eq!(app.customers_snapshot().len(), 1, "written once");
    let again = post(&app, &server, "/api/v1/customers", "cut-1", &body)
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), created);
}
