//! The inbound dialects beside OpenAI chat — Anthropic Messages (`/messages`,
//! `/messages/count_tokens`), OpenAI Responses (`/responses`) and legacy text completions
//! (`/completions`) — driven as their own SDKs drive them, against every fake provider family:
//! answers and streams in each dialect's grammar, tool round trips, Anthropic thinking
//! signatures, errors in each dialect's envelope, fallback, provider preferences, and billing
//! that agrees with the generation record and the key's spending.

use crate::helpers::*;
use serde_json::{json, Value};
use switchyard_api::Money;

const FAMILIES: [(&str, &str); 3] = [
    ("fake/gpt", "Fake OpenAI"),
    ("fake/claude", "Fake Anthropic"),
    ("fake/gemini", "Fake Gemini"),
];

const MESSAGES: &str = "/api/v1/messages";
const COUNT_TOKENS: &str = "/api/v1/messages/count_tokens";
const RESPONSES: &str = "/api/v1/responses";
const COMPLETIONS: &str = "/api/v1/completions";

// ---------- clients ----------

/// A request as Anthropic's SDKs send it: `x-api-key` and `anthropic-version`.
async fn anthropic(app: &TestApp, path: &str, key: &str, body: &Value) -> Raw {
    app.post_raw(
        path,
        &[("x-api-key", key), ("anthropic-version", "2023-06-01")],
        body.to_string().into_bytes(),
    )
    .await
}

async fn messages(app: &TestApp, body: Value) -> Raw {
    anthropic(app, MESSAGES, KEY, &body).await
}

/// A request as OpenAI's SDKs send it: `Authorization: Bearer`.
async fn openai(app: &TestApp, path: &str, key: &str, body: &Value) -> Raw {
    let auth = format!("Bearer {key}");
    app.post_raw(
        path,
        &[("authorization", &auth)],
        body.to_string().into_bytes(),
    )
    .await
}

async fn responses(app: &TestApp, body: Value) -> Raw {
    openai(app, RESPONSES, KEY, &body).await
}

async fn completions(app: &TestApp, body: Value) -> Raw {
    openai(app, COMPLETIONS, KEY, &body).await
}

fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

/// The exact price of `prompt` and `completion` tokens of a test model.
fn cost(model: &str, prompt: u64, completion: u64) -> Money {
    Money::parse(&expected_cost(
        model,
        &json!({"prompt_tokens": prompt, "completion_tokens": completion}),
    ))
    .unwrap_or_default()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

// ---------- Anthropic Messages: the stream grammar ----------

/// A streamed Message, checked against Anthropic's event grammar and assembled into the
/// content a non-streamed answer would have had (as the SDKs' accumulators do).
struct MessageStream {
    /// `message_start`'s message.
    start: Value,
    content: Vec<Value>,
    stop_reason: Value,
    /// `message_delta`'s usage (cumulative: `cost` is there).
    usage: Value,
    /// The prompt tokens a client ends up with: `message_delta`'s when it has them, else
    /// `message_start`'s.
    input_tokens: u64,
}

impl MessageStream {
    fn text(&self) -> String {
        text_of_blocks(&self.content)
    }
}

fn text_of_blocks(content: &[Value]) -> String {
    content
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect()
}

fn append(block: &mut Value, field: &str, piece: &Value) {
    let so_far = block[field].as_str().unwrap_or_default().to_string();
    block[field] = json!(format!("{so_far}{}", piece.as_str().unwrap_or_default()));
}

fn message_stream(raw: &Raw) -> MessageStream {
    assert_eq!(raw.status, 200, "{}", raw.text);
    let events = raw.events();
    for e in &events {
        assert_eq!(
            e.event.as_deref(),
            e.data["type"].as_str(),
            "every event is named by its type (the SDKs dispatch on the name): {e:?}"
        );
    }
    let evs: Vec<&Value> = events
        .iter()
        .map(|e| &e.data)
        .filter(|d| d["type"] != "ping")
        .collect();
    assert!(
        evs.iter().all(|d| d["type"] != "error"),
        "no error event: {}",
        raw.text
    );
    let k = evs.len();
    assert!(k >= 5, "{}", raw.text);
    assert_eq!(evs[0]["type"], "message_start", "{}", raw.text);
    let start = evs[0]["message"].clone();
    assert_eq!(start["type"], "message", "{start}");
    assert_eq!(start["role"], "assistant", "{start}");
    assert_eq!(start["content"], json!([]), "{start}");
    assert!(start["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(evs[k - 1]["type"], "message_stop", "{}", raw.text);
    let delta = evs[k - 2];
    assert_eq!(delta["type"], "message_delta", "{}", raw.text);
    assert!(
        delta["delta"]["stop_reason"].is_string(),
        "message_delta says why the message stopped: {delta}"
    );
    let usage = delta["usage"].clone();
    assert!(n(&usage["output_tokens"]) > 0, "{delta}");

    let mut content: Vec<Value> = vec![];
    let mut open: Option<(Value, String)> = None;
    for d in &evs[1..k - 2] {
        let here = content.len();
        match d["type"].as_str().unwrap_or_default() {
            "content_block_start" => {
                assert!(open.is_none(), "a block starts inside another: {d}");
                assert_eq!(
                    n(&d["index"]),
                    here as u64,
                    "blocks are numbered in order: {d}"
                );
                open = Some((d["content_block"].clone(), String::new()));
            }
            "content_block_delta" => {
                let (block, json) = open.as_mut().expect("a delta inside an open block");
                assert_eq!(n(&d["index"]), here as u64, "{d}");
                let delta = &d["delta"];
                match (
                    block["type"].as_str().unwrap_or_default(),
                    delta["type"].as_str().unwrap_or_default(),
                ) {
                    ("text", "text_delta") => append(block, "text", &delta["text"]),
                    ("thinking", "thinking_delta") => append(block, "thinking", &delta["thinking"]),
                    ("thinking", "signature_delta") => {
                        append(block, "signature", &delta["signature"])
                    }
                    ("tool_use", "input_json_delta") => {
                        json.push_str(delta["partial_json"].as_str().unwrap_or_default())
                    }
                    (b, t) => panic!("a {t} in a {b} block: {d}"),
                }
            }
            "content_block_stop" => {
                let (mut block, json) = open.take().expect("a stop closes an open block");
                assert_eq!(n(&d["index"]), here as u64, "{d}");
                if block["type"] == "tool_use" {
                    block["input"] = if json.is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&json).unwrap_or_else(|e| {
                            panic!("the tool input assembles to JSON ({e}): {json}")
                        })
                    };
                }
                if block["type"] == "text" {
                    assert!(
                        block["text"].as_str().is_some_and(|t| !t.is_empty()),
                        "no empty text block (the API refuses them when sent back): {}",
                        raw.text
                    );
                }
                content.push(block);
            }
            other => panic!(
                "{other} between message_start and message_delta: {}",
                raw.text
            ),
        }
    }
    assert!(open.is_none(), "every block is closed: {}", raw.text);
    assert!(!content.is_empty(), "{}", raw.text);
    let input_tokens = usage["input_tokens"]
        .as_u64()
        .unwrap_or_else(|| n(&start["usage"]["input_tokens"]));
    MessageStream {
        start,
        content,
        stop_reason: delta["delta"]["stop_reason"].clone(),
        usage,
        input_tokens,
    }
}

/// The content and stop reason of an answer, streamed or not.
fn message_content(raw: &Raw, stream: bool) -> (Vec<Value>, Value) {
    if stream {
        let s = message_stream(raw);
        return (s.content, s.stop_reason);
    }
    assert_eq!(raw.status, 200, "{}", raw.text);
    let v = raw.json();
    (
        v["content"].as_array().cloned().unwrap_or_default(),
        v["stop_reason"].clone(),
    )
}

/// An error in Anthropic's envelope, with this status and type; returns the message.
fn anthropic_error(raw: &Raw, status: u16, kind: &str) -> String {
    assert_eq!(raw.status, status, "{}", raw.text);
    let v = raw.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{v}");
    message.to_string()
}

fn anthropic_weather_tool() -> Value {
    json!([{"name": "get_weather", "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

// ---------- Anthropic Messages ----------

#[tokio::test]
async fn messages_answer_on_every_family() {
    let app = spawn_app().await;
    for (model, provider) in FAMILIES {
        let r = messages(
            &app,
            json!({"model": model, "max_tokens": 256, "messages": user("hello there")}),
        )
        .await;
        assert_eq!(r.status, 200, "{model}: {}", r.text);
        let v = r.json();
        assert_eq!(v["type"], "message", "{v}");
        assert_eq!(v["role"], "assistant");
        assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
        assert_eq!(v["model"], model);
        assert_eq!(v["provider"], provider);
        let content = v["content"].as_array().cloned().unwrap_or_default();
        assert_eq!(content.len(), 1, "{v}");
        assert_eq!(content[0]["type"], "text");
        assert_eq!(content[0]["text"], "Echo: hello there", "{model}");
        assert_eq!(v["stop_reason"], "end_turn", "{model}");
        let u = &v["usage"];
        let (input, output) = (n(&u["input_tokens"]), n(&u["output_tokens"]));
        assert!(input > 0 && output > 0, "{model}: {u}");
        assert_eq!(
            money_of(&u["cost"]),
            cost(model, input, output),
            "{model}: {u}"
        );
        assert!(r.generation_id().is_some(), "{model}");
    }
}

#[tokio::test]
async fn messages_stream_is_well_formed_on_every_family() {
    let app = spawn_app().await;
    for (model, _) in FAMILIES {
        let r = messages(
            &app,
            streamed(
                json!({"model": model, "max_tokens": 256, "messages": user("hello streaming world")}),
            ),
        )
        .await;
        assert!(
            r.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("text/event-stream")),
            "{model}"
        );
        let s = message_stream(&r);
        assert_eq!(s.text(), "Echo: hello streaming world", "{model}");
        assert_eq!(s.content.len(), 1, "{model}: {:?}", s.content);
        assert_eq!(s.stop_reason, "end_turn", "{model}");
        assert_eq!(s.start["model"], model);
        let output = n(&s.usage["output_tokens"]);
        assert!(s.input_tokens > 0, "{model}: {}", r.text);
        assert_eq!(
            money_of(&s.usage["cost"]),
            cost(model, s.input_tokens, output),
            "{model}: {}",
            s.usage
        );
        assert!(r.generation_id().is_some(), "{model}");
    }
}

#[tokio::test]
async fn messages_tool_round_trip_on_every_family() {
    let app = spawn_app().await;
    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let r = messages(
                &app,
                json!({"model": model, "max_tokens": 256, "stream": stream,
                    "tools": anthropic_weather_tool(), "messages": user("Weather in Paris?")}),
            )
            .await;
            let (content, stop) = message_content(&r, stream);
            assert_eq!(stop, "tool_use", "{model} stream={stream}: {}", r.text);
            let call = content
                .iter()
                .find(|b| b["type"] == "tool_use")
                .cloned()
                .unwrap_or_else(|| {
                    panic!("{model} stream={stream}: a tool_use block: {content:?}")
                });
            assert_eq!(call["name"], "get_weather");
            assert_eq!(
                call["input"],
                json!({"city": "Paris"}),
                "{model} stream={stream}"
            );
            let id = call["id"].as_str().unwrap_or_default().to_string();
            assert!(!id.is_empty(), "{call}");

            // The client runs the tool and sends its result back, the assistant turn verbatim.
            let r = messages(
                &app,
                json!({"model": model, "max_tokens": 256, "stream": stream, "tools": anthropic_weather_tool(),
                    "messages": [
                        {"role": "user", "content": "Weather in Paris?"},
                        {"role": "assistant", "content": content},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "{\"temp\":18}"}]}
                    ]}),
            )
            .await;
            let (content, stop) = message_content(&r, stream);
            let text = text_of_blocks(&content);
            assert!(
                text.starts_with("The tool returned:") && text.contains("18"),
                "{model} stream={stream}: {text}"
            );
            assert_eq!(stop, "end_turn");
        }
    }
}

