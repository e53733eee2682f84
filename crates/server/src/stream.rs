//! The streaming half of the pipeline: attempts, keep-alives, mid-stream failover and
//! settlement of a streamed answer, yielded as typed [`Event`]s (no bytes: each dialect frames
//! them). The events follow OpenRouter's semantics: keep-alives while the upstream is quiet,
//! one delta per upstream choice delta, then `Finished` with the priced usage, or `Failed`.
//!
//! The HTTP status is committed as late as possible: if every endpoint fails before the
//! keep-alive interval has passed, [`open`] returns the error and the client gets a real
//! error status. If an upstream dies after tokens were sent, the stream continues on the next
//! endpoint with the text so far as an assistant prefix (mid-stream failover, on by default,
//! `provider.midstream_failover: false` to opt out); each endpoint is billed for what it
//! produced. When no endpoint can continue, the stream ends with `Failed`, never silently.

use crate::accounts::Reservation;
use crate::attempt::{self, OpenStream, RequestInfo, Served};
use crate::error::GatewayError;
use crate::listener::StreamSlot;
use crate::pipeline::{Event, Finished, NativeEvent};
use crate::settle::{settle, Settlement, Share};
use crate::state::{BillingState, RoutingState};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_api::chat::{
    ChatChunk, ChatRequest, ChunkChoice, Delta, FinishReason, Message, Role,
};
use switchyard_api::error::ErrorBody;
use switchyard_providers::simulated::estimate_tokens;
use switchyard_providers::{ProviderError, StreamEvent, TokenUsage};
use switchyard_router::{Endpoint, Plan};
use tokio::sync::mpsc;

type Opening = BoxFuture<'static, Result<Served<OpenStream>, GatewayError>>;

enum Start {
    Opened(Box<Served<OpenStream>>),
    Pending(Opening),
}

/// What the streaming driver needs of the gateway's state: the routing and billing handles,
/// and how often a waiting stream sends a keep-alive.
pub struct Handles {
    pub routing: Arc<RoutingState>,
    pub billing: Arc<BillingState>,
    pub keepalive: Duration,
}

/// Starts the stream: waits up to one keep-alive interval for the first event (so that a
/// request every endpoint refuses at once still gets a real error status), then hands the
/// rest to a task and returns its events.
pub async fn open(
    handles: Handles,
    plan: Arc<Plan>,
    req: ChatRequest,
    info: RequestInfo,
    reservation: Reservation,
    slot: StreamSlot,
) -> Result<mpsc::Receiver<Event>, GatewayError> {
    let started = Instant::now();
    let req = Arc::new(req);
    let Handles {
        routing,
        billing,
        keepalive,
    } = handles;
    let mut opening: Opening = Box::pin(attempt::open_stream(
        routing.clone(),
        plan.endpoints.clone(),
        plan.requested.clone(),
        req.clone(),
    ));
    let start = tokio::select! {
        r = &mut opening => Start::Opened(Box::new(r?)),
        _ = tokio::time::sleep(keepalive) => Start::Pending(opening),
    };
    // A few events of slack: a slow client holds back the upstream read instead of having
    // this stream's output pile up in memory.
    let (tx, rx) = mpsc::channel::<Event>(16);
    tokio::spawn(drive(
        Driver {
            routing,
            billing,
            keepalive,
            req,
            plan,
            info,
            out: Out { tx },
            started,
            reservation: Some(reservation),
            slot,
        },
        start,
    ));
    Ok(rx)
}

/// Sends events; `false` once the client has gone.
struct Out {
    tx: mpsc::Sender<Event>,
}

impl Out {
    async fn send(&self, ev: Event) -> bool {
        self.tx.send(ev).await.is_ok()
    }
}

/// What every chunk of a stream repeats. Provider, model and fingerprint follow the endpoint
/// currently serving: after a mid-stream failover the chunks name the endpoint that produced
/// them, as the generation record does.
struct ChunkFrame {
    id: String,
    created: u64,
    model: String,
    provider: String,
    system_fingerprint: Option<String>,
}

