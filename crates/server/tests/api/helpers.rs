use serde_json::Value;
use std::net::SocketAddr;
use switchyard_server::{AppState, ConfigFile};
use switchyard_testkit::{FakeUpstream, API_KEY};

pub const KEY: &str = "sk-sy-v1-test";
pub const MANAGEMENT_KEY: &str = "sk-sy-v1-management-test";
pub const ADMIN_KEY: &str = "admin-test";

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: switchyard_store::Store,
    pub data_dir: std::path::PathBuf,
    pub upstream: FakeUpstream,
    pub http: reqwest::Client,
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The three fake provider families, one model each, plus a model whose first endpoint is
/// dead (nothing listens there) so that fallback is visible.
pub fn config(upstream: &FakeUpstream, server: &str, routing: &str) -> String {
    format!(
        r#"
default_catalog = false
[server]
{server}

[routing]
{routing}

[[providers]]
slug = "fake-openai"
name = "Fake OpenAI"
protocol = "openai"
base_url = "{openai}"
api_key_env = "FAKE_KEY"

[[providers]]
slug = "fake-anthropic"
name = "Fake Anthropic"
protocol = "anthropic"
base_url = "{anthropic}"
api_key_env = "FAKE_KEY"

[[providers]]
slug = "fake-gemini"
name = "Fake Gemini"
protocol = "gemini"
base_url = "{gemini}"
api_key_env = "FAKE_KEY"

[[providers]]
slug = "dead"
name = "Dead Provider"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
id = "fake/gpt"
name = "Fake GPT"
context_length = 128000
endpoints = [{{ provider = "fake-openai", upstream_id = "gpt-fake", prompt = "0.000001", completion = "0.000002", input_cache_read = "0.0000001" }}]

[[models]]
id = "fake/claude"
name = "Fake Claude"
context_length = 200000
endpoints = [{{ provider = "fake-anthropic", upstream_id = "claude-fake", prompt = "0.000003", completion = "0.000015", input_cache_read = "0.0000003" }}]

[[models]]
id = "fake/gemini"
name = "Fake Gemini"
context_length = 1000000
endpoints = [{{ provider = "fake-gemini", upstream_id = "gemini-fake", prompt = "0.0000003", completion = "0.0000025" }}]

[[models]]
id = "fake/fallback"
name = "Fake Fallback"
context_length = 1000
endpoints = [
  {{ provider = "dead", upstream_id = "x", prompt = "0.000009", completion = "0.000009" }},
  {{ provider = "fake-anthropic", upstream_id = "claude-fake", prompt = "0.000003", completion = "0.000015" }},
]

# Embedding models, one per family, and one whose cheaper endpoint can be made to fail.
[[models]]
id = "fake/embed"
name = "Fake Embedding"
context_length = 8192
output_modalities = ["embeddings"]
endpoints = [{{ provider = "fake-openai", upstream_id = "embed-fake", prompt = "0.00000002", completion = "0" }}]

[[models]]
id = "fake/gemini-embed"
name = "Fake Gemini Embedding"
context_length = 2048
output_modalities = ["embeddings"]
endpoints = [{{ provider = "fake-gemini", upstream_id = "gemini-embed-fake", prompt = "0.00000015", completion = "0" }}]

[[models]]
id = "fake/embed-fallback"
name = "Fake Embedding Fallback"
context_length = 8192
output_modalities = ["embeddings"]
endpoints = [
  {{ provider = "fake-openai", upstream_id = "embed-a", prompt = "0.0000001", completion = "0" }},
  {{ provider = "fake-gemini", upstream_id = "embed-b", prompt = "0.0000002", completion = "0" }},
]

[[models]]
id = "fake/keyless"
name = "Needs a key nobody set"
context_length = 1000
endpoints = [{{ provider = "fake-openai-unset", upstream_id = "x", prompt = "0", completion = "0" }}]

[[providers]]
slug = "fake-openai-2"
name = "Fake OpenAI Two"
protocol = "openai"
base_url = "{openai}"
api_key_env = "FAKE_KEY"
data_collection = "deny"
zdr = true

# One model, three providers, three prices: the routing tests' playground. Directives such
# as `#fail@m-a:503` aim at one endpoint by its upstream id.
[[models]]
id = "route/multi"
name = "Multi"
context_length = 100000
endpoints = [
  {{ provider = "fake-openai", upstream_id = "m-a", prompt = "0.000001", completion = "0.000001", input_cache_read = "0.0000001" }},
  {{ provider = "fake-openai-2", upstream_id = "m-b", prompt = "0.000003", completion = "0.000003", input_cache_read = "0.0000003", quantization = "fp8" }},
  {{ provider = "fake-anthropic", upstream_id = "m-c", prompt = "0.000002", completion = "0.000002", tag = "fake-anthropic/turbo" }},
]

[[models]]
id = "route/notools"
name = "No tools"
context_length = 1000
endpoints = [{{ provider = "fake-openai", upstream_id = "nt", prompt = "0", completion = "0", supported_parameters = ["max_tokens", "temperature"] }}]

[[providers]]
slug = "fake-openai-unset"
name = "Unset"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "NOBODY_SET_THIS"
"#,
        openai = upstream.base_url("openai"),
        anthropic = upstream.base_url("anthropic"),
        gemini = upstream.base_url("gemini"),
    )
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SERVER, false).await
}

