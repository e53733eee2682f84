//! The dialect-neutral request pipeline: plan, reserve, attempt (failover, hedging, mid-stream
//! continuation), settle. It takes a canonical [`ChatRequest`] and yields either a completed
//! [`ChatResponse`] or a stream of typed [`Event`]s; it writes no bytes. Each inbound dialect
//! (`crate::dialects`) decodes into the canonical request and renders what comes out.

use crate::accounts::Caller;
use crate::attempt::{self, RequestInfo};
use crate::error::GatewayError;
use crate::listener::Lifecycle;
use crate::settle::{reserve, reserve_embeddings, settle, Settlement, Share};
use crate::state::{AppState, BillingState, RoutingState};
use crate::stream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_api::chat::{ChatChunk, ChatRequest, ChatResponse, FinishReason, Usage};
use switchyard_api::embeddings::EmbeddingsRequest;
use switchyard_providers::TokenUsage;
use tokio::sync::mpsc;

/// One step of a streamed answer, as the pipeline yields it to a dialect's framer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The upstream is quiet; a dialect that has keep-alives sends one.
    KeepAlive,
    /// One delta of the answer: `choices` holds exactly one choice (text, reasoning with its
    /// `reasoning_details` signatures, tool-call pieces, a finish reason). `id`, `model`,
    /// `provider` and `system_fingerprint` name the endpoint serving now (they change after a
    /// mid-stream failover).
    Delta(ChatChunk),
    /// The answer is whole and billed: `chunk.choices` is empty, `chunk.usage` is the priced
    /// usage (`cost` set), `chunk.openrouter_metadata` is set when the client asked for it.
    Finished(Finished),
    /// The stream ends in failure: `chunk.error` says why (`code` is the HTTP status the
    /// failure would have had). Nothing follows.
    Failed(ChatChunk),
    /// The upstream's own event, for a client that speaks its dialect (`ChatRequest.native`):
    /// while an endpoint relays these, its canonical deltas are not sent as `Delta`s. Only
    /// the dialect that set `native` sees them; after a failover the stream goes on in
    /// `Delta`s.
    Native(NativeEvent),
}

/// An upstream event passed through, with what the client's frame needs to name.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeEvent {
    pub id: String,
    pub model: String,
    pub provider: String,
    /// The SSE `event:` name (empty when absent) and `data:`.
    pub event: String,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub chunk: ChatChunk,
    /// The finish reason of the answer (also seen in the last delta that carried one).
    pub finish_reason: Option<FinishReason>,
    pub native_finish_reason: Option<String>,
}

/// What the pipeline needs of the gateway: the routing and billing handles, the stream
/// lifecycle (open-streams cap, drain) and the keep-alive interval.
pub struct Handles<'a> {
    pub routing: &'a Arc<RoutingState>,
    pub billing: &'a Arc<BillingState>,
    pub lifecycle: &'a Lifecycle,
    pub keepalive: Duration,
}

