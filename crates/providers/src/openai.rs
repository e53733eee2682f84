//! OpenAI Chat Completions and every API compatible with it: a near-passthrough. The request
//! keeps unknown fields; the gateway's own fields are removed; replies from servers that use
//! `reasoning_content` (DeepSeek, xAI) or Mistral's content parts are normalised. Embeddings
//! (`/embeddings`) are passed through the same way.

use crate::sse::SseEvent;
use crate::util::{join_url, openai_finish_reason, vectors_in_order};
use crate::{
    Completion, Decoder, Embeddings, HttpRequest, ProviderError, StreamEvent, Target, TokenUsage,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use switchyard_api::chat::{
    ChatRequest, Choice, ChunkChoice, Delta, FunctionCall, FunctionDelta, ReasoningDetail,
    ResponseMessage, StreamOptions, ToolCall, ToolCallDelta,
};
use switchyard_api::embeddings::{decode_base64, EmbeddingInput, EmbeddingsRequest};

pub fn build_request(
    target: Target<'_>,
    req: &ChatRequest,
    stream: bool,
) -> Result<HttpRequest, ProviderError> {
    let mut body = req.clone().without_gateway_fields();
    body.model = Some(target.upstream_model.to_string());
    // OpenRouter's `reasoning` object is not OpenAI's; OpenAI takes `reasoning_effort`.
    if let Some(r) = body.reasoning.take() {
        if let (true, Some(effort)) = (r.wanted(), r.effort) {
            body.extra
                .entry("reasoning_effort")
                .or_insert(Value::String(effort));
        }
    }
    // Reasoning echoed back in assistant turns is for providers that keep it; OpenAI-style
    // servers reject or ignore it.
    for m in &mut body.messages {
        m.reasoning = None;
        m.reasoning_details = None;
    }
    if stream {
        body.stream = Some(true);
        let opts = body
            .stream_options
            .get_or_insert_with(StreamOptions::default);
        opts.include_usage = Some(true);
    } else {
        body.stream = None;
        body.stream_options = None;
    }
    let body = serde_json::to_vec(&body).map_err(|e| ProviderError::Unsupported(e.to_string()))?;
    Ok(HttpRequest {
        url: join_url(target.base_url, "chat/completions"),
        headers: json_headers(target),
        body,
    })
}

/// OpenRouter-only fields that a client may put in an embeddings request: never forwarded.
const GATEWAY_FIELDS: &[&str] = &[
    "models",
    "route",
    "transforms",
    "plugins",
    "usage",
    "session_id",
];

/// `POST /embeddings`: the client's input in the shape it came (OpenAI takes all four), its
/// `encoding_format`, `dimensions` and `user`, and any field this gateway does not know (for
/// compatible servers' own options). `input_type` is not OpenAI's and is dropped: OpenAI
/// refuses arguments it does not recognise.
pub fn build_embeddings_request(
    target: Target<'_>,
    req: &EmbeddingsRequest,
) -> Result<HttpRequest, ProviderError> {
    let mut body: Map<String, Value> = req
        .extra
        .iter()
        .filter(|(k, _)| !GATEWAY_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let unsupported = |e: serde_json::Error| ProviderError::Unsupported(e.to_string());
    body.insert("model".into(), Value::String(target.upstream_model.into()));
    body.insert(
        "input".into(),
        serde_json::to_value(&req.input).map_err(unsupported)?,
    );
    if let Some(f) = req.encoding_format {
        body.insert(
            "encoding_format".into(),
            serde_json::to_value(f).map_err(unsupported)?,
        );
    }
    if let Some(d) = req.dimensions {
        body.insert("dimensions".into(), Value::from(d));
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), Value::String(u.clone()));
    }
    Ok(HttpRequest {
        url: join_url(target.base_url, "embeddings"),
        headers: json_headers(target),
        body: serde_json::to_vec(&body).map_err(unsupported)?,
    })
}

fn json_headers(target: Target<'_>) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(key) = target.api_key {
        headers.push(("authorization".into(), format!("Bearer {key}")));
    }
    headers.extend(target.headers.iter().cloned());
    headers
}

