use crate::config::{Config, RoutingSection, ServerSection};
use crate::error::GatewayError;
use crate::routes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;
use switchyard_api::models::ModelList;
use switchyard_providers::UpstreamClient;
use switchyard_router::{Catalog, HealthBook, StickyTable};
use tokio::net::TcpListener;

/// Everything a request needs, shared and read-only on the hot path.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub catalog: Catalog,
    pub client: UpstreamClient,
    pub accounts: Arc<crate::accounts::Accounts>,
    pub ledger: crate::settle::Ledger,
    /// The supervised background loops, for `/health`.
    pub background: Arc<crate::background::Background>,
    /// SHA-256 of `SWITCHYARD_ADMIN_KEY`, which may call `/admin/*`.
    pub admin_key: Option<[u8; 32]>,
    pub settings: ServerSection,
    pub routing: RoutingSection,
    pub auto: switchyard_router::auto::AutoPolicy,
    pub health: HealthBook,
    pub sticky: StickyTable,
    /// `GET /models` (chat models) never changes while running, so it is rendered once.
    pub models_json: Bytes,
    /// How many models it lists, for `GET /models/count`.
    pub models_count: usize,
    /// `GET /embeddings/models`, likewise.
    pub embedding_models_json: Bytes,
    /// The open-streams cap and the drain signal shared with the accept loop.
    pub lifecycle: crate::listener::Lifecycle,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn plan_context(&self) -> switchyard_router::PlanContext<'_> {
        switchyard_router::PlanContext {
            catalog: &self.catalog,
            health: &self.health,
            sticky: &self.sticky,
        }
    }

    /// Loads keys and balances from `store` and starts the ledger writer and the refresher.
    pub async fn new(
        config: Config,
        store: switchyard_store::Store,
        admin_key: Option<&str>,
    ) -> Result<AppState, GatewayError> {
        Self::with_shared(config, store, admin_key, None).await
    }

    /// As `new`, with Redis shared between replicas.
    pub async fn with_shared(
        config: Config,
        store: switchyard_store::Store,
        admin_key: Option<&str>,
        shared: Option<crate::shared::Shared>,
    ) -> Result<AppState, GatewayError> {
        let background = Arc::new(crate::background::Background::default());
        let accounts = Arc::new(crate::accounts::Accounts::load(store.clone(), shared).await?);
        accounts.spawn_refresher(&background);
        let ledger = crate::settle::Ledger::spawn(
            store,
            &background,
            std::time::Duration::from_millis(config.server.ledger_wait_ms),
        );
        let client = UpstreamClient::new(
            config.server.timeouts(),
            config.server.limits(),
            config.catalog.secrets(),
        )
        .map_err(|e| GatewayError::Internal(e.to_string()))?;
        let (embedding, chat): (Vec<_>, Vec<_>) = config
            .catalog
            .models()
            .iter()
            .partition(|m| m.is_embedding());
        let mut data: Vec<_> = chat.iter().map(|m| m.to_api()).collect();
        if !data.is_empty() {
            data.push(auto_model());
        }
        let list = ModelList::whole(data);
        let models_count = list.total_count;
        let models_json = serde_json::to_vec(&list)
            .map_err(|e| GatewayError::Internal(e.to_string()))?
            .into();
        let embedding_models_json = serde_json::to_vec(&ModelList::whole(
            embedding.iter().map(|m| m.to_api()).collect(),
        ))
        .map_err(|e| GatewayError::Internal(e.to_string()))?
        .into();
        let health = HealthBook::new(
            config.catalog.endpoint_count(),
            std::time::Duration::from_millis(config.routing.probe_interval_ms),
        );
        Ok(AppState(Arc::new(Inner {
            lifecycle: crate::listener::Lifecycle::new(config.server.max_open_streams),
            health,
            sticky: StickyTable::default(),
            routing: config.routing,
            auto: config.auto,
            catalog: config.catalog,
            client,
            accounts,
            ledger,
            background,
            admin_key: admin_key
                .filter(|k| !k.is_empty())
                .map(crate::auth::hash_key),
            settings: config.server,
            models_json,
            models_count,
            embedding_models_json,
        })))
    }
}