impl ChunkFrame {
    fn serve(&mut self, ep: &Endpoint) {
        self.model.clone_from(&ep.model_id);
        self.provider.clone_from(&ep.provider.name);
        // Another upstream's fingerprint says nothing of this one.
        self.system_fingerprint = None;
    }

    fn chunk(&self, choices: Vec<ChunkChoice>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            provider: Some(self.provider.clone()),
            system_fingerprint: self.system_fingerprint.clone(),
            choices,
            usage: None,
            error: None,
            openrouter_metadata: None,
        }
    }

    fn native(&self, ev: switchyard_providers::sse::SseEvent) -> NativeEvent {
        NativeEvent {
            id: self.id.clone(),
            model: self.model.clone(),
            provider: self.provider.clone(),
            event: ev.event,
            data: ev.data,
        }
    }

    fn error(&self, body: ErrorBody) -> ChatChunk {
        let mut c = self.chunk(vec![ChunkChoice {
            index: 0,
            delta: Delta {
                content: Some(String::new()),
                ..Default::default()
            },
            finish_reason: Some(FinishReason::Error),
            native_finish_reason: None,
            logprobs: None,
        }]);
        c.error = Some(body);
        c
    }
}

/// What one endpoint produced in this stream, for its own bill.
struct Segment {
    endpoint: Arc<Endpoint>,
    usage: Option<TokenUsage>,
    text: String,
    tool_calls: bool,
    started: Instant,
    first_at: Instant,
}

impl Segment {
    fn new(endpoint: Arc<Endpoint>, started: Instant, first_at: Instant) -> Segment {
        Segment {
            endpoint,
            usage: None,
            text: String::new(),
            tool_calls: false,
            started,
            first_at,
        }
    }

    fn see(&mut self, ev: &StreamEvent) {
        match ev {
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Choice(c) => {
                if let Some(t) = &c.delta.content {
                    self.text.push_str(t);
                }
                for tc in c.delta.tool_calls.iter().flatten() {
                    self.tool_calls = true;
                    if let Some(a) = tc.function.as_ref().and_then(|f| f.arguments.as_ref()) {
                        self.text.push_str(a);
                    }
                }
            }
            StreamEvent::UpstreamId(_)
            | StreamEvent::SystemFingerprint(_)
            | StreamEvent::Native(_) => {}
        }
    }

    /// Reported usage, or an estimate when the stream ended before the upstream reported it.
    fn usage(&self, req: &ChatRequest) -> (TokenUsage, bool) {
        match self.usage {
            Some(u) => (u, false),
            None => {
                let prompt: String = req.messages.iter().map(|m| m.text_content()).collect();
                let u = TokenUsage {
                    prompt: estimate_tokens(&prompt),
                    completion: estimate_tokens(&self.text),
                    ..Default::default()
                };
                (u, true)
            }
        }
    }
}

fn mid_stream_error(e: &ProviderError, provider: &str) -> ErrorBody {
    let err = GatewayError::Provider {
        provider: provider.to_string(),
        error: e.clone(),
    };
    let mut body = err.body();
    if let (ProviderError::StreamError { message, .. }, false) = (e, err.status().is_server_error())
    {
        body.message = message.clone();
    }
    body
}

/// The request that continues a stream elsewhere: the text so far becomes an assistant
/// prefix for the next endpoint to carry on from.
fn continuation(req: &ChatRequest, so_far: &str) -> ChatRequest {
    let mut next = req.clone();
    next.messages.push(Message::text(Role::Assistant, so_far));
    // The client's own body does not have the prefix: the continuation goes canonical.
    next.native = None;
    next
}

struct Driver {
    routing: Arc<RoutingState>,
    billing: Arc<BillingState>,
    keepalive: Duration,
    req: Arc<ChatRequest>,
    plan: Arc<Plan>,
    info: RequestInfo,
    out: Out,
    started: Instant,
    /// Released if the stream never settles (nothing served, nothing charged).
    reservation: Option<Reservation>,
    /// Held until the stream has settled, so that the drain waits for the bill too.
    slot: StreamSlot,
}

