//! `switchyard`: parse the command line, load the configuration, run.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchyard_server::auth::{load_or_create_key_file, KeyRing};
use switchyard_server::{AppState, ConfigFile};

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

#[derive(Subcommand)]
enum Command {
    /// Start the gateway.
    #[command(
        after_help = "Provider keys are read from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, …; see catalog/default.toml). Gateway keys: SWITCHYARD_API_KEYS (comma-separated), or the key generated into <data-dir>/api-key on first start."
    )]
    Serve {
        /// Configuration file (TOML); see examples/switchyard.example.toml.
        #[arg(long, short, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080, or `server.listen` from the config].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Where Switchyard keeps its state (the generated API key; later, its database).
        #[arg(long, value_name = "DIR", default_value = "switchyard-data")]
        data_dir: PathBuf,
        /// Add the demo catalogue: simulated providers answering in-process, no account needed.
        #[arg(long)]
        demo: bool,
    },
    /// Validate a configuration file and exit; errors name the exact field.
    CheckConfig {
        /// The configuration file to check.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
}

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

fn read_config(path: Option<&Path>) -> Result<ConfigFile, String> {
    match path {
        None => Ok(ConfigFile::default_with_catalog()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            ConfigFile::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { path } => {
            match read_config(Some(&path)).and_then(|f| {
                f.load(false, &env)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }) {
                Ok(cfg) => {
                    let endpoints: usize =
                        cfg.catalog.models().iter().map(|m| m.endpoints.len()).sum();
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
        Command::Serve {
            config,
            listen,
            data_dir,
            demo,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(serve(config, listen, data_dir, demo)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(
    config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    data_dir: PathBuf,
    demo: bool,
) -> Result<(), String> {
    let file = read_config(config.as_deref())?;
    let cfg = file.load(demo, &env).map_err(|e| match &config {
        Some(p) => format!("{}: {e}", p.display()),
        None => e.to_string(),
    })?;
    let addr = listen
        .or(cfg.server.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));

    let mut keys = KeyRing::default();
    for k in env("SWITCHYARD_API_KEYS")
        .unwrap_or_default()
        .split(',')
        .filter(|k| !k.trim().is_empty())
    {
        keys.add(k);
    }
    let key_note = if keys.is_empty() {
        let key = load_or_create_key_file(&data_dir).map_err(|e| {
            format!(
                "cannot create the API key file in {}: {e}",
                data_dir.display()
            )
        })?;
        keys.add(&key);
        format!("{key}   (kept in {})", data_dir.join("api-key").display())
    } else {
        "from SWITCHYARD_API_KEYS".to_string()
    };

    let models = cfg.catalog.models().len();
    let simulated = cfg
        .catalog
        .models()
        .iter()
        .filter(|m| m.is_simulated())
        .count();
    if models == 0 {
        tracing::warn!(
            "no model is active: set a provider key (e.g. OPENAI_API_KEY) or start with --demo"
        );
    }
    if simulated > 0 {
        tracing::warn!(
            simulated,
            "demo catalogue active: these models are SIMULATED in-process, not real LLMs"
        );
    }
    let state = AppState::new(cfg, keys).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;

    println!(
        "Switchyard {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );
    println!("  base URL: http://{local}/api/v1   (also /v1)");
    println!("  API key:  {key_note}");
    println!("  models:   {models} active ({simulated} simulated)");
    println!(
        "  try:      curl http://{local}/api/v1/chat/completions -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' -d '{{\"model\":\"{}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}'",
        state.catalog.models().first().map(|m| m.id.as_str()).unwrap_or("openai/gpt-4o-mini")
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();

    switchyard_server::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down; finishing requests in flight");
}
