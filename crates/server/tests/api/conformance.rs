//! Wire conformance, driven by OpenRouter's own OpenAPI document
//! (`tests/fixtures/openrouter-openapi.yaml`): every response body and every stream chunk of
//! every endpoint the gateway serves is validated against the schema the document gives for
//! that operation, status and content type. Required fields present, types exact, `null` only
//! where the schema allows it, enums closed. A status the operation does not document is a
//! violation too.
//!
//! The document's schemas are used as they are, with the relaxations in [`relax`], each of
//! which the official TypeScript SDK (`@openrouter/sdk`, generated from this document) makes
//! as well, and the additions in [`sdk_requirements`]: fields the official SDKs of the 1.3
//! line (newer than this document) require although the document does not list them.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

const SPEC_YAML: &str = include_str!("../fixtures/openrouter-openapi.yaml");

/// The document as JSON, relaxed.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let mut doc: Value = serde_yaml::from_str(SPEC_YAML).expect("the spec fixture parses");
        relax(&mut doc);
        sdk_requirements(&mut doc);
        doc
    })
}

/// Where this document is stricter than the clients generated from it:
///
/// - `ProviderName` is a closed list of OpenRouter's upstreams. A gateway's providers are
///   whatever its operator configures ("Fake OpenAI" here), and the SDK reads the field as an
///   open enum (`openEnums.inboundSchema(ProviderName)`): any string.
/// - `ProviderResponse.provider_name` inlines the same list, likewise opened.
///
/// Every other enum is checked as the document closes it, although the SDK opens most of them
/// too (`ApiErrorType`, `ModelGroup`, `RoutingStrategy`, …): an SDK that keeps unknown values
/// still cannot act on them.
///
/// `/messages` (Anthropic Messages), where the document is stricter than Anthropic's own API
/// and clients:
///
/// - `MessagesStartEvent.message.provider` inlines the closed provider list too: opened.
/// - The error envelope's `error.type` leaves out `request_too_large`, which Anthropic
///   documents for 413 (docs.claude.com/en/api/errors) and its SDKs pass through untouched
///   (they read no error body into a closed type): added.
/// - The operation documents 400, 401, 403, 404, 429, 500, 503 and 529 only. Anthropic's API
///   also answers 402 (`billing_error`), 413 (`request_too_large`) and 504 (`timeout_error`),
///   and its SDKs turn any status ≥ 400 into an error by status, reading the body as this
///   envelope; OpenRouter answers 402 (no credits), 408 (body too slow) and 502 (provider
///   failure) on every inference route (its chat operation documents them). Those statuses
///   are documented here with the operation's own error schema.
fn relax(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    schemas["ProviderName"] = json!({"type": "string"});
    schemas["ProviderResponse"]["properties"]["provider_name"] = json!({"type": "string"});
    schemas["MessagesStartEvent"]["properties"]["message"]["properties"]["provider"] =
        json!({"type": "string"});
    if let Some(types) = schemas["AnthropicMessagesErrorResponse"]["properties"]["error"]
        ["properties"]["type"]["enum"]
        .as_array_mut()
    {
        types.push(json!("request_too_large"));
    }
    let messages = &mut doc["paths"]["/messages"]["post"]["responses"];
    let error = json!({"description": "Anthropic's error envelope", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/AnthropicMessagesErrorResponse"}}}});
    for status in ["402", "408", "413", "502", "504"] {
        messages[status] = error.clone();
    }
}

/// Where the spec fixture (2026-08-22) and the official SDKs disagree: `openrouter` 1.3.84 on
/// PyPI (the one `tests/clients` pins; generated from a later version of the document, like
/// `@openrouter/sdk` 1.3.x) requires these fields, which the fixture does not list. Its
/// pydantic models reject a body without them, so they are required here too, with the types
/// those models give.
fn sdk_requirements(doc: &mut Value) {
    let nullable_string = json!({"type": ["string", "null"]});
    let key_info = [
        ("external_user", nullable_string.clone()),
        ("last_used_at", nullable_string.clone()),
    ];
    let budget = json!({"type": "object",
        "required": ["budget_id", "guardrail_id", "include_byok", "limit_usd", "remaining_usd",
            "reset_interval", "resets_at", "scope", "spend_usd"]});
    let additions: Vec<(&str, Vec<(&str, Value)>)> = vec![
        (
            "/components/schemas/PublicEndpoint",
            vec![
                (
                    "native_tools",
                    json!({"type": "object", "additionalProperties": {"type": "object",
                        "required": ["type"], "properties": {"type": {"type": "string"}}}}),
                ),
                ("service_tier", nullable_string.clone()),
                ("supports_diarization", json!({"type": "boolean"})),
                (
                    "supports_tool_choice",
                    json!({"type": "object", "required": ["auto", "function", "none", "required"],
                        "properties": {"auto": {"type": "boolean"}, "function": {"type": "boolean"},
                            "none": {"type": "boolean"}, "required": {"type": "boolean"}}}),
                ),
            ],
        ),
        (
            "/components/schemas/ActivityItem",
            vec![("cached_tokens", json!({"type": "integer"}))],
        ),
        (
            "/paths/~1key/get/responses/200/content/application~1json/schema/properties/data",
            vec![
                (
                    "allowed_data_regions",
                    json!({"type": "array", "items": {"enum": ["global", "europe", "us"]}}),
                ),
                ("budgets", json!({"type": "array", "items": budget.clone()})),
                ("effective_budget", json!({"anyOf": [budget, {"type": "null"}]})),
                (
                    "free_model_daily_requests",
                    json!({"type": "object", "required": ["limit", "remaining", "used"],
                        "properties": {"limit": {"type": "integer"}, "remaining": {"type": "integer"},
                            "used": {"type": "integer"}}}),
                ),
                ("organization_id", nullable_string.clone()),
                ("workspace_id", nullable_string),
            ],
        ),
        (
            "/paths/~1keys/get/responses/200/content/application~1json/schema/properties/data/items",
            key_info.to_vec(),
        ),
        (
            "/paths/~1keys/post/responses/201/content/application~1json/schema/properties/data",
            key_info.to_vec(),
        ),
        (
            "/paths/~1keys~1{hash}/get/responses/200/content/application~1json/schema/properties/data",
            key_info.to_vec(),
        ),
        (
            "/paths/~1keys~1{hash}/patch/responses/200/content/application~1json/schema/properties/data",
            key_info.to_vec(),
        ),
    ];
    for (at, fields) in additions {
        let schema = doc
            .pointer_mut(at)
            .unwrap_or_else(|| panic!("the spec has a schema at {at}"));
        for (name, field) in fields {
            schema["properties"][name] = field;
            if let Some(required) = schema["required"].as_array_mut() {
                required.push(json!(name));
            }
        }
    }
}

/// Every `#/components/schemas/…` name `schema` reaches, itself included.
fn closure(schema: &Value) -> BTreeSet<String> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    if let Some(name) = r.strip_prefix("#/components/schemas/") {
                        out.push(name.to_string());
                    }
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let schemas = &spec()["components"]["schemas"];
    let mut seen = BTreeSet::new();
    let mut todo = Vec::new();
    refs(schema, &mut todo);
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            refs(&schemas[&name], &mut todo);
        }
    }
    seen
}