/// The API under both `/api/v1` (OpenRouter's path) and `/v1` (OpenAI's). Each route is
/// registered under both prefixes rather than nested: a nested router rewrites every
/// request's path (a formatted string per request, ~6% of a rejected request's work).
pub fn build_router(state: AppState) -> Router {
    let mut router = Router::new();
    for prefix in ["/api/v1", "/v1"] {
        let at = |path: &str| format!("{prefix}{path}");
        router = router
            .route(
                &at("/chat/completions"),
                post(routes::chat::chat_completions),
            )
            .route(&at("/embeddings"), post(routes::embeddings::embeddings))
            .route(&at("/embeddings/models"), get(routes::embeddings::models))
            .route(&at("/models"), get(routes::models::list))
            .route(&at("/models/count"), get(routes::models::count))
            .route(&at("/models/user"), get(routes::models::user))
            .route(&at("/providers"), get(routes::models::providers))
            .route(&at("/endpoints/zdr"), get(routes::models::zdr))
            .route(
                &at("/models/{author}/{slug}/endpoints"),
                get(routes::models::endpoints),
            )
            .route(&at("/key"), get(routes::manage::current_key))
            .route(&at("/credits"), get(routes::manage::credits))
            .route(&at("/generation"), get(routes::manage::generation))
            .route(&at("/activity"), get(routes::manage::activity))
            .route(
                &at("/keys"),
                get(routes::manage::list_keys).post(routes::manage::create_key),
            )
            .route(
                &at("/keys/{hash}"),
                get(routes::manage::get_key)
                    .patch(routes::manage::update_key)
                    .delete(routes::manage::delete_key),
            )
            .route(&at("/admin/credits"), post(routes::manage::admin_credits))
            .route(&at("/admin/accounts"), post(routes::manage::admin_accounts));
    }
    router
        .route("/health", get(routes::health))
        .route("/api/v1/health", get(routes::health))
        .route("/v1/health", get(routes::health))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Every response carries `x-request-id`: the caller's, or a fresh one.
async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .filter(|v| v.len() <= 128)
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&format!("req-{}", routes::random_alnum(20)))
                .unwrap_or(HeaderValue::from_static("req"))
        });
    let mut resp = next.run(req).await;
    resp.headers_mut().insert("x-request-id", id);
    resp
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish for up to
/// `drain_timeout_ms`, ends the streams still open with an error chunk, and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = crate::listener::Settings::of(&state.settings);
    let app = build_router(state.clone());
    crate::listener::serve(listener, app, &state.lifecycle, settings, shutdown).await
}

/// `switchyard/auto` in the catalogue, priced like OpenRouter's router models (-1: the price
/// is that of the model chosen).
fn auto_model() -> switchyard_api::models::Model {
    use switchyard_api::models::{Architecture, Model, ModelLinks, Pricing, TopProvider};
    use switchyard_api::{DecimalString, Money};
    let unknown = DecimalString(Money::parse("-1").unwrap_or_default());
    Model {
        id: "switchyard/auto".into(),
        canonical_slug: "switchyard/auto".into(),
        name: "Switchyard: Auto Router".into(),
        created: 0,
        description: "Picks a model per request by its needs (tools, images, context) and difficulty, within the operator's list and price ceiling. Alias: openrouter/auto.".into(),
        context_length: None,
        architecture: Architecture {
            modality: "text+image->text".into(),
            input_modalities: vec!["text".into(), "image".into()],
            output_modalities: vec!["text".into()],
            tokenizer: "Router".into(),
            instruct_type: None,
        },
        pricing: Pricing {
            prompt: unknown,
            completion: unknown,
            ..Default::default()
        },
        top_provider: TopProvider {
            context_length: None,
            max_completion_tokens: None,
            is_moderated: false,
        },
        per_request_limits: None,
        default_parameters: None,
        supported_voices: None,
        supported_parameters: vec![],
        links: ModelLinks {
            details: "/api/v1/models/switchyard/auto/endpoints".into(),
        },
    }
}
