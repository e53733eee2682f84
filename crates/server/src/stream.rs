//! Streaming responses, the way OpenRouter sends them: `chat.completion.chunk` frames,
//! `: OPENROUTER PROCESSING` comments while the upstream is quiet, one final chunk with
//! `choices: []` and the priced `usage`, then `data: [DONE]`. A failure after the response
//! has started ends it with an error chunk (`finish_reason: "error"`), never silently.
//!
//! The HTTP status is committed as late as possible: if the upstream fails (on every
//! endpoint) before the keep-alive interval has passed, the client gets a real error status.

use crate::app::AppState;
use crate::attempt::{self, OpenStream, Served};
use crate::error::GatewayError;
use crate::settle::{settle, Settlement};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_api::chat::{ChatChunk, ChatRequest, ChunkChoice, Delta, FinishReason};
use switchyard_api::error::ErrorBody;
use switchyard_providers::simulated::estimate_tokens;
use switchyard_providers::{ProviderError, StreamEvent, TokenUsage};
use switchyard_router::Plan;
use tokio::sync::mpsc;

const KEEPALIVE: &[u8] = b": OPENROUTER PROCESSING\n\n";
const DONE: &[u8] = b"data: [DONE]\n\n";

type Opening = BoxFuture<'static, Result<Served<OpenStream>, GatewayError>>;

enum Start {
    Opened(Box<Served<OpenStream>>),
    Pending(Opening),
}

pub async fn respond(
    st: AppState,
    plan: Plan,
    req: ChatRequest,
    info: RequestInfo,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let req = Arc::new(req);
    let mut opening: Opening = Box::pin(attempt::open_stream(st.clone(), plan, req.clone()));
    let keepalive = Duration::from_millis(st.settings.keepalive_ms);
    let start = tokio::select! {
        r = &mut opening => Start::Opened(Box::new(r?)),
        _ = tokio::time::sleep(keepalive) => Start::Pending(opening),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(drive(st, req, generation_id, start, tx, started));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(body))
        .map_err(|e| GatewayError::Internal(e.to_string()))
}

/// Frames and sends; `false` once the client has gone.
struct Out {
    tx: mpsc::Sender<Bytes>,
}

impl Out {
    async fn raw(&self, b: &'static [u8]) -> bool {
        self.tx.send(Bytes::from_static(b)).await.is_ok()
    }

    async fn chunk(&self, c: &ChatChunk) -> bool {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(b"data: ");
        if serde_json::to_writer(&mut buf, c).is_err() {
            return true;
        }
        buf.extend_from_slice(b"\n\n");
        self.tx.send(Bytes::from(buf)).await.is_ok()
    }
}

struct ChunkFrame {
    id: String,
    created: u64,
    model: String,
    provider: String,
}

impl ChunkFrame {
    fn chunk(&self, choices: Vec<ChunkChoice>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            provider: Some(self.provider.clone()),
            system_fingerprint: None,
            choices,
            usage: None,
            error: None,
            openrouter_metadata: None,
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

/// The stream's running totals, for settlement.
#[derive(Default)]
struct Tally {
    usage: Option<TokenUsage>,
    text_chars: String,
    finish: Option<FinishReason>,
}

impl Tally {
    fn see(&mut self, ev: &StreamEvent) {
        match ev {
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Choice(c) => {
                for t in [&c.delta.content, &c.delta.reasoning].into_iter().flatten() {
                    self.text_chars.push_str(t);
                }
                for tc in c.delta.tool_calls.iter().flatten() {
                    if let Some(a) = tc.function.as_ref().and_then(|f| f.arguments.as_ref()) {
                        self.text_chars.push_str(a);
                    }
                }
                if c.finish_reason.is_some() {
                    self.finish = c.finish_reason;
                }
            }
            StreamEvent::UpstreamId(_) => {}
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
                    completion: estimate_tokens(&self.text_chars),
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

async fn drive(
    st: AppState,
    req: Arc<ChatRequest>,
    id: String,
    start: Start,
    tx: mpsc::Sender<Bytes>,
    started: Instant,
) {
    let out = Out { tx };
    let keepalive = Duration::from_millis(st.settings.keepalive_ms);
    let served = match start {
        Start::Opened(s) => *s,
        Start::Pending(mut opening) => {
            if !out.raw(KEEPALIVE).await {
                return;
            }
            let result = loop {
                tokio::select! {
                    r = &mut opening => break r,
                    _ = tokio::time::sleep(keepalive) => {
                        // Dropping `opening` here cancels the upstream request.
                        if !out.raw(KEEPALIVE).await { return; }
                    }
                }
            };
            match result {
                Ok(s) => s,
                Err(e) => {
                    let frame = ChunkFrame {
                        id,
                        created: crate::routes::unix_now(),
                        model: req.model.clone().unwrap_or_default(),
                        provider: String::new(),
                    };
                    out.chunk(&frame.error(e.body())).await;
                    return;
                }
            }
        }
    };

    let Served {
        value: OpenStream { first, mut rest },
        endpoint,
        attempts,
    } = served;
    let frame = ChunkFrame {
        id,
        created: crate::routes::unix_now(),
        model: endpoint.model_id.clone(),
        provider: endpoint.provider.name.clone(),
    };
    let mut tally = Tally::default();
    let mut cancelled = false;
    let mut failure: Option<ProviderError> = None;
    let mut next = Some(Ok(first));
    loop {
        let item = match next.take() {
            Some(item) => Some(item),
            None => tokio::select! {
                item = rest.next() => item,
                _ = tokio::time::sleep(keepalive) => {
                    if !out.raw(KEEPALIVE).await { cancelled = true; break; }
                    continue;
                }
            },
        };
        match item {
            None => break,
            Some(Err(e)) => {
                failure = Some(e);
                break;
            }
            Some(Ok(ev)) => {
                tally.see(&ev);
                if let StreamEvent::Choice(c) = ev {
                    if !out.chunk(&frame.chunk(vec![c])).await {
                        cancelled = true;
                        break;
                    }
                }
            }
        }
    }
    // Stop reading the upstream before pricing, so a cancelled stream is closed promptly.
    drop(rest);

    let (usage, estimated) = tally.usage(&req);
    let finish = if failure.is_some() {
        Some(FinishReason::Error)
    } else {
        tally.finish
    };
    let wire_usage = settle(&Settlement {
        generation_id: &frame.id,
        endpoint: &endpoint,
        usage,
        usage_estimated: estimated,
        streamed: true,
        cancelled,
        finish_reason: finish,
        attempts: &attempts,
        latency_ms: started.elapsed().as_millis() as u64,
    });
    if cancelled {
        return;
    }
    if let Some(e) = failure {
        tracing::warn!(id = %frame.id, provider = %endpoint.provider.slug, error = %e, "stream failed mid-way");
        out.chunk(&frame.error(mid_stream_error(&e, &endpoint.provider.name)))
            .await;
        return;
    }
    let mut last = frame.chunk(vec![]);
    last.usage = Some(wire_usage);
    if out.chunk(&last).await {
        out.raw(DONE).await;
    }
}
