//! Fake upstream providers for tests and benchmarks. One server speaks three wire formats,
//! written from the providers' documentation (not from Switchyard's adapters, so it checks
//! them rather than mirroring them):
//!
//! - OpenAI Chat Completions at `/openai/v1/chat/completions`
//! - Anthropic Messages at `/anthropic/v1/messages`
//! - Gemini at `/gemini/v1beta/models/{model}:generateContent` and
//!   `:streamGenerateContent?alt=sse`
//! - embeddings: OpenAI's `/openai/v1/embeddings` and Gemini's `:embedContent` /
//!   `:batchEmbedContents`: deterministic vectors (8 values unless `dimensions` /
//!   `outputDimensionality` asks otherwise), usage one token a word (OpenAI only: Gemini
//!   reports none); `#fail`, `#delay`, `#hang`, `#usage` and `#bigbody` apply, read from all
//!   the input texts
//!
//! Replies are deterministic: a tool call when tools are offered (args filled from the
//! schema), JSON when a schema is asked for, "The tool returned: …" after a tool result, and
//! otherwise "Echo: <last user text>". Directives in the last user message script faults:
//! `#fail:<status>`, `#delay:<ms>` (before answering), `#tokdelay:<ms>` (between stream
//! chunks), `#cut:<n>` (drop the connection after n stream chunks), `#stall:<n>` (go silent
//! after n chunks), `#hang` (never answer), `#midstream-error` (provider error event after one
//! chunk), `#cached:<n>` (report n cached prompt tokens), `#think` (reason first),
//! `#retry-after:<value>` (the `Retry-After` header of a scripted failure, e.g. `1e20`),
//! `#echo-key:<status>` (answer that status quoting the request's credential header back; 200:
//! streamed, one chunk then an error event quoting it, else a body that fails to decode on it),
//! `#comments-only` (a 200 stream of nothing but `: ping` comments every 50 ms, forever),
//! `#comments-after:<n>` (n frames of the stream, then only comments), `#bigbody:<bytes>` (pad
//! a JSON answer, scripted failures too, with that many bytes), `#longline:<bytes>` (open a
//! stream with an SSE comment line that long), `#usage:<n>` (report n prompt and n completion
//! tokens), `#endless` (a stream that never ends: a text chunk every 5 ms until the caller
//! hangs up), `#notools` (answer in text even when tools are offered, as an agent's prompt
//! needs).
//! `#name@<upstream model>:…` aims a directive at one endpoint only (e.g. `#fail@gpt-a:503`).
//! Every request is recorded for assertions.

pub mod scan;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The key every fake provider expects.
pub const API_KEY: &str = "testkit-key";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Clone, Default)]
struct Shared {
    /// Off for the standalone process (benchmarks), where it would only grow.
    no_log: bool,
    log: Arc<Mutex<Vec<Recorded>>>,
    /// Requests whose caller went away before the answer was fully sent.
    abandoned: Arc<AtomicUsize>,
}

/// Counts an abandoned request when dropped before `finish()`: the handler future (or the
/// streamed body) is dropped exactly when the caller closes the connection.
struct Watch {
    abandoned: Arc<AtomicUsize>,
    finished: bool,
}

impl Watch {
    fn new(shared: &Shared) -> Watch {
        Watch {
            abandoned: shared.abandoned.clone(),
            finished: false,
        }
    }

    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.finished {
            self.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    shared: Shared,
    _stop: oneshot::Sender<()>,
}

impl FakeUpstream {
    /// Starts on 127.0.0.1 and an ephemeral port; stops when dropped.
    pub async fn start() -> std::io::Result<FakeUpstream> {
        Self::start_on(
            "127.0.0.1:0"
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
        )
        .await
    }

    pub async fn start_on(addr: SocketAddr) -> std::io::Result<FakeUpstream> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(FakeUpstream {
            addr,
            shared,
            _stop: tx,
        })
    }

