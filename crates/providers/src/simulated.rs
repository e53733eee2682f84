//! An in-process provider for `switchyard serve --demo`: it answers without any account or
//! network, at a realistic pace, with usage, and fails on request, so routing, fallback and
//! billing can be tried out for real. Every answer says it is simulated.
//!
//! Put one of these in the last user message to make it misbehave:
//! `[simulate:error]` (HTTP 503), `[simulate:rate-limit]` (HTTP 429), `[simulate:cut]` (the
//! stream dies half-way; a continuation on another endpoint is not cut), `[simulate:slow]`
//! (five seconds before the first token). Embeddings are simulated too ([`embed`]), with the
//! same directives in their input.

use crate::{Completion, Embeddings, EventStream, ProviderError, StreamEvent, Target, TokenUsage};
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;
use switchyard_api::chat::{
    ChatRequest, Choice, ChunkChoice, Delta, FinishReason, FunctionCall, FunctionDelta,
    ResponseMessage, Role, ToolCall, ToolCallDelta, ToolChoice,
};
use switchyard_api::embeddings::{EmbeddingInput, EmbeddingsRequest};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationConfig {
    /// Output speed.
    #[serde(default = "default_tps")]
    pub tokens_per_second: u32,
    /// Delay before the first token.
    #[serde(default = "default_ttft")]
    pub first_token_ms: u64,
    /// Share of requests (0–100) that fail with HTTP 503 before the first token.
    #[serde(default)]
    pub failure_percent: u8,
}

fn default_tps() -> u32 {
    80
}
fn default_ttft() -> u64 {
    250
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            tokens_per_second: default_tps(),
            first_token_ms: default_ttft(),
            failure_percent: 0,
        }
    }
}

const SENTENCES: &[&str] = &[
    "Switchyard routed this request to a simulated provider, so no account was needed.",
    "Every token you see here is metered and priced exactly like a real one.",
    "Try asking for a stream to watch the tokens arrive at a realistic pace.",
    "Fallback to another provider happens before the first token, invisibly to you.",
    "The usage object at the end carries the exact cost of this answer.",
    "Add a provider key to the environment and the real models appear beside these.",
    "A gateway earns its keep when providers fail and your application does not notice.",
    "Structured output and tool calls work here too, so you can test the whole flow.",
];

/// Rough token count for simulated usage: four characters a token.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn prompt_tokens(req: &ChatRequest) -> u64 {
    let text: usize = req.messages.iter().map(|m| m.text_content().len()).sum();
    (text as u64).div_ceil(4) + 4 * req.messages.len() as u64
}

/// Whether the request scripts a fault of the simulated provider (`[simulate:…]`). Such a
/// failure is the caller's experiment, not the provider's health: it must not open the
/// circuit (three `[simulate:error]`s would otherwise shut the demo model for 30 s).
pub fn has_directive(req: &ChatRequest) -> bool {
    last_user_text(req).contains("[simulate:")
}

/// As [`has_directive`], for an embeddings request's input texts.
pub fn embeddings_directive(req: &EmbeddingsRequest) -> bool {
    req.input.joined_text().contains("[simulate:")
}

fn last_user_text(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.text_content())
        .unwrap_or_default()
}

/// A JSON value that satisfies simple JSON Schemas (objects, arrays, scalars, enums).
pub fn example_for_schema(schema: &Value) -> Value {
    if let Some(v) = schema.get("enum").and_then(|e| e.get(0)) {
        return v.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut obj = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    obj.insert(k.clone(), example_for_schema(v));
                }
            }
            Value::Object(obj)
        }
        Some("array") => json!([example_for_schema(
            schema.get("items").unwrap_or(&json!({"type":"string"}))
        )]),
        Some("integer") => json!(42),
        Some("number") => json!(4.2),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        _ => json!("Paris"),
    }
}

enum Plan {
    Text(String),
    Tool { name: String, arguments: String },
}

