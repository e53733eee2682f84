//! `POST /embeddings` and `GET /embeddings/models`: OpenAI's and OpenRouter's shapes. A request
//! is routed like a chat completion (its `provider` preferences, fallback across endpoints),
//! its worst case reserved before any call, and its usage priced, recorded and charged through
//! the same ledger path as a generation.

use crate::accounts::Caller;
use crate::body::{read_limited, BodyLimits};
use crate::dialects::embeddings::{decode, render};
use crate::error::GatewayError;
use crate::pipeline::{self, Call, Handles};
use crate::routes::chat::{admit, caller, header};
use crate::routes::new_generation_id;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header as http_header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

pub async fn embeddings(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let id = new_generation_id();
    // Boxed for the reason chat's handler is: a small future for every layer above to move.
    let result = match caller(&st, &headers) {
        Ok(caller) => Box::pin(handle(st, caller, &headers, body, id.clone())).await,
        Err(e) => Err(e),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-generation-id", v);
    }
    resp
}

async fn handle(
    st: AppState,
    caller: Caller,
    headers: &HeaderMap,
    body: Body,
    id: String,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    admit(&st, &caller).await?;
    let body = read_limited(body, &BodyLimits::of(&st.settings)).await?;
    let req = decode(&body)?;
    let format = req.encoding_format;
    let call = Call {
        caller,
        generation_id: id,
        session: None,
        metadata: false,
        referer: header(headers, &["http-referer", "referer"]),
        title: header(headers, &["x-openrouter-title", "x-title"]),
        started,
    };
    let embedded = pipeline::embed(Handles::of(&st), call, req).await?;
    Ok(axum::Json(render(embedded, format)).into_response())
}

/// `GET /embeddings/models`: the embedding models, in `GET /models`'s shape. Rendered once.
pub async fn models(State(st): State<AppState>) -> Response {
    (
        [(http_header::CONTENT_TYPE, "application/json")],
        st.embedding_models_json.clone(),
    )
        .into_response()
}
