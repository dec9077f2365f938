//! Start-up: connect, migrate, resolve the JWT secret, bootstrap the first admin key, bind.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use rapport_api::auth::JwtConfig;
use rapport_api::{ApiConfig, AppState};
use rapport_domain::auth::{Scope, Scopes};
use rapport_store::{Db, PoolOptions};

use crate::config::{Config, DbArgs};

/// Connects and applies pending migrations.
pub fn open_database(config: &DbArgs) -> anyhow::Result<Db> {
    let options = PoolOptions {
        max_size: config.db_pool_size.max(1),
        ..PoolOptions::default()
    };
    let db = Db::connect(&config.database_url, &options).with_context(|| {
        format!(
            "opening {}",
            rapport_store::db::DatabaseUrl::parse(&config.database_url).redacted()
        )
    })?;
    let ran = db.migrate().context("applying migrations")?;
    if ran > 0 {
        tracing::info!(migrations = ran, "applied migrations");
    }
    Ok(db)
}

const JWT_SECRET_SETTING: &str = "jwt_secret";

/// The configured secret, or the one kept in the database (generated on first start).
pub fn jwt_config(config: &Config, db: &Db) -> anyhow::Result<JwtConfig> {
    let secret = match &config.jwt_secret {
        Some(s) if s.len() >= 32 => s.clone(),
        Some(_) => anyhow::bail!("RAPPORT_JWT_SECRET must be at least 32 bytes"),
        None => {
            let mut conn = db.conn()?;
            let fresh = rapport_api::auth::random_token() + &rapport_api::auth::random_token();
            rapport_store::settings::get_or_insert(&mut conn, JWT_SECRET_SETTING, &fresh)?
        }
    };
    Ok(JwtConfig::new(
        secret.as_bytes(),
        &config.jwt_issuer,
        &config.jwt_audience,
        Duration::from_secs(config.access_token_ttl),
        Duration::from_secs(config.refresh_token_ttl),
    ))
}

/// On a database with no API keys and no users, creates an admin key and returns its secret.
pub fn bootstrap_admin_key(db: &Db) -> anyhow::Result<Option<String>> {
    let mut conn = db.conn()?;
    if rapport_store::api_keys::count(&mut conn)? > 0 || rapport_store::users::count(&mut conn)? > 0
    {
        return Ok(None);
    }
    let key = rapport_domain::auth::ParsedApiKey {
        name: "bootstrap admin".to_owned(),
        scopes: Scopes::new(vec![Scope::Admin]),
        expires_at: None,
    };
    let (_, secret) = rapport_api::routes::api_keys::create(&mut conn, &key, Some("bootstrap"))?;
    Ok(Some(secret))
}

/// A configured, bound, not yet running server.
pub struct Application {
    pub port: u16,
    pub db: Db,
    server: actix_web::dev::Server,
    metrics: rapport_api::metrics::Metrics,
    loyalty_expiry_every: Duration,
}

impl Application {
    /// Everything up to listening. `bootstrap` reports a freshly created admin key.
    pub fn build(config: &Config) -> anyhow::Result<(Self, Option<String>)> {
        let db = open_database(&config.db())?;
        let jwt = jwt_config(config, &db)?;
        let admin_key = bootstrap_admin_key(&db)?;
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let api_config = ApiConfig {
            metrics_public: config.metrics_public,
            workers: config.workers,
            key_cache_ttl: Duration::from_secs(config.key_cache_ttl),
            idempotency_lease: Duration::from_secs(config.idempotency_lease.max(1)),
            import_max_bytes: config.import_max_bytes,
            import_body_timeout: Duration::from_secs(config.import_body_timeout.max(1)),
        };
        let state = AppState::new(db.clone(), jwt, api_config)?;
        let metrics = state.metrics.clone();
        let server = rapport_api::server(listener, state)?;
        let app = Self {
            port,
            db,
            server,
            metrics,
            loyalty_expiry_every: Duration::from_secs(config.loyalty_expiry_every),
        };
        Ok((app, admin_key))
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or the handle stops it), finishing in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let expiry = (!self.loyalty_expiry_every.is_zero()).then(|| {
            tokio::spawn(expire_points(
                self.db.clone(),
                self.metrics.clone(),
                self.loyalty_expiry_every,
            ))
        });
        let result = self.server.await;
        if let Some(task) = expiry {
            task.abort();
        }
        result
    }
}

/// The scheduled loyalty expiry run: now, then every `every`. Expired points are counted in
/// `loyalty_points_total{kind="expire"}`.
async fn expire_points(db: Db, metrics: rapport_api::metrics::Metrics, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let db = db.clone();
        let now = rapport_domain::now();
        match tokio::task::spawn_blocking(move || rapport_store::loyalty::expire_all(&db, now))
            .await
        {
            Ok(Ok((0, _))) => {}
            Ok(Ok((customers, points))) => {
                metrics
                    .loyalty_points
                    .with_label_values(&["expire", "taken"])
                    .inc_by(points.unsigned_abs());
                tracing::info!(customers, points, "loyalty points expired");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "loyalty expiry run failed"),
            Err(e) => tracing::warn!(error = %e, "loyalty expiry run stopped"),
        }
    }
}