    /// `openai`, `anthropic` or `gemini`: the base URL to put in a provider's config.
    pub fn base_url(&self, protocol: &str) -> String {
        match protocol {
            "anthropic" => format!("http://{}/anthropic/v1", self.addr),
            "gemini" => format!("http://{}/gemini/v1beta", self.addr),
            _ => format!("http://{}/openai/v1", self.addr),
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// How many requests were abandoned by the caller (the gateway) before completion.
    pub fn abandoned(&self) -> usize {
        self.shared.abandoned.load(Ordering::SeqCst)
    }

    pub fn clear(&self) {
        if let Ok(mut l) = self.shared.log.lock() {
            l.clear();
        }
    }
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/openai/v1/chat/completions", post(openai))
        .route("/openai/v1/embeddings", post(openai_embeddings))
        .route("/anthropic/v1/messages", post(anthropic))
        .route("/gemini/v1beta/models/{action}", post(gemini))
        .with_state(shared)
}

/// Serves until the process ends (for the `switchyard-testkit` binary).
pub async fn serve_forever(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let shared = Shared {
        no_log: true,
        ..Shared::default()
    };
    axum::serve(listener, router(shared)).await
}

// ---------- script ----------

#[derive(Debug, Default, Clone)]
struct Script {
    fail: Option<u16>,
    delay_ms: u64,
    tokdelay_ms: u64,
    cut: Option<usize>,
    stall: Option<usize>,
    hang: bool,
    midstream_error: bool,
    cached: u64,
    think: bool,
    /// Sent as `Retry-After` with a scripted failure.
    retry_after: Option<String>,
    /// Answer this status with the request's credential quoted back.
    echo_key: Option<u16>,
    /// Send this many frames of the stream, then only SSE comments, forever.
    comments_after: Option<usize>,
    /// Pad a JSON answer (success or scripted failure) with this many bytes.
    bigbody: Option<usize>,
    /// Open a stream with an SSE comment line this long.
    longline: Option<usize>,
    /// Report this many prompt and completion tokens.
    usage: Option<u64>,
    /// Stream text forever.
    endless: bool,
}

/// `#name@model:value` (for this upstream model only) or `#name:value` (for every model).
fn directive(text: &str, name: &str, model: &str) -> Option<String> {
    let value_after = |tag: &str| {
        let start = text.find(tag)? + tag.len();
        Some(
            text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>(),
        )
    };
    value_after(&format!("#{name}@{model}:")).or_else(|| value_after(&format!("#{name}:")))
}

/// `#name@model` or a bare `#name` (not followed by `@` or `:`).
fn flag(text: &str, name: &str, model: &str) -> bool {
    let bounded = |tag: &str, allow_at: bool| {
        text.match_indices(tag).any(|(i, _)| {
            let next = text[i + tag.len()..].chars().next();
            match next {
                None => true,
                Some(c) => {
                    !(c.is_ascii_alphanumeric() || c == '-' || c == ':' || (!allow_at && c == '@'))
                }
            }
        })
    };
    bounded(&format!("#{name}@{model}"), true) || bounded(&format!("#{name}"), false)
}

fn script(last_user: &str, model: &str) -> Script {
    let num = |n: &str| directive(last_user, n, model).and_then(|v| v.parse::<u64>().ok());
    Script {
        fail: num("fail").map(|v| v as u16),
        delay_ms: num("delay").unwrap_or(0),
        tokdelay_ms: num("tokdelay").unwrap_or(0),
        cut: num("cut").map(|v| v as usize),
        stall: num("stall").map(|v| v as usize),
        hang: flag(last_user, "hang", model),
        midstream_error: flag(last_user, "midstream-error", model),
        cached: num("cached").unwrap_or(0),
        think: flag(last_user, "think", model),
        retry_after: directive(last_user, "retry-after", model),
        echo_key: num("echo-key").map(|v| v as u16),
        comments_after: if flag(last_user, "comments-only", model) {
            Some(0)
        } else {
            num("comments-after").map(|v| v as usize)
        },
        bigbody: num("bigbody").map(|v| v as usize),
        longline: num("longline").map(|v| v as usize),
        usage: num("usage"),
        endless: flag(last_user, "endless", model),
    }
}

/// What `#endless` sends, and how often.
const TICK: &str = "tick ";
const TICK_EVERY: Duration = Duration::from_millis(5);

/// What `#echo-key` says: the credential twice, once in the message and once on its own, the
/// way careless providers quote a rejected key.
fn echoed(credential: &str) -> String {
    format!("Invalid credential {credential}; you sent: {credential}")
}

/// `#echo-key:200`, non-streamed: a success whose body does not decode, with the credential
/// where the decoder will quote it (`invalid type: string "…"`).
fn echo_undecodable(field: &str, credential: &str) -> Response {
    let mut v = json!({"id": "echo", "type": "message", "model": "echo"});
    v[field] = json!(credential);
    json_response(StatusCode::OK, v)
}

/// What the fake model answers, before it is put in a wire format.
#[derive(Debug, Clone)]
enum Reply {
    Text(String),
    Tool {
        id: String,
        name: String,
        args: Value,
    },
}

fn example(schema: &Value) -> Value {
    if let Some(v) = schema.get("enum").and_then(|e| e.get(0)) {
        return v.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut o = serde_json::Map::new();
            for (k, v) in schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                o.insert(k.clone(), example(v));
            }
            Value::Object(o)
        }
        Some("array") => json!([example(
            schema.get("items").unwrap_or(&json!({"type": "string"}))
        )]),
        Some("integer") => json!(42),
        Some("number") => json!(4.5),
        Some("boolean") => json!(true),
        _ => json!("Paris"),
    }
}

fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

struct Turn {
    last_user: String,
    tool_result: Option<String>,
    /// (name, schema) of the tool to call, when one should be called.
    tool: Option<(String, Value)>,
    json_schema: Option<Value>,
}

fn reply(turn: &Turn) -> Reply {
    // Agents (Claude Code, Codex) offer tools on every turn; `#notools` makes the fake answer
    // in text anyway, so a prompt completes in one call.
    let tools_wanted = !turn.last_user.contains("#notools");
    if turn.tool_result.is_none() && tools_wanted {
        if let Some((name, schema)) = &turn.tool {
            return Reply::Tool {
                id: "call_fake_1".into(),
                name: name.clone(),
                args: example(schema),
            };
        }
    }
    if let Some(schema) = &turn.json_schema {
        return Reply::Text(example(schema).to_string());
    }
    if let Some(r) = &turn.tool_result {
        return Reply::Text(format!("The tool returned: {r}"));
    }
    Reply::Text(format!("Echo: {}", turn.last_user))
}

fn reply_tokens(r: &Reply) -> u64 {
    match r {
        Reply::Text(t) => words(t).max(1),
        Reply::Tool { args, .. } => 5 + args.to_string().len() as u64 / 4,
    }
}

fn text_pieces(t: &str) -> Vec<String> {
    t.split_inclusive(' ').map(str::to_string).collect()
}

fn record(shared: &Shared, path: String, headers: &HeaderMap, body: &Value) {
    if shared.no_log {
        return;
    }
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    if let Ok(mut l) = shared.log.lock() {
        l.push(Recorded {
            path,
            headers,
            body: body.clone(),
        });
    }
}

async fn pre(sc: &Script) {
    if sc.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if sc.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(sc.delay_ms)).await;
    }
}

/// What a stream sends before or after its frames.
type Tail = futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>;

/// `n` bytes of `x` in pieces: big bodies are sent, never held whole.
fn padding(n: usize) -> impl Iterator<Item = Bytes> {
    const PIECE: usize = 64 * 1024;
    let piece = Bytes::from(vec![b'x'; PIECE]);
    (0..n.div_ceil(PIECE)).map(move |i| piece.slice(..PIECE.min(n.saturating_sub(i * PIECE))))
}

/// `s`, then `watch` marked finished: a caller that hangs up first is counted.
fn watched(
    s: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    watch: Watch,
) -> Body {
    let mut watch = Some(watch);
    Body::from_stream(s.chain(stream::poll_fn(move |_| {
        // Reached only when everything went out: the answer was not abandoned.
        if let Some(w) = watch.take() {
            w.finish();
        }
        std::task::Poll::Ready(None)
    })))
}

/// A JSON answer, padded by `#bigbody` (with a `"padding"` member).
fn answer(status: StatusCode, v: Value, sc: &Script, watch: Watch) -> Response {
    let Some(n) = sc.bigbody else {
        watch.finish();
        return json_response(status, v);
    };
    let text = v.to_string();
    let head = text.strip_suffix('}').unwrap_or(&text);
    let sep = if head.ends_with('{') { "" } else { "," };
    let parts = std::iter::once(Bytes::from(format!("{head}{sep}\"padding\":\"")))
        .chain(padding(n))
        .chain(std::iter::once(Bytes::from_static(b"\"}")));
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(watched(stream::iter(parts.map(Ok)), watch))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    if status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    r
}

/// `item` every `every`, until the caller goes away.
fn forever(item: Bytes, every: Duration) -> Tail {
    stream::unfold(item, move |item| async move {
        tokio::time::sleep(every).await;
        Some((Ok(item.clone()), item))
    })
    .boxed()
}

/// SSE frames as a body that honours `#tokdelay`, `#cut`, `#stall`, `#comments-only`,
/// `#comments-after` and `#longline`.
fn sse_body(mut frames: Vec<String>, sc: &Script, watch: Watch) -> Response {
    let tail = sc.comments_after.map(|n| {
        frames.truncate(n);
        forever(Bytes::from_static(b": ping\n\n"), Duration::from_millis(50))
    });
    sse_body_then(frames, sc, watch, tail)
}