/// A validator for `schema`, built over a document that embeds just the components it
/// references, so that `$ref: '#/components/schemas/…'` resolves against its own root.
fn validator(key: &str, schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().ok().and_then(|c| c.get(key).cloned()) {
        return v;
    }
    let all = &spec()["components"]["schemas"];
    let mut components = Map::new();
    for name in closure(schema) {
        components.insert(name.clone(), all[&name].clone());
    }
    let mut doc = schema.clone();
    if let Value::Object(m) = &mut doc {
        m.insert(
            "components".into(),
            json!({ "schemas": Value::Object(components) }),
        );
    }
    let v = std::sync::Arc::new(
        jsonschema::draft202012::new(&doc)
            .unwrap_or_else(|e| panic!("the spec's schema for {key} compiles: {e}")),
    );
    if let Ok(mut c) = cache.lock() {
        c.insert(key.to_string(), v.clone());
    }
    v
}

/// The schema the document gives for one response of one operation.
fn response_schema(path: &str, method: &str, status: u16, content_type: &str) -> Option<Value> {
    let op = spec()["paths"].get(path)?.get(method)?;
    let schema = op["responses"]
        .get(status.to_string())?
        .get("content")?
        .get(content_type)?
        .get("schema")?;
    Some(schema.clone())
}

/// Collects violations across many calls, then fails once with all of them.
#[derive(Default)]
struct Checker {
    violations: Vec<String>,
    checked: usize,
}

impl Checker {
    /// `instance` as the response of `method path` with `status` and `content_type`.
    fn check(
        &mut self,
        what: &str,
        (method, path): (&str, &str),
        status: u16,
        content_type: &str,
        instance: &Value,
    ) {
        self.checked += 1;
        let Some(schema) = response_schema(path, method, status, content_type) else {
            self.violations.push(format!(
                "{what}: {} {path} does not document status {status} ({content_type}); body: {instance}",
                method.to_uppercase()
            ));
            return;
        };
        let key = format!("{method} {path} {status} {content_type}");
        let v = validator(&key, &schema);
        let errors: Vec<String> = v
            .iter_errors(instance)
            .map(|e| format!("  at {}: {e}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            let mut shown = instance.to_string();
            if shown.len() > 1500 {
                shown = format!("{}…", shown.chars().take(1500).collect::<String>());
            }
            self.violations.push(format!(
                "{what} ({key}):\n{}\n  body: {shown}",
                errors.join("\n")
            ));
        }
    }

    /// A JSON response.
    fn json(&mut self, what: &str, op: (&str, &str), status: u16, body: &Value) {
        self.check(what, op, status, "application/json", body);
    }

    /// Every `data:` event of a chat stream, as the document's `text/event-stream` schema
    /// wraps it (`{data: ChatStreamChunk}`). `[DONE]` is the stream's end marker, not an event
    /// the schema describes.
    fn stream(&mut self, what: &str, status: u16, chunks: &[Value]) {
        let op = ("post", "/chat/completions");
        if status != 200 {
            for c in chunks {
                self.json(what, op, status, c);
            }
            return;
        }
        assert!(
            chunks.iter().any(Value::is_object),
            "{what}: a stream with no chunk"
        );
        for (i, c) in chunks.iter().enumerate() {
            if c == "[DONE]" {
                continue;
            }
            self.check(
                &format!("{what}, chunk {i}"),
                op,
                status,
                "text/event-stream",
                &json!({ "data": c }),
            );
        }
    }

    fn finish(self, area: &str) {
        assert!(self.checked > 0, "{area}: nothing was checked");
        assert!(
            self.violations.is_empty(),
            "{area}: {} of {} responses violate the spec:\n\n{}",
            self.violations.len(),
            self.checked,
            self.violations.join("\n\n")
        );
    }
}

/// A streamed chat completion: the status and every `data:` payload (a non-200 answer is one
/// JSON body).
async fn sse(app: &TestApp, key: &str, mut body: Value, metadata: bool) -> (u16, Vec<Value>) {
    body["stream"] = Value::Bool(true);
    let r = app.send_chat(key, &body, metadata).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    if status != 200 {
        return (
            status,
            vec![serde_json::from_str(&text).unwrap_or(Value::String(text))],
        );
    }
    let mut data = vec![];
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data: ") {
            data.push(serde_json::from_str(d).unwrap_or(Value::String(d.to_string())));
        }
    }
    (status, data)
}

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

const CHAT: (&str, &str) = ("post", "/chat/completions");

