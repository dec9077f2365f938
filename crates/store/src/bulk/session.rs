//! The bulk session: a connection tuned for bulk writes while they run.

use diesel::connection::SimpleConnection;

use crate::db::DbConn;

/// Page cache of a SQLite connection doing bulk writes, in KiB. Index inserts land at random
/// places in four B-trees; with SQLite's default 2 MB cache most of an import's time went to
/// spilling and re-reading pages. Bounded, so memory stays flat in the file's size.
pub(super) const BULK_CACHE_KIB: i64 = 128 * 1024;

/// Runs `f` with the connection tuned for bulk writes, and restores it afterwards (pooled
/// connections are shared):
/// - SQLite: a larger page cache, no memory map (the process holds what it reads), and, when
///   the session starts outside a transaction (the CLI's import, the seed), foreign keys not
///   enforced by SQLite: bulk writers make their references hold themselves. (Inside one, as
///   in the server, whose writer thread runs every write in its batch transaction, SQLite
///   ignores the switch and enforces them as usual.) An import
///   looks every interaction's customer up in its own transaction, and nobody can delete that
///   customer before it commits: SQLite has one writer, and a transaction that read a snapshot
///   cannot write once another has committed after it (`SQLITE_BUSY_SNAPSHOT`), so a merge
///   that slips in makes the import fail, not leave orphans. Tags and the seed's loyalty rows
///   are written with their parents. Enforced, the foreign key made SQLite keep a statement
///   journal for every multi-row `INSERT` (a copy of each page it touched; measured: see
///   docs/benchmarks.md) and look the customer up row by row. Sorts (an index built at the end
///   of an import) spill to temporary files, not memory, and use a second thread.
/// - PostgreSQL: no sequential scans. A bulk load runs in one transaction, so the planner's
///   statistics still describe the tables as they were before it (often empty): it then chose
///   sequential scans for each batch's existence checks, and an import slowed down
///   quadratically (measured: see docs/benchmarks.md).
pub fn bulk_session<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let (tune, restore) = match conn {
        // `foreign_keys` can only change outside a transaction, hence here.
        DbConn::Sqlite(_) => (
            format!(
                "PRAGMA cache_size = -{BULK_CACHE_KIB}; PRAGMA mmap_size = 0; \
                 PRAGMA foreign_keys = OFF; PRAGMA temp_store = FILE; PRAGMA threads = 2;"
            ),
            format!(
                "PRAGMA cache_size = -2000; PRAGMA mmap_size = {}; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY; PRAGMA threads = 0;",
                crate::db::SQLITE_MMAP_BYTES
            ),
        ),
        DbConn::Pg(_) => (
            "SET enable_seqscan = off".to_owned(),
            "RESET enable_seqscan".to_owned(),
        ),
    };
    conn.batch_execute(&tune)?;
    let result = f(conn);
    // A failure to restore must not hide the work's own result.
    let _ = conn.batch_execute(&restore);
    if matches!(conn, DbConn::Sqlite(_)) && result.is_ok() {
        // A bulk load leaves a write-ahead log as large as what it wrote, which SQLite keeps on
        // disk and the next process to open the file reads through (measured: see
        // docs/benchmarks.md). Copy it into the database and empty it. Best effort: with
        // readers active it gives up after the busy timeout, and inside a transaction (the
        // server's writer) SQLite refuses it; the log is checkpointed later either way.
        let _ = conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    result
}
