pub mod chat;
pub mod embeddings;
pub mod manage;
pub mod models;

use crate::error::GatewayError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;

/// `GET /health`: 200 `ok` when every request can be served and billed; 200 `degraded` when
/// something is wrong that the gateway works around (a background loop failing or restarted,
/// Redis unreachable); 503 `unhealthy` when billable requests are refused (the ledger cannot
/// be written). Load balancers read the status code, operators the `checks`.
pub async fn health(State(st): State<AppState>) -> Response {
    let ledger = st.billing.ledger.health().failure();
    let loops = st.background.status();
    let loops_failing = loops.iter().any(|l| !l.running || l.last_error.is_some());
    let redis = st.billing.accounts.shared_failure();
    let status = if ledger.is_some() {
        "unhealthy"
    } else if loops_failing || redis.is_some() {
        "degraded"
    } else {
        "ok"
    };
    let mut checks = serde_json::json!({
        "ledger": match &ledger {
            Some(reason) => serde_json::json!({"ok": false, "error": reason}),
            None => serde_json::json!({"ok": true}),
        },
        "background": loops,
    });
    if st.billing.accounts.shared.is_some() {
        checks["redis"] = match &redis {
            Some(reason) => serde_json::json!({"ok": false, "error": reason}),
            None => serde_json::json!({"ok": true}),
        };
    }
    let code = if ledger.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        axum::Json(serde_json::json!({"status": status, "checks": checks})),
    )
        .into_response()
}

pub async fn not_found() -> GatewayError {
    GatewayError::NotFound
}

pub async fn method_not_allowed() -> GatewayError {
    GatewayError::MethodNotAllowed
}

/// `Query` whose rejection (a malformed query string) is a 400 in the error envelope, not
/// axum's plain text.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|e| GatewayError::BadRequest(e.body_text()))
    }
}

/// `Path` whose rejection (a segment that is not UTF-8, say) is a 400 in the error envelope.
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| GatewayError::BadRequest(e.body_text()))
    }
}

pub fn random_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let mut out = String::with_capacity(n);
    // Ten base-62 digits per 64-bit draw (62^10 < 2^64): one generator call per ten
    // characters instead of one per character. The last digit of each ten is slightly
    // biased; these are identifiers, not secrets (keys come from `auth::generate_key`).
    while out.len() < n {
        let mut x: u64 = rng.gen();
        for _ in 0..10.min(n - out.len()) {
            out.push(CHARS[(x % 62) as usize] as char);
            x /= 62;
        }
    }
    out
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `gen-<unix>-<20 alphanumerics>`, the shape OpenRouter's ids have.
pub fn new_generation_id() -> String {
    format!("gen-{}-{}", unix_now(), random_alnum(20))
}