pub const SERVER: &str = "keepalive_ms = 300\nfirst_byte_timeout_ms = 2000\nbetween_chunks_timeout_ms = 1000\nmax_body_bytes = 100000";

pub async fn spawn_app_with(server: &str, demo: bool) -> TestApp {
    spawn_app_full(server, "probe_interval_ms = 400", demo).await
}

pub async fn spawn_app_full(server: &str, routing: &str, demo: bool) -> TestApp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let data_dir = std::env::temp_dir().join(format!(
        "switchyard-api-test-{}-{nanos}",
        std::process::id()
    ));
    start(server, routing, demo, data_dir, true).await
}

/// A gateway whose data directory is `data_dir` (e.g. a small filesystem for disk-full tests).
pub async fn spawn_app_in(server: &str, data_dir: std::path::PathBuf) -> TestApp {
    start(server, "probe_interval_ms = 400", false, data_dir, true).await
}

/// A second gateway on the same database (a replica).
pub async fn spawn_replica(first: &TestApp) -> TestApp {
    start(
        SERVER,
        "probe_interval_ms = 400",
        false,
        first.data_dir.clone(),
        false,
    )
    .await
}

/// A gateway on port 0 in front of fresh fake providers, its state in `data_dir`.
async fn start(
    server: &str,
    routing: &str,
    demo: bool,
    data_dir: std::path::PathBuf,
    bootstrap: bool,
) -> TestApp {
    let upstream = FakeUpstream::start().await.expect("fake upstream starts");
    let file =
        ConfigFile::from_toml(&config(&upstream, server, routing)).expect("test config parses");
    let cfg = file
        .load(demo, &|v| (v == "FAKE_KEY").then(|| API_KEY.to_string()))
        .expect("test config is valid");
    let store = switchyard_store::Store::open_sqlite(&data_dir)
        .await
        .expect("store opens");
    if bootstrap {
        switchyard_server::accounts::bootstrap(
            &store,
            &[(KEY.into(), false), (MANAGEMENT_KEY.into(), true)],
        )
        .await
        .expect("bootstrap");
    }
    let state = AppState::new(cfg, store.clone(), Some(ADMIN_KEY))
        .await
        .expect("state builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(switchyard_server::serve(listener, state, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        store,
        data_dir,
        upstream,
        http: reqwest::Client::new(),
        _stop: Some(tx),
        served: Some(served),
    }
}