fn plan(req: &ChatRequest, model: &str) -> Plan {
    let wants_tool = req.tools.as_ref().is_some_and(|t| !t.is_empty())
        && req.messages.last().is_some_and(|m| m.role == Role::User)
        && !matches!(&req.tool_choice, Some(ToolChoice::Mode(m)) if m == "none");
    if wants_tool {
        let tools = req.tools.as_deref().unwrap_or_default();
        let chosen = match &req.tool_choice {
            Some(ToolChoice::Named(n)) => tools.iter().find(|t| t.function.name == n.function.name),
            _ => tools.first(),
        };
        if let Some(t) = chosen {
            let args = example_for_schema(
                t.function
                    .parameters
                    .as_ref()
                    .unwrap_or(&json!({"type":"object"})),
            );
            return Plan::Tool {
                name: t.function.name.clone(),
                arguments: args.to_string(),
            };
        }
    }
    if let Some(rf) = &req.response_format {
        let schema = rf.json_schema.as_ref().and_then(|s| s.schema.clone());
        if rf.kind == "json_schema" || rf.kind == "json_object" {
            let v = schema
                .map(|s| example_for_schema(&s))
                .unwrap_or_else(|| json!({"answer": "simulated"}));
            return Plan::Text(v.to_string());
        }
    }
    let asked = last_user_text(req);
    let seed = asked
        .bytes()
        .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
    let mut text = format!("(Simulated answer from {model}.)");
    for i in 0..4 {
        text.push(' ');
        text.push_str(SENTENCES[(seed + i) % SENTENCES.len()]);
    }
    Plan::Text(text)
}

/// Cuts a text to `max_tokens` (whole words), as a real model stops at its limit.
fn limit(text: String, max_tokens: Option<u32>) -> (String, FinishReason) {
    let Some(max) = max_tokens else {
        return (text, FinishReason::Stop);
    };
    if estimate_tokens(&text) <= u64::from(max) {
        return (text, FinishReason::Stop);
    }
    let mut out = String::new();
    for w in text.split_inclusive(' ') {
        if estimate_tokens(&(out.clone() + w)) > u64::from(max) {
            break;
        }
        out.push_str(w);
    }
    (out, FinishReason::Length)
}

fn injected_failure(req: &ChatRequest, cfg: &SimulationConfig) -> Option<ProviderError> {
    failure_in(&last_user_text(req), cfg)
}

/// The failure `text` scripts, or one drawn at the configured rate.
fn failure_in(text: &str, cfg: &SimulationConfig) -> Option<ProviderError> {
    let status = if text.contains("[simulate:error]") {
        503
    } else if text.contains("[simulate:rate-limit]") {
        429
    } else if cfg.failure_percent > 0 && rand::random::<u8>() % 100 < cfg.failure_percent {
        503
    } else {
        return None;
    };
    Some(ProviderError::Status {
        status,
        body: json!({"error": {"message": "simulated provider failure", "code": status}})
            .to_string(),
        retry_after: (status == 429).then_some(Duration::from_secs(1)),
    })
}

fn first_token_delay(req: &ChatRequest, cfg: &SimulationConfig) -> Duration {
    delay_in(&last_user_text(req), cfg)
}

fn delay_in(text: &str, cfg: &SimulationConfig) -> Duration {
    if text.contains("[simulate:slow]") {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(cfg.first_token_ms)
    }
}

fn usage(req: &ChatRequest, completion: u64) -> TokenUsage {
    TokenUsage {
        prompt: prompt_tokens(req),
        completion,
        ..Default::default()
    }
}

pub async fn complete(target: Target<'_>, req: &ChatRequest) -> Result<Completion, ProviderError> {
    if let Some(e) = injected_failure(req, target.simulation) {
        return Err(e);
    }
    let (message, finish, completion) = match plan(req, target.upstream_model) {
        Plan::Text(text) => {
            let (text, finish) = limit(text, req.max_output_tokens());
            let n = estimate_tokens(&text);
            (
                ResponseMessage {
                    role: "assistant".into(),
                    content: Some(text),
                    ..Default::default()
                },
                finish,
                n,
            )
        }
        Plan::Tool { name, arguments } => {
            let n = estimate_tokens(&arguments) + 5;
            (
                ResponseMessage {
                    role: "assistant".into(),
                    tool_calls: Some(vec![ToolCall {
                        id: "call_sim_0".into(),
                        kind: "function".into(),
                        function: FunctionCall { name, arguments },
                    }]),
                    ..Default::default()
                },
                FinishReason::ToolCalls,
                n,
            )
        }
    };
    let tps = u64::from(target.simulation.tokens_per_second.max(1));
    tokio::time::sleep(
        first_token_delay(req, target.simulation) + Duration::from_millis(completion * 1000 / tps),
    )
    .await;
    Ok(Completion {
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish),
            native_finish_reason: Some(native(finish).into()),
            logprobs: None,
        }],
        usage: usage(req, completion),
        upstream_id: None,
        system_fingerprint: None,
        native: None,
    })
}

fn native(f: FinishReason) -> &'static str {
    match f {
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::Length => "length",
        _ => "stop",
    }
}

fn ev(delta: Delta, finish: Option<FinishReason>) -> Result<StreamEvent, ProviderError> {
    Ok(StreamEvent::Choice(ChunkChoice {
        index: 0,
        delta,
        finish_reason: finish,
        native_finish_reason: finish.map(|f| native(f).into()),
        logprobs: None,
    }))
}

