//! Hot queries are prepared once per connection and then reused from diesel's statement cache:
//! re-preparing on every request cost a measurable share of read throughput.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::Connection;
use rapport_domain::customer::CustomerDraft;
use rapport_store::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::{Db, DbConn, PoolOptions};

/// SQL of the statements put into the cache, and of every statement run.
#[derive(Clone, Default)]
struct Prepared(Arc<Mutex<(Vec<String>, Vec<String>)>>);

impl Instrumentation for Prepared {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let mut seen = self.0.lock().unwrap();
        match event {
            InstrumentationEvent::CacheQuery { sql, .. } => seen.0.push(sql.to_owned()),
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                seen.1.push(
                    text.split(" -- binds:")
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_owned(),
                );
            }
            _ => {}
        }
    }
}

#[test]
fn customer_reads_and_writes_are_prepared_once() {
    let path = std::env::temp_dir().join(format!("rapport-stmt-{}.db", uuid::Uuid::now_v7()));
    let db = Db::connect(
        &format!("sqlite://{}", path.display()),
        &PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    )
    .unwrap();
    db.migrate().unwrap();
    let mut conn = db.conn().unwrap();
    let prepared = Prepared::default();
    match &mut *conn {
        DbConn::Sqlite(c) => c.set_instrumentation(prepared.clone()),
        DbConn::Pg(c) => c.set_instrumentation(prepared.clone()),
    }
    let draft: CustomerDraft =
        serde_json::from_value(serde_json::json!({"given_name": "Ana", "tags": ["a"]})).unwrap();
    let draft = draft.parse().unwrap();
    let run = |conn: &mut DbConn| {
        let c = customers::insert(conn, &draft, rapport_domain::now()).unwrap();
        customers::get(conn, c.id).unwrap();
        customers::list(
            conn,
            &CustomerFilter::default(),
            CustomerSort::CreatedDesc,
            None,
            50,
        )
        .unwrap();
    };
    run(&mut conn);
    run(&mut conn);
    let (cached, ran) = prepared.0.lock().unwrap().clone();
    let uncached: Vec<_> = ran
        .iter()
        .filter(|sql| {
            !sql.starts_with("BEGIN") && !sql.starts_with("COMMIT") && !cached.contains(sql)
        })
        .collect();
    assert!(
        uncached.is_empty(),
        "statements prepared on every call: {uncached:#?}"
    );
    assert_eq!(
        cached.len(),
        cached
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        "each cached once"
    );
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