#[tokio::test]
async fn messages_thinking_and_its_signature_round_trip() {
    let app = spawn_app().await;
    let question = "Why is the sky blue? #think";
    for stream in [false, true] {
        app.upstream.clear();
        let r = messages(
            &app,
            json!({"model": "fake/claude", "max_tokens": 2048, "stream": stream,
                "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": user(question)}),
        )
        .await;
        let (content, _) = message_content(&r, stream);
        let sent = app
            .upstream
            .requests()
            .pop()
            .map(|r| r.body)
            .unwrap_or_default();
        assert_eq!(sent["thinking"]["type"], "enabled", "{sent}");
        assert_eq!(sent["thinking"]["budget_tokens"], 1024, "{sent}");
        assert_eq!(content.len(), 2, "stream={stream}: {content:?}");
        assert_eq!(content[0]["type"], "thinking", "stream={stream}");
        assert_eq!(content[0]["thinking"], "Let me think.");
        assert_eq!(
            content[0]["signature"], "sig-fake==",
            "stream={stream}: the signature comes back: {}",
            r.text
        );
        assert_eq!(content[1]["type"], "text");
        assert_eq!(content[1]["text"], format!("Echo: {question}"));

        // The next turn carries the assistant turn back verbatim: the provider must get the
        // very same signed thinking block.
        let r = messages(
            &app,
            json!({"model": "fake/claude", "max_tokens": 2048, "stream": stream,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": content},
                {"role": "user", "content": "And at night?"}
            ]}),
        )
        .await;
        let (content, _) = message_content(&r, stream);
        assert_eq!(text_of_blocks(&content), "Echo: And at night?");
        let sent = app
            .upstream
            .requests()
            .pop()
            .map(|r| r.body)
            .unwrap_or_default();
        let assistant = &sent["messages"][1];
        assert_eq!(assistant["role"], "assistant", "{sent}");
        let block = &assistant["content"][0];
        assert_eq!(block["type"], "thinking", "stream={stream}: {sent}");
        assert_eq!(block["thinking"], "Let me think.", "{sent}");
        assert_eq!(block["signature"], "sig-fake==", "stream={stream}: {sent}");
    }
}