pub async fn stream(target: Target<'_>, req: &ChatRequest) -> Result<EventStream, ProviderError> {
    if let Some(e) = injected_failure(req, target.simulation) {
        return Err(e);
    }
    // A continuation (the gateway resuming a cut stream elsewhere ends the conversation with
    // the assistant's text so far) is not cut again, so mid-stream failover can be watched.
    let continuing = req
        .messages
        .last()
        .is_some_and(|m| m.role == Role::Assistant);
    let cut = last_user_text(req).contains("[simulate:cut]") && !continuing;
    let gap = Duration::from_millis(1000 / u64::from(target.simulation.tokens_per_second.max(1)));
    let first = first_token_delay(req, target.simulation);
    let mut items: Vec<(Duration, Result<StreamEvent, ProviderError>)> = Vec::new();
    let role = Delta {
        role: Some("assistant".into()),
        content: Some(String::new()),
        ..Default::default()
    };
    items.push((first, ev(role, None)));
    let completion;
    match plan(req, target.upstream_model) {
        Plan::Text(text) => {
            let (mut text, finish) = limit(text, req.max_output_tokens());
            // Resuming another endpoint's cut stream: carry on from where it stopped.
            if let Some(prefix) = req
                .messages
                .last()
                .filter(|_| continuing)
                .map(|m| m.text_content())
            {
                if let Some(rest) = text.strip_prefix(prefix.as_str()) {
                    text = rest.to_string();
                }
            }
            let words: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
            completion = estimate_tokens(&text);
            let stop_at = if cut { words.len() / 2 } else { words.len() };
            for w in words.into_iter().take(stop_at) {
                items.push((
                    gap,
                    ev(
                        Delta {
                            content: Some(w),
                            ..Default::default()
                        },
                        None,
                    ),
                ));
            }
            if cut {
                items.push((gap, Err(ProviderError::Truncated)));
            } else {
                items.push((gap, ev(Delta::default(), Some(finish))));
            }
        }
        Plan::Tool { name, arguments } => {
            completion = estimate_tokens(&arguments) + 5;
            let call = ToolCallDelta {
                index: 0,
                id: Some("call_sim_0".into()),
                kind: Some("function".into()),
                function: Some(FunctionDelta {
                    name: Some(name),
                    arguments: Some(arguments),
                }),
            };
            items.push((
                gap,
                ev(
                    Delta {
                        tool_calls: Some(vec![call]),
                        ..Default::default()
                    },
                    None,
                ),
            ));
            items.push((gap, ev(Delta::default(), Some(FinishReason::ToolCalls))));
        }
    }
    if !cut {
        items.push((
            Duration::ZERO,
            Ok(StreamEvent::Usage(usage(req, completion))),
        ));
    }
    Ok(stream::iter(items)
        .then(|(wait, item)| async move {
            tokio::time::sleep(wait).await;
            item
        })
        .boxed())
}

/// Vectors when the request names no `dimensions`.
pub const DEFAULT_DIMENSIONS: u32 = 256;
/// The widest vector the simulated models make (text-embedding-3-large's width).
pub const MAX_DIMENSIONS: u32 = 3072;

/// Deterministic pseudo-embeddings: the same input always gets the same unit vector, and
/// different inputs practically never do, so a demo's similarity search behaves like one.
/// Usage is four characters a token (token ids count themselves), as for chat.
pub async fn embed(
    target: Target<'_>,
    req: &EmbeddingsRequest,
) -> Result<Embeddings, ProviderError> {
    let text = req.input.joined_text();
    if let Some(e) = failure_in(&text, target.simulation) {
        return Err(e);
    }
    let dims = req.dimensions.unwrap_or(DEFAULT_DIMENSIONS);
    if dims > MAX_DIMENSIONS {
        return Err(ProviderError::Unsupported(format!(
            "`dimensions` is at most {MAX_DIMENSIONS} for {}",
            target.upstream_model
        )));
    }
    // Less than the first-token delay of chat: no tokens are generated.
    tokio::time::sleep(delay_in(&text, target.simulation) / 4).await;
    let ids = |ids: &[u32]| -> Vec<u8> { ids.iter().flat_map(|i| i.to_le_bytes()).collect() };
    let vectors = match &req.input {
        EmbeddingInput::Text(t) => vec![pseudo_vector(t.as_bytes(), dims)],
        EmbeddingInput::Texts(ts) => ts
            .iter()
            .map(|t| pseudo_vector(t.as_bytes(), dims))
            .collect(),
        EmbeddingInput::Tokens(t) => vec![pseudo_vector(&ids(t), dims)],
        EmbeddingInput::TokenLists(ls) => ls.iter().map(|t| pseudo_vector(&ids(t), dims)).collect(),
    };
    Ok(Embeddings {
        vectors,
        prompt_tokens: req.input.estimated_tokens(),
        estimated: false,
        upstream_id: None,
    })
}

