//! `switchyard serve`: open the store, make sure the operator's account and keys exist,
//! build the app, listen, run until a signal.

use crate::{env, read_config, StorageArgs};
use std::net::SocketAddr;
use std::path::PathBuf;
use switchyard_server::auth::load_or_create_key_file;
use switchyard_server::AppState;

pub async fn serve(
    config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    storage: StorageArgs,
    redis: Option<(String, String, switchyard_server::shared::Fallback)>,
    demo: bool,
) -> Result<(), String> {
    let file = read_config(config.as_deref())?;
    let mut cfg = file.load(demo, &env).map_err(|e| match &config {
        Some(p) => format!("{}: {e}", p.display()),
        None => e.to_string(),
    })?;
    fit_connections_to_descriptors(&mut cfg.server);
    let addr = listen
        .or(cfg.server.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));

    let data_dir = &storage.data_dir;
    let mut keys: Vec<(String, bool)> = env("SWITCHYARD_API_KEYS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| (k.to_string(), false))
        .collect();
    let key_note = if keys.is_empty() {
        let key = load_or_create_key_file(data_dir).map_err(|e| {
            format!(
                "cannot create the API key file in {}: {e}",
                data_dir.display()
            )
        })?;
        keys.push((key.clone(), false));
        format!("{key}   (kept in {})", data_dir.join("api-key").display())
    } else {
        "from SWITCHYARD_API_KEYS".to_string()
    };
    if let Some(m) = env("SWITCHYARD_MANAGEMENT_KEY").filter(|k| !k.trim().is_empty()) {
        keys.push((m.trim().to_string(), true));
    }
    let store = storage.open().await?;
    switchyard_server::accounts::bootstrap(&store, &keys)
        .await
        .map_err(|e| e.to_string())?;

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
    let admin_key = env("SWITCHYARD_ADMIN_KEY");
    let shared = match redis {
        Some((url, prefix, fallback)) => Some(
            switchyard_server::shared::Shared::connect(&url, &prefix, fallback)
                .await
                .map_err(|e| format!("cannot connect to Redis at {url}: {e}"))?,
        ),
        None => None,
    };
    let state = AppState::with_shared(cfg, store, admin_key.as_deref(), shared)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;

    // A closed stdout (`serve | head -1`, a supervisor that stopped reading) must not take
    // the gateway down: write what can be written and carry on.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let first = state
        .routing
        .catalog
        .models()
        .first()
        .map(|m| m.id.as_str())
        .unwrap_or("openai/gpt-4o-mini");
    let _ = writeln!(out, "Switchyard {} listening on http://{local}", env!("CARGO_PKG_VERSION"))
        .and_then(|_| writeln!(out, "  base URL: http://{local}/api/v1   (also /v1)"))
        .and_then(|_| writeln!(out, "  API key:  {key_note}"))
        .and_then(|_| writeln!(out, "  models:   {models} active ({simulated} simulated)"))
        .and_then(|_| {
            writeln!(
                out,
                "  try:      curl http://{local}/api/v1/chat/completions -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' -d '{{\"model\":\"{first}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}'"
            )
        })
        .and_then(|_| out.flush());
    drop(out);

    let drain_ms = state.settings.drain_timeout_ms;
    let (signalled, first) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!(
            drain_ms,
            "shutting down: finishing requests in flight (a second signal exits at once)"
        );
        let _ = signalled.send(());
    };
    // The drain is bounded by `drain_timeout_ms`; an operator who cannot wait that long
    // signals again, accepting that streams still open are neither ended nor billed.
    let second = async {
        if first.await.is_ok() {
            shutdown_signal().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = switchyard_server::serve(listener, state, shutdown) => {
            served.map_err(|e| e.to_string())
        }
        _ = second => {
            tracing::warn!("second signal: exiting without finishing the drain");
            Ok(())
        }
    }
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
}

/// The connection cap only protects the process if it is reached before the open-file limit:
/// past that, accepting fails for everyone, and the cap's 503 is never sent. The soft limit is
/// often far below the hard one (1,024 against a million): it is raised as far as allowed,
/// and where that is still short the caps are lowered to fit, with a warning.
fn fit_connections_to_descriptors(server: &mut switchyard_server::config::ServerSection) {
    // Upstream connections, the store and the runtime need descriptors too.
    const SPARE: u64 = 256;
    let wanted = u64::try_from(server.max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(SPARE);
    let limit = match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            return;
        }
    };
    if limit >= wanted {
        return;
    }
    let fitted = limit.saturating_sub(SPARE).max(limit / 2).max(1);
    let fitted = usize::try_from(fitted).unwrap_or(usize::MAX);
    tracing::warn!(
        open_file_limit = limit,
        configured = server.max_connections,
        max_connections = fitted,
        "the open-file limit is below server.max_connections plus {SPARE}: connections \
         capped at {fitted} (raise it with ulimit -n / LimitNOFILE= to allow more)"
    );
    server.max_connections = fitted;
    server.max_open_streams = server.max_open_streams.min(fitted);
}
