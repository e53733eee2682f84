//! `POST /embeddings` and `GET /embeddings/models`: OpenAI's and OpenRouter's shapes. A request
//! is routed like a chat completion (its `provider` preferences, fallback across endpoints),
//! its worst case reserved before any call, and its usage priced, recorded and charged through
//! the same ledger path as a generation.

use crate::accounts::Caller;
use crate::attempt::{self, RequestInfo};
use crate::body::{read_limited, BodyLimits};
use crate::error::GatewayError;
use crate::routes::chat::{admit, caller, header};
use crate::routes::new_generation_id;
use crate::settle::{reserve_embeddings, settle, Settlement, Share};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header as http_header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use switchyard_api::embeddings::{
    parse_embeddings_request, EmbeddingObject, EmbeddingsResponse, EmbeddingsUsage, Vector,
};
use switchyard_providers::TokenUsage;

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
    let req = parse_embeddings_request(&body).map_err(GatewayError::BadRequest)?;
    let info = RequestInfo {
        generation_id: id.clone(),
        conversation: None,
        metadata: false,
        auto: None,
        referer: header(headers, &["http-referer", "referer"]),
        title: header(headers, &["x-openrouter-title", "x-title"]),
        caller,
    };
    let plan = {
        let mut rng = rand::thread_rng();
        switchyard_router::plan_embeddings(&st.routing.plan_context(), &req, &mut rng)?
    };
    // Before any provider call: a request that fails here costs nothing and leaves no record.
    let reservation = reserve_embeddings(&st.billing, &info.caller, &req.input, &plan).await?;
    let served = attempt::embed(&st.routing, &plan, &req).await?;
    let ep = &served.endpoint;
    let e = served.value;
    let usage = settle(
        &st.billing,
        Settlement {
            info: &info,
            shares: vec![Share {
                endpoint: ep,
                usage: TokenUsage {
                    prompt: e.prompt_tokens,
                    ..TokenUsage::default()
                },
                estimated: e.estimated,
            }],
            streamed: false,
            cancelled: false,
            finish_reason: None,
            native_finish_reason: None,
            attempts: &served.attempts,
            latency_ms: started.elapsed().as_millis() as u64,
            generation_ms: served.attempts.last().map(|a| a.latency_ms).unwrap_or(0),
            upstream_id: e.upstream_id,
        },
        reservation,
    )
    .await?;
    let format = req.encoding_format;
    let resp = EmbeddingsResponse {
        object: "list".into(),
        data: e
            .vectors
            .into_iter()
            .enumerate()
            .map(|(index, values)| EmbeddingObject {
                object: "embedding".into(),
                embedding: Vector::new(values, format),
                index,
            })
            .collect(),
        model: ep.model_id.clone(),
        id: Some(id),
        provider: Some(ep.provider.name.clone()),
        usage: EmbeddingsUsage {
            prompt_tokens: usage.prompt_tokens,
            total_tokens: usage.prompt_tokens,
            cost: usage.cost,
            cost_details: usage.cost_details,
            is_byok: usage.is_byok,
        },
    };
    Ok(axum::Json(resp).into_response())
}

/// `GET /embeddings/models`: the embedding models, in `GET /models`'s shape. Rendered once.
pub async fn models(State(st): State<AppState>) -> Response {
    (
        [(http_header::CONTENT_TYPE, "application/json")],
        st.embedding_models_json.clone(),
    )
        .into_response()
}