#[tokio::test]
async fn chat_completions_and_their_streams_conform() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let bodies = |model: &str| {
        vec![
            (
                "text",
                json!({"model": model, "messages": user("hello there")}),
            ),
            (
                "tools",
                json!({"model": model, "messages": user("weather in Paris?"), "tools": tools()}),
            ),
            (
                "reasoning",
                json!({"model": model, "messages": user("think first #think"), "reasoning": {"effort": "low"}}),
            ),
        ]
    };
    for model in [
        "fake/gpt",
        "fake/claude",
        "fake/gemini",
        "fake/fallback",
        "switchyard/auto",
    ] {
        for (kind, body) in bodies(model) {
            for metadata in [false, true] {
                let what = format!("{model} {kind} metadata={metadata}");
                let r = app.send_chat(KEY, &body, metadata).await;
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 200, "{what}: {v}");
                c.json(&what, CHAT, status, &v);
                let (status, chunks) = sse(&app, KEY, body.clone(), metadata).await;
                assert_eq!(status, 200, "{what}: {chunks:?}");
                c.stream(&format!("{what}, streamed"), status, &chunks);
            }
        }
    }
    // A stream that fails after its first tokens ends with an error chunk; one that fails
    // over mid-way carries on.
    for (what, body) in [
        (
            "mid-stream error",
            json!({"model": "fake/gpt", "messages": user("one two three #midstream-error")}),
        ),
        (
            // Keep-alives went out, so the failure can only be reported in a chunk.
            "failure after keep-alives",
            json!({"model": "fake/gpt", "messages": user("x #delay:500 #fail:503")}),
        ),
        (
            "rate limited after keep-alives",
            json!({"model": "fake/claude", "messages": user("x #delay:500 #fail:429")}),
        ),
        (
            "mid-stream failover",
            json!({"model": "route/multi", "provider": {"order": ["fake-openai", "fake-anthropic"]},
                "messages": user("one two three four #cut@m-a:3")}),
        ),
    ] {
        let (status, chunks) = sse(&app, KEY, body, true).await;
        c.stream(what, status, &chunks);
    }
    c.finish("POST /chat/completions");
}

#[tokio::test]
async fn error_envelopes_conform() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let raw = |auth: Option<&str>, body: String| {
        let mut rb = app
            .http
            .post(app.url("/api/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(a) = auth {
            rb = rb.bearer_auth(a);
        }
        rb.send()
    };
    let plain = json!({"model": "fake/gpt", "messages": user("x")}).to_string();
    let mut cases: Vec<(&str, Option<&str>, String)> = vec![
        ("no key", None, plain.clone()),
        ("wrong key", Some("sk-sy-v1-wrong"), plain.clone()),
        ("bad JSON", Some(KEY), "{not json".into()),
        (
            "bad field",
            Some(KEY),
            json!({"model": "fake/gpt", "messages": user("x"), "temperature": "warm"}).to_string(),
        ),
        ("management key", Some(MANAGEMENT_KEY), plain.clone()),
        (
            "unknown model",
            Some(KEY),
            json!({"model": "nobody/nothing", "models": ["nope/x"], "messages": user("x")})
                .to_string(),
        ),
        (
            "no endpoints",
            Some(KEY),
            json!({"model": "route/notools", "messages": user("x"), "tools": tools(),
                "provider": {"require_parameters": true}})
            .to_string(),
        ),
        (
            "provider preferences",
            Some(KEY),
            json!({"model": "route/multi", "messages": user("x"), "provider": {"only": ["nobody"]}})
                .to_string(),
        ),
        (
            "no active provider",
            Some(KEY),
            json!({"model": "fake/keyless", "messages": user("x")}).to_string(),
        ),
        (
            "every provider failing",
            Some(KEY),
            json!({"model": "fake/gpt", "messages": user("x #fail:503")}).to_string(),
        ),
        (
            "provider rate limit",
            Some(KEY),
            json!({"model": "fake/claude", "messages": user("x #fail:429")}).to_string(),
        ),
        (
            "provider refusal",
            Some(KEY),
            json!({"model": "fake/gpt", "messages": user("x #fail:400")}).to_string(),
        ),
        (
            "too large",
            Some(KEY),
            json!({"model": "fake/gpt", "messages": user(&"x".repeat(200_000))}).to_string(),
        ),
    ];
    let (poor, _) = app.prepaid("poor", "0.000001", json!({"name": "k"})).await;
    let poor_body =
        json!({"model": "fake/claude", "messages": user("x"), "max_tokens": 100000}).to_string();
    cases.push(("out of credits", Some(poor.as_str()), poor_body));
    for (what, auth, body) in cases {
        for stream in [false, true] {
            let body = if stream {
                let mut v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                if !v.is_object() {
                    continue;
                }
                v["stream"] = Value::Bool(true);
                v.to_string()
            } else {
                body.clone()
            };
            let r = raw(auth, body).await.expect("sent");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status >= 400, "{what}: {v}");
            c.json(&format!("{what} stream={stream}"), CHAT, status, &v);
        }
    }
    // Every circuit open.
    for _ in 0..3 {
        app.chat_json(json!({"model": "fake/gemini", "messages": user("x #fail:503")}))
            .await;
    }
    let (status, v) = app
        .chat_json(json!({"model": "fake/gemini", "messages": user("x")}))
        .await;
    assert_eq!(status, 503, "{v}");
    c.json("every circuit open", CHAT, status, &v);
    c.finish("error envelopes");
}

