//! The command line: `rapport [serve]`, `migrate`, `openapi`, `keys …`, `users …`, `import …`,
//! `export …`, `seed …`, `analytics …`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rapport_domain::auth::{Role, Scopes};
use uuid::Uuid;

use crate::config::{Config, DbArgs, LogFormat};
use crate::startup::{open_database, Application};

#[derive(Debug, Parser)]
#[command(
    name = "rapport",
    version,
    about = "Rapport: an open-source CRM backend"
)]
pub struct Cli {
    /// Log format (on standard error).
    #[arg(long, env = "RAPPORT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// The server's settings, for `rapport` with no command (as `rapport serve`).
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Each command takes only the options it uses: the server's settings belong to `serve`, the
/// database to the commands that open it, and `analytics` needs neither.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve(Box<Config>),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Manage API keys.
    Keys {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: KeysCommand,
    },
    /// Manage staff users.
    Users {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: UsersCommand,
    },
    /// Import customers or interactions from a CSV or NDJSON file.
    Import {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: crate::transfer_cmd::ImportCommand,
    },
    /// Export customers or interactions as NDJSON or CSV.
    Export {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: crate::transfer_cmd::ExportCommand,
    },
    /// Fill the database with generated data.
    Seed {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: SeedCommand,
    },
    /// Loyalty maintenance.
    Loyalty {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        cmd: LoyaltyCommand,
    },
    /// Segmentation, CLV and attribution on CSV files (no database needed).
    #[command(subcommand)]
    Analytics(crate::analytics_cmd::AnalyticsCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret (once).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// Scopes, space- or comma-separated, e.g. "customers:read customers:write" or "admin".
        #[arg(long)]
        scopes: String,
        /// Expire after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List keys (never secrets).
    List {
        /// Include revoked keys.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key by id.
    Revoke { id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// Realistic, reproducible demo data: customers across ten countries with multi-year
    /// purchase histories and interactions on every channel. Customers already seeded
    /// (`demo-<n>`) are skipped, so running it again adds nothing.
    Demo {
        /// How many customers.
        #[arg(long)]
        customers: u64,
        /// The random seed: the same seed and `--until` give the same data, ids included.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// End of the four-year history: YYYY-MM-DD (midnight UTC) or RFC 3339. Default: today.
        #[arg(long)]
        until: Option<String>,
        /// Customers per transaction.
        #[arg(long, default_value_t = 5_000)]
        per_transaction: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum LoyaltyCommand {
    /// Expire what is left of every lot of points past its expiry date: one `expire` ledger
    /// entry per lot. Idempotent; the server also runs it on a schedule.
    Expire {
        /// Expire as of this time (RFC 3339) instead of now.
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
        /// Say what would expire, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a staff user. The password comes from RAPPORT_USER_PASSWORD or the first line of
    /// standard input, never from a flag (flags end up in shell history).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, manager, agent, marketer, analyst or viewer.
        #[arg(long)]
        role: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log_guard = crate::telemetry::init(cli.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(&cli.config),
        Some(command) => run_command(command),
    }
}

fn run_command(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(config) => serve(&config),
        Command::Migrate(db) => {
            let db = open_database(&db)?;
            drop(db);
            println!("migrations applied");
            Ok(())
        }
        Command::Openapi => {
            print!("{}", rapport_api::openapi::document_json());
            Ok(())
        }
        Command::Keys { db, cmd } => keys(&db, cmd),
        Command::Users { db, cmd } => users(&db, cmd),
        Command::Import { db, cmd } => crate::transfer_cmd::import(&db, cmd),
        Command::Export { db, cmd } => crate::transfer_cmd::export(&db, cmd),
        Command::Seed { db, cmd } => seed(&db, cmd),
        Command::Analytics(cmd) => crate::analytics_cmd::run(cmd),
        Command::Loyalty {
            db,
            cmd: LoyaltyCommand::Expire { as_of, dry_run },
        } => {
            let db = open_database(&db)?;
            let now = as_of.unwrap_or_else(rapport_domain::now);
            if dry_run {
                let (customers, points) =
                    rapport_store::loyalty::expire_preview(&mut *db.conn()?, now)?;
                println!("would expire {points} points of {customers} customers (nothing written)");
            } else {
                let (customers, points) = rapport_store::loyalty::expire_all(&db, now)?;
                println!("expired {points} points of {customers} customers");
            }
            Ok(())
        }
    }
}

fn serve(config: &Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (app, admin_key) = Application::build(config)?;
        let base = format!("http://{}", public_addr(&config.bind, app.port));
        if let Some(key) = admin_key {
            // Printed once, to standard output only: it is never logged.
            let mut out = std::io::stdout().lock();
            writeln!(out, "\nFirst start: created an admin API key. It will not be shown again:\n\n    {key}\n")?;
            writeln!(out, "Try: curl -H 'Authorization: Bearer {key}' {base}/api/v1/customers\n")?;
        }
        println!("Rapport listening on {base} (docs: {base}/docs, health: {base}/health/ready)");
        tracing::info!(addr = %base, "listening");
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn public_addr(bind: &str, port: u16) -> String {
    let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1");
    let host = if host == "0.0.0.0" || host == "[::]" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
}

fn keys(config: &DbArgs, cmd: KeysCommand) -> anyhow::Result<()> {
    let db = open_database(config)?;
    let mut conn = db.conn()?;
    match cmd {
        KeysCommand::Create {
            name,
            scopes,
            expires_in_days,
        } => {
            let scopes = Scopes::parse_list(&scopes.replace(',', " ")).map_err(|bad| {
                let valid: Vec<&str> = rapport_domain::auth::Scope::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                anyhow::anyhow!("scopes: unknown scope `{bad}`; valid: {}", valid.join(", "))
            })?;
            let now = rapport_domain::now();
            // The same rules as POST /api/v1/api-keys, with the same messages.
            let draft = rapport_domain::auth::ApiKeyDraft {
                name,
                scopes: scopes.as_slice().to_vec(),
                expires_at: expires_in_days.map(|d| now + chrono::Duration::days(i64::from(d))),
            };
            let parsed = draft
                .parse(now)
                .map_err(|e| anyhow::anyhow!(e.describe()))?;
            let (key, secret) =
                rapport_api::routes::api_keys::create(&mut conn, &parsed, Some("cli"))?;
            println!("id:     {}\nscopes: {}\nsecret: {secret}\n(store the secret now: it is not shown again)", key.id, parsed.scopes.to_list());
        }
        KeysCommand::List { all } => {
            for k in rapport_store::api_keys::list(&mut conn, all)? {
                let scopes: Vec<_> = k.scopes.iter().map(|s| s.as_str()).collect();
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}  {}  {:8}  {}  [{}]",
                    k.id,
                    k.prefix,
                    state,
                    k.name,
                    scopes.join(" ")
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let key = rapport_store::api_keys::revoke(&mut conn, id, None, rapport_domain::now())
                .context("revoking")?;
            println!(
                "revoked {} ({}); servers stop accepting it within seconds",
                key.id, key.name
            );
        }
    }
    Ok(())
}

fn seed(config: &DbArgs, cmd: SeedCommand) -> anyhow::Result<()> {
    match cmd {
        SeedCommand::Demo {
            customers,
            seed,
            until,
            per_transaction,
        } => {
            let until = match until {
                Some(u) => crate::seed::parse_until(&u)?,
                None => crate::seed::default_until(),
            };
            let db = open_database(config)?;
            let mut options = crate::seed::DemoOptions::new(customers, seed, until);
            options.progress = true;
            options.per_transaction = per_transaction;
            let s = crate::seed::seed_demo(&db, &options)?;
            println!(
                "seeded {} customers ({} already there), {} interactions ({} purchases), \
                 {} loyalty entries ({} redemptions), {} tickets in {:.1} s",
                s.customers,
                s.skipped,
                s.interactions,
                s.purchases,
                s.loyalty_entries,
                s.redemptions,
                s.tickets,
                s.elapsed.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn users(config: &DbArgs, cmd: UsersCommand) -> anyhow::Result<()> {
    let db = open_database(config)?;
    let mut conn = db.conn()?;
    match cmd {
        UsersCommand::Create { email, name, role } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!(
                    "role: unknown role `{role}`; valid: admin, manager, agent, marketer, analyst, viewer"
                )
            })?;
            let password = match std::env::var("RAPPORT_USER_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            // The same rules as POST /api/v1/users, with the same messages.
            let draft = rapport_domain::auth::UserDraft {
                email,
                name,
                role,
                password,
            };
            let parsed = draft.parse().map_err(|e| anyhow::anyhow!(e.describe()))?;
            let hash = rapport_api::auth::hash_password(&parsed.password)?;
            let user = rapport_api::routes::users::new_user(parsed, rapport_domain::now());
            rapport_store::users::insert(&mut conn, &user, &hash)?;
            println!(
                "created user {} <{}> with role {}",
                user.id,
                user.email,
                role.as_str()
            );
        }
    }
    Ok(())
}
