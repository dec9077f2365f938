//! Connections and the pool: one connection type over both backends, picked by URL scheme.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::StoreError;

/// A connection to either backend. Queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A parsed `DATABASE_URL`: `postgres://…`/`postgresql://…`, or `sqlite://PATH`, `sqlite:PATH`
/// or a bare file path for SQLite.
#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    pub backend: Backend,
    target: String,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self {
                backend: Backend::Postgres,
                target: url.to_owned(),
            }
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Self {
                backend: Backend::Sqlite,
                target: path.to_owned(),
            }
        }
    }

    /// The URL without any password, safe to log.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => match (self.target.find("://"), self.target.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let creds = &self.target[scheme_end + 3..at];
                    let user = creds.split(':').next().unwrap_or("");
                    format!(
                        "{}{}:***{}",
                        &self.target[..scheme_end + 3],
                        user,
                        &self.target[at..]
                    )
                }
                _ => self.target.clone(),
            },
        }
    }

    /// Opens one connection, with the SQLite pragmas every connection needs.
    pub fn connect(&self) -> Result<DbConn, ConnectionError> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.target).map(DbConn::Pg),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)?;
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

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
    /// SQLite allows one writer at a time. Writers in this process queue here instead of
    /// colliding inside SQLite, whose busy handler sleeps and retries (measured: p99 of
    /// concurrent inserts fell from ~230 ms to single-digit ms). Other processes on the same
    /// file still meet `busy_timeout`. `None` on PostgreSQL.
    write_gate: Option<std::sync::Arc<std::sync::Mutex<()>>>,
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
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .test_on_check_out(false)
            .build(Manager { url })
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let write_gate = (backend == Backend::Sqlite).then(Default::default);
        Ok(Self {
            pool,
            backend,
            write_gate,
        })
    }

    /// A connection for reads (and for writes that need no queueing).
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs a write: on SQLite, one at a time per process. Blocking.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A poisoned gate only means another writer panicked; the database is unharmed.
        let _turn = self
            .write_gate
            .as_ref()
            .map(|gate| gate.lock().unwrap_or_else(|p| p.into_inner()));
        let mut conn = self.conn()?;
        f(&mut conn)
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
