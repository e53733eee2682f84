//! The router with its middleware, and `serve`. The state it serves lives in [`crate::state`].

use crate::dialects::anthropic_messages::AnthropicMessages;
use crate::dialects::completions::Completions;
use crate::dialects::openai_chat::OpenAiChat;
use crate::dialects::responses::Responses;
use crate::routes;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

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
                post(routes::chat::serve::<OpenAiChat>),
            )
            .route(
                &at("/messages"),
                post(routes::chat::serve::<AnthropicMessages>),
            )
            .route(
                &at("/messages/count_tokens"),
                post(routes::chat::count_tokens),
            )
            .route(&at("/responses"), post(routes::chat::serve::<Responses>))
            .route(
                &at("/completions"),
                post(routes::chat::serve::<Completions>),
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