#[derive(Deserialize)]
struct OaEmbeddings {
    #[serde(default)]
    id: Option<String>,
    data: Vec<OaEmbedding>,
    #[serde(default)]
    usage: Option<OaEmbeddingUsage>,
}

#[derive(Deserialize)]
struct OaEmbedding {
    #[serde(default)]
    index: Option<usize>,
    embedding: OaVector,
}

/// Floats, or their base64 form when `encoding_format: "base64"` was sent.
#[derive(Deserialize)]
#[serde(untagged)]
enum OaVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Deserialize)]
struct OaEmbeddingUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// An embeddings answer for `input`: every input's vector, by its `index`, as floats.
pub fn decode_embeddings(body: &[u8], input: &EmbeddingInput) -> Result<Embeddings, ProviderError> {
    let resp: OaEmbeddings = serde_json::from_slice(body).map_err(ProviderError::decode)?;
    let items = resp
        .data
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let at = e.index.unwrap_or(i);
            match e.embedding {
                OaVector::Float(v) => Ok((at, v)),
                OaVector::Base64(b) => decode_base64(&b).map(|v| (at, v)).ok_or_else(|| {
                    ProviderError::Decode(format!(
                        "the embedding of input {at} is not base64 of f32 values"
                    ))
                }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let vectors = vectors_in_order(input.count(), items)?;
    let reported = resp.usage.and_then(|u| u.prompt_tokens.or(u.total_tokens));
    Ok(Embeddings {
        vectors,
        prompt_tokens: reported.unwrap_or_else(|| input.estimated_tokens()),
        estimated: reported.is_none(),
        upstream_id: resp.id,
    })
}

#[derive(Deserialize)]
struct OaResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    choices: Vec<OaChoice>,
    #[serde(default)]
    usage: Option<OaUsage>,
    #[serde(default)]
    system_fingerprint: Option<String>,
}

#[derive(Deserialize)]
struct OaChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    message: OaMessage,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<Value>,
}

#[derive(Deserialize, Default)]
struct OaMessage {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<OaContent>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning_details: Option<Vec<ReasoningDetail>>,
    #[serde(default)]
    tool_calls: Option<Vec<OaToolCall>>,
    #[serde(default)]
    refusal: Option<String>,
}

/// Mistral's reasoning models answer with typed parts instead of a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum OaContent {
    Text(String),
    Parts(Vec<OaPart>),
}

#[derive(Deserialize)]
struct OaPart {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<Vec<OaPart>>,
}

impl OaContent {
    /// (text, reasoning) carried by the content.
    fn split(self) -> (Option<String>, Option<String>) {
        match self {
            OaContent::Text(t) => (Some(t), None),
            OaContent::Parts(parts) => {
                let (mut text, mut thinking) = (None::<String>, None::<String>);
                for p in parts {
                    if p.kind == "thinking" {
                        let t: String = p
                            .thinking
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|x| x.text)
                            .collect();
                        thinking.get_or_insert_with(String::new).push_str(&t);
                    } else if let Some(t) = p.text {
                        text.get_or_insert_with(String::new).push_str(&t);
                    }
                }
                (text, thinking)
            }
        }
    }
}

#[derive(Deserialize)]
struct OaToolCall {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    function: Option<OaFunction>,
}

