//! `rapport seed demo` gives loyalty that the API shows and uses like its own: the program and
//! catalog, balances equal to the ledger, tiers and lifetime points from the purchases, earn
//! entries for every purchase, redemptions with codes, expiries; and a seeded customer redeems
//! through the API.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rapport::seed::{default_until, seed_demo, DemoCustomer, DemoOptions, Generator};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{both_backends, TestApp};

const CUSTOMERS: u64 = 200;
const SEED: u64 = 42;

async fn seed(app: &TestApp, until: DateTime<Utc>) -> rapport::seed::DemoSummary {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut options = DemoOptions::new(CUSTOMERS, SEED, until);
        options.chunk = 80;
        seed_demo(&db, &options)
    })
    .await
    .unwrap()
    .unwrap()
}

async fn get(app: &TestApp, path: &str) -> Value {
    let res = app.admin(Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

/// Every page of a list, oldest last as the API gives them.
async fn all(app: &TestApp, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}?limit=200");
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

fn points(e: &Value) -> i64 {
    e["points"].as_i64().unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

both_backends! {
    async fn the_demo_seed_gives_accounts_the_api_shows_and_uses(app) {
        let until = default_until();
        let summary = seed(&app, until).await;
        assert_eq!(summary.customers, CUSTOMERS);
        assert!(summary.loyalty_entries > 0 && summary.redemptions > 0, "{summary:?}");
        // Points due since `until` expire as the server's scheduled run would expire them.
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || rapport_store::loyalty::expire_all(&db, rapport_domain::now()))
            .await
            .unwrap()
            .unwrap();

        let program = get(&app, "/api/v1/loyalty/program").await;
        assert_eq!(program["version"], 1);
        assert_eq!(program["expiry_days"], 365);
        let currencies: Vec<&str> = program["earn_rules"].as_array().unwrap().iter()
            .map(|r| r["currency"].as_str().unwrap()).collect();
        assert_eq!(currencies, ["EUR", "GBP", "USD", "MXN", "ARS", "BRL"]);
        let tiers: Vec<&str> = program["tiers"].as_array().unwrap().iter()
            .map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(tiers, ["bronze", "silver", "gold"]);
        let rewards = all(&app, "/api/v1/loyalty/rewards").await;
        assert_eq!(rewards.len(), 7);
        assert!(rewards.iter().any(|r| r["cost_points"] == 1000 && r["percent_off"] == 10));
        assert!(rewards.iter().any(|r| r["kind"] == "fixed_discount"));
        let vouchers: Vec<&Value> = rewards.iter().filter(|r| r["kind"] == "voucher").collect();
        assert_eq!(vouchers.len(), 3);
        assert!(vouchers.iter().all(|v| v["cost_points"] == 5000 && v["quantity"] == 2));
        assert!(vouchers.iter().any(|v| v["stock"].is_i64()));

        let generator = Generator::new(SEED, until).unwrap();
        let customers: Vec<DemoCustomer> = (1..=CUSTOMERS).map(|n| generator.customer(n).unwrap()).collect();
        let (mut redeemed, mut expired, mut bronze_checked) = (0, 0, 0);
        let mut spender: Option<(String, i64, String)> = None;
        let mut before: Vec<(String, Value, usize)> = Vec::new();
        for c in &customers {
            let id = c.id.to_string();
            let account = get(&app, &format!("/api/v1/customers/{id}/loyalty")).await;
            let ledger = all(&app, &format!("/api/v1/customers/{id}/loyalty/transactions")).await;
            let balance = account["balance"].as_i64().unwrap();
            assert!(balance >= 0);
            assert_eq!(balance, ledger.iter().map(points).sum::<i64>(), "customer {}", c.n);
            let earns: Vec<&Value> = ledger.iter().filter(|e| e["kind"] == "earn").collect();
            assert_eq!(
                account["lifetime_points"].as_i64().unwrap(),
                earns.iter().map(|e| points(e)).sum::<i64>()
            );
            let now = Utc::now();
            let qualifying: i64 = earns.iter()
                .filter(|e| time(&e["created_at"]) > now - Duration::days(365))
                .map(|e| points(e)).sum();
            // Within a second of `now`: the server's clock read a moment before.
            let served = account["qualifying_points"].as_i64().unwrap();
            assert!(served >= qualifying, "customer {}", c.n);
            let tier = match served {
                q if q >= 2000 => "gold",
                q if q >= 500 => "silver",
                _ => "bronze",
            };
            assert_eq!(account["tier"]["name"], tier, "customer {}", c.n);
            let e = &account["expiring"];
            let within = |d: &str| e[format!("within_{d}_days")].as_i64().unwrap();
            assert!(within("30") <= within("60") && within("60") <= within("90") && within("90") <= balance);

            // One earn entry per purchase that earns a point; at the currency's base rate while the
            // customer stayed bronze (fewer than 500 points in any 365 days, so never more).
            let by_source: HashMap<&str, &Value> = earns.iter()
                .map(|e| (e["source"]["id"].as_str().unwrap(), *e)).collect();
            let purchases: Vec<_> = c.interactions.iter().filter(|(_, i)| i.is_purchase()).collect();
            // Points per whole units, (points, units), by currency.
            let (rate, per) = match c.draft.preferences.currency.as_deref() {
                Some("EUR" | "GBP" | "USD") => (1, 1),
                Some("MXN") => (1, 14),
                Some("ARS") => (1, 900),
                Some("BRL") => (2, 7),
                _ => (0, 1),
            };
            let earning = rate > 0;
            let base = |amount: i64| amount * rate / (100 * per);
            let always_bronze = earns.iter().map(|e| points(e)).sum::<i64>() < 500;
            for (iid, i) in &purchases {
                let amount = i.amount_minor.unwrap();
                match by_source.get(iid.to_string().as_str()) {
                    Some(e) => {
                        assert!(earning);
                        assert_eq!(time(&e["created_at"]), i.occurred_at);
                        assert_eq!(e["program_version"], 1);
                        assert_eq!(time(&e["expires_at"]), i.occurred_at + Duration::days(365));
                        if always_bronze {
                            assert_eq!(points(e), base(amount), "customer {}", c.n);
                            bronze_checked += 1;
                        }
                    }
                    None => assert!(base(amount) == 0, "customer {} purchase {iid}", c.n),
                }
            }
            assert_eq!(earns.len(), by_source.len());
            assert!(earns.len() <= purchases.len());

            for e in &ledger {
                match e["kind"].as_str().unwrap() {
                    "earn" => {}
                    "expire" => expired += 1,
                    "redeem" => {
                        redeemed += 1;
                        let rid = e["source"]["id"].as_str().unwrap();
                        let r = get(&app, &format!("/api/v1/customers/{id}/loyalty/redemptions/{rid}")).await;
                        assert_eq!(r["status"], "issued");
                        assert_eq!(r["entry_id"], e["id"]);
                        assert_eq!(points(&r), -points(e));
                        assert_eq!(r["codes"].as_array().unwrap().len() as i64, r["terms"]["quantity"].as_i64().unwrap());
                        assert_eq!(e["lots"].as_array().unwrap().iter().map(points).sum::<i64>(), -points(e));
                    }
                    other => panic!("customer {}: unexpected {other} entry", c.n),
                }
            }
            let listed = all(&app, &format!("/api/v1/customers/{id}/loyalty/redemptions")).await;
            assert_eq!(listed.len(), ledger.iter().filter(|e| e["kind"] == "redeem").count());
            let created: Vec<DateTime<Utc>> = listed.iter().map(|r| time(&r["created_at"])).collect();
            assert!(created.windows(2).all(|w| w[0] >= w[1]), "redemptions newest first");

            // (The demo's 5-off rewards are in euros, pounds and dollars.)
            if balance >= 500 && (rate, per) == (1, 1) && spender.is_none() {
                spender = Some((id.clone(), balance, c.draft.preferences.currency.clone().unwrap()));
            }
            if c.n % 20 == 0 || !listed.is_empty() {
                before.push((id.clone(), account.clone(), ledger.len()));
            }
        }
        assert!(redeemed > 0, "no redemptions");
        assert!(expired > 0, "no expiries");
        assert!(bronze_checked > 0);

        // Seeding again changes nothing.
        let again = seed(&app, until).await;
        assert_eq!((again.customers, again.skipped, again.loyalty_entries), (0, CUSTOMERS, 0));
        assert_eq!(all(&app, "/api/v1/loyalty/rewards").await, rewards);
        assert_eq!(get(&app, "/api/v1/loyalty/program").await, program);
        for (id, account, entries) in &before {
            let now = get(&app, &format!("/api/v1/customers/{id}/loyalty")).await;
            assert_eq!(now["balance"], account["balance"]);
            assert_eq!(now["lifetime_points"], account["lifetime_points"]);
            let ledger = all(&app, &format!("/api/v1/customers/{id}/loyalty/transactions")).await;
            assert_eq!(ledger.len(), *entries);
        }

        // A seeded customer spends seeded points through the API, from the lots that expire
        // first.
        let (id, balance, currency) = spender.expect("a customer with 500 points");
        let five = rewards.iter().find(|r| r["currency"] == currency.as_str()).unwrap();
        let res = app.admin(Method::POST, &format!("/api/v1/customers/{id}/loyalty/redemptions"))
            .json(&serde_json::json!({"reward_id": five["id"]}))
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let account = get(&app, &format!("/api/v1/customers/{id}/loyalty")).await;
        assert_eq!(account["balance"].as_i64().unwrap(), balance - 500);
        let ledger = all(&app, &format!("/api/v1/customers/{id}/loyalty/transactions")).await;
        let expiry_of: HashMap<&str, DateTime<Utc>> = ledger.iter().filter(|e| e["kind"] == "earn")
            .map(|e| (e["id"].as_str().unwrap(), time(&e["expires_at"]))).collect();
        let used: Vec<DateTime<Utc>> = ledger[0]["lots"].as_array().unwrap().iter()
            .map(|u| expiry_of[u["lot_id"].as_str().unwrap()]).collect();
        let last_used = *used.iter().max().unwrap();
        let now = Utc::now();
        // Lots alive that expire before the last one it used were emptied first.
        let mut left: HashMap<&str, i64> = ledger.iter().filter(|e| e["kind"] == "earn")
            .map(|e| (e["id"].as_str().unwrap(), points(e))).collect();
        for e in ledger.iter().filter(|e| e["kind"] != "earn") {
            for u in e["lots"].as_array().unwrap() {
                *left.get_mut(u["lot_id"].as_str().unwrap()).unwrap() -= points(u);
            }
        }
        for (lot, rest) in &left {
            let expires = expiry_of[lot];
            if expires > now && expires < last_used {
                assert_eq!(*rest, 0, "lot {lot} expires first but kept points");
            }
        }
    }
}
