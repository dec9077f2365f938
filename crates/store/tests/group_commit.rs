//! SQLite writes go through one writer thread that commits them in groups: a failing write must
//! not take the others in its group down, and every acknowledged write must be there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use rapport_domain::auth::{Scope, Scopes};
use rapport_store::api_keys::{self, NewApiKey};
use rapport_store::{Db, PoolOptions, StoreError};

#[test]
fn concurrent_writes_commit_independently_in_groups() {
    let path = std::env::temp_dir().join(format!("rapport-group-{}.db", uuid::Uuid::now_v7()));
    let db = Arc::new(
        Db::connect(
            &format!("sqlite://{}", path.display()),
            &PoolOptions::default(),
        )
        .unwrap(),
    );
    db.migrate().unwrap();

    // 400 writes from 8 threads; every third reuses a hash and must fail on the unique rule.
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| {
                        let n = t * 50 + i;
                        let hash = if n % 3 == 0 {
                            "duplicate".to_owned()
                        } else {
                            format!("hash-{n}")
                        };
                        db.write(move |conn| {
                            api_keys::insert(
                                conn,
                                &NewApiKey {
                                    id: uuid::Uuid::now_v7(),
                                    name: "k",
                                    prefix: "rk_x",
                                    key_hash: &hash,
                                    scopes: &Scopes::new(vec![Scope::CustomersRead]),
                                    created_by: None,
                                    created_at: rapport_domain::now(),
                                    expires_at: None,
                                },
                            )
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(StoreError::Db(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                )))
            )
        })
        .count();
    let duplicates = (0..400).filter(|n| n % 3 == 0).count();
    // One of the duplicates wins, the rest conflict.
    assert_eq!(conflicts, duplicates - 1);
    assert_eq!(ok, 400 - duplicates + 1);
    let stored = api_keys::count(&mut db.conn().unwrap()).unwrap();
    assert_eq!(
        stored as usize, ok,
        "every acknowledged write is stored, and nothing else"
    );
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