#[derive(Deserialize)]
struct OaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize, Default)]
struct OaUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<OaPromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<OaCompletionDetails>,
    /// DeepSeek reports cache hits here.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct OaPromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct OaCompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl OaUsage {
    fn canonical(&self) -> TokenUsage {
        let details = self.prompt_tokens_details.as_ref();
        TokenUsage {
            prompt: self.prompt_tokens,
            completion: self.completion_tokens,
            cached_read: details
                .and_then(|d| d.cached_tokens)
                .or(self.prompt_cache_hit_tokens)
                .unwrap_or(0),
            cache_write: details.and_then(|d| d.cache_write_tokens).unwrap_or(0),
            reasoning: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

pub fn decode_response(body: &[u8]) -> Result<Completion, ProviderError> {
    let resp: OaResponse = serde_json::from_slice(body).map_err(ProviderError::decode)?;
    let choices = resp
        .choices
        .into_iter()
        .map(|c| {
            let (content, part_reasoning) = match c.message.content {
                Some(content) => content.split(),
                None => (None, None),
            };
            let tool_calls = c.message.tool_calls.map(|calls| {
                calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, tc)| {
                        let f = tc.function.unwrap_or(OaFunction {
                            name: None,
                            arguments: None,
                        });
                        ToolCall {
                            id: tc.id.unwrap_or_else(|| format!("call_{i}")),
                            kind: tc.kind.unwrap_or_else(|| "function".into()),
                            function: FunctionCall {
                                name: f.name.unwrap_or_default(),
                                arguments: f.arguments.unwrap_or_default(),
                            },
                        }
                    })
                    .collect::<Vec<_>>()
            });
            Choice {
                index: c.index,
                message: ResponseMessage {
                    role: c.message.role.unwrap_or_else(|| "assistant".into()),
                    content,
                    refusal: c.message.refusal,
                    reasoning: c
                        .message
                        .reasoning
                        .or(c.message.reasoning_content)
                        .or(part_reasoning),
                    reasoning_details: c.message.reasoning_details,
                    tool_calls: tool_calls.filter(|t| !t.is_empty()),
                },
                finish_reason: c.finish_reason.as_deref().map(openai_finish_reason),
                native_finish_reason: c.finish_reason,
                logprobs: c.logprobs.filter(|v| !v.is_null()),
            }
        })
        .collect();
    Ok(Completion {
        choices,
        usage: resp.usage.map(|u| u.canonical()).unwrap_or_default(),
        upstream_id: resp.id,
        system_fingerprint: resp.system_fingerprint,
        native: None,
    })
}

#[derive(Deserialize)]
struct OaChunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    choices: Vec<OaChunkChoice>,
    #[serde(default)]
    usage: Option<OaUsage>,
    #[serde(default)]
    system_fingerprint: Option<String>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct OaChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: OaMessage,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<Value>,
}

#[derive(Default)]
pub struct StreamDecoder {
    saw_id: bool,
    /// The last fingerprint passed on: repeated on every chunk upstream, sent on only when it
    /// changes.
    fingerprint: Option<String>,
    saw_finish: bool,
    done: bool,
}

impl Decoder for StreamDecoder {
    fn event(&mut self, ev: &SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(vec![]);
        }
        if data.is_empty() {
            return Ok(vec![]);
        }
        let chunk: OaChunk = serde_json::from_str(data).map_err(ProviderError::decode)?;
        if let Some(err) = chunk.error {
            return Err(stream_error(&err));
        }
        let mut out = Vec::with_capacity(chunk.choices.len() + 1);
        if let (false, Some(id)) = (self.saw_id, chunk.id) {
            self.saw_id = true;
            out.push(StreamEvent::UpstreamId(id));
        }
        if let Some(fp) = chunk.system_fingerprint.filter(|f| !f.is_empty()) {
            if self.fingerprint.as_ref() != Some(&fp) {
                self.fingerprint = Some(fp.clone());
                out.push(StreamEvent::SystemFingerprint(fp));
            }
        }
        for c in chunk.choices {
            let (content, part_reasoning) = match c.delta.content {
                Some(content) => content.split(),
                None => (None, None),
            };
            let tool_calls = c.delta.tool_calls.map(|calls| {
                calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, tc)| ToolCallDelta {
                        index: tc.index.unwrap_or(i as u32),
                        id: tc.id,
                        kind: tc.kind,
                        function: tc.function.map(|f| FunctionDelta {
                            name: f.name,
                            arguments: f.arguments,
                        }),
                    })
                    .collect::<Vec<_>>()
            });
            let delta = Delta {
                role: c.delta.role,
                content,
                refusal: c.delta.refusal,
                reasoning: c
                    .delta
                    .reasoning
                    .or(c.delta.reasoning_content)
                    .or(part_reasoning),
                reasoning_details: c.delta.reasoning_details,
                tool_calls: tool_calls.filter(|t| !t.is_empty()),
            };
            if c.finish_reason.is_some() {
                self.saw_finish = true;
            }
            if delta.is_empty() && c.finish_reason.is_none() {
                continue;
            }
            out.push(StreamEvent::Choice(ChunkChoice {
                index: c.index,
                delta,
                finish_reason: c.finish_reason.as_deref().map(openai_finish_reason),
                native_finish_reason: c.finish_reason,
                logprobs: c.logprobs.filter(|v| !v.is_null()),
            }));
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(u.canonical()));
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn is_complete(&self) -> bool {
        self.done || self.saw_finish
    }
}

