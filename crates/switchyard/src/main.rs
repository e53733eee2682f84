//! `switchyard`: parse the command line, load the configuration, run.

mod admin;
mod serve;

// Thousands of open streams allocate and free many small buffers across threads; mimalloc
// does that faster than glibc's malloc. Built with `no_thp`: mimalloc otherwise asks for
// transparent huge pages, and sparsely used 2 MB pages inflated resident memory by ~50 MB
// with 2,000 open streams (bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchyard_server::ConfigFile;
use switchyard_store::Store;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A self-hostable, OpenRouter-compatible LLM gateway: one OpenAI-compatible endpoint and one key for many models and providers.",
    after_help = "Quick start (no provider account needed):\n  switchyard serve --demo\n\nThen point any OpenAI or OpenRouter SDK at the printed base URL with the printed key."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where state lives: SQLite in the data directory, or a shared PostgreSQL.
#[derive(clap::Args, Clone)]
pub struct StorageArgs {
    /// Where Switchyard keeps its state: the SQLite database and the generated API key.
    #[arg(long, value_name = "DIR", default_value = "switchyard-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL instead of the embedded SQLite (for several replicas), e.g.
    /// postgres://user@host/db.
    #[arg(long, value_name = "URL", env = "SWITCHYARD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// With --database-url: keep Switchyard's tables in this PostgreSQL schema (created if
    /// missing), to share one database with other applications or installations.
    #[arg(long, value_name = "NAME", env = "SWITCHYARD_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// SQLite: `process` (default) makes every commit survive the process being killed;
    /// `full` also survives power loss, with a disk flush per grouped commit.
    #[arg(long, value_name = "MODE", env = "SWITCHYARD_SQLITE_SYNC", default_value = "process", value_parser = ["process", "full"])]
    pub sqlite_sync: String,
}

impl StorageArgs {
    pub async fn open(&self) -> Result<Store, String> {
        match &self.database_url {
            Some(url) => match &self.database_schema {
                Some(schema) => Store::open_postgres_schema(url, schema).await,
                None => Store::open_postgres(url).await,
            }
            .map_err(|e| format!("cannot open the database: {e}")),
            None => Store::open_sqlite_with(&self.data_dir, self.sqlite_sync == "full")
                .await
                .map_err(|e| {
                    format!(
                        "cannot open the database in {}: {e}",
                        self.data_dir.display()
                    )
                }),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway.
    #[command(
        after_help = "Provider keys are read from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, …; see catalog/default.toml).\nGateway keys: SWITCHYARD_API_KEYS (comma-separated), or the key generated into <data-dir>/api-key on first start; SWITCHYARD_MANAGEMENT_KEY for a management key; SWITCHYARD_ADMIN_KEY for /api/v1/admin/*."
    )]
    Serve {
        /// Configuration file (TOML); see examples/switchyard.example.toml.
        #[arg(long, short, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080, or `server.listen` from the config].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        storage: StorageArgs,
        /// Redis shared by several replicas (reservations against balances, rate-limit
        /// windows), e.g. redis://127.0.0.1:6379. Use with --database-url.
        #[arg(long, value_name = "URL", env = "SWITCHYARD_REDIS_URL")]
        redis_url: Option<String>,
        /// Prefix of Switchyard's Redis keys.
        #[arg(
            long,
            value_name = "PREFIX",
            env = "SWITCHYARD_REDIS_PREFIX",
            default_value = "switchyard"
        )]
        redis_prefix: String,
        /// While Redis is unreachable, each replica may reserve against 1/N of every balance
        /// and key limit (N = the number of replicas), so together they never exceed it.
        /// Without it, requests that spend from a balance or a key limit get 503 until Redis
        /// answers again (unlimited accounts are served either way).
        #[arg(long, value_name = "N", env = "SWITCHYARD_REDIS_FALLBACK_SHARE")]
        redis_fallback_share: Option<u32>,
        /// Add the demo catalogue: simulated providers answering in-process, no account needed.
        #[arg(long)]
        demo: bool,
    },
    /// Accounts: each holds a credit balance and its API keys.
    Accounts {
        #[command(subcommand)]
        action: admin::AccountsAction,
    },
    /// Add or remove an account's credits (an entry in its append-only ledger), or show them.
    Credits {
        #[command(subcommand)]
        action: admin::CreditsAction,
    },
    /// Create API keys (shown once; only their hash is kept).
    Keys {
        #[command(subcommand)]
        action: admin::KeysAction,
    },
    /// Validate a configuration file and exit; errors name the exact field.
    CheckConfig {
        /// The configuration file to check.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
}

pub fn env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

pub fn read_config(path: Option<&Path>) -> Result<ConfigFile, String> {
    match path {
        None => Ok(ConfigFile::default_with_catalog()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            ConfigFile::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
    }
}

fn run(multi_thread: bool, fut: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let rt = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckConfig { path } => check_config(&path),
        Command::Accounts { action } => run(false, admin::accounts(action)),
        Command::Credits { action } => run(false, admin::credits(action)),
        Command::Keys { action } => run(false, admin::keys(action)),
        Command::Serve {
            config,
            listen,
            storage,
            redis_url,
            redis_prefix,
            redis_fallback_share,
            demo,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let fallback = match redis_fallback_share {
                Some(n) if n > 0 => switchyard_server::shared::Fallback::Share(n),
                _ => switchyard_server::shared::Fallback::Refuse,
            };
            let redis = redis_url.map(|u| (u, redis_prefix, fallback));
            run(true, serve::serve(config, listen, storage, redis, demo))
        }
    }
}

fn check_config(path: &Path) -> ExitCode {
    match read_config(Some(path)).and_then(|f| {
        f.load(false, &env)
            .map_err(|e| format!("{}: {e}", path.display()))
    }) {
        Ok(cfg) => {
            let endpoints: usize = cfg.catalog.models().iter().map(|m| m.endpoints.len()).sum();
            println!(
                "{}: OK ({} active models, {} active endpoints, {} active providers)",
                path.display(),
                cfg.catalog.models().len(),
                endpoints,
                cfg.catalog.providers().len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