#[tokio::test]
async fn messages_errors_in_anthropics_envelope() {
    let app = spawn_app().await;
    let ok = json!({"model": "fake/gpt", "max_tokens": 64, "messages": user("hi")});

    let r = app
        .post_raw(
            MESSAGES,
            &[("anthropic-version", "2023-06-01")],
            ok.to_string().into_bytes(),
        )
        .await;
    anthropic_error(&r, 401, "authentication_error");
    let r = anthropic(&app, MESSAGES, "sk-sy-v1-wrong", &ok).await;
    anthropic_error(&r, 401, "authentication_error");
    let r = openai(&app, MESSAGES, "sk-sy-v1-wrong", &ok).await;
    anthropic_error(&r, 401, "authentication_error");
    let r = anthropic(&app, MESSAGES, MANAGEMENT_KEY, &ok).await;
    anthropic_error(&r, 403, "permission_error");

    let r = app
        .post_raw(
            MESSAGES,
            &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
            b"{\"model\": \"fake/gpt\", ".to_vec(),
        )
        .await;
    anthropic_error(&r, 400, "invalid_request_error");
    let r = messages(&app, json!({"model": "fake/gpt", "max_tokens": 64})).await;
    let m = anthropic_error(&r, 400, "invalid_request_error");
    assert!(m.contains("messages"), "the message names the field: {m}");
    let r = messages(
        &app,
        json!({"model": "fake/gpt", "max_tokens": "lots", "messages": user("hi")}),
    )
    .await;
    let m = anthropic_error(&r, 400, "invalid_request_error");
    assert!(m.contains("max_tokens"), "the message names the field: {m}");

    let r = messages(
        &app,
        json!({"model": "nobody/nothing", "max_tokens": 64, "messages": user("hi")}),
    )
    .await;
    anthropic_error(&r, 404, "not_found_error");

    assert!(
        app.upstream.requests().is_empty(),
        "nothing reached a provider"
    );

    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let r = messages(
                &app,
                json!({"model": model, "max_tokens": 64, "stream": stream, "messages": user("hi #fail:503")}),
            )
            .await;
            anthropic_error(&r, 502, "api_error");
            assert!(
                r.generation_id().is_none(),
                "{model} stream={stream}: nothing was generated"
            );
        }
    }

    let (poor, _) = app.prepaid("poor", "0.0001", json!({"name": "k"})).await;
    app.upstream.clear();
    let r = anthropic(
        &app,
        MESSAGES,
        &poor,
        &json!({"model": "fake/gpt", "max_tokens": 5000, "messages": user("hi")}),
    )
    .await;
    anthropic_error(&r, 402, "billing_error");
    assert!(app.upstream.requests().is_empty());
}

/// A block missing its required field is refused, as Anthropic refuses it, rather than sent on
/// as an empty message and billed.
#[tokio::test]
async fn messages_malformed_block_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let r = messages(
        &app,
        json!({"model": "fake/gpt", "max_tokens": 64, "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
    )
    .await;
    let m = anthropic_error(&r, 400, "invalid_request_error");
    assert!(m.contains("text"), "a malformed block is named: {m}");
    assert!(
        app.upstream.requests().is_empty(),
        "nothing reached a provider"
    );
}

#[tokio::test]
async fn messages_fall_back_and_continue_a_cut_stream() {
    let app = spawn_app().await;
    for stream in [false, true] {
        let r = messages(
            &app,
            json!({"model": "fake/fallback", "max_tokens": 64, "stream": stream, "messages": user("hi")}),
        )
        .await;
        let (content, _) = message_content(&r, stream);
        assert_eq!(text_of_blocks(&content), "Echo: hi", "stream={stream}");
        if !stream {
            let v = r.json();
            assert_eq!(v["provider"], "Fake Anthropic");
            let u = &v["usage"];
            assert_eq!(
                money_of(&u["cost"]),
                cost(
                    "fake/fallback",
                    n(&u["input_tokens"]),
                    n(&u["output_tokens"])
                ),
                "billed at the endpoint that answered"
            );
        }
    }

    // The first endpoint drops the connection after a few tokens: the next one continues the
    // same message, which ends normally.
    app.upstream.clear();
    let text = "one two three four five six seven eight";
    let r = messages(
        &app,
        json!({"model": "route/multi", "max_tokens": 256, "stream": true,
            "provider": {"order": ["fake-openai", "fake-openai-2"]},
            "messages": user(&format!("{text} #cut@m-a:4"))}),
    )
    .await;
    let s = message_stream(&r);
    assert_eq!(app.upstream_models(), vec!["m-a", "m-b"]);
    assert!(s.text().starts_with("Echo: one two "), "{}", s.text());
    assert_eq!(s.stop_reason, "end_turn");
    assert!(money_of(&s.usage["cost"]) > Money::ZERO, "{}", s.usage);
    let id = r.generation_id().unwrap_or_default();
    let (status, g) = app.generation(KEY, &id).await;
    assert_eq!(status, 200, "{g}");
    assert_eq!(
        money_of(&g["data"]["total_cost"]),
        money_of(&s.usage["cost"])
    );
}

#[tokio::test]
async fn messages_honour_provider_preferences_and_fallback_models() {
    let app = spawn_app().await;
    for (prefs, provider, upstream) in [
        (
            json!({"order": ["fake-anthropic", "fake-openai"]}),
            "Fake Anthropic",
            "m-c",
        ),
        (json!({"only": ["fake-openai-2"]}), "Fake OpenAI Two", "m-b"),
        (
            json!({"order": ["fake-openai-2"], "allow_fallbacks": false}),
            "Fake OpenAI Two",
            "m-b",
        ),
    ] {
        for stream in [false, true] {
            app.upstream.clear();
            let r = messages(
                &app,
                json!({"model": "route/multi", "max_tokens": 64, "stream": stream,
                    "provider": prefs, "messages": user("hi")}),
            )
            .await;
            let (content, _) = message_content(&r, stream);
            assert_eq!(text_of_blocks(&content), "Echo: hi");
            assert_eq!(
                app.upstream_models(),
                vec![upstream],
                "{prefs} stream={stream}"
            );
            if !stream {
                assert_eq!(r.json()["provider"], provider, "{prefs}");
            }
        }
    }
    let r = messages(
        &app,
        json!({"model": "route/multi", "max_tokens": 64, "provider": {"only": ["nobody"]}, "messages": user("hi")}),
    )
    .await;
    anthropic_error(&r, 404, "not_found_error");

    // `models`: the first model's provider fails, the next model answers.
    let r = messages(
        &app,
        json!({"model": "fake/gpt", "models": ["fake/gemini"], "max_tokens": 64,
            "messages": user("hi #fail@gpt-fake:503")}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["model"], "fake/gemini", "{v}");
    assert_eq!(v["provider"], "Fake Gemini");
}

#[tokio::test]
async fn messages_under_both_prefixes_with_either_credential_header() {
    let app = spawn_app().await;
    for prefix in ["/api/v1", "/v1"] {
        let path = format!("{prefix}/messages");
        let body = json!({"model": "fake/claude", "max_tokens": 64, "messages": user("hello")});
        for r in [
            anthropic(&app, &path, KEY, &body).await,
            openai(&app, &path, KEY, &body).await,
        ] {
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            assert_eq!(r.json()["content"][0]["text"], "Echo: hello", "{path}");
        }
        let r = anthropic(&app, &path, KEY, &streamed(body)).await;
        assert_eq!(message_stream(&r).text(), "Echo: hello", "{path}");
    }
}

/// What an answer reported it cost is its generation record's `total_cost`, what the key was
/// charged, and the price of the record's tokens. Returns the record.
async fn bills_agree(
    app: &TestApp,
    key: &str,
    before: Money,
    raw: &Raw,
    reported: &Value,
    model: &str,
) -> Value {
    let reported = money_of(reported);
    assert!(reported > Money::ZERO, "{model}: {}", raw.text);
    let id = raw
        .generation_id()
        .unwrap_or_else(|| panic!("{model}: an x-generation-id"));
    let (status, g) = app.generation(key, &id).await;
    assert_eq!(status, 200, "{model}: {g}");
    let d = g["data"].clone();
    assert_eq!(money_of(&d["total_cost"]), reported, "{model}: {g}");
    assert_eq!(d["model"], model, "{g}");
    assert_eq!(
        reported,
        cost(model, n(&d["tokens_prompt"]), n(&d["tokens_completion"])),
        "{model}: {g}"
    );
    let after = app.key_usage(key).await;
    assert_eq!(
        after.saturating_sub(before),
        reported,
        "{model}: the key was charged what the answer said"
    );
    d
}

#[tokio::test]
async fn messages_cost_agrees_with_the_record_and_the_key() {
    let app = spawn_app().await;
    let (key, _) = app
        .prepaid("anthropic-billing", "1", json!({"name": "k"}))
        .await;
    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let before = app.key_usage(&key).await;
            let r = anthropic(
                &app,
                MESSAGES,
                &key,
                &json!({"model": model, "max_tokens": 256, "stream": stream, "messages": user("hello billing")}),
            )
            .await;
            let (usage, input, output) = if stream {
                let s = message_stream(&r);
                (
                    s.usage.clone(),
                    s.input_tokens,
                    n(&s.usage["output_tokens"]),
                )
            } else {
                assert_eq!(r.status, 200, "{}", r.text);
                let u = r.json()["usage"].clone();
                let (i, o) = (n(&u["input_tokens"]), n(&u["output_tokens"]));
                (u, i, o)
            };
            let d = bills_agree(&app, &key, before, &r, &usage["cost"], model).await;
            assert_eq!(n(&d["tokens_prompt"]), input, "{model} stream={stream}");
            assert_eq!(
                n(&d["tokens_completion"]),
                output,
                "{model} stream={stream}"
            );
            assert_eq!(d["streamed"], stream, "{model}");
        }
    }
}