/// A unit vector of `dims` values drawn from a generator seeded by `seed` (FNV-1a, then
/// splitmix64).
pub fn pseudo_vector(seed: &[u8], dims: u32) -> Vec<f32> {
    let mut x = seed.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The top 24 bits, exactly representable in an f32, mapped onto [-1, 1).
            (z >> 40) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect();
    let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|a| *a /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;
    use switchyard_api::chat::parse_chat_request;

    fn target(sim: &SimulationConfig) -> Target<'_> {
        Target {
            protocol: Protocol::Simulated,
            base_url: "",
            api_key: None,
            upstream_model: "demo/model",
            headers: &[],
            simulation: sim,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn answers_streams_and_fails_on_request() {
        let sim = SimulationConfig::default();
        let req = parse_chat_request(br#"{"messages":[{"role":"user","content":"hello"}]}"#)
            .expect("valid");
        let c = complete(target(&sim), &req).await.expect("answers");
        assert!(c.choices[0]
            .message
            .content
            .as_deref()
            .is_some_and(|t| t.contains("Simulated")));
        assert!(c.usage.prompt > 0 && c.usage.completion > 0);

        let evs: Vec<_> = stream(target(&sim), &req)
            .await
            .expect("streams")
            .collect()
            .await;
        assert!(evs.iter().all(Result::is_ok));
        assert!(
            matches!(evs.last(), Some(Ok(StreamEvent::Usage(u))) if u.completion == c.usage.completion)
        );

        let bad =
            parse_chat_request(br#"{"messages":[{"role":"user","content":"x [simulate:error]"}]}"#)
                .expect("valid");
        assert!(matches!(
            complete(target(&sim), &bad).await,
            Err(ProviderError::Status { status: 503, .. })
        ));
        let cut =
            parse_chat_request(br#"{"messages":[{"role":"user","content":"x [simulate:cut]"}]}"#)
                .expect("valid");
        let evs: Vec<_> = stream(target(&sim), &cut)
            .await
            .expect("starts")
            .collect()
            .await;
        assert!(matches!(evs.last(), Some(Err(ProviderError::Truncated))));
    }

    #[tokio::test(start_paused = true)]
    async fn embeds_deterministically_and_fails_on_request() {
        let sim = SimulationConfig::default();
        let parse = |b: &str| {
            switchyard_api::embeddings::parse_embeddings_request(b.as_bytes()).expect("valid")
        };
        let req = parse(r#"{"model":"m","input":["the cat","the dog","the cat"],"dimensions":16}"#);
        let e = embed(target(&sim), &req).await.expect("embeds");
        assert_eq!(e.vectors.len(), 3);
        assert!(e.vectors.iter().all(|v| v.len() == 16));
        assert_eq!(e.vectors[0], e.vectors[2], "same input, same vector");
        assert_ne!(e.vectors[0], e.vectors[1]);
        let norm: f32 = e.vectors[1].iter().map(|a| a * a).sum();
        assert!((norm - 1.0).abs() < 1e-5, "unit length: {norm}");
        assert_eq!((e.prompt_tokens, e.estimated), (6, false));

        let ids = embed(target(&sim), &parse(r#"{"model":"m","input":[1,2,3]}"#))
            .await
            .expect("token ids");
        assert_eq!(ids.vectors[0].len(), DEFAULT_DIMENSIONS as usize);
        assert_eq!(ids.prompt_tokens, 3);

        let bad = parse(r#"{"model":"m","input":"x [simulate:error]"}"#);
        assert!(embeddings_directive(&bad));
        assert!(matches!(
            embed(target(&sim), &bad).await,
            Err(ProviderError::Status { status: 503, .. })
        ));
        let wide = parse(r#"{"model":"m","input":"x","dimensions":100000}"#);
        assert!(matches!(
            embed(target(&sim), &wide).await,
            Err(ProviderError::Unsupported(_))
        ));
    }

    #[test]
    fn schema_examples_fit_the_schema() {
        let v = example_for_schema(&json!({"type":"object","properties":{
            "city":{"type":"string"},"n":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},
            "unit":{"type":"string","enum":["c","f"]}}}));
        assert_eq!(
            v,
            json!({"city":"Paris","n":42,"tags":["Paris"],"unit":"c"})
        );
    }
}
