//! The attempt loop: try the planned endpoints in order until one answers. A failure that is
//! the client's fault ends the loop at once; anything else moves on to the next endpoint.

use crate::error::GatewayError;
use crate::state::RoutingState;
use futures_util::StreamExt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_api::chat::ChatRequest;
use switchyard_api::embeddings::EmbeddingsRequest;
use switchyard_providers::{
    simulated, Completion, Embeddings, EventStream, Protocol, ProviderError, StreamEvent,
};
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
    /// When the attempt started and when its first event arrived (time to first token).
    pub started: Instant,
    pub first_at: Instant,
}

fn status_of(e: &ProviderError) -> u16 {
    match e {
        ProviderError::Status { status, .. } => *status,
        _ => 0,
    }
}

/// Failures that are the provider's count against its health (and a `Retry-After` keeps it
/// back); a request the provider rightly refused does not.
fn record_failure(st: &RoutingState, ep: &Endpoint, e: &ProviderError, directed: bool) {
    if e.is_client_fault() || (directed && ep.provider.protocol == Protocol::Simulated) {
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

/// Outcome of one call, with its latency in milliseconds.
type Timed<T> = (Result<T, ProviderError>, u64);

async fn timed<T>(fut: impl Future<Output = Result<T, ProviderError>>) -> Timed<T> {
    let started = Instant::now();
    let r = fut.await;
    (r, started.elapsed().as_millis() as u64)
}

/// A hedge: endpoint `i` starts; if it has not answered after `delay`, endpoint `i + 1`
/// starts too. The first success wins and the other call is dropped (which cancels it
/// upstream); a failure waits for the other. Returns the outcomes in the order they
/// finished, how many endpoints were started, and the loser cancelled, if any.
async fn race<T, F, Fut>(
    call: &F,
    eps: &[Arc<Endpoint>],
    i: usize,
    delay: Duration,
) -> (Vec<(usize, Timed<T>)>, usize, Option<usize>)
where
    F: Fn(Arc<Endpoint>) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let a = timed(call(eps[i].clone()));
    tokio::pin!(a);
    tokio::select! {
        r = &mut a => return (vec![(i, r)], 1, None),
        _ = tokio::time::sleep(delay) => {}
    }
    tracing::debug!(first = %eps[i].provider.slug, second = %eps[i + 1].provider.slug, "hedging");
    let b = timed(call(eps[i + 1].clone()));
    tokio::pin!(b);
    let first = tokio::select! {
        r = &mut a => (i, r),
        r = &mut b => (i + 1, r),
    };
    if first.1 .0.is_ok() {
        let loser = if first.0 == i { i + 1 } else { i };
        return (vec![first], 2, Some(loser));
    }
    let second = if first.0 == i {
        (i + 1, b.await)
    } else {
        (i, a.await)
    };
    (vec![first, second], 2, None)
}

async fn try_each<T, F, Fut>(
    st: &RoutingState,
    eps: &[Arc<Endpoint>],
    hedge: bool,
    requested: &str,
    // The request scripts a simulated fault: its failures say nothing of the endpoint.
    directed: bool,
    call: F,
) -> Result<Served<T>, GatewayError>
where
    F: Fn(Arc<Endpoint>) -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut attempts = Vec::with_capacity(eps.len());
    let mut last: Option<(String, ProviderError)> = None;
    let mut i = 0;
    let mut skip_model: Option<String> = None;
    while i < eps.len() {
        if skip_model.as_ref().is_some_and(|m| *m == eps[i].model_id) {
            i += 1;
            continue;
        }
        let hedge_after = if hedge && i + 1 < eps.len() {
            st.health.get(eps[i].index).and_then(|h| h.ttft_p95())
        } else {
            None
        };
        let (outcomes, started, cancelled) = match hedge_after {
            Some(delay) => race(&call, eps, i, delay).await,
            None => (vec![(i, timed(call(eps[i].clone())).await)], 1, None),
        };
        i += started;
        if let Some(loser) = cancelled {
            let ep = &eps[loser];
            attempts.push(Attempt {
                provider: ep.provider.name.clone(),
                model: ep.model_id.clone(),
                status: 0,
                latency_ms: 0,
                error: Some("cancelled: the hedged request answered first".into()),
            });
        }
        for (k, (result, latency_ms)) in outcomes {
            let ep = &eps[k];
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
                    record_failure(st, ep, &e, directed);
                    attempts.push(Attempt {
                        provider: ep.provider.name.clone(),
                        model: ep.model_id.clone(),
                        status: status_of(&e),
                        latency_ms,
                        error: Some(e.to_string()),
                    });
                    // A request this model's provider rightly refused (a 400 for its context
                    // length, say) would be refused by its other providers too, but a
                    // fallback model may take it: OpenRouter's `models` fall back on any error.
                    // A request one protocol cannot express may suit the next endpoint.
                    if matches!(e, ProviderError::Status { .. }) && e.is_client_fault() {
                        skip_model = Some(ep.model_id.clone());
                    }
                    last = Some((ep.provider.name.clone(), e));
                }
            }
        }
    }
    match last {
        Some((provider, error)) => Err(GatewayError::Provider { provider, error }),
        None => Err(GatewayError::Plan(
            switchyard_router::PlanError::NoProvider(requested.to_string()),
        )),
    }
}

