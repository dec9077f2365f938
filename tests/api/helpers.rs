//! `TestApp`: one application per test, on its own database, and a client for it.
//!
//! PostgreSQL cases create a uniquely named database on the local server
//! (`RAPPORT_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`) and drop it
//! afterwards. When no server answers they print that they were skipped, unless
//! `RAPPORT_REQUIRE_POSTGRES=1`, when they fail.

use diesel::{Connection, PgConnection, RunQueryDsl};
use rapport::config::Config;
use rapport::startup::Application;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body on both backends: `both_backends! { async fn name(app) { … } }`.
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::{Backend, TestApp};

            async fn case($app: TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                case(TestApp::spawn(Backend::Sqlite).await.expect("sqlite app")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = TestApp::spawn(Backend::Postgres).await {
                    case(app).await;
                }
            }
        }
    )*};
}
pub(crate) use both_backends;

enum Cleanup {
    SqliteFile(std::path::PathBuf),
    PgDatabase { admin_url: String, name: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::PgDatabase { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn);
                }
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// An admin API key.
    pub admin_key: String,
    pub db: rapport_store::Db,
    database_url: String,
    handle: actix_web::dev::ServerHandle,
    /// Only the first server of a database drops it.
    _cleanup: Option<Cleanup>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the runtime ends the server with the test.
        drop(self.handle.stop(false));
    }
}

