//! PostgreSQL reuses one plan for a page of customers instead of planning every request: the
//! page size is written into the SQL (`page::limited`) and a cursor's key is hidden behind a
//! sub-select (`page::opaque`), so the generic plan is chosen after five executions. With
//! `LIMIT $1`, or a cursor near the start of the table, every execution was planned again.
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
    // Enough rows, with statistics, for the planner to see that nearly all of them follow the
    // first page's cursor: what made it plan each page after a cursor again.
    let start = rapport_domain::now() - chrono::Duration::days(30);
    let rows: Vec<rapport_store::bulk::NewCustomer<'_>> = (0..20_000)
        .map(|i| rapport_store::bulk::NewCustomer {
            id: uuid::Uuid::now_v7(),
            draft: &draft,
            created_at: start + chrono::Duration::seconds(i),
        })
        .collect();
    rapport_store::transaction(&mut conn, |c| {
        rapport_store::bulk::insert_customers(c, &rows)
    })
    .unwrap();
    diesel::sql_query("ANALYZE customers")
        .execute(&mut *conn)
        .unwrap();
    // First pages, then pages after a cursor (the statement with the keyset condition).
    let page = |conn: &mut DbConn, cursor: Option<&str>| {
        let page = customers::list(
            conn,
            &CustomerFilter::default(),
            CustomerSort::CreatedAsc,
            cursor,
            50,
        )
        .unwrap();
        assert_eq!(page.items.len(), 50);
        page
    };
    let cursor = page(&mut conn, None).next_cursor.unwrap();
    for _ in 0..8 {
        let first = page(&mut conn, None);
        let next = page(&mut conn, Some(&cursor));
        assert_ne!(next.items[0].id(), first.items[0].id());
    }
    let DbConn::Pg(pg) = &mut *conn else {
        panic!("a PostgreSQL connection")
    };
    let plans: Vec<Plans> = diesel::sql_query(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE statement LIKE '%FROM \"customers\"%ORDER BY%LIMIT 51'",
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
    rapport_store::testing::with_postgres_database("rapport_plans", check);
}