#[tokio::test]
async fn count_tokens_grows_with_the_input_and_is_not_billed() {
    let app = spawn_app().await;
    let (key, _) = app.prepaid("counter", "1", json!({"name": "k"})).await;
    let before = app.key_usage(&key).await;
    for (model, _) in FAMILIES {
        let mut counts = vec![];
        for (path, body) in [
            (
                COUNT_TOKENS,
                json!({"model": model, "messages": user("hi")}),
            ),
            (
                "/v1/messages/count_tokens",
                json!({"model": model, "messages": user(&"many more words here ".repeat(50))}),
            ),
            (
                COUNT_TOKENS,
                json!({"model": model, "system": "You are a careful assistant. ".repeat(50),
                    "messages": user(&"many more words here ".repeat(50))}),
            ),
        ] {
            let r = anthropic(&app, path, &key, &body).await;
            assert_eq!(r.status, 200, "{model} {path}: {}", r.text);
            let v = r.json();
            let tokens = v["input_tokens"]
                .as_u64()
                .unwrap_or_else(|| panic!("{model}: input_tokens: {v}"));
            assert!(tokens > 0, "{v}");
            if let Some(id) = r.generation_id() {
                assert_eq!(app.generation(&key, &id).await.0, 404, "no generation");
            }
            counts.push(tokens);
        }
        assert!(
            counts[0] < counts[1] && counts[1] < counts[2],
            "{model}: the count grows with the input: {counts:?}"
        );
    }
    assert_eq!(app.key_usage(&key).await, before, "counting costs nothing");
    let account = app
        .store
        .account("counter")
        .await
        .expect("read")
        .expect("exists");
    let ledger = app.store.ledger(&account.id).await.expect("ledger");
    assert!(
        ledger.iter().all(|e| e.kind != "charge"),
        "no charge: {ledger:?}"
    );

    let r = app
        .post_raw(
            COUNT_TOKENS,
            &[("anthropic-version", "2023-06-01")],
            json!({"model": "fake/claude", "messages": user("hi")})
                .to_string()
                .into_bytes(),
        )
        .await;
    anthropic_error(&r, 401, "authentication_error");
}

// ---------- OpenAI Responses: the stream grammar ----------