/// A GET as `key` (or anonymous), its status and JSON body.
async fn get(app: &TestApp, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut rb = app.http.get(app.url(path));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    let r = rb.send().await.expect("sent");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_catalogue_conforms() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let (s, models) = get(&app, "/api/v1/models", None).await;
    assert_eq!(s, 200);
    c.json("models", ("get", "/models"), s, &models);
    let ids: Vec<String> = models["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    assert!(ids.len() > 5, "{models}");
    // Some live statistics, so that the endpoints' percentiles are numbers, not only nulls.
    for _ in 0..3 {
        app.chat_json(json!({"model": "route/multi", "messages": user("hi")}))
            .await;
    }
    for id in &ids {
        let path = format!("/api/v1/models/{id}/endpoints");
        let (s, v) = get(&app, &path, None).await;
        if id == "switchyard/auto" {
            // A router, not a model: it has no endpoints of its own.
            c.json(&path, ("get", "/models/{author}/{slug}/endpoints"), s, &v);
            continue;
        }
        assert_eq!(s, 200, "{path}: {v}");
        c.json(&path, ("get", "/models/{author}/{slug}/endpoints"), s, &v);
    }
    let (s, v) = get(&app, "/api/v1/models/nobody/nothing/endpoints", None).await;
    assert_eq!(s, 404);
    c.json(
        "unknown model's endpoints",
        ("get", "/models/{author}/{slug}/endpoints"),
        s,
        &v,
    );
    let (s, v) = get(&app, "/api/v1/models/count", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["count"], json!(ids.len()));
    c.json("models/count", ("get", "/models/count"), s, &v);
    let (s, v) = get(&app, "/api/v1/models/user", Some(KEY)).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"], models["data"], "no data policy: every model");
    c.json("models/user", ("get", "/models/user"), s, &v);
    let (s, v) = get(&app, "/api/v1/models/user", None).await;
    assert_eq!(s, 401);
    c.json("models/user without a key", ("get", "/models/user"), s, &v);
    let (s, v) = get(&app, "/api/v1/providers", None).await;
    assert_eq!(s, 200);
    assert!(v["data"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["slug"] == "fake-openai")));
    c.json("providers", ("get", "/providers"), s, &v);
    let (s, v) = get(&app, "/api/v1/endpoints/zdr", None).await;
    assert_eq!(s, 200);
    let zdr: Vec<&str> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["tag"].as_str())
        .collect();
    assert_eq!(zdr, vec!["fake-openai-2"], "{v}");
    c.json("endpoints/zdr", ("get", "/endpoints/zdr"), s, &v);
    // OpenAI's prefix serves the same.
    for (path, op) in [
        ("/v1/providers", "/providers"),
        ("/v1/models/count", "/models/count"),
        ("/v1/endpoints/zdr", "/endpoints/zdr"),
        ("/v1/models/user", "/models/user"),
    ] {
        let (s, v) = get(&app, path, Some(KEY)).await;
        assert_eq!(s, 200, "{path}: {v}");
        c.json(path, ("get", op), s, &v);
    }
    c.finish("catalogue");
}

