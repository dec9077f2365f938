//! `rapport seed demo` through its library function, on a fresh SQLite file and on a fresh
//! PostgreSQL database (skipped when none is reachable, unless `RAPPORT_REQUIRE_POSTGRES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::{Connection, ExpressionMethods, QueryDsl, RunQueryDsl};
use rapport::config::Config;
use rapport::seed::loyalty::{demo_catalog, demo_program};
use rapport::seed::{parse_until, seed_demo, DemoCustomer, DemoOptions, Generator};
use rapport::startup::open_database;
use rapport_domain::loyalty::{Entry, EntryKind, SourceType};
use rapport_store::bulk::{insert_customers, NewCustomer};
use rapport_store::schema::{customer_purchase_totals, customers, interactions};
use rapport_store::DbConn;
use uuid::Uuid;

const CUSTOMERS: u64 = 300;

fn options() -> DemoOptions {
    let mut o = DemoOptions::new(CUSTOMERS, 42, parse_until("2026-01-01").unwrap());
    o.chunk = 120; // several transactions, the last one partial
    o
}

fn seed_and_check(url: &str) {
    let db = open_database(&Config::for_database(url).db()).unwrap();
    let first = seed_demo(&db, &options()).unwrap();

    // What the generator says the rows are.
    let generator = Generator::new(42, parse_until("2026-01-01").unwrap()).unwrap();
    let generated: Vec<_> = (1..=CUSTOMERS)
        .map(|n| generator.customer(n).unwrap())
        .collect();
    let expected_interactions: usize = generated.iter().map(|c| c.interactions.len()).sum();
    let expected_purchases = generated
        .iter()
        .flat_map(|c| &c.interactions)
        .filter(|(_, i)| i.is_purchase())
        .count();
    assert_eq!(first.customers, CUSTOMERS);
    assert_eq!(first.skipped, 0);
    assert_eq!(first.interactions, expected_interactions as u64);
    assert_eq!(first.purchases, expected_purchases as u64);

    let mut conn = db.conn().unwrap();
    if matches!(&*conn, DbConn::Sqlite(_)) {
        // SQLite's bulk session leaves the foreign keys to the writer: every one holds.
        assert_eq!(
            number(
                &mut conn,
                "SELECT count(*) AS n FROM pragma_foreign_key_check"
            ),
            0
        );
    }
    let n_customers: i64 = customers::table.count().get_result(&mut *conn).unwrap();
    let n_interactions: i64 = interactions::table.count().get_result(&mut *conn).unwrap();
    let n_demo: i64 = interactions::table
        .filter(interactions::source.eq("demo"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(n_customers, CUSTOMERS as i64);
    assert_eq!(n_interactions, expected_interactions as i64);
    assert_eq!(n_demo, n_interactions);
    // Purchase totals were recomputed for every buyer, in every transaction.
    let buyers = generated
        .iter()
        .filter(|c| c.interactions.iter().any(|(_, i)| i.is_purchase()))
        .count();
    let totals_rows: i64 = customer_purchase_totals::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(totals_rows, buyers as i64, "one currency per customer");
    for c in generated.iter().step_by(37) {
        let summary = rapport_store::interactions::purchase_summary(&mut conn, c.id).unwrap();
        let bought: Vec<_> = c
            .interactions
            .iter()
            .filter(|(_, i)| i.is_purchase())
            .collect();
        assert_eq!(summary.purchase_count, bought.len() as i64);
        assert_eq!(
            summary.totals.iter().map(|t| t.total_minor).sum::<i64>(),
            bought
                .iter()
                .map(|(_, i)| i.amount_minor.unwrap())
                .sum::<i64>()
        );
        let stored = rapport_store::customers::get(&mut conn, c.id).unwrap();
        assert_eq!(stored.draft, c.draft);
        assert_eq!(stored.created_at, c.created_at);
    }
    let until = parse_until("2026-01-01").unwrap();
    check_loyalty(&mut conn, &generated, until);
    assert_eq!(first.loyalty_entries, loyalty_snapshot(&mut conn).entries);
    let before = loyalty_snapshot(&mut conn);
    drop(conn);

    // Seeding again adds nothing; seeding more adds only the new ones.
    let again = seed_demo(&db, &options()).unwrap();
    assert_eq!(
        (again.customers, again.skipped, again.interactions),
        (0, CUSTOMERS, 0)
    );
    assert_eq!((again.loyalty_entries, again.redemptions), (0, 0));
    assert_eq!(loyalty_snapshot(&mut db.conn().unwrap()), before);
    let mut more = options();
    more.customers = CUSTOMERS + 20;
    let more = seed_demo(&db, &more).unwrap();
    assert_eq!((more.customers, more.skipped), (20, CUSTOMERS));
    let mut conn = db.conn().unwrap();
    let n_customers: i64 = customers::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(n_customers, CUSTOMERS as i64 + 20);
    let all: Vec<DemoCustomer> = (1..=CUSTOMERS + 20)
        .map(|n| generator.customer(n).unwrap())
        .collect();
    check_loyalty(&mut conn, &all, until);

    // What the seed wrote is what the live path writes: replayed through the store's own
    // earn (recording a purchase), redeem and expiry-run functions at the same moments, a
    // twin of each customer gets the same ledger, lots and account.
    let sample: Vec<&DemoCustomer> = all
        .iter()
        .filter(|c| {
            let e = ledger(&mut conn, c.id);
            e.iter().any(|e| e.kind == EntryKind::Redeem) || c.n % 10 == 0 && !e.is_empty()
        })
        .take(25)
        .collect();
    assert!(sample.len() >= 10, "{} customers to replay", sample.len());
    for c in sample {
        replay_and_compare(&mut conn, c, until);
    }
}

/// Rows per loyalty table, their sums, and the rewards' stock: what "nothing changed" compares.
#[derive(Debug, PartialEq)]
struct LoyaltySnapshot {
    entries: u64,
    points: i64,
    lots: i64,
    remaining: i64,
    consumptions: i64,
    redemptions: i64,
    codes: i64,
    programs: i64,
    rewards: Vec<(String, Option<i64>, i64)>,
}

#[derive(diesel::QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn number(conn: &mut DbConn, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Number>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

fn loyalty_snapshot(conn: &mut DbConn) -> LoyaltySnapshot {
    let rewards = rapport_store::loyalty::rewards_page(conn, true, None, 100)
        .unwrap()
        .items
        .into_iter()
        .map(|r| (r.terms.name, r.terms.stock, r.version))
        .collect();
    LoyaltySnapshot {
        entries: number(conn, "SELECT COUNT(*) AS n FROM loyalty_entries") as u64,
        points: number(
            conn,
            "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM loyalty_entries",
        ),
        lots: number(conn, "SELECT COUNT(*) AS n FROM loyalty_lots"),
        remaining: number(
            conn,
            "SELECT CAST(COALESCE(SUM(remaining), 0) AS BIGINT) AS n FROM loyalty_lots",
        ),
        consumptions: number(conn, "SELECT COUNT(*) AS n FROM loyalty_consumptions"),
        redemptions: number(conn, "SELECT COUNT(*) AS n FROM loyalty_redemptions"),
        codes: number(conn, "SELECT COUNT(*) AS n FROM loyalty_reward_codes"),
        programs: number(conn, "SELECT COUNT(*) AS n FROM loyalty_programs"),
        rewards,
    }
}

/// The customer's whole ledger, oldest first.
fn ledger(conn: &mut DbConn, customer_id: Uuid) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = rapport_store::loyalty::entries_page(conn, customer_id, cursor.as_deref(), 200)
            .unwrap();
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.reverse();
    out
}

/// The demo program and catalog are in place, and every customer's ledger is what the program
/// says, recomputed here from the purchases without the domain's code: one point per whole
/// euro, pound or dollar (nothing in other currencies), times 1, 1.25 or 1.5 by the points
/// earned in the 365 days before (500 and 2 000 for silver and gold), rounded down; lots
/// expire after 365 days, taken by the expiry run; redemptions take from lots alive at the
/// time; balances, lots and accounts agree.
fn check_loyalty(conn: &mut DbConn, customers: &[DemoCustomer], until: DateTime<Utc>) {
    let program = rapport_store::loyalty::program(conn).unwrap().unwrap();
    assert_eq!(program.version, 1);
    assert_eq!(program.definition, demo_program());
    let first_signup = customers.iter().map(|c| c.created_at).min().unwrap();
    assert!(program.created_at <= first_signup);
    let rewards = rapport_store::loyalty::rewards_page(conn, true, None, 100)
        .unwrap()
        .items;
    let names: Vec<&str> = rewards.iter().map(|r| r.terms.name.as_str()).collect();
    let catalog = demo_catalog();
    let expected: Vec<&str> = catalog.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, expected);
    assert!(rewards.iter().any(|r| r.terms.stock.is_some()));
    assert!(rewards
        .iter()
        .any(|r| r.terms.cost_points == 1_000 && r.terms.percent_off == Some(10)));
    assert!(rewards
        .iter()
        .any(|r| r.terms.cost_points == 5_000 && r.terms.quantity == 2));

    let (mut redemptions, mut expiries, mut multiplied, mut balances) = (0, 0, 0, 0i64);
    for c in customers {
        let entries = ledger(conn, c.id);
        // Earn: one entry per purchase that earns, as recomputed.
        let mut awarded: Vec<(DateTime<Utc>, i64)> = Vec::new();
        let earns: HashMap<Uuid, &Entry> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Earn)
            .map(|e| (e.source.id.unwrap(), e))
            .collect();
        let mut expected_earns = 0;
        for (id, i) in c.interactions.iter().filter(|(_, i)| i.is_purchase()) {
            let at = i.occurred_at;
            // Points per whole units: (points, units).
            let (rate, per) = match i.currency.as_deref().unwrap() {
                "EUR" | "GBP" | "USD" => (1, 1),
                "MXN" => (1, 14),
                "ARS" => (1, 900),
                "BRL" => (2, 7),
                _ => (0, 1),
            };
            let window: i64 = awarded
                .iter()
                .filter(|(t, _)| *t > at - Duration::days(365))
                .map(|(_, p)| p)
                .sum();
            let multiplier = if window >= 2_000 {
                150
            } else if window >= 500 {
                125
            } else {
                100
            };
            let points = i.amount_minor.unwrap() * rate * multiplier / (10_000 * per);
            if points == 0 {
                assert!(!earns.contains_key(id), "customer {} purchase {id}", c.n);
                continue;
            }
            expected_earns += 1;
            if multiplier > 100 {
                multiplied += 1;
            }
            let e = earns
                .get(id)
                .unwrap_or_else(|| panic!("customer {} purchase {id} earned nothing", c.n));
            assert_eq!(e.points, points, "customer {} purchase {id}", c.n);
            assert_eq!(e.created_at, at);
            assert_eq!(e.program_version, Some(1));
            assert_eq!(e.expires_at, Some(at + Duration::days(365)));
            assert_eq!(e.reason.as_deref(), Some("purchase"));
            assert_eq!(e.source.kind, SourceType::Interaction);
            awarded.push((at, points));
        }
        assert_eq!(earns.len(), expected_earns, "customer {}", c.n);

        // Takes: from lots that exist, within what is left of them.
        let lots: HashMap<Uuid, &Entry> = earns.values().map(|e| (e.id, *e)).collect();
        let mut remaining: HashMap<Uuid, i64> =
            lots.iter().map(|(id, e)| (*id, e.points)).collect();
        for e in &entries {
            match e.kind {
                EntryKind::Earn => {}
                EntryKind::Expire => {
                    expiries += 1;
                    assert_eq!(e.lots.len(), 1);
                    let lot = lots[&e.lots[0].lot_id];
                    assert!(lot.expires_at.unwrap() <= e.created_at);
                    assert!(e.created_at <= until);
                    assert_eq!(e.points, -remaining[&lot.id], "the whole rest expires");
                }
                EntryKind::Redeem => {
                    redemptions += 1;
                    assert_eq!(e.source.kind, SourceType::Redemption);
                    let r = rapport_store::loyalty::redemption(conn, c.id, e.source.id.unwrap())
                        .unwrap();
                    assert_eq!((r.entry_id, r.points), (e.id, -e.points));
                    assert_eq!(r.created_at, e.created_at);
                    assert_eq!(r.codes.len() as i64, r.terms.quantity);
                    assert!(r.codes.iter().all(|k| k.len() == 19));
                    assert_eq!(e.reason.as_deref(), Some(r.terms.name.as_str()));
                    assert!(e.created_at < until);
                    for u in &e.lots {
                        let lot = lots[&u.lot_id];
                        assert!(lot.created_at < e.created_at);
                        assert!(lot.expires_at.unwrap() > e.created_at, "an expired lot");
                    }
                }
                other => panic!("the seed writes no {other:?} entries"),
            }
            assert_eq!(
                e.lots.iter().map(|u| u.points).sum::<i64>(),
                -e.points.min(0)
            );
            for u in &e.lots {
                let left = remaining.get_mut(&u.lot_id).unwrap();
                *left -= u.points;
                assert!(*left >= 0, "customer {} overdrew lot {}", c.n, u.lot_id);
            }
        }
        for (id, left) in &remaining {
            if lots[id].expires_at.unwrap() <= until {
                assert_eq!(*left, 0, "the expiry run left points on lot {id}");
            }
        }

        // The account, as `GET /customers/{id}/loyalty` shows it at `until`.
        let account = rapport_store::loyalty::account(conn, c.id, until).unwrap();
        let ledger_sum: i64 = entries.iter().map(|e| e.points).sum();
        assert_eq!(account.balance, ledger_sum, "customer {}", c.n);
        assert_eq!(account.balance, remaining.values().sum::<i64>());
        assert_eq!(
            account.lifetime_points,
            awarded.iter().map(|(_, p)| p).sum::<i64>()
        );
        let qualifying: i64 = awarded
            .iter()
            .filter(|(t, _)| *t > until - Duration::days(365))
            .map(|(_, p)| p)
            .sum();
        assert_eq!(account.qualifying_points, qualifying);
        let tier = match qualifying {
            q if q >= 2_000 => "gold",
            q if q >= 500 => "silver",
            _ => "bronze",
        };
        assert_eq!(account.tier.map(|t| t.name).as_deref(), Some(tier));
        assert_eq!(account.program_version, Some(1));
        balances += account.balance;
    }
    assert!(redemptions > 0, "no redemptions");
    assert!(expiries > 0, "no expiries");
    assert!(
        multiplied > 0,
        "no purchase earned with a tier's multiplier"
    );

    // The stored lots agree with their consumptions, and with the balances.
    assert_eq!(
        number(
            conn,
            "SELECT COUNT(*) AS n FROM loyalty_lots l WHERE l.remaining < 0 OR l.remaining <> \
             l.points - COALESCE((SELECT SUM(u.points) FROM loyalty_consumptions u \
             WHERE u.lot_id = l.entry_id), 0)"
        ),
        0
    );
    assert_eq!(
        number(
            conn,
            "SELECT CAST(COALESCE(SUM(remaining), 0) AS BIGINT) AS n FROM loyalty_lots"
        ),
        balances
    );
}