impl TestApp {
    /// Resolves the shutdown future `serve` was given; returns serve's task to await.
    pub fn shut_down(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        if let Some(stop) = self._stop.take() {
            let _ = stop.send(());
        }
        self.served
            .take()
            .unwrap_or_else(|| tokio::spawn(async { Ok(()) }))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn chat(&self, body: Value) -> reqwest::Response {
        self.send_chat(KEY, &body, false).await
    }

    /// A chat completion as `key`, with `X-OpenRouter-Metadata: enabled` when `metadata`.
    pub async fn send_chat(&self, key: &str, body: &Value, metadata: bool) -> reqwest::Response {
        let mut rb = self
            .http
            .post(self.url("/api/v1/chat/completions"))
            .bearer_auth(key)
            .json(body);
        if metadata {
            rb = rb.header("x-openrouter-metadata", "enabled");
        }
        rb.send().await.expect("request sent")
    }

    /// A request with a given key (any method, optional JSON body).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut rb = self.http.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    /// A prepaid account with `credits` USD and a management key; returns an inference key
    /// created through the provisioning API (and the management key).
    pub async fn prepaid(&self, name: &str, credits: &str, key_body: Value) -> (String, String) {
        let (s, v, _) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/admin/accounts",
                ADMIN_KEY,
                Some(serde_json::json!({"name": name, "management_key": true})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let mgmt = v["management_key"].as_str().unwrap_or_default().to_string();
        let (s, v, _) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/admin/credits",
                ADMIN_KEY,
                Some(serde_json::json!({"account": name, "amount": credits})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v, _) = self
            .call(reqwest::Method::POST, "/api/v1/keys", &mgmt, Some(key_body))
            .await;
        assert_eq!(s, 201, "{v}");
        (v["key"].as_str().unwrap_or_default().to_string(), mgmt)
    }

    /// `POST {prefix}/embeddings` as `key`: status, body, headers.
    pub async fn embed_at(
        &self,
        prefix: &str,
        key: &str,
        body: Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        self.call(
            reqwest::Method::POST,
            &format!("{prefix}/embeddings"),
            key,
            Some(body),
        )
        .await
    }

    pub async fn embed(&self, body: Value) -> (u16, Value) {
        let (s, v, _) = self.embed_at("/api/v1", KEY, body).await;
        (s, v)
    }

    pub async fn chat_as(&self, key: &str, body: Value) -> (u16, Value) {
        let (s, v, _) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/chat/completions",
                key,
                Some(body),
            )
            .await;
        (s, v)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        match self.http.get(self.url(path)).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// A call with `X-OpenRouter-Metadata: enabled`.
    pub async fn chat_meta(&self, body: Value) -> (u16, Value) {
        let r = self.send_chat(KEY, &body, true).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Upstream ids of the requests the fake providers received, in order.
    pub fn upstream_models(&self) -> Vec<String> {
        self.upstream
            .requests()
            .iter()
            .map(|r| {
                r.body["model"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        r.path
                            .rsplit('/')
                            .next()
                            .unwrap_or_default()
                            .split(':')
                            .next()
                            .unwrap_or_default()
                            .to_string()
                    })
            })
            .collect()
    }

    pub async fn chat_json(&self, body: Value) -> (u16, Value) {
        let r = self.chat(body).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A streamed call: the HTTP status, every `data:` payload (parsed, `[DONE]` kept as a
    /// string) and the comment lines.
    pub async fn chat_stream(&self, mut body: Value) -> (u16, Vec<Value>, Vec<String>) {
        body["stream"] = Value::Bool(true);
        let r = self.chat(body).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let (mut data, mut comments) = (vec![], vec![]);
        for frame in text.split("\n\n") {
            for line in frame.lines() {
                if let Some(d) = line.strip_prefix("data: ") {
                    data.push(serde_json::from_str(d).unwrap_or(Value::String(d.to_string())));
                } else if line.starts_with(':') {
                    comments.push(line.to_string());
                }
            }
        }
        (status, data, comments)
    }
}

pub fn user(text: &str) -> Value {
    serde_json::json!([{"role": "user", "content": text}])
}

/// Concatenated `delta.content` of a stream.
pub fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

pub const MODELS: [&str; 3] = ["fake/gpt", "fake/claude", "fake/gemini"];

/// Exact expected cost: prompt × price + completion × price, in the decimal the API prints.
pub fn expected_cost(model: &str, usage: &Value) -> String {
    let (p, c) = match model {
        "fake/gpt" => ("0.000001", "0.000002"),
        "fake/claude" | "fake/fallback" => ("0.000003", "0.000015"),
        _ => ("0.0000003", "0.0000025"),
    };
    let price = |s: &str| switchyard_api::Money::parse(s).unwrap_or_default();
    let n = |k: &str| usage[k].as_u64().unwrap_or(0);
    (price(p).times(n("prompt_tokens")) + price(c).times(n("completion_tokens"))).to_string()
}

/// One server-sent event: its `event:` name when one was sent, and its `data:` parsed as
/// JSON (kept as a string when it is not, e.g. `[DONE]`). Comments are dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: Value,
}

/// The events of a `text/event-stream` body (multi-line `data:` joined with newlines).
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut out = vec![];
    for frame in text.replace("\r\n", "\n").split("\n\n") {
        let mut event = None;
        let mut data: Vec<&str> = vec![];
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = Some(e.trim().to_string());
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if data.is_empty() {
            continue;
        }
        let joined = data.join("\n");
        out.push(SseEvent {
            event,
            data: serde_json::from_str(&joined).unwrap_or(Value::String(joined)),
        });
    }
    out
}

/// What came back from a raw request: status, headers and the whole body as text.
pub struct Raw {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Raw {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The body as server-sent events.
    pub fn events(&self) -> Vec<SseEvent> {
        parse_sse(&self.text)
    }

    /// The `x-generation-id` header, when sent.
    pub fn generation_id(&self) -> Option<String> {
        self.headers
            .get("x-generation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl TestApp {
    /// `POST path` with exactly these headers (credentials included, if any) and this body,
    /// read to the end.
    pub async fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Raw {
        let mut rb = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.expect("request sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Raw {
            status,
            headers,
            text: r.text().await.unwrap_or_default(),
        }
    }

    /// `GET /api/v1/generation?id=…` as `key`: status and body.
    pub async fn generation(&self, key: &str, id: &str) -> (u16, Value) {
        let (s, v, _) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/generation?id={id}"),
                key,
                None,
            )
            .await;
        (s, v)
    }

    /// What `GET /api/v1/key` says `key` has spent so far.
    pub async fn key_usage(&self, key: &str) -> switchyard_api::Money {
        let (s, v, _) = self
            .call(reqwest::Method::GET, "/api/v1/key", key, None)
            .await;
        assert_eq!(s, 200, "{v}");
        money_of(&v["data"]["usage"])
    }
}

/// An exact amount as the API writes it (a JSON number read back from its text).
pub fn money_of(v: &Value) -> switchyard_api::Money {
    switchyard_api::Money::parse(&v.to_string()).unwrap_or_default()
}
