//! Connections and the pool: one connection type over both backends, picked by URL scheme.

use std::time::Duration;

use diesel::r2d2::R2D2Connection;
use diesel::ConnectionError;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::StoreError;

pub use crate::conn::{
    Backend, DatabaseUrl, DbConn, MultiBackend, MultiRawValue, SQLITE_MMAP_BYTES, SQLITE_PAGE_SIZE,
};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// r2d2 manager. Connections are not pinged on checkout (that doubled the round trips of
/// every request); broken ones are detected by diesel's transaction-state check on return and by
/// the caller's error, and the pool replaces them.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConn, ConnectionError> {
        self.url.connect()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            connection_timeout: Duration::from_secs(3),
        }
    }
}

/// The database: a pool plus what it is.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    pub backend: Backend,
    /// SQLite takes one writer at a time: this process's writes go through one writer thread
    /// that commits them in groups (see [`crate::writer`]). `None` on PostgreSQL, where writes
    /// run on pooled connections concurrently.
    writer: Option<crate::writer::Writer>,
}

impl Db {
    /// Connects (creating the SQLite file if needed). Fails fast with the real connection error.
    pub fn connect(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url);
        // One direct connection first, so a wrong URL reports the database's own reason rather
        // than r2d2's generic time-out.
        drop(
            url.connect()
                .map_err(|e| StoreError::Connect(e.to_string()))?,
        );
        let backend = url.backend;
        let writer = match backend {
            Backend::Sqlite => Some(crate::writer::Writer::start(&url)?),
            Backend::Postgres => None,
        };
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .test_on_check_out(false)
            .build(Manager { url })
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        Ok(Self {
            pool,
            backend,
            writer,
        })
    }

    /// A connection for reads (and for writes that need no queueing).
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs a write and waits for it (blocking): on SQLite through the writer thread, elsewhere on
    /// a pooled connection, in a transaction either way.
    pub fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.writer {
            Some(writer) => {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                writer.submit(f, move |r| {
                    let _ = tx.send(r);
                });
                rx.recv().unwrap_or_else(|_| {
                    Err(StoreError::Connect("the writer thread has stopped".into()))
                })
            }
            None => {
                use diesel::Connection;
                let mut conn = self.conn()?;
                (*conn).transaction(f)
            }
        }
    }

    /// Queues a write without waiting, when this database has a writer thread (SQLite):
    /// `done` gets the result after the commit. Returns the work back when there is none, for
    /// the caller to run on a pooled connection.
    #[allow(clippy::type_complexity)]
    pub fn submit_write<T, F, D>(&self, f: F, done: D) -> Option<(F, D)>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
        D: FnOnce(Result<T, StoreError>) + Send + 'static,
    {
        match &self.writer {
            Some(writer) => {
                writer.submit(f, done);
                None
            }
            None => Some((f, done)),
        }
    }

    /// Connections in use and idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections - s.idle_connections, s.idle_connections)
    }

    pub fn pool_max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let ran = match &mut *conn {
            DbConn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(ran)
    }

    /// Ready: reachable, and every migration this binary knows is applied.
    pub fn check_ready(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let pending = match &mut *conn {
            DbConn::Pg(c) => c.has_pending_migration(PG_MIGRATIONS),
            DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        if pending {
            Err(StoreError::Migration("pending migrations".into()))
        } else {
            Ok(())
        }
    }
}

/// Runs `f` in a transaction on `conn` (a savepoint if one is open): committed if it returns
/// `Ok`, rolled back if `Err`. For callers outside this crate that do several store calls as one.
pub fn transaction<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::Connection;
    conn.transaction(f)
}
