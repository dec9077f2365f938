//! How Rapport lays out a SQLite file: 16 KiB pages in a new file, and UUIDs as 16-byte blobs.
//! A database made before the blobs (text ids) is converted by migration 000009, and
//! everything in it reads back the same; reverting the migration gives the text back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};
use rapport_domain::customer::CustomerDraft;
use rapport_domain::interaction::InteractionDraft;
use rapport_store::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::interactions;
use rapport_store::{Db, PoolOptions};

#[derive(QueryableByName)]
struct Kinds {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kinds: String,
}

/// The storage classes of every id column of the rows written below, e.g. `blob,blob,blob`.
fn id_kinds(conn: &mut SqliteConnection) -> String {
    diesel::sql_query(
        "SELECT group_concat(k) AS kinds FROM (
             SELECT typeof(id) AS k FROM customers
             UNION ALL SELECT typeof(customer_id) FROM customer_tags
             UNION ALL SELECT typeof(id) || '/' || typeof(customer_id) FROM interactions
             UNION ALL SELECT typeof(customer_id) FROM customer_purchase_totals)",
    )
    .get_result::<Kinds>(conn)
    .unwrap()
    .kinds
}

#[test]
fn text_ids_of_an_older_database_become_blobs_and_read_the_same() {
    let path = std::env::temp_dir().join(format!("rapport-blob-{}.db", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}", path.display());
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    db.migrate().unwrap();

    let draft: CustomerDraft = serde_json::from_value(serde_json::json!({
        "given_name": "Ana", "email": "ana@example.com", "tags": ["vip"]
    }))
    .unwrap();
    let now = rapport_domain::now();
    let (customer, purchase) = {
        let mut conn = db.conn().unwrap();
        let customer = customers::insert(&mut conn, &draft.parse().unwrap(), now).unwrap();
        let purchase: InteractionDraft = serde_json::from_value(serde_json::json!({
            "customer_id": customer.id, "channel": "web", "kind": "purchase",
            "amount_minor": 2599, "currency": "EUR", "occurred_at": "2025-03-01T10:00:00Z"
        }))
        .unwrap();
        let purchase = interactions::insert(&mut conn, &purchase, None, now)
            .unwrap()
            .interaction;
        (customer, purchase)
    };
    let read = |db: &Db| {
        let mut conn = db.conn().unwrap();
        let c = customers::get(&mut conn, customer.id).unwrap();
        let listed = customers::list(
            &mut conn,
            &CustomerFilter {
                tags: vec!["vip".into()],
                ..Default::default()
            },
            CustomerSort::default(),
            None,
            10,
        )
        .unwrap();
        let i = interactions::get(&mut conn, purchase.id).unwrap();
        let summary = interactions::purchase_summary(&mut conn, customer.id).unwrap();
        (
            serde_json::to_value(&c).unwrap(),
            listed.items.len(),
            serde_json::to_value(&i).unwrap(),
            serde_json::to_value(&summary).unwrap(),
        )
    };
    let before = read(&db);
    assert_eq!(before.1, 1);
    assert_eq!(before.3["purchase_count"], 1);

    // Back to text ids, as a database made before 000009 holds them.
    let migrations = FileBasedMigrations::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .unwrap();
    let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
    raw.batch_execute("PRAGMA foreign_keys = ON").unwrap();
    assert_eq!(id_kinds(&mut raw), "blob,blob,blob/blob,blob");
    // The migrations after 000009 first (they do not touch ids).
    let mut reverted_count = 0;
    loop {
        let reverted = raw.revert_last_migration(migrations.clone()).unwrap();
        reverted_count += 1;
        if reverted.to_string() == "20261125000009" {
            break;
        }
        assert!(reverted.to_string().as_str() > "20261125000009");
    }
    assert_eq!(id_kinds(&mut raw), "text,text,text/text,text");
    let customer_text: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "(SELECT id FROM customers)",
    ))
    .get_result(&mut raw)
    .unwrap();
    assert_eq!(customer_text, customer.id.hyphenated().to_string());
    drop(raw);

    // A text id still reads, and the migration turns them all into blobs again.
    let db = Db::connect(&url, &PoolOptions::default()).unwrap();
    assert!(db.check_ready().is_err());
    assert_eq!(db.migrate().unwrap(), reverted_count);
    let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
    assert_eq!(id_kinds(&mut raw), "blob,blob,blob/blob,blob");
    let broken: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM pragma_foreign_key_check)",
    ))
    .get_result(&mut raw)
    .unwrap();
    assert_eq!(broken, 0);
    assert_eq!(read(&db), before);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_new_file_has_16_kib_pages_and_an_existing_one_keeps_its_own() {
    let page_size = |path: &std::path::Path| -> i64 {
        let mut raw = SqliteConnection::establish(&path.display().to_string()).unwrap();
        raw.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT page_size FROM pragma_page_size)",
        ))
        .get_result(&mut raw)
        .unwrap()
    };
    let fresh = std::env::temp_dir().join(format!("rapport-page-{}.db", uuid::Uuid::now_v7()));
    Db::connect(
        &format!("sqlite://{}", fresh.display()),
        &PoolOptions::default(),
    )
    .unwrap()
    .migrate()
    .unwrap();
    assert_eq!(
        page_size(&fresh),
        i64::from(rapport_store::db::SQLITE_PAGE_SIZE)
    );

    let older = std::env::temp_dir().join(format!("rapport-page-{}.db", uuid::Uuid::now_v7()));
    let mut raw = SqliteConnection::establish(&older.display().to_string()).unwrap();
    raw.batch_execute("PRAGMA page_size = 4096; CREATE TABLE t (x); DROP TABLE t;")
        .unwrap();
    drop(raw);
    Db::connect(
        &format!("sqlite://{}", older.display()),
        &PoolOptions::default(),
    )
    .unwrap()
    .migrate()
    .unwrap();
    assert_eq!(page_size(&older), 4096);
    let _ = std::fs::remove_file(&fresh);
    let _ = std::fs::remove_file(&older);
}
