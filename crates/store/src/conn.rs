//! The connection type over both backends and the URL that picks one: what the pool
//! ([`crate::db`]) and the SQLite writer thread ([`crate::writer`]) both open.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

/// Page size of a new SQLite file, in bytes: 16 KiB instead of SQLite's 4 KiB. Fewer, fuller
/// B-tree pages: bulk imports ran faster and the HTTP benchmarks did not move (measured: see
/// docs/benchmarks.md). It only applies to a file being created.
pub const SQLITE_PAGE_SIZE: u32 = 16 * 1024;

/// SQLite's memory map size on every pooled connection, in bytes.
pub const SQLITE_MMAP_BYTES: i64 = 1 << 30;

/// A connection to either backend. Queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

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
            Backend::Postgres => {
                // The bundled OpenSSL would otherwise free itself in an exit handler while a
                // pool thread may still be in a TLS handshake: a segfault as a CLI command ends
                // (seen 2 runs in 30). Initialised first, without that handler.
                openssl_sys::init();
                PgConnection::establish(&self.target).map(DbConn::Pg)
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)?;
                // page_size: for a new file (an existing one keeps its own); see
                // SQLITE_PAGE_SIZE.
                // mmap: reads come from the mapped file instead of a pread per page.
                // temp_store: statement journals (multi-row inserts) in memory, not temp files.
                conn.batch_execute(&format!(
                    "PRAGMA page_size = {SQLITE_PAGE_SIZE}; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES}; PRAGMA temp_store = MEMORY;"
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}