/// As [`sse_body`], with `tail` sent after the frames (the caller's disconnect ends it).
fn sse_body_then(frames: Vec<String>, sc: &Script, watch: Watch, tail: Option<Tail>) -> Response {
    let head = sc.longline.map(|n| {
        let parts = std::iter::once(Bytes::from_static(b": "))
            .chain(padding(n))
            .chain(std::iter::once(Bytes::from_static(b"\n\n")));
        stream::iter(parts.map(Ok)).boxed()
    });
    let tokdelay = Duration::from_millis(sc.tokdelay_ms);
    let cut = sc.cut;
    let stall = sc.stall;
    let s = stream::iter(frames.into_iter().enumerate()).then(move |(i, f)| async move {
        if cut == Some(i) {
            // Let what was sent so far reach the client before the connection drops.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut by script",
            ));
        }
        if stall == Some(i) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if i > 0 && !tokdelay.is_zero() {
            tokio::time::sleep(tokdelay).await;
        }
        Ok::<_, std::io::Error>(Bytes::from(f))
    });
    // After a cut, nothing more is sent and the connection is dropped.
    let s = s
        .take_while(|r| futures_util::future::ready(r.is_ok()))
        .chain(stream::iter(cut.map(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut",
            ))
        })));
    let s = stream::iter(head)
        .flatten()
        .chain(s)
        .chain(stream::iter(tail).flatten());
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(watched(s, watch))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

fn json_response(status: StatusCode, v: Value) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    r
}