fn pg_admin_url() -> String {
    std::env::var("RAPPORT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn require_postgres() -> bool {
    std::env::var("RAPPORT_REQUIRE_POSTGRES")
        .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// A fresh, empty database URL, or `None` (skip) when PostgreSQL is not reachable.
fn fresh_database(backend: Backend) -> Option<(String, Cleanup)> {
    let name = format!("rapport_test_{}", uuid::Uuid::now_v7().simple());
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            Some((
                format!("sqlite://{}", path.display()),
                Cleanup::SqliteFile(path),
            ))
        }
        Backend::Postgres => {
            let admin_url = pg_admin_url();
            let mut conn = match PgConnection::establish(&admin_url) {
                Ok(c) => c,
                Err(e) if !require_postgres() => {
                    eprintln!("skipped: PostgreSQL not reachable at {admin_url} ({e}); set RAPPORT_REQUIRE_POSTGRES=1 to fail instead");
                    return None;
                }
                Err(e) => panic!("RAPPORT_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {admin_url}: {e}"),
            };
            diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .expect("create test database");
            let (head, _) = admin_url.rsplit_once('/').expect("database URL has a path");
            Some((
                format!("{head}/{name}"),
                Cleanup::PgDatabase { admin_url, name },
            ))
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let (url, cleanup) = fresh_database(backend)?;
        let (mut app, admin_key) = Self::start(&url);
        app.admin_key = admin_key.expect("a fresh database gets a bootstrap admin key");
        app._cleanup = Some(cleanup);
        Some(app)
    }

    /// Another server on the same database, as a second process behind a load balancer would
    /// be: its own pool, caches and writer; nothing shared with this one but the database.
    pub async fn peer(&self) -> TestApp {
        let (mut peer, admin_key) = Self::start(&self.database_url);
        assert!(
            admin_key.is_none(),
            "the bootstrap key is made once per database"
        );
        peer.admin_key = self.admin_key.clone();
        peer
    }

    fn start(url: &str) -> (TestApp, Option<String>) {
        let config = Config::for_database(url);
        let (app, admin_key) = Application::build(&config).expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.port);
        let db = app.db.clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let test_app = TestApp {
            base,
            client: reqwest::Client::new(),
            admin_key: String::new(),
            db,
            database_url: url.to_owned(),
            handle,
            _cleanup: None,
        };
        (test_app, admin_key)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Runs `rapport ARGS…` on this database to its end; returns whether it succeeded, and its
    /// standard output and error.
    pub fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rapport"));
        cmd.args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("the rapport binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The `rapport` binary serving this database in a process of its own, which a test may
    /// kill (or make abort at a fault point, `RAPPORT_FAULT`) and start again.
    pub async fn spawn_process(&self, env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start(&self.database_url, env).await
    }

    /// A request with no credentials.
    pub fn anon(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request authenticated with `token`.
    pub fn with(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.anon(method, path).bearer_auth(token)
    }

    /// A request as admin.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.with(&self.admin_key, method, path)
    }

    pub async fn create_customer(&self, body: Value) -> Value {
        let res = self
            .admin(Method::POST, "/api/v1/customers")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "creating {body}");
        res.json().await.unwrap()
    }

    /// Records an interaction as admin; returns it.
    pub async fn record_interaction(&self, body: Value) -> Value {
        let res = self
            .admin(Method::POST, "/api/v1/interactions")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "recording {body}");
        res.json().await.unwrap()
    }

    /// `POST /api/v1/auth/token` with a password.
    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.anon(Method::POST, "/api/v1/auth/token")
            .json(&serde_json::json!({"grant_type": "password", "email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Creates an API key with these scopes and returns its secret.
    pub async fn key_with(&self, scopes: &[&str]) -> String {
        let res = self
            .admin(Method::POST, "/api/v1/api-keys")
            .json(&serde_json::json!({"name": "test", "scopes": scopes}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        body["secret"].as_str().unwrap().to_owned()
    }

    /// Everything stored about customers, for "nothing was written" checks.
    pub fn customers_snapshot(&self) -> Vec<(i64, String)> {
        use diesel::{ExpressionMethods, QueryDsl};
        use rapport_store::schema::customers::dsl::*;
        let mut conn = self.db.conn().unwrap();
        customers
            .select((version, search_text))
            .order(search_text.asc())
            .load(&mut *conn)
            .unwrap()
    }

    /// Rows whose foreign keys point at nothing. SQLite's bulk writes leave foreign keys to the
    /// writer (PostgreSQL enforces them always): this is the check that they hold.
    pub fn orphaned_rows(&self) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.conn().unwrap();
        match &mut *conn {
            rapport_store::DbConn::Sqlite(c) => {
                diesel::sql_query("SELECT count(*) AS n FROM pragma_foreign_key_check")
                    .get_result::<N>(c)
                    .unwrap()
                    .n
            }
            rapport_store::DbConn::Pg(_) => 0,
        }
    }

    /// The definitions of the indexes on `interactions`, by name: a bulk import into an empty
    /// table drops and rebuilds some of them on SQLite.
    pub fn interaction_indexes(&self) -> Vec<String> {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Def {
            #[diesel(sql_type = diesel::sql_types::Text)]
            def: String,
        }
        let mut conn = self.db.conn().unwrap();
        let defs: Vec<Def> = match &mut *conn {
            rapport_store::DbConn::Sqlite(c) => diesel::sql_query(
                "SELECT name || ': ' || coalesce(sql, '') AS def FROM sqlite_master \
                 WHERE type = 'index' AND tbl_name = 'interactions' ORDER BY name",
            )
            .load(c),
            rapport_store::DbConn::Pg(c) => diesel::sql_query(
                "SELECT indexname || ': ' || indexdef AS def FROM pg_indexes \
                 WHERE tablename = 'interactions' ORDER BY indexname",
            )
            .load(c),
        }
        .unwrap();
        assert!(defs.len() >= 6, "{} indexes", defs.len());
        defs.into_iter().map(|d| d.def).collect()
    }

    pub fn jwt_secret(&self) -> String {
        let mut conn = self.db.conn().unwrap();
        rapport_store::settings::get(&mut conn, "jwt_secret")
            .unwrap()
            .unwrap()
    }
}

/// The real binary, `rapport serve`, in a child process; killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub base: String,
}

impl ServerProcess {
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rapport"));
        cmd.arg("serve")
            .env("DATABASE_URL", database_url)
            .env("RAPPORT_BIND", format!("127.0.0.1:{port}"))
            .env("RAPPORT_WORKERS", "2")
            .env("RAPPORT_LOYALTY_EXPIRY_EVERY", "0")
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the rapport binary starts");
        let mut process = ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(res) = client.get(process.url("/health/ready")).send().await {
                if res.status() == StatusCode::OK {
                    return process;
                }
            }
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("the server exited before it was ready: {status}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server did not get ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Waits for the process to end by itself (an injected abort), at most ten seconds.
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server did not exit");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts an RFC 9457 problem with this status and code; returns the body.
pub async fn assert_problem(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/problem+json"),
        "content type was {ct:?}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:rapport:problem:"),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}