impl<'a> Handles<'a> {
    pub fn of(st: &'a AppState) -> Handles<'a> {
        Handles {
            routing: &st.routing,
            billing: &st.billing,
            lifecycle: &st.lifecycle,
            keepalive: Duration::from_millis(st.settings.keepalive_ms),
        }
    }
}

/// Who is asking and what the request's headers say beyond its body.
pub struct Call {
    pub caller: Caller,
    pub generation_id: String,
    /// `X-Session-Id`, when sent.
    pub session: Option<String>,
    /// `X-OpenRouter-Metadata: enabled`.
    pub metadata: bool,
    pub referer: Option<String>,
    pub title: Option<String>,
    pub started: Instant,
}

/// What the pipeline yields: a whole answer, or the events of a stream already under way.
pub enum Outcome {
    Complete(Box<ChatResponse>),
    Stream(mpsc::Receiver<Event>),
}

/// Runs a canonical request: the auto router, plan, reserve, then attempt and settle — whole
/// or as a stream. A request refused before the reservation costs nothing; one that fails on
/// every endpoint before its first token is an error (the client gets a real status).
pub async fn run(
    h: Handles<'_>,
    call: Call,
    mut req: ChatRequest,
) -> Result<Outcome, GatewayError> {
    resolve_names(&h.routing.catalog, &mut req);
    let auto = route_auto(h.routing, &mut req)?;
    let info = RequestInfo {
        // Only an endpoint with cheaper cache reads makes a conversation stick (see
        // `attempt::remember`): otherwise no key is worked out, and a long prompt is not read
        // for it.
        conversation: caching_matters(&h.routing.catalog, &req)
            .then(|| switchyard_router::sticky::conversation_key(&req, call.session.as_deref()))
            .flatten(),
        generation_id: call.generation_id,
        metadata: call.metadata,
        auto,
        referer: call.referer,
        title: call.title,
        caller: call.caller,
    };
    let requested = requested_models(&req);
    let plan = {
        let mut rng = rand::thread_rng();
        switchyard_router::plan(
            &h.routing.plan_context(),
            &req,
            info.conversation.as_deref(),
            &mut rng,
        )
        .map_err(|e| {
            let providers = providers_of(h.routing, &requested);
            GatewayError::from(e).with_request(&requested, providers)
        })?
    };
    let plan = Arc::new(plan);
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
        .then(|| h.lifecycle.open_stream())
        .transpose()?;
    let reservation = reserve(h.billing, &info.caller, &req, &plan).await?;
    if let Some(slot) = slot {
        let events = stream::open(
            stream::Handles {
                routing: h.routing.clone(),
                billing: h.billing.clone(),
                keepalive: h.keepalive,
            },
            plan.clone(),
            req,
            info,
            reservation,
            slot,
        )
        .await
        .map_err(unavailable)?;
        return Ok(Outcome::Stream(events));
    }

    let served = attempt::complete(h.routing, &plan, &req)
        .await
        .map_err(unavailable)?;
    attempt::remember(h.routing, &served.endpoint, &info);
    let ep = &served.endpoint;
    let c = served.value;
    let first = c.choices.first();
    let usage = settle(
        h.billing,
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
            latency_ms: call.started.elapsed().as_millis() as u64,
            generation_ms: served.attempts.last().map(|a| a.latency_ms).unwrap_or(0),
            upstream_id: c.upstream_id.clone(),
        },
        reservation,
    )
    .await?;
    let openrouter_metadata = info
        .metadata
        .then(|| attempt::metadata(&plan, Some(&served.endpoint), &served.attempts, &info));
    Ok(Outcome::Complete(Box::new(ChatResponse {
        id: info.generation_id,
        object: "chat.completion".into(),
        created: crate::routes::unix_now(),
        model: ep.model_id.clone(),
        provider: Some(ep.provider.name.clone()),
        system_fingerprint: c.system_fingerprint,
        choices: c.choices,
        usage: Some(usage),
        openrouter_metadata,
        native: c.native,
    })))
}

/// A whole embeddings answer, billed: one vector per input, and what served it.
pub struct Embedded {
    pub id: String,
    pub model: String,
    pub provider: String,
    pub vectors: Vec<Vec<f32>>,
    /// Priced: `prompt_tokens` and `cost` are what was charged.
    pub usage: Usage,
}

/// Runs an embeddings request: plan (provider preferences, fallback across endpoints), the
/// worst case reserved before any call, then the attempts and one settlement through the
/// same ledger path as a generation. A request that fails costs nothing and leaves no record.
pub async fn embed(
    h: Handles<'_>,
    call: Call,
    mut req: EmbeddingsRequest,
) -> Result<Embedded, GatewayError> {
    resolve_name(&h.routing.catalog, &mut req.model);
    let info = RequestInfo {
        generation_id: call.generation_id,
        conversation: None,
        metadata: false,
        auto: None,
        referer: call.referer,
        title: call.title,
        caller: call.caller,
    };
    let plan = {
        let mut rng = rand::thread_rng();
        switchyard_router::plan_embeddings(&h.routing.plan_context(), &req, &mut rng)?
    };
    let reservation = reserve_embeddings(h.billing, &info.caller, &req.input, &plan).await?;
    let served = attempt::embed(h.routing, &plan, &req).await?;
    let ep = &served.endpoint;
    let e = served.value;
    let usage = settle(
        h.billing,
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
            latency_ms: call.started.elapsed().as_millis() as u64,
            generation_ms: served.attempts.last().map(|a| a.latency_ms).unwrap_or(0),
            upstream_id: e.upstream_id,
        },
        reservation,
    )
    .await?;
    Ok(Embedded {
        id: info.generation_id,
        model: ep.model_id.clone(),
        provider: ep.provider.name.clone(),
        vectors: e.vectors,
        usage,
    })
}

