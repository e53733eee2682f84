//! The inference routes of every chat-like dialect: extract → decode → pipeline → render.

use crate::accounts::Caller;
use crate::auth::bearer;
use crate::body::{read_limited, BodyLimits};
use crate::dialects::{stream_response, Dialect};
use crate::error::GatewayError;
use crate::pipeline::{self, Call, Handles, Outcome};
use crate::routes::new_generation_id;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use std::time::Instant;

/// `POST /chat/completions`, `/messages`, `/responses`, `/completions`: one handler, typed by
/// the dialect the route speaks.
pub async fn serve<D: Dialect>(
    State(st): State<AppState>,
    headers: HeaderMap,
    // The raw body, not yet read: it is read in `handle`, once the key has been accepted.
    body: Body,
) -> Response {
    let id = new_generation_id();
    // Boxed: the request's whole state machine is several kilobytes, and every layer above
    // (middleware, router, hyper) would otherwise move it by value — memcpy was 10% of the
    // gateway's instructions before this (callgrind, bench/RESULTS.md).
    // The key is checked first, so a rejected request never builds that state machine.
    let result = match caller(&st, &headers) {
        Ok(caller) => Box::pin(handle::<D>(st, caller, headers, body, id.clone())).await,
        Err(e) => Err(e),
    };
    let mut resp = result.unwrap_or_else(D::error);
    // Only an answer is a generation: a refused request has none to look up. A stream's
    // status is sent before its end is known, so one that then fails everywhere still
    // carries the id (its error event says what happened), as OpenRouter's do.
    if resp.status().is_success() {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-generation-id", v);
        }
    }
    resp
}

async fn handle<D: Dialect>(
    st: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
    id: String,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    admit(&st, &caller).await?;
    let body = read_limited(body, &BodyLimits::of(&st.settings)).await?;
    let (req, ctx) = D::decode(&body, &headers)?;
    let call = Call {
        caller,
        generation_id: id.clone(),
        session: header(&headers, &["x-session-id"]),
        metadata: metadata_requested(&headers),
        referer: header(&headers, &["http-referer", "referer"]),
        title: header(&headers, &["x-openrouter-title", "x-title"]),
        started,
    };
    Ok(match pipeline::run(Handles::of(&st), call, req).await? {
        Outcome::Complete(resp) => D::render(*resp, &ctx),
        Outcome::Stream(events) => stream_response(events, D::framer(ctx, &id)),
    })
}

/// The caller behind `Authorization: Bearer …`, or `x-api-key` as Anthropic's clients send it.
pub fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    let value = headers.get("authorization").and_then(|v| v.to_str().ok());
    let key = bearer(value)
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|k| !k.is_empty())
        })
        .ok_or(GatewayError::MissingKey)?;
    st.billing.accounts.authenticate(key)
}

/// What every inference request passes before its body is read: an inference key (not a
/// management one), within its rate limits.
pub async fn admit(st: &AppState, caller: &Caller) -> Result<(), GatewayError> {
    if caller.key.record.management {
        return Err(GatewayError::Forbidden(
            "Management keys cannot be used for inference; create an API key with them instead"
                .into(),
        ));
    }
    st.billing
        .accounts
        .admit(caller)
        .await
        .map_err(|(check, retry)| GatewayError::RateLimited {
            limit: check.limit,
            reset_ms: check.reset_ms,
            retry_after_secs: retry,
        })
}

pub fn header(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
        .map(|s| s.chars().take(512).collect())
}

/// `X-OpenRouter-Metadata: enabled` (or the legacy experimental header).
fn metadata_requested(headers: &HeaderMap) -> bool {
    [
        "x-openrouter-metadata",
        "x-openrouter-experimental-metadata",
    ]
    .iter()
    .any(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("enabled"))
    })
}

/// `POST /messages/count_tokens`: an estimate of a Messages request's input tokens, for
/// clients budgeting their context. Authenticated like inference, never billed.
pub async fn count_tokens(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    use crate::dialects::anthropic_messages::{count_tokens, AnthropicMessages};
    let counted = async {
        let caller = caller(&st, &headers)?;
        admit(&st, &caller).await?;
        let body = read_limited(body, &BodyLimits::of(&st.settings)).await?;
        count_tokens(&body).map_err(GatewayError::BadRequest)
    };
    match counted.await {
        Ok(n) => axum::response::IntoResponse::into_response(axum::Json(
            switchyard_api::anthropic::CountTokensResponse { input_tokens: n },
        )),
        Err(e) => AnthropicMessages::error(e),
    }
}
