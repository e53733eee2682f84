use crate::auth::KeyRing;
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
    pub keys: KeyRing,
    pub settings: ServerSection,
    pub routing: RoutingSection,
    pub health: HealthBook,
    pub sticky: StickyTable,
    /// `GET /models` never changes while running, so it is rendered once.
    pub models_json: Bytes,
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

    pub fn new(config: Config, keys: KeyRing) -> Result<AppState, GatewayError> {
        let client = UpstreamClient::new(config.server.timeouts())
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
        let list = ModelList {
            data: config.catalog.models().iter().map(|m| m.to_api()).collect(),
        };
        let models_json = serde_json::to_vec(&list)
            .map_err(|e| GatewayError::Internal(e.to_string()))?
            .into();
        let health = HealthBook::new(
            config.catalog.endpoint_count(),
            std::time::Duration::from_millis(config.routing.probe_interval_ms),
        );
        Ok(AppState(Arc::new(Inner {
            health,
            sticky: StickyTable::default(),
            routing: config.routing,
            catalog: config.catalog,
            client,
            keys,
            settings: config.server,
            models_json,
        })))
    }
}

/// The API under both `/api/v1` (OpenRouter's path) and `/v1` (OpenAI's).
pub fn build_router(state: AppState) -> Router {
    let api = Router::new()
        .route("/chat/completions", post(routes::chat::chat_completions))
        .route("/models", get(routes::models::list))
        .route(
            "/models/{author}/{slug}/endpoints",
            get(routes::models::endpoints),
        );
    Router::new()
        .nest("/api/v1", api.clone())
        .nest("/v1", api)
        .route("/health", get(routes::health))
        .fallback(routes::not_found)
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

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, build_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