/// `switchyard/auto` / `openrouter/auto`: the auto router picks the model, and the request
/// goes on as if the client had named it. Returns the explanation for `openrouter_metadata`.
fn route_auto(
    routing: &RoutingState,
    req: &mut ChatRequest,
) -> Result<Option<serde_json::Value>, GatewayError> {
    if !req
        .model
        .as_deref()
        .is_some_and(switchyard_router::auto::is_auto)
    {
        return Ok(None);
    }
    let choice = switchyard_router::auto::choose(&routing.catalog, req, &routing.auto)?;
    let explanation = serde_json::json!({
        "chosen": choice.model.id,
        "difficulty": (choice.difficulty.score * 1000.0).round() / 1000.0,
        "signals": choice.difficulty.signals,
        "threshold": routing.auto.threshold,
        "candidates": choice.candidates,
    });
    req.model = Some(choice.model.id.clone());
    Ok(Some(explanation))
}

/// Provider-native model names (`claude-sonnet-4-5-20250929`, `gpt-4o`) become the
/// catalogue's ids, variant suffixes (`:nitro`) kept: clients pointed at the gateway with only
/// their base URL changed send the names they would send the provider. Unknown names are
/// left for the planner to refuse.
fn resolve_names(catalog: &switchyard_router::Catalog, req: &mut ChatRequest) {
    for m in req.model.iter_mut().chain(req.models.iter_mut().flatten()) {
        resolve_name(catalog, m);
    }
}

fn resolve_name(catalog: &switchyard_router::Catalog, name: &mut String) {
    let (base, variant) = match name.split_once(':') {
        Some((b, v)) => (b, Some(v)),
        None => (name.as_str(), None),
    };
    if base.contains('/') {
        return;
    }
    if let Some(id) = catalog.resolve(base) {
        *name = match variant {
            Some(v) => format!("{id}:{v}"),
            None => id.to_string(),
        };
    }
}

/// Whether any endpoint of the requested models reads cached prompts for less: only then
/// does keeping a conversation on one endpoint save anything.
fn caching_matters(catalog: &switchyard_router::Catalog, req: &ChatRequest) -> bool {
    req.model
        .iter()
        .chain(req.models.iter().flatten())
        .filter_map(|m| catalog.model(base_id(m)))
        .flat_map(|m| m.endpoints.iter())
        .any(|ep| ep.prices.cheaper_cache_reads())
}

