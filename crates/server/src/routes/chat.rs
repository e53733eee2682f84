use crate::accounts::Caller;
use crate::attempt;
use crate::auth::bearer;
use crate::body::{read_limited, BodyLimits};
use crate::error::GatewayError;
use crate::routes::{new_generation_id, unix_now};
use crate::settle::{reserve, settle, Settlement, Share};
use crate::state::AppState;
use crate::stream;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use switchyard_api::chat::{parse_chat_request, ChatRequest, ChatResponse};

pub async fn chat_completions(
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
        Ok(caller) => Box::pin(handle(st, caller, &headers, body, id.clone())).await,
        Err(e) => Err(e),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    // Only an answer is a generation: a refused request has none to look up. A stream's
    // status is sent before its end is known, so one that then fails everywhere still
    // carries the id (its error chunk says what happened), as OpenRouter's do.
    if resp.status().is_success() {
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-generation-id", v);
        }
    }
    resp
}

/// The caller behind `Authorization: Bearer …`.
pub fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    let value = headers.get("authorization").and_then(|v| v.to_str().ok());
    let key = bearer(value).ok_or(GatewayError::MissingKey)?;
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

/// `switchyard/auto` / `openrouter/auto`: the auto router picks the model, and the request
/// goes on as if the client had named it. Returns the explanation for `openrouter_metadata`.
fn route_auto(
    st: &AppState,
    req: &mut ChatRequest,
) -> Result<Option<serde_json::Value>, GatewayError> {
    if !req
        .model
        .as_deref()
        .is_some_and(switchyard_router::auto::is_auto)
    {
        return Ok(None);
    }
    let choice = switchyard_router::auto::choose(&st.routing.catalog, req, &st.routing.auto)?;
    let explanation = serde_json::json!({
        "chosen": choice.model.id,
        "difficulty": (choice.difficulty.score * 1000.0).round() / 1000.0,
        "signals": choice.difficulty.signals,
        "threshold": st.routing.auto.threshold,
        "candidates": choice.candidates,
    });
    req.model = Some(choice.model.id.clone());
    Ok(Some(explanation))
}

/// `model`, then `models`, as listed (trimmed, without repeats).
fn requested_models(req: &ChatRequest) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in req.model.iter().chain(req.models.iter().flatten()) {
        let id = id.trim();
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

/// The providers of every endpoint of these models, in catalogue order.
fn providers_of(st: &AppState, models: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in models {
        let base = m.split_once(':').map_or(m.as_str(), |(b, _)| b);
        for ep in st
            .routing
            .catalog
            .model(base)
            .map(|m| m.endpoints.as_slice())
            .unwrap_or(&[])
        {
            if !out.contains(&ep.provider.name) {
                out.push(ep.provider.name.clone());
            }
        }
    }
    out
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
    let mut req = parse_chat_request(&body).map_err(GatewayError::BadRequest)?;
    let auto = route_auto(&st, &mut req)?;
    let session_header = headers.get("x-session-id").and_then(|v| v.to_str().ok());
    let info = attempt::RequestInfo {
        generation_id: id.clone(),
        conversation: switchyard_router::sticky::conversation_key(&req, session_header),
        metadata: metadata_requested(headers),
        auto,
        referer: header(headers, &["http-referer", "referer"]),
        title: header(headers, &["x-openrouter-title", "x-title"]),
        caller,
    };
    let requested = requested_models(&req);
    let plan = {
        let mut rng = rand::thread_rng();
        switchyard_router::plan(
            &st.routing.plan_context(),
            &req,
            info.conversation.as_deref(),
            &mut rng,
        )
        .map_err(|e| {
            let providers = providers_of(&st, &requested);
            GatewayError::from(e).with_request(&requested, providers)
        })?
    };
    let plan = std::sync::Arc::new(plan);
    // Every endpoint of the plan is tried before a provider failure reaches the client.
    let unavailable = |e: GatewayError| {
        let mut providers: Vec<String> = Vec::new();
        for ep in &plan.endpoints {
            if !providers.contains(&ep.provider.name) {
                providers.push(ep.provider.name.clone());
            }
        }
        e.with_request(&requested, providers)
    };
    // Before the reservation and any provider call: a refused stream costs nothing.
    let slot = req
        .is_stream()
        .then(|| st.lifecycle.open_stream())
        .transpose()?;
    let reservation = reserve(&st.billing, &info.caller, &req, &plan).await?;
    if let Some(slot) = slot {
        return stream::respond(
            stream::Handles {
                routing: st.routing.clone(),
                billing: st.billing.clone(),
                keepalive: std::time::Duration::from_millis(st.settings.keepalive_ms),
            },
            plan.clone(),
            req,
            info,
            reservation,
            slot,
        )
        .await
        .map_err(unavailable);
    }

    let served = attempt::complete(&st.routing, &plan, &req)
        .await
        .map_err(unavailable)?;
    attempt::remember(&st.routing, &served.endpoint, &info);
    let ep = &served.endpoint;
    let c = served.value;
    let first = c.choices.first();
    let usage = settle(
        &st.billing,
        Settlement {
            info: &info,
            shares: vec![Share {
                endpoint: ep,
                usage: c.usage,
                estimated: false,
            }],
            streamed: false,
            cancelled: false,
            finish_reason: first.and_then(|ch| ch.finish_reason),
            native_finish_reason: first.and_then(|ch| ch.native_finish_reason.clone()),
            attempts: &served.attempts,
            latency_ms: started.elapsed().as_millis() as u64,
            generation_ms: served.attempts.last().map(|a| a.latency_ms).unwrap_or(0),
            upstream_id: c.upstream_id.clone(),
        },
        reservation,
    )
    .await?;
    let openrouter_metadata = info
        .metadata
        .then(|| attempt::metadata(&plan, Some(&served.endpoint), &served.attempts, &info));
    let resp = ChatResponse {
        id,
        object: "chat.completion".into(),
        created: unix_now(),
        model: ep.model_id.clone(),
        provider: Some(ep.provider.name.clone()),
        system_fingerprint: c.system_fingerprint,
        choices: c.choices,
        usage: Some(usage),
        openrouter_metadata,
    };
    Ok(axum::Json(resp).into_response())
}