impl Driver {
    fn frame(&self, ep: Option<&Endpoint>) -> ChunkFrame {
        ChunkFrame {
            id: self.info.generation_id.clone(),
            created: crate::routes::unix_now(),
            model: ep
                .map(|e| e.model_id.clone())
                .unwrap_or_else(|| self.plan.requested.clone()),
            provider: ep.map(|e| e.provider.name.clone()).unwrap_or_default(),
            system_fingerprint: None,
        }
    }

    fn failover_enabled(&self) -> bool {
        self.req
            .provider
            .as_ref()
            .and_then(|p| p.midstream_failover)
            .unwrap_or(self.routing.settings.midstream_failover)
    }
}

async fn drive(mut d: Driver, start: Start) {
    let keepalive = d.keepalive;
    let served = match start {
        Start::Opened(s) => *s,
        Start::Pending(mut opening) => {
            if !d.out.send(Event::KeepAlive).await {
                return;
            }
            let result = loop {
                tokio::select! {
                    r = &mut opening => break r,
                    _ = tokio::time::sleep(keepalive) => {
                        // Dropping `opening` here cancels the upstream request.
                        if !d.out.send(Event::KeepAlive).await { return; }
                    }
                    // Nothing was served yet: nothing to bill, the reservation is released.
                    _ = d.slot.drained() => break Err(GatewayError::ShuttingDown),
                }
            };
            match result {
                Ok(s) => s,
                Err(e) => {
                    d.out
                        .send(Event::Failed(d.frame(None).error(e.body())))
                        .await;
                    return;
                }
            }
        }
    };

    let Served {
        value:
            OpenStream {
                first,
                mut rest,
                started,
                first_at,
            },
        endpoint,
        mut attempts,
    } = served;
    let mut frame = d.frame(Some(&endpoint));
    let mut segments = vec![Segment::new(endpoint, started, first_at)];
    let mut finish: Option<FinishReason> = None;
    let mut native: Option<String> = None;
    let mut upstream_id: Option<String> = None;
    let mut cancelled = false;
    let mut failure: Option<ProviderError> = None;
    // The drain deadline passed: the stream ends here, billed for what was sent.
    let mut drained = false;
    let mut next = Some(Ok(first));
    let mut continuing = false;
    // The serving endpoint passes its own events through (a client of its dialect): its
    // canonical deltas are then for the bookkeeping only.
    let mut relaying = false;
    // An upstream that ignores max_tokens (or never ends) is cut a little past it: the
    // reservation, and so the charge, stops there too. Bytes over four: at or below the
    // tokens of any script, so a stream within its limit is never cut.
    let allowed = d
        .reservation
        .as_ref()
        .map_or(u64::MAX, |r| r.max_tokens)
        .saturating_add(
            d.reservation
                .as_ref()
                .map_or(0, |r| (r.max_tokens / 4).max(16)),
        );
    let mut relayed_bytes: u64 = 0;
    // One timer for the whole stream, pushed back at each event (a later deadline only
    // updates it in place), rather than a timer registered and cancelled per chunk.
    let quiet = tokio::time::sleep(keepalive);
    tokio::pin!(quiet);
    loop {
        let item = match next.take() {
            Some(item) => {
                // After a failover re-open the old deadline may be long past.
                quiet
                    .as_mut()
                    .reset(tokio::time::Instant::now() + keepalive);
                Some(item)
            }
            None => tokio::select! {
                item = rest.next() => {
                    quiet.as_mut().reset(tokio::time::Instant::now() + keepalive);
                    item
                }
                _ = &mut quiet => {
                    if !d.out.send(Event::KeepAlive).await { cancelled = true; break; }
                    quiet.as_mut().reset(tokio::time::Instant::now() + keepalive);
                    continue;
                }
                _ = d.slot.drained() => {
                    drained = true;
                    break;
                }
            },
        };
        match item {
            None => break,
            Some(Err(e)) => {
                let seg = segments.last_mut();
                let ep = seg.as_ref().map(|s| s.endpoint.clone());
                if let Some(ep) = &ep {
                    let directed = ep.provider.protocol
                        == switchyard_providers::Protocol::Simulated
                        && switchyard_providers::simulated::has_directive(&d.req);
                    if !e.is_client_fault() && !directed {
                        if let Some(h) = d.routing.health.get(ep.index) {
                            h.record_failure(None);
                        }
                    }
                }
                let can_continue = d.failover_enabled()
                    && e.is_retryable()
                    && !segments.iter().any(|s| s.tool_calls)
                    && finish.is_none();
                let remaining: Vec<_> = match (&ep, can_continue) {
                    (Some(ep), true) => {
                        let at = d
                            .plan
                            .endpoints
                            .iter()
                            .position(|x| x.index == ep.index)
                            .map_or(d.plan.endpoints.len(), |p| p + 1);
                        d.plan.endpoints[at..].to_vec()
                    }
                    _ => vec![],
                };
                if remaining.is_empty() {
                    failure = Some(e);
                    break;
                }
                tracing::warn!(id = %frame.id, error = %e, "stream failed mid-way; continuing on the next endpoint");
                // Continuing is only attempted without tool calls, so the segments' text is the
                // answer so far.
                let so_far: String = segments.iter().map(|s| s.text.as_str()).collect();
                let cont = Arc::new(continuation(&d.req, &so_far));
                // Boxed, like the settlement below: a spawned task is allocated at the size of
                // its largest await, and these two run once per stream at most, while the
                // task lives as long as the stream (thousands at a time).
                let reopen = Box::pin(attempt::open_stream(
                    d.routing.clone(),
                    remaining,
                    d.plan.requested.clone(),
                    cont,
                ));
                let reopened = tokio::select! {
                    r = reopen => r,
                    _ = d.slot.drained() => {
                        drained = true;
                        failure = Some(e);
                        break;
                    }
                };
                match reopened {
                    Ok(s) => {
                        attempts.extend(s.attempts);
                        let OpenStream {
                            first,
                            rest: r,
                            started,
                            first_at,
                        } = s.value;
                        frame.serve(&s.endpoint);
                        segments.push(Segment::new(s.endpoint, started, first_at));
                        rest = r;
                        next = Some(Ok(first));
                        continuing = true;
                        relaying = false;
                    }
                    Err(_) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            Some(Ok(StreamEvent::Native(raw))) => {
                relaying = true;
                if !d.out.send(Event::Native(frame.native(raw))).await {
                    cancelled = true;
                    break;
                }
            }
            Some(Ok(mut ev)) => {
                if let Some(seg) = segments.last_mut() {
                    seg.see(&ev);
                }
                if let (StreamEvent::UpstreamId(u), None) = (&ev, &upstream_id) {
                    upstream_id = Some(u.clone());
                }
                if let StreamEvent::SystemFingerprint(fp) = &ev {
                    frame.system_fingerprint = Some(fp.clone());
                }
                if let StreamEvent::Choice(c) = &mut ev {
                    if c.finish_reason.is_some() {
                        finish = c.finish_reason;
                        native = c.native_finish_reason.clone();
                    }
                    if continuing {
                        // The client already has the role; the continuation only adds text.
                        c.delta.role = None;
                        if c.delta.is_empty() && c.finish_reason.is_none() {
                            continue;
                        }
                    }
                    let mut n = c.delta.content.as_ref().map_or(0, String::len);
                    for tc in c.delta.tool_calls.iter().flatten() {
                        n += tc
                            .function
                            .as_ref()
                            .and_then(|f| f.arguments.as_ref())
                            .map_or(0, String::len);
                    }
                    relayed_bytes =
                        relayed_bytes.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
                    let c = std::mem::take(c);
                    if !relaying && !d.out.send(Event::Delta(frame.chunk(vec![c]))).await {
                        cancelled = true;
                        break;
                    }
                    if finish.is_none() && relayed_bytes.div_ceil(4) > allowed {
                        tracing::warn!(id = %frame.id, allowed, "the provider went on past max_tokens; stream cut");
                        finish = Some(FinishReason::Length);
                        native = Some("max_tokens".into());
                        let end = ChunkChoice {
                            index: 0,
                            delta: Delta::default(),
                            finish_reason: finish,
                            native_finish_reason: native.clone(),
                            logprobs: None,
                        };
                        if !d.out.send(Event::Delta(frame.chunk(vec![end]))).await {
                            cancelled = true;
                        }
                        break;
                    }
                }
            }
        }
    }
    // Stop reading the upstream before pricing, so a cancelled stream is closed promptly.
    drop(rest);

    let last = segments.len() - 1;
    let end_finish = if failure.is_some() || drained {
        Some(FinishReason::Error)
    } else {
        finish
    };
    let mut shares = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate() {
        let (usage, estimated) = seg.usage(&d.req);
        // Earlier segments ended in a provider failure; the last ends as the stream did.
        let completed =
            i == last && !cancelled && end_finish.is_some_and(|f| f != FinishReason::Error);
        if completed {
            if let Some(h) = d.routing.health.get(seg.endpoint.index) {
                h.record_success(
                    seg.first_at - seg.started,
                    usage.completion,
                    seg.first_at.elapsed(),
                );
            }
        }
        shares.push(Share {
            endpoint: &seg.endpoint,
            usage,
            estimated,
        });
    }
    let first_at = segments.first().map(|s| s.first_at).unwrap_or(d.started);
    let Some(reservation) = d.reservation.take() else {
        return;
    };
    let settled = Box::pin(settle(
        &d.billing,
        Settlement {
            info: &d.info,
            shares,
            streamed: true,
            cancelled,
            finish_reason: end_finish,
            native_finish_reason: native.clone(),
            attempts: &attempts,
            latency_ms: d.started.elapsed().as_millis() as u64,
            generation_ms: first_at.elapsed().as_millis() as u64,
            upstream_id: upstream_id.clone(),
        },
        reservation,
    ))
    .await;
    let shown = match settled {
        Ok(u) => Some(u),
        Err(e) => {
            // Unrecorded means uncharged: the client must not see a successful end.
            tracing::error!(id = %frame.id, error = %e, "settling a stream failed");
            if !cancelled {
                d.out.send(Event::Failed(frame.error(e.body()))).await;
            }
            return;
        }
    };
    if let Some(seg) = segments.last() {
        if failure.is_none() && !cancelled && !drained {
            attempt::remember(&d.routing, &seg.endpoint, &d.info);
        }
    }
    if cancelled {
        return;
    }
    let served_ep = segments.last().map(|s| s.endpoint.clone());
    if drained {
        tracing::warn!(id = %frame.id, "stream ended by the shutdown's drain deadline");
        d.out
            .send(Event::Failed(
                frame.error(GatewayError::ShuttingDown.body()),
            ))
            .await;
        return;
    }
    if let Some(e) = failure {
        tracing::warn!(id = %frame.id, error = %e, "stream failed mid-way");
        let provider = served_ep
            .as_ref()
            .map(|e| e.provider.name.clone())
            .unwrap_or_default();
        d.out
            .send(Event::Failed(frame.error(mid_stream_error(&e, &provider))))
            .await;
        return;
    }
    let mut last_chunk = frame.chunk(vec![]);
    last_chunk.usage = shown;
    if d.info.metadata {
        last_chunk.openrouter_metadata = Some(attempt::metadata(
            &d.plan,
            served_ep.as_deref(),
            &attempts,
            &d.info,
        ));
    }
    d.out
        .send(Event::Finished(Finished {
            chunk: last_chunk,
            finish_reason: end_finish,
            native_finish_reason: native,
        }))
        .await;
}