/// Replays customer `c`'s history for a twin through the live path — the store functions the
/// API runs, at the moments the seed says things happened — and compares.
fn replay_and_compare(conn: &mut DbConn, c: &DemoCustomer, until: DateTime<Utc>) {
    let seeded = ledger(conn, c.id);
    let twin = Uuid::now_v7();
    let draft = rapport_domain::customer::CustomerDraft {
        external_ref: Some(format!("twin-{}", c.n)),
        ..c.draft.clone()
    };
    insert_customers(
        conn,
        &[NewCustomer {
            id: twin,
            draft: &draft,
            created_at: c.created_at,
        }],
    )
    .unwrap();
    enum Step<'a> {
        Buy(Uuid, &'a rapport_domain::interaction::InteractionDraft),
        Redeem(Uuid),
        Expire,
    }
    let mut steps: Vec<(DateTime<Utc>, u8, Step<'_>)> = Vec::new();
    for (id, i) in c.interactions.iter().filter(|(_, i)| i.is_purchase()) {
        steps.push((i.occurred_at, 2, Step::Buy(*id, i)));
    }
    for e in &seeded {
        match e.kind {
            EntryKind::Redeem => {
                let r =
                    rapport_store::loyalty::redemption(conn, c.id, e.source.id.unwrap()).unwrap();
                steps.push((e.created_at, 1, Step::Redeem(r.reward_id)));
            }
            EntryKind::Expire => steps.push((e.created_at, 0, Step::Expire)),
            _ => {}
        }
    }
    steps.sort_by_key(|(t, order, _)| (*t, *order));
    steps.dedup_by(|a, b| a.0 == b.0 && matches!((&a.2, &b.2), (Step::Expire, Step::Expire)));
    let mut twin_of: HashMap<Uuid, Uuid> = HashMap::new();
    for (at, _, step) in steps {
        match step {
            Step::Buy(id, i) => {
                let mut d = i.clone();
                d.customer_id = twin;
                d.external_ref = Some(format!("twin-{id}"));
                let recorded = rapport_store::interactions::insert(conn, &d, None, at).unwrap();
                let stored = recorded.interaction;
                assert!(recorded.created);
                twin_of.insert(id, stored.id);
            }
            Step::Redeem(reward) => {
                conn.transaction(|conn| {
                    rapport_store::loyalty::redeem(
                        conn,
                        twin,
                        reward,
                        || Uuid::now_v7().simple().to_string(),
                        at,
                    )
                })
                .unwrap();
            }
            Step::Expire => {
                conn.transaction(|conn| rapport_store::loyalty::expire(conn, twin, at))
                    .unwrap();
            }
        }
    }
    let live = ledger(conn, twin);
    assert_eq!(live.len(), seeded.len(), "customer {}", c.n);
    let mut lot_of: HashMap<Uuid, Uuid> = HashMap::new();
    for (s, l) in seeded.iter().zip(&live) {
        let what = format!("customer {}: {s:?} vs {l:?}", c.n);
        assert_eq!(
            (
                s.kind,
                s.points,
                s.created_at,
                s.program_version,
                s.expires_at
            ),
            (
                l.kind,
                l.points,
                l.created_at,
                l.program_version,
                l.expires_at
            ),
            "{what}"
        );
        assert_eq!(
            (&s.reason, s.source.kind),
            (&l.reason, l.source.kind),
            "{what}"
        );
        if s.kind == EntryKind::Earn {
            assert_eq!(Some(twin_of[&s.source.id.unwrap()]), l.source.id, "{what}");
            lot_of.insert(s.id, l.id);
        }
        let uses: Vec<(Uuid, i64)> = s
            .lots
            .iter()
            .map(|u| (lot_of[&u.lot_id], u.points))
            .collect();
        let mut live_uses: Vec<(Uuid, i64)> = l.lots.iter().map(|u| (u.lot_id, u.points)).collect();
        let mut uses = uses;
        uses.sort();
        live_uses.sort();
        assert_eq!(uses, live_uses, "{what}");
    }
    let mut a = rapport_store::loyalty::account(conn, c.id, until).unwrap();
    let b = rapport_store::loyalty::account(conn, twin, until).unwrap();
    a.customer_id = twin;
    assert_eq!(a, b, "customer {}", c.n);
}

#[test]
fn seeds_a_fresh_sqlite_file() {
    let path =
        std::env::temp_dir().join(format!("rapport_seed_{}.db", uuid::Uuid::now_v7().simple()));
    seed_and_check(&format!("sqlite://{}", path.display()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[test]
fn seeds_a_fresh_postgres_database() {
    rapport_store::testing::with_postgres_database("rapport_seed", seed_and_check);
}