fn stream_error(err: &Value) -> ProviderError {
    ProviderError::StreamError {
        kind: err
            .get("type")
            .or_else(|| err.get("code"))
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_else(|| "error".into()),
        message: err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("upstream error")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulated::SimulationConfig;
    use crate::testutil::{cassette, chunks_as_sse, run_decoder};
    use crate::Protocol;
    use switchyard_api::chat::{parse_chat_request, FinishReason};

    fn target<'a>(sim: &'a SimulationConfig) -> Target<'a> {
        Target {
            protocol: Protocol::Openai,
            base_url: "https://api.openai.com/v1/",
            api_key: Some("sk-test"),
            upstream_model: "gpt-4o-mini",
            headers: &[],
            simulation: sim,
        }
    }

    #[test]
    fn request_is_passthrough_minus_gateway_fields() {
        let sim = SimulationConfig::default();
        let req = parse_chat_request(
            br#"{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],
            "provider":{"sort":"price"},"reasoning":{"effort":"low"},"logit_bias":{"50256":-100},
            "stream":true}"#,
        )
        .expect("valid");
        let http = build_request(target(&sim), &req, true).expect("builds");
        assert_eq!(http.url, "https://api.openai.com/v1/chat/completions");
        assert!(http
            .headers
            .contains(&("authorization".into(), "Bearer sk-test".into())));
        let body: Value = serde_json::from_slice(&http.body).unwrap_or_default();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["logit_bias"]["50256"], -100);
        assert_eq!(body["reasoning_effort"], "low");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("provider").is_none() && body.get("reasoning").is_none());
    }

    #[test]
    fn outbound_matches_recorded_openai_requests() {
        // The cassettes hold the exact bodies real clients sent to api.openai.com; passing them
        // through must not change a field.
        for name in [
            "chat-basic",
            "chat-tools",
            "chat-parallel-tools",
            "chat-reasoning",
        ] {
            let c = cassette(name);
            let req =
                parse_chat_request(c.request_body.as_bytes()).expect("cassette request parses");
            let http =
                build_request(target(&SimulationConfig::default()), &req, false).expect("builds");
            let mut sent: Value = serde_json::from_slice(&http.body).unwrap_or_default();
            let mut recorded: Value = serde_json::from_str(&c.request_body).unwrap_or_default();
            sent["model"] = Value::Null;
            recorded["model"] = Value::Null;
            assert_eq!(sent, recorded, "{name}");
        }
    }

    #[test]
    fn decodes_recorded_responses() {
        let c =
            decode_response(include_bytes!("../fixtures/openai__openai-text.json")).expect("text");
        assert!(c.choices[0]
            .message
            .content
            .as_deref()
            .is_some_and(|t| !t.is_empty()));
        assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Stop));
        assert!(c.usage.prompt > 0 && c.usage.completion > 0);

        let tools = decode_response(cassette("chat-parallel-tools").response_body.as_bytes())
            .expect("tools");
        let calls = tools.choices[0]
            .message
            .tool_calls
            .clone()
            .unwrap_or_default();
        assert!(!calls.is_empty(), "tool calls kept");
        assert_eq!(
            tools.choices[0].finish_reason,
            Some(FinishReason::ToolCalls)
        );
        assert!(serde_json::from_str::<Value>(&calls[0].function.arguments).is_ok());

        let reasoning = decode_response(cassette("chat-reasoning").response_body.as_bytes())
            .expect("reasoning");
        assert!(reasoning.usage.reasoning > 0);

        for name in ["chat-basic", "chat-tools"] {
            decode_response(cassette(name).response_body.as_bytes()).expect(name);
        }
    }

    #[test]
    fn decodes_compatible_providers_reasoning_shapes() {
        let ds = decode_response(include_bytes!(
            "../fixtures/deepseek__deepseek-reasoning.json"
        ))
        .expect("deepseek");
        assert!(ds.choices[0].message.reasoning.is_some());
        let mi = decode_response(include_bytes!(
            "../fixtures/mistral__mistral-reasoning.json"
        ))
        .expect("mistral");
        assert_eq!(mi.choices[0].message.content.as_deref(), Some("2 + 2 = 4"));
        assert!(mi.choices[0]
            .message
            .reasoning
            .as_deref()
            .is_some_and(|r| r.contains("2+2")));
        let groq =
            decode_response(include_bytes!("../fixtures/groq__groq-reasoning.json")).expect("groq");
        assert!(groq.choices[0].message.reasoning.is_some());
    }

    #[test]
    fn decodes_recorded_streams() {
        for name in ["chat-streaming", "chat-streaming-detailed-usage"] {
            let evs = run_decoder(&mut StreamDecoder::default(), &cassette(name).response_body)
                .expect(name);
            let usage = evs.iter().rev().find_map(|e| match e {
                StreamEvent::Usage(u) => Some(*u),
                _ => None,
            });
            // Only the request that asked for usage got it back.
            if name.contains("usage") {
                assert!(
                    usage.is_some_and(|u| u.completion > 0 && u.reasoning > 0),
                    "{name} usage"
                );
            }
            assert!(evs
                .iter()
                .any(|e| matches!(e, StreamEvent::Choice(c) if c.finish_reason.is_some())));
        }
        for fixture in [
            include_str!("../fixtures/xai__xai-tool-call.chunks.txt"),
            include_str!("../fixtures/groq__groq-tool-call.chunks.txt"),
            include_str!("../fixtures/mistral__mistral-tool-call.chunks.txt"),
            include_str!("../fixtures/deepseek__deepseek-tool-call.chunks.txt"),
        ] {
            let mut d = StreamDecoder::default();
            let evs = run_decoder(&mut d, &chunks_as_sse(fixture, false)).expect("decodes");
            assert!(d.is_complete());
            let names: Vec<_> = evs
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::Choice(c) => c.delta.tool_calls.clone(),
                    _ => None,
                })
                .flatten()
                .filter_map(|t| t.function.and_then(|f| f.name))
                .collect();
            assert!(!names.is_empty(), "tool call name streamed");
        }
    }

    fn embeddings(body: &str) -> EmbeddingsRequest {
        switchyard_api::embeddings::parse_embeddings_request(body.as_bytes()).expect("valid")
    }

    #[test]
    fn embeddings_request_matches_the_recorded_one() {
        let c = cassette("embeddings-dimensions");
        let mut req = embeddings(&c.request_body);
        req.model = "openai/text-embedding-3-small".into();
        let sim = SimulationConfig::default();
        let mut t = target(&sim);
        t.upstream_model = "text-embedding-3-small";
        let http = build_embeddings_request(t, &req).expect("builds");
        assert_eq!(http.url, "https://api.openai.com/v1/embeddings");
        assert!(http
            .headers
            .contains(&("authorization".into(), "Bearer sk-test".into())));
        let sent: Value = serde_json::from_slice(&http.body).unwrap_or_default();
        let recorded: Value = serde_json::from_str(&c.request_body).unwrap_or_default();
        assert_eq!(
            sent, recorded,
            "dimensions and encoding_format pass through"
        );
    }

    #[test]
    fn embeddings_request_keeps_token_inputs_and_drops_gateway_fields() {
        let req = embeddings(
            r#"{"model":"openai/x","input":[[1,2],[3]],"input_type":"search_query",
            "provider":{"order":["openai"]},"models":["a/b"],"user":"u-1","truncate_prompt_tokens":8}"#,
        );
        let http =
            build_embeddings_request(target(&SimulationConfig::default()), &req).expect("builds");
        let sent: Value = serde_json::from_slice(&http.body).unwrap_or_default();
        assert_eq!(
            sent,
            serde_json::json!({"model": "gpt-4o-mini", "input": [[1, 2], [3]], "user": "u-1",
                "truncate_prompt_tokens": 8})
        );
    }

    #[test]
    fn decodes_recorded_embeddings_floats_and_base64() {
        let two = EmbeddingInput::Texts(vec!["a".into(), "b".into()]);
        let e = decode_embeddings(
            include_bytes!("../fixtures/openai__openai-embedding.json"),
            &two,
        )
        .expect("floats");
        assert_eq!(e.vectors.len(), 2);
        assert_eq!(e.vectors[0][0], 0.0057293195);
        assert_eq!(e.vectors[1][4], -0.0035253682);
        assert_eq!((e.prompt_tokens, e.estimated), (12, false));

        let c = cassette("embeddings-dimensions");
        let one = embeddings(&c.request_body).input;
        let e = decode_embeddings(c.response_body.as_bytes(), &one).expect("base64");
        assert_eq!(e.vectors.len(), 1);
        assert_eq!(e.vectors[0].len(), 256, "the requested dimensions");
        assert_eq!(e.prompt_tokens, 5);
        // Decoded to the very floats it encodes: re-encoding gives OpenAI's text back.
        let recorded: Value = serde_json::from_str(&c.response_body).unwrap_or_default();
        assert_eq!(
            switchyard_api::embeddings::encode_base64(&e.vectors[0]),
            recorded["data"][0]["embedding"]
                .as_str()
                .unwrap_or_default()
        );
    }

    #[test]
    fn embeddings_answers_that_do_not_fit_the_request_are_refused() {
        let two = EmbeddingInput::Texts(vec!["a".into(), "b".into()]);
        for (body, says) in [
            (
                r#"{"data":[{"index":0,"embedding":[0.1]}]}"#,
                "no embedding for input 1",
            ),
            (
                r#"{"data":[{"index":0,"embedding":[0.1]},{"index":0,"embedding":[0.2]}]}"#,
                "two embeddings",
            ),
            (
                r#"{"data":[{"index":0,"embedding":[0.1]},{"index":7,"embedding":[0.2]}]}"#,
                "input 7",
            ),
            (
                r#"{"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[0.2]}]}"#,
                "empty",
            ),
            (
                r#"{"data":[{"index":0,"embedding":"@@"},{"index":1,"embedding":[0.2]}]}"#,
                "base64",
            ),
            (
                r#"{"data":[{"index":0,"embedding":[1e300]},{"index":1,"embedding":[0.2]}]}"#,
                "finite",
            ),
            (r#"{"object":"list"}"#, "data"),
        ] {
            let err = decode_embeddings(body.as_bytes(), &two).expect_err(body);
            assert!(err.to_string().contains(says), "{body}: {err}");
        }
        // Out of order is fine (index decides); no usage means an estimate.
        let e = decode_embeddings(
            br#"{"data":[{"index":1,"embedding":[0.2]},{"index":0,"embedding":[0.1]}]}"#,
            &two,
        )
        .expect("decodes");
        assert_eq!(e.vectors, vec![vec![0.1], vec![0.2]]);
        assert_eq!((e.prompt_tokens, e.estimated), (2, true));
    }

    #[test]
    fn the_recorded_embeddings_refusal_reads_as_a_message() {
        let body = cassette("embeddings-bad-request").response_body;
        assert_eq!(
            crate::error::error_message(&body).as_deref(),
            Some("-1 is less than the minimum of 1 - 'dimensions'")
        );
    }

    /// Stream content OpenAI documents for which no public recording was found, in the
    /// documented shapes.
    #[test]
    fn documented_deltas_without_a_public_recording() {
        let sse = concat!(
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"function_call\":{\"name\":\"f\",\"arguments\":\"\"}},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"audio\":{\"id\":\"audio_1\",\"transcript\":\"hi\"}},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"partial\"},\"finish_reason\":\"content_filter\"}]}\n\n",
            "data: [DONE]\n\n",
        );
        let mut d = StreamDecoder::default();
        let evs = run_decoder(&mut d, sse).expect("decodes");
        assert!(d.is_done());
        assert!(evs.iter().any(|e| matches!(e, StreamEvent::Choice(c)
            if c.finish_reason == Some(FinishReason::ContentFilter)
                && c.delta.content.as_deref() == Some("partial"))));
    }

    #[test]
    fn mid_stream_error_object_is_an_error() {
        let mut d = StreamDecoder::default();
        let err = run_decoder(
            &mut d,
            "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n",
        )
        .expect_err("error chunk");
        assert!(
            matches!(err, ProviderError::StreamError { ref message, .. } if message == "overloaded")
        );
    }
}