/// A model id without its variant (`:nitro`, `:free`).
fn base_id(id: &str) -> &str {
    id.split_once(':').map_or(id, |(b, _)| b)
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
fn providers_of(routing: &RoutingState, models: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in models {
        let base = base_id(m);
        for ep in routing
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::background::Background;
    use crate::settle::tests::{store_with_credit, KEY};

    /// One simulated model that answers at once: the pipeline runs with no network and no
    /// HTTP app, only a `RoutingState`, a `BillingState` and a `Lifecycle`.
    const CONFIG: &str = r#"
default_catalog = false

[[providers]]
slug = "sim"
name = "Simulated"
protocol = "simulated"
simulation = { tokens_per_second = 100000, first_token_ms = 0 }

[[models]]
id = "t/model"
name = "Test model"
context_length = 10000
endpoints = [{ provider = "sim", upstream_id = "m", prompt = "0.000001", completion = "0.000002" }]
"#;

    struct World {
        routing: Arc<RoutingState>,
        billing: Arc<BillingState>,
        lifecycle: Lifecycle,
        store: switchyard_store::Store,
        dir: std::path::PathBuf,
        _background: Background,
    }

    impl World {
        async fn new() -> World {
            let cfg = crate::config::ConfigFile::from_toml(CONFIG)
                .expect("config parses")
                .load(false, &|_| None)
                .expect("config is valid");
            let client = switchyard_providers::UpstreamClient::new(
                cfg.server.timeouts(),
                cfg.server.limits(),
                cfg.catalog.secrets(),
            )
            .expect("client builds");
            let routing = Arc::new(RoutingState::new(
                cfg.catalog,
                client,
                cfg.routing,
                cfg.auto,
            ));
            // $1 of credit.
            let (store, dir) = store_with_credit(1_000_000_000_000).await;
            let background = Background::default();
            let billing =
                BillingState::load(store.clone(), None, &background, Duration::from_secs(10))
                    .await
                    .expect("billing loads");
            World {
                routing,
                billing: Arc::new(billing),
                lifecycle: Lifecycle::new(16),
                store,
                dir,
                _background: background,
            }
        }

        fn handles(&self) -> Handles<'_> {
            Handles {
                routing: &self.routing,
                billing: &self.billing,
                lifecycle: &self.lifecycle,
                keepalive: Duration::from_secs(5),
            }
        }

        fn call(&self, id: &str) -> Call {
            Call {
                caller: self
                    .billing
                    .accounts
                    .authenticate(KEY)
                    .expect("the key is known"),
                generation_id: id.into(),
                session: None,
                metadata: true,
                referer: None,
                title: None,
                started: Instant::now(),
            }
        }
    }

    fn request(stream: bool) -> ChatRequest {
        serde_json::from_value(serde_json::json!({
            "model": "t/model",
            "messages": [{"role": "user", "content": "Say something"}],
            "max_tokens": 4000,
            "stream": stream,
        }))
        .expect("request parses")
    }

    /// A stream comes out as typed events — deltas of the one endpoint, then `Finished` with
    /// the priced usage and the routing metadata — and the cost it reports is the one recorded.
    #[tokio::test]
    async fn a_stream_yields_typed_events_ending_with_the_billed_usage() {
        let w = World::new().await;
        let Ok(Outcome::Stream(mut events)) =
            run(w.handles(), w.call("gen-pipeline-stream"), request(true)).await
        else {
            panic!("a stream was asked for");
        };
        let mut text = String::new();
        let mut finished = None;
        while let Some(ev) = events.recv().await {
            match ev {
                Event::Delta(c) => {
                    assert_eq!(c.choices.len(), 1);
                    assert_eq!(c.model, "t/model");
                    assert_eq!(c.provider.as_deref(), Some("Simulated"));
                    text.push_str(c.choices[0].delta.content.as_deref().unwrap_or_default());
                }
                Event::Finished(f) => finished = Some(f),
                Event::KeepAlive => {}
                Event::Failed(c) => panic!("failed: {:?}", c.error),
                Event::Native(_) => panic!("no native events for a canonical request"),
            }
        }
        assert!(!text.is_empty());
        let f = finished.expect("the stream finished");
        assert!(f.chunk.choices.is_empty());
        assert_eq!(f.finish_reason, Some(FinishReason::Stop));
        assert!(f.chunk.openrouter_metadata.is_some());
        let usage = f.chunk.usage.expect("usage");
        let record = w
            .store
            .generation("gen-pipeline-stream")
            .await
            .expect("reads")
            .expect("recorded");
        assert_eq!(
            usage.cost.map(|c| c.pico()),
            Some(i128::from(record.cost_pico))
        );
        assert!(record.cost_pico > 0);
        let _ = std::fs::remove_dir_all(&w.dir);
    }

    /// A conversation key is worked out only where sticking to an endpoint saves something:
    /// a model one of whose endpoints reads cached prompts for less.
    #[test]
    fn conversation_keys_only_where_cache_reads_are_cheaper() {
        let cfg = crate::config::ConfigFile::from_toml(
            r#"
default_catalog = false
[[providers]]
slug = "sim"
name = "Simulated"
protocol = "simulated"
[[models]]
id = "t/plain"
name = "Plain"
context_length = 1000
endpoints = [{ provider = "sim", upstream_id = "p", prompt = "0.000001", completion = "0.000002" }]
[[models]]
id = "t/cached"
name = "Cached"
context_length = 1000
endpoints = [{ provider = "sim", upstream_id = "c", prompt = "0.000001", completion = "0.000002", input_cache_read = "0.0000001" }]
"#,
        )
        .expect("config parses")
        .load(false, &|_| None)
        .expect("config is valid");
        let req = |model: &str, models: Option<Vec<String>>| ChatRequest {
            model: Some(model.into()),
            models,
            ..ChatRequest::default()
        };
        assert!(!caching_matters(&cfg.catalog, &req("t/plain", None)));
        assert!(caching_matters(&cfg.catalog, &req("t/cached", None)));
        assert!(caching_matters(&cfg.catalog, &req("t/cached:nitro", None)));
        assert!(caching_matters(
            &cfg.catalog,
            &req("t/plain", Some(vec!["t/cached".into()]))
        ));
    }

    /// Without `stream`, the pipeline answers whole, billed and recorded.
    #[tokio::test]
    async fn a_whole_answer_is_billed_and_recorded() {
        let w = World::new().await;
        let Ok(Outcome::Complete(resp)) =
            run(w.handles(), w.call("gen-pipeline-whole"), request(false)).await
        else {
            panic!("a whole answer was asked for");
        };
        assert_eq!(resp.id, "gen-pipeline-whole");
        assert_eq!(resp.model, "t/model");
        let usage = resp.usage.expect("usage");
        let record = w
            .store
            .generation("gen-pipeline-whole")
            .await
            .expect("reads")
            .expect("recorded");
        assert_eq!(
            usage.cost.map(|c| c.pico()),
            Some(i128::from(record.cost_pico))
        );
        let _ = std::fs::remove_dir_all(&w.dir);
    }
}
