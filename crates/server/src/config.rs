//! Configuration from flags and environment. Every setting has a default that works with no
//! set-up: an embedded SQLite file next to where Rapport runs.

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database: `sqlite://PATH` (default, created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://rapport.db")]
    pub database_url: String,

    /// Address to listen on.
    #[arg(long, env = "RAPPORT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Secret for signing access tokens (HS256, at least 32 bytes). When unset, one is generated
    /// on first start and kept in the database, so every server on that database shares it.
    #[arg(long, env = "RAPPORT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// `iss` claim of access tokens.
    #[arg(long, env = "RAPPORT_JWT_ISSUER", default_value = "rapport")]
    pub jwt_issuer: String,

    /// `aud` claim of access tokens.
    #[arg(long, env = "RAPPORT_JWT_AUDIENCE", default_value = "rapport-api")]
    pub jwt_audience: String,

    /// Access token lifetime, seconds.
    #[arg(long, env = "RAPPORT_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u64,

    /// Refresh token lifetime, seconds.
    #[arg(long, env = "RAPPORT_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: u64,

    /// Database connections per server process.
    #[arg(long, env = "RAPPORT_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "RAPPORT_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Seconds a verified API key is trusted before it is checked again: the longest a key
    /// revoked on another server keeps working here.
    #[arg(long, env = "RAPPORT_KEY_CACHE_TTL", default_value_t = 5)]
    pub key_cache_ttl: u64,

    /// Seconds an `Idempotency-Key` stays with the attempt that reserved it while that attempt
    /// has not answered; a retry after that takes the key over (the attempt, if it still runs,
    /// then rolls its write back). Longer than any request should take.
    #[arg(long, env = "RAPPORT_IDEMPOTENCY_LEASE", default_value_t = 60)]
    pub idempotency_lease: u64,

    /// The largest import body (`POST …/import`), in bytes.
    #[arg(
        long,
        env = "RAPPORT_IMPORT_MAX_BYTES",
        default_value_t = 1 << 30
    )]
    pub import_max_bytes: u64,

    /// Seconds an import's upload may go without sending any of its body (then 408).
    #[arg(long, env = "RAPPORT_IMPORT_BODY_TIMEOUT", default_value_t = 30)]
    pub import_body_timeout: u64,

    /// Seconds between the server's loyalty expiry runs (0: never; `rapport loyalty expire`
    /// runs one by hand). Every server process may run them: they are idempotent.
    #[arg(long, env = "RAPPORT_LOYALTY_EXPIRY_EVERY", default_value_t = 3600)]
    pub loyalty_expiry_every: u64,

    /// Serve /metrics without credentials (set false to require an admin credential).
    #[arg(long, env = "RAPPORT_METRICS_PUBLIC", default_value_t = true, action = clap::ArgAction::Set)]
    pub metrics_public: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The database of a command that needs one (every command but `serve`'s own settings,
/// `openapi` and `analytics`): only these two options show in its `--help`.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database: `sqlite://PATH` (default, created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://rapport.db",
        global = true
    )]
    pub database_url: String,

    /// Database connections.
    #[arg(long, env = "RAPPORT_DB_POOL_SIZE", default_value_t = 4, global = true)]
    pub db_pool_size: u32,
}

impl Config {
    /// Its database settings.
    pub fn db(&self) -> DbArgs {
        DbArgs {
            database_url: self.database_url.clone(),
            db_pool_size: self.db_pool_size,
        }
    }

    /// Defaults, as with no flags and no environment (tests start from this).
    pub fn for_database(url: &str) -> Self {
        Self {
            database_url: url.to_owned(),
            bind: "127.0.0.1:0".into(),
            jwt_secret: None,
            jwt_issuer: "rapport".into(),
            jwt_audience: "rapport-api".into(),
            access_token_ttl: 900,
            refresh_token_ttl: 30 * 24 * 3600,
            db_pool_size: 8,
            workers: 2,
            metrics_public: true,
            key_cache_ttl: 5,
            idempotency_lease: 60,
            import_max_bytes: 1 << 30,
            import_body_timeout: 30,
            loyalty_expiry_every: 3600,
        }
    }
}
