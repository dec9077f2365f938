//! For tests (feature `testing`): a PostgreSQL database of their own.

use diesel::{Connection, PgConnection, RunQueryDsl};

/// Runs `f` with the URL of a new, empty PostgreSQL database named `{prefix}_{uuid}` on the
/// server at `RAPPORT_TEST_PG_URL` (default: the local one), and drops it afterwards, also
/// when `f` panics. Without a reachable server the test is skipped with a line saying so,
/// unless `RAPPORT_REQUIRE_POSTGRES=1`, when it fails.
pub fn with_postgres_database(prefix: &str, f: impl FnOnce(&str) + std::panic::UnwindSafe) {
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
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    if let Err(e) = diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin) {
        panic!("creating {name}: {e}");
    }
    let head = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(h, _)| h);
    let result = std::panic::catch_unwind(|| f(&format!("{head}/{name}")));
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
