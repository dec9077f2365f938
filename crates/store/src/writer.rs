//! Group commit for SQLite.
//!
//! SQLite takes one writer at a time, and most of a small write's cost is its commit (the WAL
//! append and the file locks). So every write of a process goes to one writer thread with its own
//! connection, which takes whatever writes are queued (up to [`MAX_BATCH`]), runs each in its own
//! savepoint inside one transaction, commits once, and then answers each caller. A write that
//! fails rolls back to its savepoint alone; a failed commit fails the whole batch. Callers are
//! answered only after the commit, so nobody sees an acknowledged write disappear.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::Connection;

use crate::conn::{DatabaseUrl, DbConn};
use crate::StoreError;

const MAX_BATCH: usize = 256;

trait Job: Send {
    /// Runs the write inside the batch transaction, in its own savepoint.
    fn run(&mut self, conn: &mut DbConn);
    /// Answers the caller once the batch committed (or failed to).
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

struct TypedJob<T, F, D> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    done: D,
}

impl<T, F, D> Job for TypedJob<T, F, D>
where
    T: Send,
    F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send,
    D: FnOnce(Result<T, StoreError>) + Send,
{
    fn run(&mut self, conn: &mut DbConn) {
        let Some(work) = self.work.take() else { return };
        let outcome = catch_unwind(AssertUnwindSafe(|| conn.transaction(work)));
        self.result =
            Some(outcome.unwrap_or_else(|_| Err(StoreError::Corrupt("a write panicked".into()))));
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let this = *self;
        let result = match (commit, this.result) {
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(StoreError::Corrupt("write did not run".into())),
            (Err(e), _) => Err(StoreError::Connect(format!("commit failed: {e}"))),
        };
        (this.done)(result);
    }
}

/// Handle to the writer thread; cloning shares it.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Box<dyn Job>>,
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction: the write lock is taken at the start, waiting
/// (busy timeout) for another process's writer. A plain `BEGIN` takes it at the first write; if
/// another process committed after this transaction's first read, SQLite refuses the upgrade
/// outright (`SQLITE_BUSY`, no waiting): two `rapport` processes writing one file failed requests.
fn immediate(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> diesel::QueryResult<()>,
) -> diesel::QueryResult<()> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use diesel::Connection;
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    match (conn, result) {
        (DbConn::Sqlite(sqlite), Ok(())) => AnsiTransactionManager::commit_transaction(sqlite),
        (DbConn::Sqlite(sqlite), Err(e)) => {
            // The batch's own error is what matters; a failed rollback leaves nothing open.
            let _ = AnsiTransactionManager::rollback_transaction(sqlite);
            Err(e)
        }
        (_, result) => result,
    }
}

impl Writer {
    pub(crate) fn start(url: &DatabaseUrl) -> Result<Self, StoreError> {
        let mut conn = url
            .connect()
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                // Ends when every handle is gone.
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let commit = immediate(&mut conn, |c| {
                        for job in batch.iter_mut() {
                            job.run(c);
                        }
                        Ok(())
                    })
                    .map_err(|e| {
                        tracing::error!(error = %e, jobs = batch.len(), "batch commit failed");
                        e.to_string()
                    });
                    for job in batch {
                        job.finish(commit.clone());
                    }
                }
            })
            .map_err(|e| StoreError::Connect(format!("starting the writer thread: {e}")))?;
        Ok(Self { tx })
    }

    /// Queues a write; `done` gets its result after the commit.
    pub(crate) fn submit<T, F, D>(&self, work: F, done: D)
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        let job = Box::new(TypedJob {
            work: Some(work),
            result: None,
            done,
        });
        if let Err(mpsc::SendError(job)) = self.tx.send(job) {
            job.finish(Err("the writer thread has stopped".into()));
        }
    }
}