/// The text of a Response's message items.
fn output_text(resp: &Value) -> String {
    resp["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["type"] == "output_text")
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect()
}

fn items_of(resp: &Value, kind: &str) -> Vec<Value> {
    resp["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == kind)
        .cloned()
        .collect()
}

/// A streamed Response, checked the way the OpenAI SDK's accumulator reads it: created first,
/// increasing sequence numbers, every delta aimed at an item (and content part) announced
/// before it, completed last. `snapshot` is what the accumulator built from the deltas.
struct ResponseStream {
    completed: Value,
    snapshot: Value,
    types: Vec<String>,
}

fn response_stream(raw: &Raw) -> ResponseStream {
    assert_eq!(raw.status, 200, "{}", raw.text);
    let mut events = raw.events();
    // OpenAI's stream has no `[DONE]`; the SDK tolerates one at the very end.
    if events.last().is_some_and(|e| e.data == json!("[DONE]")) {
        events.pop();
    }
    let mut last_seq: Option<u64> = None;
    let mut types = vec![];
    let mut snapshot = Value::Null;
    let mut completed = Value::Null;
    for e in &events {
        let d = &e.data;
        let t = d["type"].as_str().unwrap_or_default().to_string();
        assert!(!t.is_empty(), "every event has a type: {d}");
        if let Some(name) = &e.event {
            assert_eq!(name, &t, "the event name is its type");
        }
        let seq = d["sequence_number"]
            .as_u64()
            .unwrap_or_else(|| panic!("a sequence_number: {d}"));
        assert!(
            last_seq.is_none_or(|l| seq > l),
            "sequence numbers increase: {}",
            raw.text
        );
        last_seq = Some(seq);
        assert!(
            !matches!(
                t.as_str(),
                "error" | "response.failed" | "response.incomplete"
            ),
            "{}",
            raw.text
        );
        if types.is_empty() {
            assert_eq!(t, "response.created", "created comes first: {}", raw.text);
        }
        assert!(completed.is_null(), "nothing after completed: {}", raw.text);
        let out = d["output_index"].as_u64().unwrap_or(0) as usize;
        match t.as_str() {
            "response.created" => {
                assert!(snapshot.is_null(), "one created");
                snapshot = d["response"].clone();
                assert_eq!(snapshot["object"], "response", "{d}");
                assert_eq!(snapshot["status"], "in_progress", "{d}");
                snapshot["output"] = json!([]);
            }
            "response.output_item.added" => {
                let items = snapshot["output"].as_array_mut().expect("output");
                assert_eq!(items.len(), out, "items are added in order: {d}");
                items.push(d["item"].clone());
            }
            "response.content_part.added" => {
                let item = &mut snapshot["output"][out];
                assert_eq!(item["type"], "message", "{d}");
                assert_eq!(item["id"], d["item_id"], "{d}");
                if !item["content"].is_array() {
                    item["content"] = json!([]);
                }
                let parts = item["content"].as_array_mut().expect("content");
                assert_eq!(parts.len() as u64, n(&d["content_index"]), "{d}");
                parts.push(d["part"].clone());
            }
            "response.output_text.delta" => {
                let item = &mut snapshot["output"][out];
                assert_eq!(
                    item["id"], d["item_id"],
                    "a delta for an announced item: {d}"
                );
                let part = &mut item["content"][n(&d["content_index"]) as usize];
                assert_eq!(
                    part["type"], "output_text",
                    "a delta for an announced part: {d}"
                );
                append(part, "text", &d["delta"]);
            }
            "response.function_call_arguments.delta" => {
                let item = &mut snapshot["output"][out];
                assert_eq!(item["type"], "function_call", "{d}");
                assert_eq!(item["id"], d["item_id"], "{d}");
                append(item, "arguments", &d["delta"]);
            }
            "response.output_text.done" => {
                let part = &snapshot["output"][out]["content"][n(&d["content_index"]) as usize];
                assert_eq!(part["text"], d["text"], "done repeats the deltas: {d}");
            }
            "response.function_call_arguments.done" => {
                assert_eq!(
                    snapshot["output"][out]["arguments"], d["arguments"],
                    "done repeats the deltas: {d}"
                );
            }
            "response.completed" => {
                completed = d["response"].clone();
                assert_eq!(completed["status"], "completed", "{d}");
                assert_eq!(completed["id"], snapshot["id"], "one response id");
            }
            _ => {}
        }
        types.push(t);
    }
    assert!(
        !completed.is_null(),
        "the stream ends with response.completed: {}",
        raw.text
    );
    ResponseStream {
        completed,
        snapshot,
        types,
    }
}

/// The finished Response of an answer, streamed or not.
fn response_of(raw: &Raw, stream: bool) -> Value {
    if stream {
        return response_stream(raw).completed;
    }
    assert_eq!(raw.status, 200, "{}", raw.text);
    raw.json()
}

/// An error in OpenAI's envelope (`error.message`), with this status; returns the message.
fn openai_error(raw: &Raw, status: u16) -> String {
    assert_eq!(raw.status, status, "{}", raw.text);
    let v = raw.json();
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{v}");
    message.to_string()
}

fn responses_weather_tool() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

// ---------- OpenAI Responses ----------

#[tokio::test]
async fn responses_answer_on_every_family() {
    let app = spawn_app().await;
    for (model, _) in FAMILIES {
        let r = responses(&app, json!({"model": model, "input": "hello there"})).await;
        assert_eq!(r.status, 200, "{model}: {}", r.text);
        let v = r.json();
        assert_eq!(v["object"], "response", "{v}");
        assert_eq!(v["status"], "completed", "{v}");
        assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
        assert_eq!(v["model"], model);
        let msgs = items_of(&v, "message");
        assert_eq!(msgs.len(), 1, "{v}");
        assert_eq!(msgs[0]["role"], "assistant");
        assert!(msgs[0]["id"].is_string(), "{v}");
        assert_eq!(output_text(&v), "Echo: hello there", "{model}");
        let u = &v["usage"];
        let (input, output) = (n(&u["input_tokens"]), n(&u["output_tokens"]));
        assert!(input > 0 && output > 0, "{model}: {u}");
        assert_eq!(n(&u["total_tokens"]), input + output, "{u}");
        assert_eq!(
            money_of(&u["cost"]),
            cost(model, input, output),
            "{model}: {u}"
        );
        assert!(r.generation_id().is_some(), "{model}");

        // `input` as items: a typed message item, and the short form.
        let r = responses(
            &app,
            json!({"model": model, "input": [{"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "hello items"}]}]}),
        )
        .await;
        assert_eq!(r.status, 200, "{model}: {}", r.text);
        assert_eq!(output_text(&r.json()), "Echo: hello items", "{model}");
        let r = responses(
            &app,
            json!({"model": model, "input": [{"role": "user", "content": "hello short"}]}),
        )
        .await;
        assert_eq!(r.status, 200, "{model}: {}", r.text);
        assert_eq!(output_text(&r.json()), "Echo: hello short", "{model}");
    }
}

#[tokio::test]
async fn responses_stream_is_well_formed_on_every_family() {
    let app = spawn_app().await;
    for (model, _) in FAMILIES {
        let r = responses(
            &app,
            json!({"model": model, "input": "hello streaming world", "stream": true}),
        )
        .await;
        let s = response_stream(&r);
        assert_eq!(
            output_text(&s.snapshot),
            "Echo: hello streaming world",
            "{model}"
        );
        assert_eq!(
            output_text(&s.completed),
            "Echo: hello streaming world",
            "{model}"
        );
        assert!(
            s.types.iter().any(|t| t == "response.output_text.delta"),
            "{model}: {:?}",
            s.types
        );
        for t in [
            "response.output_item.done",
            "response.output_text.done",
            "response.content_part.done",
        ] {
            assert!(
                s.types.iter().any(|x| x == t),
                "{model}: no {t}: {:?}",
                s.types
            );
        }
        assert_eq!(s.completed["model"], model);
        let u = &s.completed["usage"];
        let (input, output) = (n(&u["input_tokens"]), n(&u["output_tokens"]));
        assert!(input > 0 && output > 0, "{model}: {u}");
        assert_eq!(
            money_of(&u["cost"]),
            cost(model, input, output),
            "{model}: {u}"
        );
        assert!(r.generation_id().is_some(), "{model}");
    }
}

#[tokio::test]
async fn responses_tool_round_trip_on_every_family() {
    let app = spawn_app().await;
    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let r = responses(
                &app,
                json!({"model": model, "input": "Weather in Paris?", "tools": responses_weather_tool(), "stream": stream}),
            )
            .await;
            let resp = if stream {
                let s = response_stream(&r);
                let calls = items_of(&s.snapshot, "function_call");
                assert_eq!(calls.len(), 1, "{model}: {}", r.text);
                let args: Value =
                    serde_json::from_str(calls[0]["arguments"].as_str().unwrap_or_default())
                        .unwrap_or_else(|e| {
                            panic!(
                                "{model}: streamed arguments assemble to JSON ({e}): {}",
                                r.text
                            )
                        });
                assert_eq!(args, json!({"city": "Paris"}), "{model}");
                assert!(
                    s.types
                        .iter()
                        .any(|t| t == "response.function_call_arguments.delta"),
                    "{model}: {:?}",
                    s.types
                );
                s.completed
            } else {
                response_of(&r, false)
            };
            let calls = items_of(&resp, "function_call");
            assert_eq!(calls.len(), 1, "{model} stream={stream}: {resp}");
            let call = calls[0].clone();
            assert_eq!(call["name"], "get_weather");
            let call_id = call["call_id"].as_str().unwrap_or_default().to_string();
            assert!(!call_id.is_empty(), "{call}");
            let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap_or_default())
                .unwrap_or(Value::Null);
            assert_eq!(args, json!({"city": "Paris"}), "{model} stream={stream}");

            let r = responses(
                &app,
                json!({"model": model, "tools": responses_weather_tool(), "stream": stream, "input": [
                    {"role": "user", "content": "Weather in Paris?"},
                    call,
                    {"type": "function_call_output", "call_id": call_id, "output": "{\"temp\":18}"}
                ]}),
            )
            .await;
            let text = output_text(&response_of(&r, stream));
            assert!(
                text.starts_with("The tool returned:") && text.contains("18"),
                "{model} stream={stream}: {text}"
            );
        }
    }
}

#[tokio::test]
async fn responses_structured_output_on_every_family() {
    let app = spawn_app().await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"], "additionalProperties": false});
    for (model, _) in FAMILIES {
        let r = responses(
            &app,
            json!({"model": model, "input": "Biggest city in France?",
                "text": {"format": {"type": "json_schema", "name": "city", "strict": true, "schema": schema}}}),
        )
        .await;
        assert_eq!(r.status, 200, "{model}: {}", r.text);
        let v = r.json();
        let parsed: Value = serde_json::from_str(&output_text(&v)).unwrap_or(Value::Null);
        assert_eq!(
            parsed,
            json!({"city": "Paris", "population": 42}),
            "{model}: {v}"
        );
        assert!(items_of(&v, "function_call").is_empty(), "{model}: {v}");
    }
}

#[tokio::test]
async fn responses_reasoning_items_carry_the_signature_back() {
    let app = spawn_app().await;
    let question = "Why is the sky blue? #think";
    for stream in [false, true] {
        app.upstream.clear();
        let r = responses(
            &app,
            json!({"model": "fake/claude", "input": question, "reasoning": {"effort": "high"},
                "max_output_tokens": 3000, "stream": stream}),
        )
        .await;
        let resp = response_of(&r, stream);
        let sent = app
            .upstream
            .requests()
            .pop()
            .map(|r| r.body)
            .unwrap_or_default();
        assert_eq!(sent["thinking"]["type"], "enabled", "{sent}");
        let reasoning = items_of(&resp, "reasoning");
        assert_eq!(reasoning.len(), 1, "stream={stream}: {resp}");
        assert!(reasoning[0].to_string().contains("Let me think."), "{resp}");
        assert_eq!(output_text(&resp), format!("Echo: {question}"));

        // Stateless multi-turn: the client sends the output items back as input.
        let mut input = vec![json!({"role": "user", "content": question})];
        input.extend(resp["output"].as_array().cloned().unwrap_or_default());
        input.push(json!({"role": "user", "content": "And at night?"}));
        let r = responses(
            &app,
            json!({"model": "fake/claude", "input": input, "reasoning": {"effort": "high"},
                "max_output_tokens": 3000, "stream": stream}),
        )
        .await;
        assert_eq!(output_text(&response_of(&r, stream)), "Echo: And at night?");
        let sent = app
            .upstream
            .requests()
            .pop()
            .map(|r| r.body)
            .unwrap_or_default();
        let assistant = &sent["messages"][1];
        assert_eq!(assistant["role"], "assistant", "{sent}");
        let block = &assistant["content"][0];
        assert_eq!(block["type"], "thinking", "stream={stream}: {sent}");
        assert_eq!(block["thinking"], "Let me think.", "{sent}");
        assert_eq!(block["signature"], "sig-fake==", "stream={stream}: {sent}");
    }
}

#[tokio::test]
async fn responses_instructions_and_limits_reach_the_upstream() {
    let app = spawn_app().await;
    let r = responses(
        &app,
        json!({"model": "fake/gpt", "instructions": "Be brief.", "input": "hi",
            "max_output_tokens": 64, "temperature": 0.3}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = app
        .upstream
        .requests()
        .pop()
        .map(|r| r.body)
        .unwrap_or_default();
    let first = &sent["messages"][0];
    assert!(
        first["role"] == "system" || first["role"] == "developer",
        "{sent}"
    );
    assert!(first.to_string().contains("Be brief."), "{sent}");
    assert_eq!(sent["messages"].as_array().map(Vec::len), Some(2), "{sent}");
    assert!(
        sent["max_tokens"] == 64 || sent["max_completion_tokens"] == 64,
        "{sent}"
    );
    assert_eq!(sent["temperature"], 0.3);
}

#[tokio::test]
async fn responses_errors_in_openais_envelope() {
    let app = spawn_app().await;
    let ok = json!({"model": "fake/gpt", "input": "hi"});
    let r = app
        .post_raw(RESPONSES, &[], ok.to_string().into_bytes())
        .await;
    openai_error(&r, 401);
    let r = openai(&app, RESPONSES, "sk-sy-v1-wrong", &ok).await;
    openai_error(&r, 401);
    let r = app
        .post_raw(
            RESPONSES,
            &[("authorization", &format!("Bearer {KEY}"))],
            b"{\"input\": ".to_vec(),
        )
        .await;
    openai_error(&r, 400);
    let r = responses(&app, json!({"model": "fake/gpt", "input": 42})).await;
    let m = openai_error(&r, 400);
    assert!(m.contains("input"), "the message names the field: {m}");
    let r = responses(
        &app,
        json!({"model": "fake/gpt", "input": "hi", "previous_response_id": "resp_123"}),
    )
    .await;
    let m = openai_error(&r, 400);
    assert!(
        m.contains("previous_response_id"),
        "stateless: the message says what is not supported: {m}"
    );
    let r = responses(&app, json!({"model": "nobody/nothing", "input": "hi"})).await;
    openai_error(&r, 404);
    assert!(
        app.upstream.requests().is_empty(),
        "nothing reached a provider"
    );

    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let r = responses(
                &app,
                json!({"model": model, "input": "hi #fail:503", "stream": stream}),
            )
            .await;
            openai_error(&r, 502);
            assert!(r.generation_id().is_none(), "{model} stream={stream}");
        }
    }

    let (poor, _) = app.prepaid("poor", "0.0001", json!({"name": "k"})).await;
    let r = openai(
        &app,
        RESPONSES,
        &poor,
        &json!({"model": "fake/gpt", "input": "hi", "max_output_tokens": 5000}),
    )
    .await;
    openai_error(&r, 402);
}

#[tokio::test]
async fn responses_fall_back_honour_preferences_and_continue_a_cut_stream() {
    let app = spawn_app().await;
    for stream in [false, true] {
        let r = responses(
            &app,
            json!({"model": "fake/fallback", "input": "hi", "stream": stream}),
        )
        .await;
        assert_eq!(
            output_text(&response_of(&r, stream)),
            "Echo: hi",
            "stream={stream}"
        );
        let (s, g) = app
            .generation(KEY, &r.generation_id().unwrap_or_default())
            .await;
        assert_eq!(s, 200, "{g}");
        assert_eq!(g["data"]["provider_name"], "Fake Anthropic");
    }
    for (prefs, upstream) in [
        (json!({"order": ["fake-anthropic", "fake-openai"]}), "m-c"),
        (json!({"only": ["fake-openai-2"]}), "m-b"),
    ] {
        for stream in [false, true] {
            app.upstream.clear();
            let r = responses(
                &app,
                json!({"model": "route/multi", "input": "hi", "provider": prefs, "stream": stream}),
            )
            .await;
            assert_eq!(output_text(&response_of(&r, stream)), "Echo: hi");
            assert_eq!(
                app.upstream_models(),
                vec![upstream],
                "{prefs} stream={stream}"
            );
        }
    }
    let r = responses(
        &app,
        json!({"model": "route/multi", "input": "hi", "provider": {"only": ["nobody"]}}),
    )
    .await;
    openai_error(&r, 404);

    app.upstream.clear();
    let r = responses(
        &app,
        json!({"model": "route/multi", "stream": true, "provider": {"order": ["fake-openai", "fake-openai-2"]},
            "input": "one two three four five six seven eight #cut@m-a:4"}),
    )
    .await;
    let s = response_stream(&r);
    assert_eq!(app.upstream_models(), vec!["m-a", "m-b"]);
    let text = output_text(&s.completed);
    assert!(text.starts_with("Echo: one two "), "{text}");
    assert_eq!(
        output_text(&s.snapshot),
        text,
        "the deltas say what completed says"
    );
}

#[tokio::test]
async fn responses_cost_agrees_with_the_record_and_the_key() {
    let app = spawn_app().await;
    let (key, _) = app
        .prepaid("responses-billing", "1", json!({"name": "k"}))
        .await;
    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let before = app.key_usage(&key).await;
            let r = openai(
                &app,
                RESPONSES,
                &key,
                &json!({"model": model, "input": "hello billing", "max_output_tokens": 256, "stream": stream}),
            )
            .await;
            let u = response_of(&r, stream)["usage"].clone();
            let d = bills_agree(&app, &key, before, &r, &u["cost"], model).await;
            assert_eq!(
                d["tokens_prompt"], u["input_tokens"],
                "{model} stream={stream}"
            );
            assert_eq!(
                d["tokens_completion"], u["output_tokens"],
                "{model} stream={stream}"
            );
            assert_eq!(d["streamed"], stream, "{model}");
        }
    }
}

// ---------- legacy completions ----------

/// A streamed completion: `text_completion` chunks then `[DONE]`; the text and the final usage.
fn completion_stream(raw: &Raw) -> (String, Value) {
    assert_eq!(raw.status, 200, "{}", raw.text);
    let events = raw.events();
    let k = events.len();
    assert!(k >= 2, "{}", raw.text);
    assert_eq!(events[k - 1].data, json!("[DONE]"), "{}", raw.text);
    let chunks: Vec<&Value> = events[..k - 1].iter().map(|e| &e.data).collect();
    let id = chunks[0]["id"].clone();
    for c in &chunks {
        assert!(c.get("error").is_none(), "{}", raw.text);
        assert_eq!(c["object"], "text_completion", "{c}");
        assert_eq!(c["id"], id, "one id per stream");
    }
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    let finishes: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, vec!["stop"], "{}", raw.text);
    let usage = chunks
        .iter()
        .rev()
        .find(|c| c["usage"].is_object())
        .map(|c| c["usage"].clone())
        .unwrap_or_else(|| panic!("a chunk with the usage: {}", raw.text));
    (text, usage)
}

