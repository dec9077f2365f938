//! PostgreSQL reuses one plan for a page of customers instead of planning every request: the
//! page size is written into the SQL (`page::limited`), so the generic plan is chosen after five
//! executions. With `LIMIT $1` every execution was planned again (`custom_plans` only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use rapport_store::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::{Db, DbConn, PoolOptions};

#[derive(QueryableByName, Debug)]
struct Plans {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    custom_plans: i64,
}

fn check(url: &str) {
    let db = Db::connect(
        url,
        &PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    )
    .unwrap();
    db.migrate().unwrap();
    let mut conn = db.conn().unwrap();
    let draft: rapport_domain::customer::CustomerDraft =
        serde_json::from_value(serde_json::json!({"given_name": "Ana"})).unwrap();
    let draft = draft.parse().unwrap();
    for _ in 0..3 {
        customers::insert(&mut conn, &draft, rapport_domain::now()).unwrap();
    }
    // First pages, then pages after a cursor (the statement with the keyset condition).
    let first = customers::list(
        &mut conn,
        &CustomerFilter::default(),
        CustomerSort::CreatedAsc,
        None,
        1,
    )
    .unwrap();
    let cursor = first.next_cursor.unwrap();
    for _ in 0..8 {
        let page = customers::list(
            &mut conn,
            &CustomerFilter::default(),
            CustomerSort::CreatedAsc,
            None,
            1,
        )
        .unwrap();
        assert_eq!(page.items.len(), 1);
        let next = customers::list(
            &mut conn,
            &CustomerFilter::default(),
            CustomerSort::CreatedAsc,
            Some(&cursor),
            1,
        )
        .unwrap();
        assert_eq!(next.items.len(), 1);
        assert_ne!(next.items[0].id(), page.items[0].id());
    }
    let DbConn::Pg(pg) = &mut *conn else {
        panic!("a PostgreSQL connection")
    };
    let plans: Vec<Plans> = diesel::sql_query(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE statement LIKE '%FROM \"customers\"%ORDER BY%LIMIT 2'",
    )
    .load(pg)
    .unwrap();
    assert_eq!(plans.len(), 2, "the first page and the next: {plans:?}");
    for p in &plans {
        assert!(p.generic_plans >= 3, "planned every time: {p:?}");
        assert!(p.custom_plans <= 5, "{p:?}");
    }
}

#[test]
fn customer_pages_reuse_one_plan_on_postgres() {
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
    let name = format!("rapport_plans_{}", uuid::Uuid::now_v7().simple());
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    let (head, _) = admin_url.rsplit_once('/').unwrap();
    let result = std::panic::catch_unwind(|| check(&format!("{head}/{name}")));
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