#[tokio::test]
async fn the_account_api_conforms() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let (key, mgmt) = app
        .prepaid(
            "acme",
            "5",
            json!({"name": "ci", "limit": 2, "limit_reset": "daily"}),
        )
        .await;
    // Generations of every kind: plain, streamed, after a failover, cancelled mid-way.
    let mut ids = vec![];
    for body in [
        json!({"model": "fake/gpt", "messages": user("hi")}),
        json!({"model": "fake/claude", "messages": user("hi"), "stream": true}),
        json!({"model": "fake/fallback", "messages": user("hi")}),
        json!({"model": "route/multi", "provider": {"order": ["fake-openai", "fake-anthropic"]},
            "messages": user("one two three four #cut@m-a:3"), "stream": true}),
    ] {
        let r = app.send_chat(&key, &body, false).await;
        assert_eq!(r.status().as_u16(), 200);
        let id = r
            .headers()
            .get("x-generation-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let _ = r.text().await;
        ids.push(id);
    }
    for id in &ids {
        let (s, v) = get(&app, &format!("/api/v1/generation?id={id}"), Some(&key)).await;
        assert_eq!(s, 200, "{v}");
        c.json(&format!("generation {id}"), ("get", "/generation"), s, &v);
    }
    let (s, v) = get(&app, "/api/v1/generation?id=gen-nope", Some(&key)).await;
    assert_eq!(s, 404);
    c.json("unknown generation", ("get", "/generation"), s, &v);
    let (s, v) = get(&app, "/api/v1/generation?id=gen-nope", None).await;
    assert_eq!(s, 401);
    c.json("generation without a key", ("get", "/generation"), s, &v);

    for (what, k) in [
        ("inference key", key.as_str()),
        ("management key", mgmt.as_str()),
    ] {
        let (s, v) = get(&app, "/api/v1/key", Some(k)).await;
        assert_eq!(s, 200, "{v}");
        c.json(what, ("get", "/key"), s, &v);
    }
    let (s, v) = get(&app, "/api/v1/key", Some("sk-sy-v1-wrong")).await;
    c.json("key with a wrong key", ("get", "/key"), s, &v);

    let (s, v) = get(&app, "/api/v1/credits", Some(&mgmt)).await;
    assert_eq!(s, 200, "{v}");
    c.json("credits", ("get", "/credits"), s, &v);
    let (s, v) = get(&app, "/api/v1/credits", Some(&key)).await;
    assert_eq!(s, 401, "{v}");
    c.json("credits with an inference key", ("get", "/credits"), s, &v);

    let (s, v) = get(&app, "/api/v1/activity", Some(&key)).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["data"].as_array().is_some_and(|a| !a.is_empty()), "{v}");
    c.json("activity", ("get", "/activity"), s, &v);

    let (s, created, _) = app
        .call(
            Method::POST,
            "/api/v1/keys",
            &mgmt,
            Some(json!({"name": "new", "limit": 1.5, "expires_at": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    c.json("keys create", ("post", "/keys"), s, &created);
    let (s, v, _) = app
        .call(
            Method::POST,
            "/api/v1/keys",
            &mgmt,
            Some(json!({"limit": 1})),
        )
        .await;
    assert_eq!(s, 400);
    c.json("keys create without a name", ("post", "/keys"), s, &v);
    let (s, v) = get(&app, "/api/v1/keys?include_disabled=true", Some(&mgmt)).await;
    assert_eq!(s, 200);
    c.json("keys list", ("get", "/keys"), s, &v);
    let hash = created["data"]["hash"].as_str().unwrap_or_default();
    let at = format!("/api/v1/keys/{hash}");
    let (s, v) = get(&app, &at, Some(&mgmt)).await;
    assert_eq!(s, 200);
    c.json("keys get", ("get", "/keys/{hash}"), s, &v);
    let (s, v, _) = app
        .call(
            Method::PATCH,
            &at,
            &mgmt,
            Some(json!({"disabled": true, "limit": null})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    c.json("keys update", ("patch", "/keys/{hash}"), s, &v);
    let (s, v, _) = app.call(Method::DELETE, &at, &mgmt, None).await;
    assert_eq!(s, 200);
    c.json("keys delete", ("delete", "/keys/{hash}"), s, &v);
    let (s, v) = get(&app, &at, Some(&mgmt)).await;
    assert_eq!(s, 404);
    c.json("keys get after delete", ("get", "/keys/{hash}"), s, &v);
    let (s, v) = get(&app, "/api/v1/keys", Some(&key)).await;
    c.json("keys list with an inference key", ("get", "/keys"), s, &v);
    c.finish("account API");
}

#[tokio::test]
async fn embeddings_conform() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let op = ("post", "/embeddings");
    for (model, input, format) in [
        ("fake/embed", json!("one text"), "float"),
        ("fake/embed", json!(["two", "texts"]), "base64"),
        ("fake/embed", json!([[1, 2], [3]]), "float"),
        ("fake/gemini-embed", json!(["a", "b", "c"]), "float"),
        ("fake/gemini-embed", json!("one"), "base64"),
    ] {
        let body = json!({"model": model, "input": input, "encoding_format": format});
        let (s, v, _) = app.embed_at("/api/v1", KEY, body).await;
        assert_eq!(s, 200, "{model}: {v}");
        c.json(&format!("embeddings {model} {format}"), op, s, &v);
    }
    // Refusals: a chat model, a bad input, an unknown model, no key.
    for (what, key, body) in [
        (
            "a chat model",
            KEY,
            json!({"model": "fake/gpt", "input": "x"}),
        ),
        (
            "an empty input",
            KEY,
            json!({"model": "fake/embed", "input": []}),
        ),
        (
            "an unknown model",
            KEY,
            json!({"model": "nobody/nothing", "input": "x"}),
        ),
        ("no key", "", json!({"model": "fake/embed", "input": "x"})),
    ] {
        let (s, v, _) = app.embed_at("/api/v1", key, body).await;
        assert!(s >= 400, "{what}: {s} {v}");
        c.json(&format!("embeddings refused: {what}"), op, s, &v);
    }
    let (s, v) = get(&app, "/api/v1/embeddings/models", None).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["data"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m["id"] == "fake/embed")));
    c.json("embeddings/models", ("get", "/embeddings/models"), s, &v);
    for id in ["fake/embed", "fake/gemini-embed"] {
        let path = format!("/api/v1/models/{id}/endpoints");
        let (s, v) = get(&app, &path, None).await;
        assert_eq!(s, 200, "{path}: {v}");
        c.json(&path, ("get", "/models/{author}/{slug}/endpoints"), s, &v);
    }
    c.finish("embeddings");
}

// ---------------------------------------------------------------------------------------
// POST /messages (Anthropic Messages). `/messages/count_tokens` is not in the document.

const MESSAGES: (&str, &str) = ("post", "/messages");

/// A `/messages` request as Anthropic's SDKs send it (`x-api-key`, `anthropic-version`), with
/// `X-OpenRouter-Metadata: enabled` when asked.
async fn post_messages(app: &TestApp, key: &str, body: &Value, metadata: bool) -> Raw {
    let mut headers = vec![("anthropic-version", "2023-06-01")];
    if !key.is_empty() {
        headers.push(("x-api-key", key));
    }
    if metadata {
        headers.push(("x-openrouter-metadata", "enabled"));
    }
    app.post_raw("/api/v1/messages", &headers, body.to_string().into_bytes())
        .await
}

impl Checker {
    /// A `/messages` answer: a JSON body (a message or an error envelope), or, for a 200
    /// `text/event-stream`, every event as the document's schema wraps it
    /// (`{event, data: MessagesStreamEvents}`).
    fn messages(&mut self, what: &str, r: &Raw) {
        self.dialect(what, MESSAGES, r, true);
    }

    /// A `/responses` answer: a JSON body, or every event of a stream as the document's
    /// schema wraps it (`{data: StreamEvents}`: the SSE name is not part of it).
    fn responses(&mut self, what: &str, r: &Raw) {
        self.dialect(what, RESPONSES, r, false);
    }

    /// The answer of a dialect whose streams name each event by its `type` (`named`: the
    /// schema wraps the event as `{event, data}`, else as `{data}`).
    fn dialect(&mut self, what: &str, op: (&str, &str), r: &Raw, named: bool) {
        let streamed = r
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if !streamed {
            let body = serde_json::from_str(&r.text).unwrap_or(Value::String(r.text.clone()));
            self.json(what, op, r.status, &body);
            return;
        }
        let events = r.events();
        assert!(!events.is_empty(), "{what}: a stream with no event");
        for (i, e) in events.iter().enumerate() {
            let what = format!("{what}, event {i}");
            // Anthropic's SDKs dispatch on the SSE name; the schema only says it is a string.
            // A name, when sent, is the event's type.
            if (named || e.event.is_some()) && e.event.as_deref() != e.data["type"].as_str() {
                self.violations.push(format!(
                    "{what}: named {:?} but of type {}",
                    e.event, e.data["type"]
                ));
            }
            let event = if named {
                json!({"event": e.event.clone().unwrap_or_default(), "data": e.data})
            } else {
                json!({"data": e.data})
            };
            self.check(&what, op, r.status, "text/event-stream", &event);
        }
    }
}

fn anthropic_tools() -> Value {
    json!([{"name": "get_weather", "description": "Weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

#[tokio::test]
async fn messages_and_their_streams_conform() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let bodies = |model: &str| {
        vec![
            (
                "text",
                json!({"model": model, "max_tokens": 256, "messages": user("hello there")}),
            ),
            (
                "tools",
                json!({"model": model, "max_tokens": 256, "messages": user("weather in Paris?"),
                    "tools": anthropic_tools()}),
            ),
            (
                "thinking",
                json!({"model": model, "max_tokens": 2048, "messages": user("think first #think"),
                    "thinking": {"type": "enabled", "budget_tokens": 1024}}),
            ),
            (
                "cached",
                json!({"model": model, "max_tokens": 256, "system": [{"type": "text",
                    "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
                    "messages": user("hello again #cached:5")}),
            ),
            (
                "tool result",
                json!({"model": model, "max_tokens": 256, "tools": anthropic_tools(), "messages": [
                    {"role": "user", "content": "weather in Paris?"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                        "name": "get_weather", "input": {"city": "Paris"}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                        "content": "sunny"}]}
                ]}),
            ),
        ]
    };
    for model in [
        "fake/gpt",
        "fake/claude",
        "fake/gemini",
        "fake/fallback",
        "switchyard/auto",
    ] {
        for (kind, body) in bodies(model) {
            if model == "fake/fallback" && kind == "thinking" {
                // Its 1000-token context cannot hold a 1024-token thinking budget.
                continue;
            }
            for metadata in [false, true] {
                for stream in [false, true] {
                    let what = format!("{model} {kind} metadata={metadata} stream={stream}");
                    let mut body = body.clone();
                    body["stream"] = json!(stream);
                    let r = post_messages(&app, KEY, &body, metadata).await;
                    assert_eq!(r.status, 200, "{what}: {}", r.text);
                    // Asked for, the routing metadata is there to be checked (on the
                    // message, or on `message_stop`); else it is not.
                    assert_eq!(
                        r.text.contains("\"openrouter_metadata\""),
                        metadata,
                        "{what}: {}",
                        r.text
                    );
                    c.messages(&what, &r);
                }
            }
        }
    }
    // A stream that fails after its first tokens ends with an error event; one that fails
    // over mid-way carries on; quiet periods are pings.
    for (what, body) in [
        (
            "mid-stream error",
            json!({"model": "fake/gpt", "messages": user("one two three #midstream-error")}),
        ),
        (
            "failure after keep-alives",
            json!({"model": "fake/gpt", "messages": user("x #delay:500 #fail:503")}),
        ),
        (
            "rate limited after keep-alives",
            json!({"model": "fake/claude", "messages": user("x #delay:500 #fail:429")}),
        ),
        (
            "pings once started",
            json!({"model": "fake/claude", "messages": user("one two three #tokdelay:400")}),
        ),
        (
            "cut at max_tokens",
            json!({"model": "fake/gpt", "max_tokens": 5, "messages": user("go #endless")}),
        ),
        (
            "cut at max_tokens, relayed",
            json!({"model": "fake/claude", "max_tokens": 5, "messages": user("go #endless")}),
        ),
        (
            "mid-stream failover",
            json!({"model": "route/multi", "provider": {"order": ["fake-openai", "fake-anthropic"]},
                "messages": user("one two three four #cut@m-a:3")}),
        ),
    ] {
        let mut body = body;
        if body.get("max_tokens").is_none() {
            body["max_tokens"] = json!(256);
        }
        body["stream"] = json!(true);
        let r = post_messages(&app, KEY, &body, true).await;
        if what.starts_with("cut at") {
            // The case is the one it means to check.
            assert!(r.text.contains("\"max_tokens\""), "{what}: {}", r.text);
        }
        c.messages(what, &r);
    }
    // The `/v1` prefix serves the same: Anthropic's SDKs post to `{base URL}/v1/messages`.
    for stream in [false, true] {
        let body = json!({"model": "fake/claude", "max_tokens": 64, "stream": stream,
            "messages": user("hi")});
        let r = app
            .post_raw(
                "/v1/messages",
                &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
                body.to_string().into_bytes(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        c.messages(&format!("/v1/messages stream={stream}"), &r);
    }
    c.finish("POST /messages");
}

#[tokio::test]
async fn messages_error_envelopes_conform() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let raw = |key: &'static str, body: String| {
        let mut headers = vec![("anthropic-version", "2023-06-01")];
        if !key.is_empty() {
            headers.push(("x-api-key", key));
        }
        let app = &app;
        async move {
            app.post_raw("/api/v1/messages", &headers, body.into_bytes())
                .await
        }
    };
    let ok = |model: &str, text: &str| {
        json!({"model": model, "max_tokens": 64, "messages": user(text)}).to_string()
    };
    let cases: Vec<(&str, &'static str, String)> = vec![
        ("no key", "", ok("fake/gpt", "x")),
        ("wrong key", "sk-sy-v1-wrong", ok("fake/gpt", "x")),
        ("bad JSON", KEY, "{not json".into()),
        (
            "bad field",
            KEY,
            json!({"model": "fake/gpt", "max_tokens": "lots", "messages": user("x")}).to_string(),
        ),
        (
            "no messages",
            KEY,
            json!({"model": "fake/gpt", "max_tokens": 64}).to_string(),
        ),
        ("management key", MANAGEMENT_KEY, ok("fake/gpt", "x")),
        ("unknown model", KEY, ok("nobody/nothing", "x")),
        (
            "no endpoints",
            KEY,
            json!({"model": "route/notools", "max_tokens": 64, "messages": user("x"),
                "tools": anthropic_tools(), "provider": {"require_parameters": true}})
            .to_string(),
        ),
        (
            "provider preferences",
            KEY,
            json!({"model": "route/multi", "max_tokens": 64, "messages": user("x"),
                "provider": {"only": ["nobody"]}})
            .to_string(),
        ),
        ("no active provider", KEY, ok("fake/keyless", "x")),
        ("every provider failing", KEY, ok("fake/gpt", "x #fail:503")),
        ("provider rate limit", KEY, ok("fake/claude", "x #fail:429")),
        ("provider refusal", KEY, ok("fake/gpt", "x #fail:400")),
        ("too large", KEY, ok("fake/gpt", &"x".repeat(200_000))),
    ];
    for (what, key, body) in cases {
        for stream in [false, true] {
            let body = match serde_json::from_str::<Value>(&body) {
                Ok(mut v) if stream => {
                    v["stream"] = json!(true);
                    v.to_string()
                }
                Err(_) if stream => continue,
                _ => body.clone(),
            };
            let r = raw(key, body).await;
            assert!(r.status >= 400, "{what}: {}", r.text);
            c.messages(&format!("{what} stream={stream}"), &r);
        }
    }
    let (poor, _) = app.prepaid("poor", "0.000001", json!({"name": "k"})).await;
    for stream in [false, true] {
        let body = json!({"model": "fake/claude", "max_tokens": 100000, "stream": stream,
            "messages": user("x")});
        let r = post_messages(&app, &poor, &body, false).await;
        assert_eq!(r.status, 402, "{}", r.text);
        c.messages(&format!("out of credits stream={stream}"), &r);
    }
    // Every circuit open.
    for _ in 0..3 {
        raw(KEY, ok("fake/gemini", "x #fail:503")).await;
    }
    let r = raw(KEY, ok("fake/gemini", "x")).await;
    assert_eq!(r.status, 503, "{}", r.text);
    c.messages("every circuit open", &r);
    c.finish("POST /messages errors");
}

// ---------------------------------------------------------------------------------------
// POST /responses (OpenAI Responses)

const RESPONSES: (&str, &str) = ("post", "/responses");

/// A `/responses` request as OpenAI's SDKs send it (`Authorization: Bearer`).
async fn post_responses(app: &TestApp, key: &str, body: &Value, metadata: bool) -> Raw {
    let auth = format!("Bearer {key}");
    let mut headers = vec![];
    if !key.is_empty() {
        headers.push(("authorization", auth.as_str()));
    }
    if metadata {
        headers.push(("x-openrouter-metadata", "enabled"));
    }
    app.post_raw("/api/v1/responses", &headers, body.to_string().into_bytes())
        .await
}

fn responses_tools() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

#[tokio::test]
async fn responses_and_their_streams_conform() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let bodies = |model: &str| {
        vec![
            ("text", json!({"model": model, "input": "hello there"})),
            (
                "items",
                json!({"model": model, "instructions": "Be brief.", "max_output_tokens": 256,
                    "input": [{"type": "message", "role": "user",
                        "content": [{"type": "input_text", "text": "hello items"}]}]}),
            ),
            (
                "tools",
                json!({"model": model, "input": "weather in Paris?", "tools": responses_tools()}),
            ),
            (
                "cached",
                json!({"model": model, "instructions": "You are terse.",
                    "input": "hello again #cached:5"}),
            ),
            (
                "tool result",
                json!({"model": model, "tools": responses_tools(), "input": [
                    {"role": "user", "content": "weather in Paris?"},
                    {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                        "arguments": "{\"city\":\"Paris\"}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
                ]}),
            ),
            (
                "reasoning",
                json!({"model": model, "input": "think first #think", "max_output_tokens": 3000,
                    "reasoning": {"effort": "high"}}),
            ),
            (
                "structured",
                json!({"model": model, "input": "Biggest city in France?",
                    "text": {"format": {"type": "json_schema", "name": "city", "strict": true,
                        "schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"], "additionalProperties": false}}}}),
            ),
        ]
    };
    for model in [
        "fake/gpt",
        "fake/claude",
        "fake/gemini",
        "fake/fallback",
        "switchyard/auto",
    ] {
        for (kind, body) in bodies(model) {
            if model == "fake/fallback" && kind == "reasoning" {
                // Its 1000-token context cannot hold 3000 output tokens.
                continue;
            }
            for metadata in [false, true] {
                for stream in [false, true] {
                    let what = format!("{model} {kind} metadata={metadata} stream={stream}");
                    let mut body = body.clone();
                    body["stream"] = json!(stream);
                    let r = post_responses(&app, KEY, &body, metadata).await;
                    assert_eq!(r.status, 200, "{what}: {}", r.text);
                    assert_eq!(
                        r.text.contains("\"openrouter_metadata\""),
                        metadata,
                        "{what}: {}",
                        r.text
                    );
                    c.responses(&what, &r);
                }
            }
        }
    }
    for (what, body) in [
        (
            "mid-stream error",
            json!({"model": "fake/gpt", "input": "one two three #midstream-error"}),
        ),
        (
            "failure after keep-alives",
            json!({"model": "fake/gpt", "input": "x #delay:500 #fail:503"}),
        ),
        (
            "rate limited after keep-alives",
            json!({"model": "fake/claude", "input": "x #delay:500 #fail:429"}),
        ),
        (
            "quiet periods",
            json!({"model": "fake/claude", "input": "one two three #tokdelay:400"}),
        ),
        (
            "cut at max_output_tokens",
            json!({"model": "fake/gpt", "max_output_tokens": 5, "input": "go #endless"}),
        ),
        (
            "cut at max_output_tokens, Anthropic upstream",
            json!({"model": "fake/claude", "max_output_tokens": 5, "input": "go #endless"}),
        ),
        (
            "mid-stream failover",
            json!({"model": "route/multi", "provider": {"order": ["fake-openai", "fake-anthropic"]},
                "input": "one two three four #cut@m-a:3"}),
        ),
    ] {
        let mut body = body;
        body["stream"] = json!(true);
        let r = post_responses(&app, KEY, &body, true).await;
        if what.starts_with("cut at") {
            assert!(r.text.contains("response.incomplete"), "{what}: {}", r.text);
        }
        c.responses(what, &r);
    }
    // OpenAI's prefix serves the same.
    for stream in [false, true] {
        let body = json!({"model": "fake/gpt", "stream": stream, "input": "hi"});
        let auth = format!("Bearer {KEY}");
        let r = app
            .post_raw(
                "/v1/responses",
                &[("authorization", auth.as_str())],
                body.to_string().into_bytes(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        c.responses(&format!("/v1/responses stream={stream}"), &r);
    }
    c.finish("POST /responses");
}

#[tokio::test]
async fn responses_error_envelopes_conform() {
    let app = spawn_app().await;
    let mut c = Checker::default();
    let raw = |key: &'static str, body: String| {
        let app = &app;
        async move {
            let auth = format!("Bearer {key}");
            let mut headers = vec![];
            if !key.is_empty() {
                headers.push(("authorization", auth.as_str()));
            }
            app.post_raw("/api/v1/responses", &headers, body.into_bytes())
                .await
        }
    };
    let ok = |model: &str, text: &str| json!({"model": model, "input": text}).to_string();
    let cases: Vec<(&str, &'static str, String)> = vec![
        ("no key", "", ok("fake/gpt", "x")),
        ("wrong key", "sk-sy-v1-wrong", ok("fake/gpt", "x")),
        ("bad JSON", KEY, "{not json".into()),
        (
            "bad field",
            KEY,
            json!({"model": "fake/gpt", "input": 42}).to_string(),
        ),
        (
            "stateful",
            KEY,
            json!({"model": "fake/gpt", "input": "x", "previous_response_id": "resp_1"})
                .to_string(),
        ),
        ("management key", MANAGEMENT_KEY, ok("fake/gpt", "x")),
        ("unknown model", KEY, ok("nobody/nothing", "x")),
        (
            "no endpoints",
            KEY,
            json!({"model": "route/notools", "input": "x", "tools": responses_tools(),
                "provider": {"require_parameters": true}})
            .to_string(),
        ),
        (
            "provider preferences",
            KEY,
            json!({"model": "route/multi", "input": "x", "provider": {"only": ["nobody"]}})
                .to_string(),
        ),
        ("no active provider", KEY, ok("fake/keyless", "x")),
        ("every provider failing", KEY, ok("fake/gpt", "x #fail:503")),
        ("provider rate limit", KEY, ok("fake/claude", "x #fail:429")),
        ("provider refusal", KEY, ok("fake/gpt", "x #fail:400")),
        ("too large", KEY, ok("fake/gpt", &"x".repeat(200_000))),
    ];
    for (what, key, body) in cases {
        for stream in [false, true] {
            let body = match serde_json::from_str::<Value>(&body) {
                Ok(mut v) if stream => {
                    v["stream"] = json!(true);
                    v.to_string()
                }
                Err(_) if stream => continue,
                _ => body.clone(),
            };
            let r = raw(key, body).await;
            assert!(r.status >= 400, "{what}: {}", r.text);
            c.responses(&format!("{what} stream={stream}"), &r);
        }
    }
    let (poor, _) = app.prepaid("poor", "0.000001", json!({"name": "k"})).await;
    for stream in [false, true] {
        let body = json!({"model": "fake/claude", "max_output_tokens": 100000, "stream": stream,
            "input": "x"});
        let r = post_responses(&app, &poor, &body, false).await;
        assert_eq!(r.status, 402, "{}", r.text);
        c.responses(&format!("out of credits stream={stream}"), &r);
    }
    for _ in 0..3 {
        raw(KEY, ok("fake/gemini", "x #fail:503")).await;
    }
    let r = raw(KEY, ok("fake/gemini", "x")).await;
    assert_eq!(r.status, 503, "{}", r.text);
    c.responses("every circuit open", &r);
    c.finish("POST /responses errors");
}

/// The dialects' schemas are the document's, not something that accepts anything: a body
/// missing what each requires, or an event of no known type, is a violation.
#[test]
fn the_dialect_schemas_refuse_what_they_should() {
    let mut c = Checker::default();
    let text_block = json!({"type": "text", "text": "hi", "citations": null});
    for (what, op, ct, instance) in [
        ("empty message", MESSAGES, "application/json", json!({})),
        (
            "message without usage details",
            MESSAGES,
            "application/json",
            json!({"id": "m", "type": "message", "role": "assistant", "container": null,
                "content": [text_block], "model": "x", "stop_reason": "end_turn",
                "stop_details": null, "stop_sequence": null,
                "usage": {"input_tokens": 1, "output_tokens": 1}}),
        ),
        (
            "unknown stop reason",
            MESSAGES,
            "application/json",
            json!({"id": "m", "type": "message", "role": "assistant", "container": null,
                "content": [], "model": "x", "stop_reason": "tired", "stop_details": null,
                "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 1,
                    "output_tokens_details": null, "cache_creation_input_tokens": null,
                    "cache_read_input_tokens": null, "cache_creation": null,
                    "inference_geo": null, "server_tool_use": null, "service_tier": null}}),
        ),
        (
            "unknown Messages event",
            MESSAGES,
            "text/event-stream",
            json!({"event": "message_end", "data": {"type": "message_end"}}),
        ),
        (
            "tool_use start without caller",
            MESSAGES,
            "text/event-stream",
            json!({"event": "content_block_start", "data": {"type": "content_block_start",
                "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "f",
                    "input": {}}}}),
        ),
        (
            "error without request_id",
            MESSAGES,
            "application/json",
            json!({"type": "error", "error": {"type": "api_error", "message": "x"}}),
        ),
        ("empty response", RESPONSES, "application/json", json!({})),
        (
            "unknown Responses event",
            RESPONSES,
            "text/event-stream",
            json!({"data": {"type": "response.nothing", "sequence_number": 1}}),
        ),
        (
            "text delta without its item",
            RESPONSES,
            "text/event-stream",
            json!({"data": {"type": "response.output_text.delta", "delta": "hi",
                "sequence_number": 1}}),
        ),
    ] {
        let before = c.violations.len();
        // An envelope is an error's body; anything else, an answer's.
        let status = if instance["type"] == "error" {
            400
        } else {
            200
        };
        c.check(what, op, status, ct, &instance);
        assert!(
            c.violations.len() > before,
            "{what}: accepted by the schema of {} {}",
            op.1,
            ct
        );
    }
}