/// Whether this request is hedged: its own `provider.hedge`, else the server's setting.
pub fn hedged(st: &RoutingState, req: &ChatRequest) -> bool {
    req.provider
        .as_ref()
        .and_then(|p| p.hedge)
        .unwrap_or(st.settings.hedge)
}

pub async fn complete(
    st: &RoutingState,
    plan: &Plan,
    req: &ChatRequest,
) -> Result<Served<Completion>, GatewayError> {
    let started = std::time::Instant::now();
    let served = try_each(
        st,
        &plan.endpoints,
        hedged(st, req),
        &plan.requested,
        simulated::has_directive(req),
        |ep| async move {
            let req = crate::forward::for_endpoint(req, &ep.supported_parameters);
            st.client.complete(ep.target(), &req).await
        },
    )
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

/// An embeddings request on the planned endpoints in order, falling back as chat does. Not
/// hedged: hedging races time to first token, and an embedding has no first token.
pub async fn embed(
    st: &RoutingState,
    plan: &Plan,
    req: &EmbeddingsRequest,
) -> Result<Served<Embeddings>, GatewayError> {
    let served = try_each(
        st,
        &plan.endpoints,
        false,
        &plan.requested,
        simulated::embeddings_directive(req),
        |ep| async move {
            let req = crate::forward::embeddings_for_endpoint(req, &ep.supported_parameters);
            st.client.embed(ep.target(), &req).await
        },
    )
    .await?;
    if let (Some(h), Some(a)) = (st.health.get(served.endpoint.index), served.attempts.last()) {
        let took = std::time::Duration::from_millis(a.latency_ms);
        // No output tokens: the latency counts, and no throughput is claimed.
        h.record_success(took, 0, took);
    }
    Ok(served)
}

/// Opens a stream on the first of `eps` that gets as far as its first event. A stream that
/// fails before producing anything counts as a failed attempt, so the next one is tried.
pub async fn open_stream(
    st: Arc<RoutingState>,
    eps: Vec<Arc<Endpoint>>,
    requested: String,
    req: Arc<ChatRequest>,
) -> Result<Served<OpenStream>, GatewayError> {
    let hedge = hedged(&st, &req);
    let directed = simulated::has_directive(&req);
    try_each(&st, &eps, hedge, &requested, directed, |ep| {
        let st = st.clone();
        let req = req.clone();
        async move {
            let started = Instant::now();
            let req = crate::forward::for_endpoint(&req, &ep.supported_parameters);
            let mut rest = st.client.stream(ep.target(), &req).await?;
            match rest.next().await {
                Some(Ok(first)) => Ok(OpenStream {
                    first,
                    rest,
                    started,
                    first_at: Instant::now(),
                }),
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
    /// The auto router's choice and reasons, when it chose.
    pub auto: Option<serde_json::Value>,
    pub caller: crate::accounts::Caller,
    /// App attribution: `HTTP-Referer`, `X-Title` / `X-OpenRouter-Title`.
    pub referer: Option<String>,
    pub title: Option<String>,
}

/// A conversation served by an endpoint with cheaper cache reads stays there.
pub fn remember(st: &RoutingState, ep: &Endpoint, info: &RequestInfo) {
    if let (true, Some(key)) = (
        ep.prices.cheaper_cache_reads(),
        info.conversation.as_deref(),
    ) {
        st.sticky.put(&ep.model_id, key, ep.index);
    }
}

/// OpenRouter's `openrouter_metadata`: what was asked for, what was available, what was tried.
pub fn metadata(
    plan: &Plan,
    served: Option<&Endpoint>,
    attempts: &[Attempt],
    info: &RequestInfo,
) -> serde_json::Value {
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
    let requested = if info.auto.is_some() {
        "switchyard/auto"
    } else {
        plan.requested.as_str()
    };
    let summary = match served {
        Some(ep) => format!(
            "{requested}: served by {} ({}) after {} attempt{} over {} available endpoint{}",
            ep.provider.name,
            ep.model_id,
            attempts.len(),
            if attempts.len() == 1 { "" } else { "s" },
            plan.available,
            if plan.available == 1 { "" } else { "s" },
        ),
        None => format!(
            "{requested}: not served after {} attempt{}",
            attempts.len(),
            if attempts.len() == 1 { "" } else { "s" },
        ),
    };
    serde_json::json!({
        "requested": requested,
        "strategy": if info.auto.is_some() { "auto" } else { plan.strategy },
        // Required by the spec. No endpoint uses the caller's own provider key, and the
        // gateway does not pin data to a region.
        "is_byok": false,
        "region": null,
        "summary": summary,
        "auto": info.auto,
        "sticky": plan.sticky,
        "attempt": attempts.len(),
        "endpoints": {"total": plan.available, "available": available},
        "attempts": attempts,
        "skipped_models": plan.skipped.iter().map(|k| serde_json::json!({
            "model": k.model, "reason": k.reason.as_str(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_testkit::{FakeUpstream, API_KEY};

    /// A `RoutingState` alone (no accounts, no ledger, no HTTP app) whose one model has two
    /// endpoints on the testkit's fake OpenAI.
    async fn routing(upstream: &FakeUpstream) -> RoutingState {
        let toml = format!(
            r#"
default_catalog = false

[[providers]]
slug = "fake-openai"
name = "Fake OpenAI"
protocol = "openai"
base_url = "{}"
api_key_env = "FAKE_KEY"

[[models]]
id = "t/model"
name = "Test model"
context_length = 10000
endpoints = [
  {{ provider = "fake-openai", upstream_id = "gpt-a", prompt = "0.000001", completion = "0.000002" }},
  {{ provider = "fake-openai", upstream_id = "gpt-b", prompt = "0.000002", completion = "0.000004" }},
]
"#,
            upstream.base_url("openai")
        );
        let cfg = crate::config::ConfigFile::from_toml(&toml)
            .expect("config parses")
            .load(false, &|v| (v == "FAKE_KEY").then(|| API_KEY.to_string()))
            .expect("config is valid");
        let client = switchyard_providers::UpstreamClient::new(
            cfg.server.timeouts(),
            cfg.server.limits(),
            cfg.catalog.secrets(),
        )
        .expect("client builds");
        RoutingState::new(cfg.catalog, client, cfg.routing, cfg.auto)
    }

    /// The attempt loop falls back past an endpoint that fails with a provider fault, and
    /// the routing state learns of both outcomes: the failure counts against the first
    /// endpoint's health, the success for the second's.
    #[tokio::test]
    async fn falls_back_and_records_health_on_the_routing_state() {
        let upstream = FakeUpstream::start().await.expect("fake upstream starts");
        let st = routing(&upstream).await;
        let endpoints = st
            .catalog
            .model("t/model")
            .expect("the model is listed")
            .endpoints
            .clone();
        let plan = Plan {
            requested: "t/model".into(),
            available: endpoints.len(),
            endpoints,
            sticky: false,
            strategy: "price",
            skipped: vec![],
        };
        let req: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "t/model",
            "messages": [{"role": "user", "content": "hello #fail@gpt-a:503"}],
        }))
        .expect("request parses");

        let served = complete(&st, &plan, &req).await.expect("served");
        assert_eq!(served.endpoint.upstream_id, "gpt-b");
        let statuses: Vec<u16> = served.attempts.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [503, 200]);
        assert_eq!(upstream.requests().len(), 2, "one call to each endpoint");

        let uptime = |i: usize| {
            st.health
                .get(plan.endpoints[i].index)
                .expect("health is kept for every endpoint")
                .stats()
                .uptime_5m
        };
        assert_eq!(uptime(0), Some(0.0));
        assert_eq!(uptime(1), Some(100.0));
    }
}
