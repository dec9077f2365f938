//! `rapport seed demo` through its library function, on a fresh SQLite file and on a fresh
//! PostgreSQL database (skipped when none is reachable, unless `RAPPORT_REQUIRE_POSTGRES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::{Connection, ExpressionMethods, PgConnection, QueryDsl, RunQueryDsl};
use rapport::config::Config;
use rapport::seed::{parse_until, seed_demo, DemoOptions, Generator};
use rapport::startup::open_database;
use rapport_store::schema::{customer_purchase_totals, customers, interactions};

const CUSTOMERS: u64 = 300;

fn options() -> DemoOptions {
    let mut o = DemoOptions::new(CUSTOMERS, 42, parse_until("2026-01-01").unwrap());
    o.chunk = 120; // several transactions, the last one partial
    o
}

fn seed_and_check(url: &str) {
    let db = open_database(&Config::for_database(url)).unwrap();
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
    drop(conn);

    // Seeding again adds nothing; seeding more adds only the new ones.
    let again = seed_demo(&db, &options()).unwrap();
    assert_eq!(
        (again.customers, again.skipped, again.interactions),
        (0, CUSTOMERS, 0)
    );
    let mut more = options();
    more.customers = CUSTOMERS + 20;
    let more = seed_demo(&db, &more).unwrap();
    assert_eq!((more.customers, more.skipped), (20, CUSTOMERS));
    let mut conn = db.conn().unwrap();
    let n_customers: i64 = customers::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(n_customers, CUSTOMERS as i64 + 20);
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
    let admin_url = std::env::var("RAPPORT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let required = std::env::var("RAPPORT_REQUIRE_POSTGRES")
        .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let mut admin = match PgConnection::establish(&admin_url) {
        Ok(c) => c,
        Err(e) if !required => {
            eprintln!("skipped: PostgreSQL not reachable at {admin_url} ({e}); set RAPPORT_REQUIRE_POSTGRES=1 to fail instead");
            return;
        }
        Err(e) => panic!("RAPPORT_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable: {e}"),
    };
    let name = format!("rapport_seed_{}", uuid::Uuid::now_v7().simple());
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    let (head, _) = admin_url.rsplit_once('/').unwrap();
    let result = std::panic::catch_unwind(|| seed_and_check(&format!("{head}/{name}")));
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