/// A scripted failure, with the script's `Retry-After` if it gives one.
fn scripted_failure(mut r: Response, sc: &Script) -> Response {
    if let Some(v) = sc
        .retry_after
        .as_deref()
        .and_then(|v| axum::http::HeaderValue::from_str(v).ok())
    {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

// ---------- OpenAI ----------

async fn openai(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": {"message": "We could not parse the JSON body of your request.", "type": "invalid_request_error", "param": null, "code": null}}),
        );
    };
    record(
        &shared,
        "/openai/v1/chat/completions".into(),
        &headers,
        &req,
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {API_KEY}"))
    {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
        );
    }
    let msgs = req["messages"].as_array().cloned().unwrap_or_default();
    let last = msgs.last().cloned().unwrap_or(Value::Null);
    let last_user = msgs
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    let forced = req["tool_choice"]["function"]["name"].as_str();
    let tool = req["tools"].as_array().and_then(|tools| {
        let t = match forced {
            Some(n) => tools.iter().find(|t| t["function"]["name"] == n),
            None => tools.first(),
        }?;
        Some((
            t["function"]["name"].as_str()?.to_string(),
            t["function"]["parameters"].clone(),
        ))
    });
    let turn = Turn {
        tool_result: (last["role"] == "tool").then(|| text_of(&last["content"])),
        tool: if req["tool_choice"] == "none" {
            None
        } else {
            tool
        },
        json_schema: (req["response_format"]["type"] == "json_schema")
            .then(|| req["response_format"]["json_schema"]["schema"].clone()),
        last_user,
    };
    let sc = script(&turn.last_user, req["model"].as_str().unwrap_or_default());
    let watch = Watch::new(&shared);
    pre(&sc).await;
    if let Some(code) = sc.fail {
        return scripted_failure(
            answer(
                status(code),
                json!({"error": {"message": format!("scripted failure {code}"), "type": if code == 429 { "rate_limit_error" } else { "server_error" }, "param": null, "code": null}}),
                &sc,
                watch,
            ),
            &sc,
        );
    }
    if let Some(code) = sc.echo_key {
        let credential = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let error = json!({"message": echoed(credential), "type": "invalid_request_error", "param": credential, "code": "invalid_api_key"});
        if code != 200 {
            watch.finish();
            return json_response(status(code), json!({ "error": error }));
        }
        if req["stream"] != true {
            watch.finish();
            return echo_undecodable("choices", credential);
        }
        let first = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "echo", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Echo: "}, "finish_reason": null}]});
        return sse_body(
            vec![data(&first), data(&json!({ "error": error }))],
            &sc,
            watch,
        );
    }
    let r = reply(&turn);
    let model = req["model"].as_str().unwrap_or("fake").to_string();
    let mut prompt = words(&turn.last_user) + 10;
    let mut completion = reply_tokens(&r);
    let mut reasoning = if sc.think { 7 } else { 0 };
    if let Some(n) = sc.usage {
        prompt = n;
        reasoning = reasoning.min(n);
        completion = n - reasoning;
    }
    let usage = json!({
        "prompt_tokens": prompt, "completion_tokens": completion + reasoning, "total_tokens": prompt + completion + reasoning,
        "prompt_tokens_details": {"cached_tokens": sc.cached.min(prompt), "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    });
    let finish = match &r {
        Reply::Tool { .. } => "tool_calls",
        Reply::Text(_) => "stop",
    };
    if req["stream"] != true {
        let message = match &r {
            Reply::Text(t) => json!({"role": "assistant", "content": t, "refusal": null}),
            Reply::Tool { id, name, args } => {
                json!({"role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}}]})
            }
        };
        return answer(
            StatusCode::OK,
            json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": usage, "system_fingerprint": "fp_fake"
            }),
            &sc,
            watch,
        );
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
        "model": model, "system_fingerprint": "fp_fake", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut frames = vec![data(&chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    ))];
    if sc.endless {
        let tick = Bytes::from(data(&chunk(json!({ "content": TICK }), Value::Null)));
        return sse_body_then(frames, &sc, watch, Some(forever(tick, TICK_EVERY)));
    }
    match &r {
        Reply::Text(t) => {
            for (i, p) in text_pieces(t).into_iter().enumerate() {
                if sc.midstream_error && i == 1 {
                    frames.push(data(&json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error"}})));
                    return sse_body(frames, &sc, watch);
                }
                frames.push(data(&chunk(json!({"content": p}), Value::Null)));
            }
        }
        Reply::Tool { id, name, args } => {
            let a = args.to_string();
            let (a1, a2) = a.split_at(a.len() / 2);
            frames.push(data(&chunk(json!({"tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}), Value::Null)));
            frames.push(data(&chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": a1}}]}),
                Value::Null,
            )));
            frames.push(data(&chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": a2}}]}),
                Value::Null,
            )));
        }
    }
    frames.push(data(&chunk(json!({}), json!(finish))));
    if req["stream_options"]["include_usage"] == true {
        frames.push(data(
            &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model, "choices": [], "usage": usage}),
        ));
    }
    frames.push("data: [DONE]\n\n".into());
    sse_body(frames, &sc, watch)
}

// ---------- embeddings ----------

/// What the fake embeds when the request names no `dimensions`.
const EMBED_DIMENSIONS: u64 = 8;
/// More than any real model offers: refused, as a real provider would.
const MAX_EMBED_DIMENSIONS: u64 = 4096;

/// One input to embed: its text (token ids embed as their decimal text).
struct EmbedInput {
    text: String,
    tokens: u64,
}

/// A deterministic vector for `text`: the same text always gets the same values in [-1, 1].
fn fake_vector(text: &str, dims: u64) -> Vec<f32> {
    let seed = text
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
    (0..dims)
        .map(|i| {
            let x = seed.wrapping_add(i.wrapping_mul(7919)) % 2001;
            x as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// OpenAI's four input shapes; `None` for anything else.
fn openai_inputs(input: &Value) -> Option<Vec<EmbedInput>> {
    let text = |s: &str| EmbedInput {
        text: s.to_string(),
        tokens: words(s).max(1),
    };
    let ids = |a: &[Value]| EmbedInput {
        text: a.iter().map(Value::to_string).collect::<Vec<_>>().join(" "),
        tokens: a.len() as u64,
    };
    match input {
        Value::String(s) => Some(vec![text(s)]),
        Value::Array(a) => match a.first()? {
            Value::String(_) => a.iter().map(|v| v.as_str().map(text)).collect(),
            Value::Number(_) => Some(vec![ids(a)]),
            Value::Array(_) => a.iter().map(|v| v.as_array().map(|l| ids(l))).collect(),
            _ => None,
        },
        _ => None,
    }
}

fn openai_invalid(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

async fn openai_embeddings(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return openai_invalid("We could not parse the JSON body of your request.");
    };
    record(&shared, "/openai/v1/embeddings".into(), &headers, &req);
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {API_KEY}"))
    {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
        );
    }
    let model = req["model"].as_str().unwrap_or("fake").to_string();
    let Some(inputs) = openai_inputs(&req["input"]) else {
        return openai_invalid("'$.input' is invalid. Please check the API reference.");
    };
    let all: Vec<&str> = inputs.iter().map(|i| i.text.as_str()).collect();
    let sc = script(&all.join(" "), &model);
    let watch = Watch::new(&shared);
    pre(&sc).await;
    if let Some(code) = sc.fail {
        return scripted_failure(
            answer(
                status(code),
                json!({"error": {"message": format!("scripted failure {code}"), "type": "server_error", "param": null, "code": null}}),
                &sc,
                watch,
            ),
            &sc,
        );
    }
    let dims = match &req["dimensions"] {
        Value::Null => EMBED_DIMENSIONS,
        d => match d
            .as_u64()
            .filter(|n| (1..=MAX_EMBED_DIMENSIONS).contains(n))
        {
            Some(n) => n,
            None => {
                watch.finish();
                return openai_invalid(&format!(
                    "{d} is less than the minimum of 1 - 'dimensions'"
                ));
            }
        },
    };
    let base64 = match req["encoding_format"].as_str() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            watch.finish();
            return openai_invalid(&format!(
                "'{other}' is not one of ['float', 'base64'] - 'encoding_format'"
            ));
        }
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let v = fake_vector(&input.text, dims);
            let embedding = if base64 {
                use base64::Engine;
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens = sc
        .usage
        .unwrap_or_else(|| inputs.iter().map(|i| i.tokens).sum());
    answer(
        StatusCode::OK,
        json!({"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
        &sc,
        watch,
    )
}

/// Gemini's `embedContent` (one `EmbedContentRequest`) and `batchEmbedContents`
/// (`{requests: [...]}`), with no usage in the answer, as the Gemini API sends none.
async fn gemini_embeddings(
    shared: &Shared,
    gemini_model: &str,
    batch: bool,
    req: &Value,
) -> Response {
    let one = |r: &Value| -> Option<(String, Option<u64>)> {
        // Each request names the model again, and must name this one.
        if r["model"].as_str() != Some(&format!("models/{gemini_model}")) {
            return None;
        }
        Some((
            text_of(&r["content"]["parts"]),
            r["outputDimensionality"].as_u64(),
        ))
    };
    let requests: Option<Vec<_>> = if batch {
        req["requests"]
            .as_array()
            .filter(|a| !a.is_empty())
            .and_then(|a| a.iter().map(one).collect())
    } else {
        one(req).map(|r| vec![r])
    };
    let Some(requests) = requests else {
        return gemini_error(400);
    };
    let all: Vec<&str> = requests.iter().map(|(t, _)| t.as_str()).collect();
    let sc = script(&all.join(" "), gemini_model);
    let watch = Watch::new(shared);
    pre(&sc).await;
    if let Some(code) = sc.fail {
        return scripted_failure(
            answer(status(code), gemini_error_body(code), &sc, watch),
            &sc,
        );
    }
    if requests
        .iter()
        .any(|(t, d)| t.is_empty() || d.is_some_and(|d| !(1..=MAX_EMBED_DIMENSIONS).contains(&d)))
    {
        watch.finish();
        return gemini_error(400);
    }
    let values: Vec<Value> = requests
        .iter()
        .map(|(t, d)| json!({"values": fake_vector(t, d.unwrap_or(EMBED_DIMENSIONS))}))
        .collect();
    let v = if batch {
        json!({ "embeddings": values })
    } else {
        json!({ "embedding": values.into_iter().next().unwrap_or(Value::Null) })
    };
    answer(StatusCode::OK, v, &sc, watch)
}

// ---------- Anthropic ----------

fn anthropic_error(code: u16) -> Response {
    json_response(status(code), anthropic_error_body(code))
}

fn anthropic_error_body(code: u16) -> Value {
    let kind = match code {
        400 => "invalid_request_error",
        401 => "authentication_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": format!("scripted failure {code}")}})
}

async fn anthropic(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return anthropic_error(400);
    };
    record(&shared, "/anthropic/v1/messages".into(), &headers, &req);
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if h("x-api-key") != API_KEY {
        return anthropic_error(401);
    }
    // Requests the real API would reject.
    if h("anthropic-version").is_empty()
        || !req["max_tokens"].is_u64()
        || !req["messages"].is_array()
    {
        return anthropic_error(400);
    }
    let msgs = req["messages"].as_array().cloned().unwrap_or_default();
    let last_blocks = msgs
        .last()
        .map(|m| m["content"].clone())
        .unwrap_or(Value::Null);
    let tool_result = last_blocks.as_array().and_then(|bs| {
        bs.iter()
            .find(|b| b["type"] == "tool_result")
            .map(|b| text_of(&b["content"]))
    });
    let last_user = msgs
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    let forced = (req["tool_choice"]["type"] == "tool")
        .then(|| req["tool_choice"]["name"].as_str())
        .flatten();
    let tool = req["tools"].as_array().and_then(|tools| {
        let t = match forced {
            Some(n) => tools.iter().find(|t| t["name"] == n),
            None => tools.first(),
        }?;
        Some((t["name"].as_str()?.to_string(), t["input_schema"].clone()))
    });
    let turn = Turn {
        // A forced tool is called even right after a tool result (that is how structured
        // output is asked for).
        tool_result: if forced.is_some() { None } else { tool_result },
        tool: if req["tool_choice"]["type"] == "none" {
            None
        } else {
            tool
        },
        json_schema: None,
        last_user,
    };
    let sc = script(&turn.last_user, req["model"].as_str().unwrap_or_default());
    let watch = Watch::new(&shared);
    pre(&sc).await;
    if let Some(code) = sc.fail {
        return scripted_failure(
            answer(status(code), anthropic_error_body(code), &sc, watch),
            &sc,
        );
    }
    if let Some(code) = sc.echo_key {
        let credential = h("x-api-key");
        let error =
            json!({"type": "error", "error": {"type": credential, "message": echoed(&credential)}});
        if code != 200 {
            watch.finish();
            return json_response(status(code), error);
        }
        if req["stream"] != true {
            watch.finish();
            return echo_undecodable("content", &credential);
        }
        let ev = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
        let frames = vec![
            ev(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
                "model": "echo", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 1}}}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Echo: "}}),
            ),
            ev("error", error),
        ];
        return sse_body(frames, &sc, watch);
    }
    let r = reply(&turn);
    let model = req["model"].as_str().unwrap_or("claude-fake").to_string();
    let cached = sc.cached;
    let input = sc.usage.unwrap_or(words(&turn.last_user) + 10);
    let output = sc
        .usage
        .unwrap_or(reply_tokens(&r) + if sc.think { 7 } else { 0 });
    let thinking = sc.think && req["thinking"]["type"] == "enabled";
    let stop = match &r {
        Reply::Tool { .. } => "tool_use",
        Reply::Text(_) => "end_turn",
    };
    let usage = json!({"input_tokens": input, "output_tokens": output, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached});
    if req["stream"] != true {
        let mut content = vec![];
        if thinking {
            content.push(
                json!({"type": "thinking", "thinking": "Let me think.", "signature": "sig-fake=="}),
            );
        }
        content.push(match &r {
            Reply::Text(t) => json!({"type": "text", "text": t}),
            Reply::Tool { id, name, args } => json!({"type": "tool_use", "id": format!("toolu_{id}"), "name": name, "input": args}),
        });
        return answer(
            StatusCode::OK,
            json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage}),
            &sc,
            watch,
        );
    }
    let ev = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
    let mut frames = vec![ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached}}}),
    )];
    if sc.endless {
        frames.push(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
        let tick = Bytes::from(ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": TICK}}),
        ));
        return sse_body_then(frames, &sc, watch, Some(forever(tick, TICK_EVERY)));
    }
    let mut idx = 0;
    if thinking {
        frames.push(ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}})));
        frames.push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think."}})));
        frames.push(ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig-fake=="}})));
        frames.push(ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ));
        idx = 1;
    }
    frames.push(ev("ping", json!({"type": "ping"})));
    match &r {
        Reply::Text(t) => {
            frames.push(ev("content_block_start", json!({"type": "content_block_start", "index": idx, "content_block": {"type": "text", "text": ""}})));
            for (i, p) in text_pieces(t).into_iter().enumerate() {
                if sc.midstream_error && i == 1 {
                    frames.push(ev("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})));
                    return sse_body(frames, &sc, watch);
                }
                frames.push(ev("content_block_delta", json!({"type": "content_block_delta", "index": idx, "delta": {"type": "text_delta", "text": p}})));
            }
        }
        Reply::Tool { id, name, args } => {
            frames.push(ev("content_block_start", json!({"type": "content_block_start", "index": idx, "content_block": {"type": "tool_use", "id": format!("toolu_{id}"), "name": name, "input": {}}})));
            let a = args.to_string();
            let (a1, a2) = a.split_at(a.len() / 2);
            for part in ["", a1, a2] {
                frames.push(ev("content_block_delta", json!({"type": "content_block_delta", "index": idx, "delta": {"type": "input_json_delta", "partial_json": part}})));
            }
        }
    }
    frames.push(ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": idx}),
    ));
    frames.push(ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": output}})));
    frames.push(ev("message_stop", json!({"type": "message_stop"})));
    sse_body(frames, &sc, watch)
}

// ---------- Gemini ----------

fn gemini_error(code: u16) -> Response {
    json_response(status(code), gemini_error_body(code))
}

fn gemini_error_body(code: u16) -> Value {
    let st = match code {
        400 => "INVALID_ARGUMENT",
        401 | 403 => "PERMISSION_DENIED",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    json!({"error": {"code": code, "message": format!("scripted failure {code}"), "status": st}})
}

async fn gemini(
    State(shared): State<Shared>,
    Path(action): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return gemini_error(400);
    };
    record(
        &shared,
        format!("/gemini/v1beta/models/{action}"),
        &headers,
        &req,
    );
    if headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        return gemini_error(403);
    }
    let Some((gemini_model, method)) = action.split_once(':') else {
        return gemini_error(404);
    };
    let streaming = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "embedContent" => return gemini_embeddings(&shared, gemini_model, false, &req).await,
        "batchEmbedContents" => return gemini_embeddings(&shared, gemini_model, true, &req).await,
        _ => return gemini_error(404),
    };
    let contents = req["contents"].as_array().cloned().unwrap_or_default();
    let last_parts = contents
        .last()
        .map(|c| c["parts"].clone())
        .unwrap_or(Value::Null);
    let tool_result = last_parts.as_array().and_then(|ps| {
        ps.iter().find_map(|p| {
            p.get("functionResponse")
                .map(|fr| fr["response"].to_string())
        })
    });
    let last_user = contents
        .iter()
        .rev()
        .filter(|c| c["role"] == "user")
        .map(|c| text_of(&c["parts"]))
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    let mode = req["toolConfig"]["functionCallingConfig"]["mode"]
        .as_str()
        .unwrap_or("AUTO");
    let allowed = req["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"][0].as_str();
    let tool = req["tools"][0]["functionDeclarations"]
        .as_array()
        .and_then(|ds| {
            let d = match allowed {
                Some(n) => ds.iter().find(|d| d["name"] == n),
                None => ds.first(),
            }?;
            let schema = d
                .get("parametersJsonSchema")
                .or_else(|| d.get("parameters"))
                .cloned()
                .unwrap_or(json!({}));
            Some((d["name"].as_str()?.to_string(), schema))
        });
    let gen = &req["generationConfig"];
    let turn = Turn {
        tool_result,
        tool: if mode == "NONE" { None } else { tool },
        json_schema: (gen["responseMimeType"] == "application/json").then(|| {
            gen.get("responseJsonSchema")
                .cloned()
                .unwrap_or(json!({"type": "object"}))
        }),
        last_user,
    };
    let sc = script(&turn.last_user, gemini_model);
    let watch = Watch::new(&shared);
    pre(&sc).await;
    if let Some(code) = sc.fail {
        return scripted_failure(
            answer(status(code), gemini_error_body(code), &sc, watch),
            &sc,
        );
    }
    if let Some(code) = sc.echo_key {
        let credential = headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let error = json!({"error": {"code": code, "message": echoed(credential), "status": credential,
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "metadata": {"key": credential}}]}});
        if code != 200 {
            watch.finish();
            return json_response(status(code), error);
        }
        if !streaming {
            watch.finish();
            return echo_undecodable("candidates", credential);
        }
        let first = json!({"candidates": [{"content": {"parts": [{"text": "Echo: "}], "role": "model"}, "index": 0}],
            "modelVersion": "gemini-fake", "responseId": "resp-fake"});
        return sse_body(vec![data(&first), data(&error)], &sc, watch);
    }
    let r = reply(&turn);
    let mut prompt = words(&turn.last_user) + 10;
    let mut out = reply_tokens(&r);
    let mut thoughts = if sc.think { 7 } else { 0 };
    if let Some(n) = sc.usage {
        prompt = n;
        thoughts = thoughts.min(n);
        out = n - thoughts;
    }
    let usage = json!({"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out + thoughts,
        "thoughtsTokenCount": thoughts, "cachedContentTokenCount": sc.cached});
    let resp = |parts: Value, finish: Option<&str>, usage: Option<&Value>| {
        let mut cand = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(f) = finish {
            cand["finishReason"] = json!(f);
        }
        let mut v =
            json!({"candidates": [cand], "modelVersion": "gemini-fake", "responseId": "resp-fake"});
        if let Some(u) = usage {
            v["usageMetadata"] = u.clone();
        }
        v
    };
    let mut thought_parts = vec![];
    if sc.think {
        thought_parts.push(json!({"text": "Let me think.", "thought": true}));
    }
    if !streaming {
        let mut parts = thought_parts;
        parts.push(match &r {
            Reply::Text(t) => json!({"text": t}),
            Reply::Tool { name, args, .. } => json!({"functionCall": {"name": name, "args": args}, "thoughtSignature": "gsig-fake"}),
        });
        return answer(
            StatusCode::OK,
            resp(json!(parts), Some("STOP"), Some(&usage)),
            &sc,
            watch,
        );
    }
    if q.get("alt").map(String::as_str) != Some("sse") {
        return gemini_error(400);
    }
    if sc.endless {
        let tick = Bytes::from(data(&resp(json!([{ "text": TICK }]), None, None)));
        return sse_body_then(vec![], &sc, watch, Some(forever(tick, TICK_EVERY)));
    }
    let mut frames = vec![];
    if !thought_parts.is_empty() {
        frames.push(data(&resp(json!(thought_parts), None, None)));
    }
    match &r {
        Reply::Text(t) => {
            let pieces = text_pieces(t);
            let n = pieces.len();
            for (i, p) in pieces.into_iter().enumerate() {
                if sc.midstream_error && i == 1 {
                    frames.push(data(&json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})));
                    return sse_body(frames, &sc, watch);
                }
                let last = i + 1 == n;
                frames.push(data(&resp(
                    json!([{"text": p}]),
                    last.then_some("STOP"),
                    last.then_some(&usage),
                )));
            }
        }
        Reply::Tool { name, args, .. } => {
            frames.push(data(&resp(json!([{"functionCall": {"name": name, "args": args}, "thoughtSignature": "gsig-fake"}]), Some("STOP"), Some(&usage))));
        }
    }
    sse_body(frames, &sc, watch)
}