#[tokio::test]
async fn completions_answer_and_stream_on_every_family() {
    let app = spawn_app().await;
    for (model, _) in FAMILIES {
        let r = completions(
            &app,
            json!({"model": model, "prompt": "Say hello", "max_tokens": 64}),
        )
        .await;
        assert_eq!(r.status, 200, "{model}: {}", r.text);
        let v = r.json();
        assert_eq!(v["object"], "text_completion", "{v}");
        assert_eq!(v["model"], model);
        assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
        assert_eq!(v["choices"][0]["text"], "Echo: Say hello", "{model}: {v}");
        assert_eq!(v["choices"][0]["index"], 0);
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        let u = &v["usage"];
        let (p, c) = (n(&u["prompt_tokens"]), n(&u["completion_tokens"]));
        assert!(p > 0 && c > 0, "{u}");
        assert_eq!(n(&u["total_tokens"]), p + c);
        assert_eq!(money_of(&u["cost"]), cost(model, p, c), "{model}: {u}");

        let r = completions(
            &app,
            json!({"model": model, "prompt": "Say hello again", "stream": true}),
        )
        .await;
        let (text, u) = completion_stream(&r);
        assert_eq!(text, "Echo: Say hello again", "{model}");
        let (p, c) = (n(&u["prompt_tokens"]), n(&u["completion_tokens"]));
        assert_eq!(money_of(&u["cost"]), cost(model, p, c), "{model}: {u}");
        assert!(r.generation_id().is_some());
    }
}

