//! Rapport's HTTP API: actix-web routes, authentication, problem+json errors, the OpenAPI
//! document and metrics. [`server`] builds the whole thing on a listener bound by the caller
//! (port 0 in tests).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod error;
pub mod extract;
pub mod fault;
pub mod idempotency;
pub mod metrics;
pub mod middleware;
pub mod nul;
pub mod openapi;
pub mod routes;
pub mod transfer;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use rapport_store::{Db, DbConn, StoreError};

use crate::error::{ApiError, ApiResult};

/// Settings the HTTP layer needs.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Serve `/metrics` without credentials.
    pub metrics_public: bool,
    /// Worker threads (0: one per core).
    pub workers: usize,
    /// How long a verified API key is trusted before the database is asked again: the longest
    /// a key revoked elsewhere keeps working on this process.
    pub key_cache_ttl: std::time::Duration,
    /// How long an `Idempotency-Key` is held for the attempt that reserved it (see
    /// [`idempotency`]).
    pub idempotency_lease: std::time::Duration,
    /// The largest import body, in bytes.
    pub import_max_bytes: u64,
    /// The longest an import's upload may go without sending anything.
    pub import_body_timeout: std::time::Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            metrics_public: true,
            workers: 0,
            key_cache_ttl: auth::KEY_CACHE_TTL,
            idempotency_lease: std::time::Duration::from_secs(60),
            import_max_bytes: 1 << 30,
            import_body_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub jwt: auth::JwtConfig,
    pub key_cache: auth::KeyCache,
    pub metrics: metrics::Metrics,
    pub config: ApiConfig,
    pub openapi_json: web::Bytes,
}

impl AppState {
    pub fn new(db: Db, jwt: auth::JwtConfig, config: ApiConfig) -> anyhow::Result<Self> {
        let metrics = metrics::Metrics::new(db.backend.as_str())?;
        Ok(Self {
            db,
            jwt,
            key_cache: auth::KeyCache::new(config.key_cache_ttl),
            metrics,
            config,
            openapi_json: web::Bytes::from(openapi::document_json()),
        })
    }

    /// Runs blocking database work on the blocking pool, never on an executor thread.
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        let result = web::block(move || {
            let mut conn = db.conn()?;
            f(&mut conn)
        })
        .await?;
        result.map_err(ApiError::from)
    }

    /// Like [`AppState::run`], for work that writes: in one transaction, and on SQLite through
    /// the group-committing writer thread (no blocking thread is held while it waits).
    pub async fn run_write<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let done = move |r: Result<T, StoreError>| {
            let _ = tx.send(r);
        };
        match self.db.submit_write(f, done) {
            None => rx
                .await
                .map_err(|_| ApiError::Unavailable(anyhow::anyhow!("the writer thread stopped")))?
                .map_err(ApiError::from),
            Some((f, _)) => {
                let db = self.db.clone();
                web::block(move || db.write(f))
                    .await?
                    .map_err(ApiError::from)
            }
        }
    }
}

/// All routes, for `App::configure`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(extract::MAX_BODY_BYTES))
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .configure(routes::health::configure)
        .configure(routes::docs::configure)
        .configure(routes::auth::configure_public)
        .service(
            web::scope("/api/v1")
                // Wrapped last, so it runs first: authentication, then idempotency.
                .wrap(from_fn(idempotency::idempotent))
                .wrap(from_fn(middleware::require_auth))
                .configure(routes::auth::configure)
                .configure(routes::api_keys::configure)
                .configure(routes::users::configure)
                .configure(routes::transfer::configure)
                .configure(routes::duplicates::configure)
                .configure(routes::customers::configure)
                .configure(routes::interactions::configure)
                .configure(routes::loyalty::configure)
                .configure(routes::tickets::configure),
        )
        .default_service(web::to(not_found));
}

async fn not_found() -> ApiResult<actix_web::HttpResponse> {
    Err(ApiError::new(
        error::Code::NotFound,
        "no such resource or route",
    ))
}

/// Builds the server on an already bound listener. Shuts down gracefully on SIGTERM/SIGINT.
pub fn server(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let workers = state.config.workers;
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(ErrorHandlers::new().default_handler(middleware::problemize))
            .wrap(from_fn(middleware::observe))
            .configure(configure)
    })
    .shutdown_timeout(10)
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}
