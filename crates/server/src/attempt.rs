//! The attempt loop: try the planned endpoints in order until one answers. A failure that is
//! the client's fault ends the loop at once; anything else moves on to the next endpoint.

use crate::app::AppState;
use crate::error::GatewayError;
use futures_util::StreamExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use switchyard_api::chat::ChatRequest;
use switchyard_providers::{Completion, EventStream, ProviderError, StreamEvent};
use switchyard_router::{Endpoint, Plan};

/// One call to one endpoint, as the generation record and `openrouter_metadata` show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attempt {
    pub provider: String,
    pub model: String,
    /// The upstream's HTTP status, 200 when it answered, 0 when there was no HTTP answer.
    pub status: u16,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct Served<T> {
    pub value: T,
    pub endpoint: Arc<Endpoint>,
    pub attempts: Vec<Attempt>,
}

/// A stream that has produced its first event: from here on the endpoint is committed.
pub struct OpenStream {
    pub first: StreamEvent,
    pub rest: EventStream,
}

fn status_of(e: &ProviderError) -> u16 {
    match e {
        ProviderError::Status { status, .. } => *status,
        _ => 0,
    }
}

/// Failures that are the provider's count against its health (and a `Retry-After` keeps it
/// back); a request the provider rightly refused does not.
fn record_failure(st: &AppState, ep: &Endpoint, e: &ProviderError) {
    if e.is_client_fault() {
        return;
    }
    let retry_after = match e {
        ProviderError::Status { retry_after, .. } => *retry_after,
        _ => None,
    };
    if let Some(h) = st.health.get(ep.index) {
        h.record_failure(retry_after);
    }
}

async fn try_each<T, F, Fut>(st: &AppState, plan: &Plan, mut call: F) -> Result<Served<T>, GatewayError>
where
    F: FnMut(Arc<Endpoint>) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut attempts = Vec::with_capacity(plan.endpoints.len());
    let mut last: Option<(String, ProviderError)> = None;
    for ep in &plan.endpoints {
        let started = Instant::now();
        let result = call(ep.clone()).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(value) => {
                attempts.push(Attempt {
                    provider: ep.provider.name.clone(),
                    model: ep.model_id.clone(),
                    status: 200,
                    latency_ms,
                    error: None,
                });
                return Ok(Served {
                    value,
                    endpoint: ep.clone(),
                    attempts,
                });
            }
            Err(e) => {
                tracing::info!(provider = %ep.provider.slug, model = %ep.model_id, error = %e, "attempt failed");
                record_failure(st, ep, &e);
                attempts.push(Attempt {
                    provider: ep.provider.name.clone(),
                    model: ep.model_id.clone(),
                    status: status_of(&e),
                    latency_ms,
                    error: Some(e.to_string()),
                });
                let stop = !e.is_retryable();
                last = Some((ep.provider.name.clone(), e));
                if stop {
                    break;
                }
            }
        }
    }
    match last {
        Some((provider, error)) => Err(GatewayError::Provider { provider, error }),
        None => Err(GatewayError::Plan(
            switchyard_router::PlanError::NoProvider(plan.requested.clone()),
        )),
    }
}

pub async fn complete(
    st: &AppState,
    plan: &Plan,
    req: &ChatRequest,
) -> Result<Served<Completion>, GatewayError> {
    let started = std::time::Instant::now();
    let served = try_each(st, plan, |ep| async move {
        let req = crate::forward::for_endpoint(req, &ep.supported_parameters);
        st.client.complete(ep.target(), &req).await
    })
    .await?;
    // A whole answer: its latency stands for time to first token, an upper bound.
    let took = served
        .attempts
        .last()
        .map(|a| std::time::Duration::from_millis(a.latency_ms))
        .unwrap_or_else(|| started.elapsed());
    if let Some(h) = st.health.get(served.endpoint.index) {
        h.record_success(took, served.value.usage.completion, took);
    }
    Ok(served)
}

/// Opens a stream on the first endpoint that gets as far as its first event. A stream that
/// fails before producing anything counts as a failed attempt, so the next endpoint is tried.
pub async fn open_stream(
    st: AppState,
    plan: Plan,
    req: Arc<ChatRequest>,
) -> Result<Served<OpenStream>, GatewayError> {
    try_each(&st, &plan, |ep| {
        let st = st.clone();
        let req = req.clone();
        async move {
            let req = crate::forward::for_endpoint(&req, &ep.supported_parameters);
            let mut rest = st.client.stream(ep.target(), &req).await?;
            match rest.next().await {
                Some(Ok(first)) => Ok(OpenStream { first, rest }),
                Some(Err(e)) => Err(e),
                None => Err(ProviderError::Truncated),
            }
        }
    })
    .await
}

/// Per-request facts the response and the bookkeeping need beyond the request body.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub generation_id: String,
    /// The conversation key for sticky routing.
    pub conversation: Option<String>,
    /// `X-OpenRouter-Metadata: enabled`: explain the routing in `openrouter_metadata`.
    pub metadata: bool,
}

/// A conversation served by an endpoint with cheaper cache reads stays there.
pub fn remember(st: &AppState, ep: &Endpoint, info: &RequestInfo) {
    let cheaper_reads = ep.prices.input_cache_read.is_some_and(|r| r < ep.prices.prompt);
    if let (true, Some(key)) = (cheaper_reads, info.conversation.as_deref()) {
        st.sticky.put(&ep.model_id, key, ep.index);
    }
}

/// OpenRouter's `openrouter_metadata`: what was asked for, what was available, what was tried.
pub fn metadata(plan: &Plan, served: Option<&Endpoint>, attempts: &[Attempt]) -> serde_json::Value {
    let available: Vec<_> = plan
        .endpoints
        .iter()
        .map(|e| {
            serde_json::json!({
                "provider": e.provider.name,
                "model": e.model_id,
                "selected": served.is_some_and(|s| s.index == e.index),
            })
        })
        .collect();
    let attempts: Vec<_> = attempts
        .iter()
        .map(|a| {
            serde_json::json!({
                "provider": a.provider, "model": a.model, "status": a.status,
                "latency": a.latency_ms, "error": a.error,
            })
        })
        .collect();
    serde_json::json!({
        "requested": plan.requested,
        "strategy": plan.strategy,
        "sticky": plan.sticky,
        "attempt": attempts.len(),
        "endpoints": {"total": plan.available, "available": available},
        "attempts": attempts,
    })
}