#[tokio::test]
async fn completions_errors_and_fallback() {
    let app = spawn_app().await;
    let ok = json!({"model": "fake/gpt", "prompt": "hi"});
    let r = app
        .post_raw(COMPLETIONS, &[], ok.to_string().into_bytes())
        .await;
    openai_error(&r, 401);
    let r = openai(&app, COMPLETIONS, "sk-sy-v1-wrong", &ok).await;
    openai_error(&r, 401);
    let r = app
        .post_raw(
            COMPLETIONS,
            &[("authorization", &format!("Bearer {KEY}"))],
            b"{\"prompt\"".to_vec(),
        )
        .await;
    openai_error(&r, 400);
    let r = completions(&app, json!({"model": "fake/gpt"})).await;
    let m = openai_error(&r, 400);
    assert!(m.contains("prompt"), "the message names the field: {m}");
    let r = completions(&app, json!({"model": "nobody/nothing", "prompt": "hi"})).await;
    openai_error(&r, 404);
    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let r = completions(
                &app,
                json!({"model": model, "prompt": "hi #fail:503", "stream": stream}),
            )
            .await;
            openai_error(&r, 502);
        }
    }
    let (poor, _) = app.prepaid("poor", "0.0001", json!({"name": "k"})).await;
    let r = openai(
        &app,
        COMPLETIONS,
        &poor,
        &json!({"model": "fake/gpt", "prompt": "hi", "max_tokens": 5000}),
    )
    .await;
    openai_error(&r, 402);

    let r = completions(&app, json!({"model": "fake/fallback", "prompt": "hi"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["choices"][0]["text"], "Echo: hi");
    let r = completions(
        &app,
        json!({"model": "route/multi", "prompt": "hi", "provider": {"only": ["fake-openai-2"]}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.upstream_models().last().map(String::as_str),
        Some("m-b")
    );
}

#[tokio::test]
async fn completions_cost_agrees_with_the_record_and_the_key() {
    let app = spawn_app().await;
    let (key, _) = app
        .prepaid("completions-billing", "1", json!({"name": "k"}))
        .await;
    for (model, _) in FAMILIES {
        for stream in [false, true] {
            let before = app.key_usage(&key).await;
            let r = openai(
                &app,
                COMPLETIONS,
                &key,
                &json!({"model": model, "prompt": "hello billing", "max_tokens": 256, "stream": stream}),
            )
            .await;
            let u = if stream {
                completion_stream(&r).1
            } else {
                assert_eq!(r.status, 200, "{}", r.text);
                r.json()["usage"].clone()
            };
            let d = bills_agree(&app, &key, before, &r, &u["cost"], model).await;
            assert_eq!(
                d["tokens_prompt"], u["prompt_tokens"],
                "{model} stream={stream}"
            );
            assert_eq!(
                d["tokens_completion"], u["completion_tokens"],
                "{model} stream={stream}"
            );
            assert_eq!(d["streamed"], stream, "{model}");
        }
    }
}

// ---------- all three ----------

#[tokio::test]
async fn every_dialect_is_served_under_both_prefixes() {
    let app = spawn_app().await;
    for prefix in ["/api/v1", "/v1"] {
        let r = anthropic(
            &app,
            &format!("{prefix}/messages"),
            KEY,
            &json!({"model": "fake/gpt", "max_tokens": 64, "messages": user("hello")}),
        )
        .await;
        assert_eq!(r.status, 200, "{prefix}: {}", r.text);
        assert_eq!(r.json()["content"][0]["text"], "Echo: hello");
        let r = openai(
            &app,
            &format!("{prefix}/responses"),
            KEY,
            &json!({"model": "fake/gpt", "input": "hello"}),
        )
        .await;
        assert_eq!(r.status, 200, "{prefix}: {}", r.text);
        assert_eq!(output_text(&r.json()), "Echo: hello");
        let r = openai(
            &app,
            &format!("{prefix}/completions"),
            KEY,
            &json!({"model": "fake/gpt", "prompt": "hello"}),
        )
        .await;
        assert_eq!(r.status, 200, "{prefix}: {}", r.text);
        assert_eq!(r.json()["choices"][0]["text"], "Echo: hello");
        // Every inference route takes x-api-key as well as Bearer.
        let r = app
            .post_raw(
                &format!("{prefix}/responses"),
                &[("x-api-key", KEY)],
                json!({"model": "fake/gpt", "input": "hello"})
                    .to_string()
                    .into_bytes(),
            )
            .await;
        assert_eq!(r.status, 200, "{prefix}: {}", r.text);
    }
}

// ---------- failures after the first token, cache reads ----------

/// A stream that fails after its first tokens cannot change its status: it ends in the
/// dialect's own error event, after the text already sent, and never claims completion.
#[tokio::test]
async fn a_failure_after_the_first_token_ends_each_dialects_stream_in_its_error_event() {
    for (model, _) in FAMILIES {
        for script in ["#midstream-error", "#cut:5"] {
            // A fresh gateway each time: three failures in a row open an endpoint's circuit.
            let app = spawn_app().await;
            let prompt = format!("one two three four five {script}");
            let r = messages(
                &app,
                json!({"model": model, "max_tokens": 256, "stream": true, "messages": user(&prompt)}),
            )
            .await;
            assert_eq!(r.status, 200, "{model} {script}");
            let events = r.events();
            let last = events.last().cloned().unwrap_or(SseEvent {
                event: None,
                data: Value::Null,
            });
            assert_eq!(
                last.event.as_deref(),
                Some("error"),
                "{model} {script}: {}",
                r.text
            );
            assert_eq!(last.data["type"], "error", "{}", r.text);
            assert!(
                last.data["error"]["type"].is_string() && last.data["error"]["message"].is_string(),
                "{}",
                r.text
            );
            assert!(
                events.iter().all(|e| e.data["type"] != "message_stop"),
                "{model} {script}: a failed stream does not claim completion: {}",
                r.text
            );
            assert!(
                events
                    .iter()
                    .any(|e| e.data["delta"]["type"] == "text_delta"),
                "{model} {script}: the text before the failure was delivered: {}",
                r.text
            );

            let r = responses(
                &app,
                json!({"model": model, "input": prompt, "stream": true}),
            )
            .await;
            assert_eq!(r.status, 200, "{model} {script}");
            let events = r.events();
            let types: Vec<&str> = events
                .iter()
                .filter_map(|e| e.data["type"].as_str())
                .collect();
            assert!(
                matches!(types.last(), Some(&"response.failed") | Some(&"error")),
                "{model} {script}: {types:?}"
            );
            assert!(
                !types.contains(&"response.completed"),
                "{model} {script}: {types:?}"
            );
            assert!(
                types.contains(&"response.output_text.delta"),
                "{model} {script}: {types:?}"
            );

            let r = completions(
                &app,
                json!({"model": model, "prompt": prompt, "stream": true}),
            )
            .await;
            assert_eq!(r.status, 200, "{model} {script}");
            let events = r.events();
            let last = events.last().map(|e| e.data.clone()).unwrap_or_default();
            assert!(
                last["error"]["message"].is_string(),
                "{model} {script}: {}",
                r.text
            );
            assert!(
                events.iter().all(|e| e.data != json!("[DONE]")),
                "{model} {script}: a failed stream does not claim completion"
            );
        }
    }
}

/// Anthropic counts cache reads outside `input_tokens`, OpenAI inside: each dialect reports
/// them its own way, and the price (cache reads at their own price) is the record's.
#[tokio::test]
async fn cache_reads_are_reported_in_each_dialects_terms_and_priced() {
    let app = spawn_app().await;
    let m = |s: &str| Money::parse(s).unwrap_or_default();
    for stream in [false, true] {
        let r = messages(
            &app,
            json!({"model": "fake/gpt", "max_tokens": 64, "stream": stream, "messages": user("hi #cached:5")}),
        )
        .await;
        let u = if stream {
            message_stream(&r).usage
        } else {
            assert_eq!(r.status, 200, "{}", r.text);
            r.json()["usage"].clone()
        };
        let (s, g) = app
            .generation(KEY, &r.generation_id().unwrap_or_default())
            .await;
        assert_eq!(s, 200, "{g}");
        let prompt = n(&g["data"]["tokens_prompt"]);
        assert_eq!(n(&u["cache_read_input_tokens"]), 5, "stream={stream}: {u}");
        assert_eq!(
            n(&u["input_tokens"]),
            prompt - 5,
            "stream={stream}: input_tokens leaves the cache reads out: {u}"
        );
        let expected = m("0.000001").times(prompt - 5)
            + m("0.0000001").times(5)
            + m("0.000002").times(n(&u["output_tokens"]));
        assert_eq!(money_of(&u["cost"]), expected, "stream={stream}: {u}");
        assert_eq!(money_of(&g["data"]["total_cost"]), expected, "{g}");

        let r = responses(
            &app,
            json!({"model": "fake/claude", "input": "hi #cached:4", "stream": stream}),
        )
        .await;
        let u = response_of(&r, stream)["usage"].clone();
        assert_eq!(
            n(&u["input_tokens_details"]["cached_tokens"]),
            4,
            "stream={stream}: {u}"
        );
        let (s, g) = app
            .generation(KEY, &r.generation_id().unwrap_or_default())
            .await;
        assert_eq!(s, 200, "{g}");
        assert_eq!(
            u["input_tokens"], g["data"]["tokens_prompt"],
            "input_tokens includes the cache reads: {u} {g}"
        );
        assert_eq!(
            money_of(&u["cost"]),
            money_of(&g["data"]["total_cost"]),
            "{u} {g}"
        );
    }
}

/// What an agent such as Claude Code sends: system blocks with cache markers, metadata, tools
/// on every turn, tool results as block arrays, a beta header; streamed.
#[tokio::test]
async fn messages_accept_an_agents_request_on_every_family() {
    let app = spawn_app().await;
    let tools = json!([{"name": "get_weather", "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "cache_control": {"type": "ephemeral"}}]);
    for (model, _) in FAMILIES {
        let r = app
            .post_raw(
                MESSAGES,
                &[
                    ("x-api-key", KEY),
                    ("anthropic-version", "2023-06-01"),
                    ("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"),
                ],
                json!({"model": model, "max_tokens": 1024, "stream": true, "tools": tools,
                    "tool_choice": {"type": "auto"}, "temperature": 1,
                    "metadata": {"user_id": "user_abc_account_123"},
                    "system": [{"type": "text", "text": "You are an agent."},
                               {"type": "text", "text": "Be careful.", "cache_control": {"type": "ephemeral"}}],
                    "messages": [
                        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                        {"role": "assistant", "content": [
                            {"type": "text", "text": "Let me check."},
                            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
                        {"role": "user", "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_01",
                             "content": [{"type": "text", "text": "{\"temp\":18}"}],
                             "cache_control": {"type": "ephemeral"}}]}
                    ]})
                .to_string()
                .into_bytes(),
            )
            .await;
        let s = message_stream(&r);
        let text = s.text();
        assert!(
            text.starts_with("The tool returned:") && text.contains("18"),
            "{model}: {text}"
        );
        let sent = app
            .upstream
            .requests()
            .pop()
            .map(|r| r.body)
            .unwrap_or_default();
        assert!(
            !sent.to_string().contains("user_abc_account_123"),
            "{model}: end-user ids do not leave the gateway as sent: {sent}"
        );
    }
}
