//! Every recorded stream in `fixtures/`, as the SSE bytes an upstream sends, with what each
//! must decode to worked out from the recorded payloads themselves. The property tests
//! replay the same recordings cut and reframed.

use crate::sse::SseDecoder;
use crate::testutil::{cassette, chunks_as_sse};
use crate::{anthropic, gemini, openai, Decoder, StreamEvent, TokenUsage};
use serde_json::Value;
use std::collections::BTreeMap;
use switchyard_api::chat::FinishReason;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Openai,
    Anthropic,
    Gemini,
}

impl Wire {
    pub fn decoder(self) -> Box<dyn Decoder> {
        match self {
            Wire::Openai => Box::new(openai::StreamDecoder::default()),
            Wire::Anthropic => Box::new(anthropic::StreamDecoder::default()),
            Wire::Gemini => Box::new(gemini::StreamDecoder::default()),
        }
    }
}

pub struct Recording {
    pub name: String,
    pub wire: Wire,
    pub sse: String,
}

/// Anthropic `*.chunks.txt` files holding several messages, one after another.
fn split_messages(chunks: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in chunks.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with(r#"{"type":"message_start""#) || out.is_empty() {
            out.push(String::new());
        }
        if let Some(last) = out.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    out
}

const ANTHROPIC_CHUNKS: &[(&str, &str)] = &[
    (
        "anthropic-text",
        include_str!("../fixtures/anthropic__anthropic-text.chunks.txt"),
    ),
    (
        "anthropic-json-tool.1",
        include_str!("../fixtures/anthropic__anthropic-json-tool.1.chunks.txt"),
    ),
    (
        "anthropic-clear-thinking.1",
        include_str!("../fixtures/anthropic__anthropic-clear-thinking.1.chunks.txt"),
    ),
    (
        "anthropic-tool-no-args",
        include_str!("../fixtures/anthropic__anthropic-tool-no-args.chunks.txt"),
    ),
    (
        "anthropic-web-search-tool.1",
        include_str!("../fixtures/anthropic__anthropic-web-search-tool.1.chunks.txt"),
    ),
    (
        "anthropic-web-fetch-tool.1",
        include_str!("../fixtures/anthropic__anthropic-web-fetch-tool.1.chunks.txt"),
    ),
    (
        "anthropic-web-fetch-tool-20260209.1",
        include_str!("../fixtures/anthropic__anthropic-web-fetch-tool-20260209.1.chunks.txt"),
    ),
    (
        "anthropic-code-execution-20250825.1",
        include_str!("../fixtures/anthropic__anthropic-code-execution-20250825.1.chunks.txt"),
    ),
    (
        "anthropic-mcp.1",
        include_str!("../fixtures/anthropic__anthropic-mcp.1.chunks.txt"),
    ),
    (
        "anthropic-compaction.1",
        include_str!("../fixtures/anthropic__anthropic-compaction.1.chunks.txt"),
    ),
    (
        "anthropic-tool-search-regex.1",
        include_str!("../fixtures/anthropic__anthropic-tool-search-regex.1.chunks.txt"),
    ),
];

const ANTHROPIC_SSE: &[(&str, &str)] = &[
    (
        "streaming.md.basic",
        include_str!("../fixtures/anthropic__anthropic-streaming.md.basic.sse.txt"),
    ),
    (
        "streaming.md.tool-use",
        include_str!("../fixtures/anthropic__anthropic-streaming.md.tool-use.sse.txt"),
    ),
    (
        "streaming.md.extended-thinking",
        include_str!("../fixtures/anthropic__anthropic-streaming.md.extended-thinking.sse.txt"),
    ),
    (
        "streaming.md.error",
        include_str!("../fixtures/anthropic__anthropic-streaming.md.error.sse.txt"),
    ),
    (
        "sdk-python-incomplete_partial_json_response",
        include_str!("../fixtures/anthropic__sdk-python-incomplete_partial_json_response.sse.txt"),
    ),
    (
        "sdk-python-tool_use_response",
        include_str!("../fixtures/anthropic__sdk-python-tool_use_response.sse.txt"),
    ),
    (
        "sdk-python-refusal_response",
        include_str!("../fixtures/anthropic__sdk-python-refusal_response.sse.txt"),
    ),
];

const OPENAI_CHUNKS: &[(&str, &str)] = &[
    (
        "xai-text",
        include_str!("../fixtures/xai__xai-text.chunks.txt"),
    ),
    (
        "xai-tool-call",
        include_str!("../fixtures/xai__xai-tool-call.chunks.txt"),
    ),
    (
        "groq-tool-call",
        include_str!("../fixtures/groq__groq-tool-call.chunks.txt"),
    ),
    (
        "mistral-text",
        include_str!("../fixtures/mistral__mistral-text.chunks.txt"),
    ),
    (
        "mistral-reasoning",
        include_str!("../fixtures/mistral__mistral-reasoning.chunks.txt"),
    ),
    (
        "mistral-tool-call",
        include_str!("../fixtures/mistral__mistral-tool-call.chunks.txt"),
    ),
    (
        "deepseek-tool-call",
        include_str!("../fixtures/deepseek__deepseek-tool-call.chunks.txt"),
    ),
    (
        "search-preview-annotations",
        include_str!("../fixtures/openai__search-preview-annotations.chunks.txt"),
    ),
];

const OPENAI_SSE: &[(&str, &str)] = &[
    (
        "sdk-python-refusal",
        include_str!("../fixtures/openai__sdk-python-refusal.sse.txt"),
    ),
    (
        "sdk-python-refusal-logprobs",
        include_str!("../fixtures/openai__sdk-python-refusal-logprobs.sse.txt"),
    ),
    (
        "sdk-python-content-logprobs",
        include_str!("../fixtures/openai__sdk-python-content-logprobs.sse.txt"),
    ),
    (
        "sdk-python-max-tokens",
        include_str!("../fixtures/openai__sdk-python-max-tokens.sse.txt"),
    ),
    (
        "sdk-python-multiple-choices",
        include_str!("../fixtures/openai__sdk-python-multiple-choices.sse.txt"),
    ),
    (
        "sdk-python-multiple-tools",
        include_str!("../fixtures/openai__sdk-python-multiple-tools.sse.txt"),
    ),
];

const OPENAI_CASSETTES: &[&str] = &[
    "chat-streaming",
    "chat-streaming-detailed-usage",
    "chat-streaming-web-search",
];

const GEMINI_CHUNKS: &[(&str, &str)] = &[
    ("google-text", include_str!("../fixtures/gemini__google-text.chunks.txt")),
    ("google-reasoning", include_str!("../fixtures/gemini__google-reasoning.chunks.txt")),
    ("google-reasoning-gemini3", include_str!("../fixtures/gemini__google-reasoning-gemini3.chunks.txt")),
    ("google-tool-call", include_str!("../fixtures/gemini__google-tool-call.chunks.txt")),
    ("google-tool-call-gemini3", include_str!("../fixtures/gemini__google-tool-call-gemini3.chunks.txt")),
    ("google-stream-tool-call-arguments", include_str!("../fixtures/gemini__google-stream-tool-call-arguments.chunks.txt")),
    ("google-vertex-stream-tool-call-arguments-nested.1", include_str!("../fixtures/gemini__google-vertex-stream-tool-call-arguments-nested.1.chunks.txt")),
    ("google-stream-no-args-tool-call", include_str!("../fixtures/gemini__google-stream-no-args-tool-call.chunks.txt")),
    ("google-stream-tool-call-array-arguments-missing-terminal-function-call", include_str!("../fixtures/gemini__google-stream-tool-call-array-arguments-missing-terminal-function-call.chunks.txt")),
    ("issue-18073-empty-text-thought-signature", include_str!("../fixtures/gemini__issue-18073-empty-text-thought-signature.chunks.txt")),
    ("issue-19758-prompt-block", include_str!("../fixtures/gemini__issue-19758-prompt-block.chunks.txt")),
    ("issue-19822-google-search-live", include_str!("../fixtures/gemini__issue-19822-google-search-live.chunks.txt")),
];

/// Every recorded stream, as SSE text.
pub fn recordings() -> Vec<Recording> {
    let mut out = Vec::new();
    for (name, chunks) in ANTHROPIC_CHUNKS {
        for (i, msg) in split_messages(chunks).iter().enumerate() {
            out.push(Recording {
                name: format!("anthropic {name} #{i}"),
                wire: Wire::Anthropic,
                sse: chunks_as_sse(msg, true),
            });
        }
    }
    for (name, sse) in ANTHROPIC_SSE {
        out.push(Recording {
            name: format!("anthropic {name}"),
            wire: Wire::Anthropic,
            sse: sse.to_string(),
        });
    }
    for (name, chunks) in OPENAI_CHUNKS {
        out.push(Recording {
            name: format!("openai {name}"),
            wire: Wire::Openai,
            sse: chunks_as_sse(chunks, false),
        });
    }
    for (name, sse) in OPENAI_SSE {
        out.push(Recording {
            name: format!("openai {name}"),
            wire: Wire::Openai,
            sse: sse.to_string(),
        });
    }
    for name in OPENAI_CASSETTES {
        out.push(Recording {
            name: format!("openai {name}"),
            wire: Wire::Openai,
            sse: cassette(name).response_body,
        });
    }
    for (name, chunks) in GEMINI_CHUNKS {
        out.push(Recording {
            name: format!("gemini {name}"),
            wire: Wire::Gemini,
            // Gemini's stream has no terminator: the body ends.
            sse: chunks_as_sse(chunks, false).replace("data: [DONE]\n\n", ""),
        });
    }
    out
}

/// What one stream decoded to, as the client would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub events: Vec<StreamEvent>,
    /// The error the stream ended with, if any.
    pub error: Option<String>,
    /// Whether the stream ended whole (a body ending otherwise is reported truncated).
    pub complete: bool,
}

/// Runs a decoder over the body arriving in `pieces`, as `client::decode_stream` does:
/// nothing after the terminal event or the first error is read.
pub fn decode<'a>(d: &mut dyn Decoder, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut sse = SseDecoder::new();
    let mut out = Outcome {
        events: Vec::new(),
        error: None,
        complete: false,
    };
    let mut evs = Vec::new();
    for piece in pieces {
        evs.clear();
        let overflow = sse.push(piece, &mut evs).err();
        feed(d, &evs, &mut out);
        if out.error.is_some() {
            return out;
        }
        if d.is_done() {
            out.complete = true;
            return out;
        }
        if let Some(e) = overflow {
            out.error = Some(format!("{e:?}"));
            return out;
        }
    }
    match sse.finish() {
        Ok(tail) => feed(d, tail.as_slice(), &mut out),
        Err(e) => out.error = Some(format!("{e:?}")),
    }
    out.complete = out.error.is_none() && d.is_complete();
    out
}

fn feed(d: &mut dyn Decoder, evs: &[crate::sse::SseEvent], out: &mut Outcome) {
    for ev in evs {
        if d.is_done() {
            return;
        }
        match d.event(ev) {
            Ok(e) => out.events.extend(e),
            Err(e) => {
                out.error = Some(format!("{e:?}"));
                return;
            }
        }
    }
}

/// A stream's decoded events, gathered per choice.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub choices: BTreeMap<u32, ChoiceSummary>,
    pub usage: Option<TokenUsage>,
    pub upstream_id: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct ChoiceSummary {
    pub content: String,
    pub refusal: String,
    pub reasoning: String,
    /// Tool calls by index: (id, name, arguments).
    pub tools: BTreeMap<u32, (String, String, String)>,
    pub finish: Vec<(FinishReason, Option<String>)>,
    pub signatures: usize,
}

pub fn summarize(evs: &[StreamEvent]) -> Summary {
    let mut s = Summary::default();
    for e in evs {
        match e {
            StreamEvent::Choice(c) => {
                let ch = s.choices.entry(c.index).or_default();
                let d = &c.delta;
                ch.content.push_str(d.content.as_deref().unwrap_or(""));
                ch.refusal.push_str(d.refusal.as_deref().unwrap_or(""));
                ch.reasoning.push_str(d.reasoning.as_deref().unwrap_or(""));
                ch.signatures += d
                    .reasoning_details
                    .iter()
                    .flatten()
                    .filter(|r| r.signature.is_some() || r.data.is_some())
                    .count();
                for t in d.tool_calls.iter().flatten() {
                    let slot = ch.tools.entry(t.index).or_default();
                    slot.0.push_str(t.id.as_deref().unwrap_or(""));
                    if let Some(f) = &t.function {
                        slot.1.push_str(f.name.as_deref().unwrap_or(""));
                        slot.2.push_str(f.arguments.as_deref().unwrap_or(""));
                    }
                }
                if let Some(f) = c.finish_reason {
                    ch.finish.push((f, c.native_finish_reason.clone()));
                }
            }
            StreamEvent::Usage(u) => s.usage = Some(*u),
            StreamEvent::UpstreamId(id) => s.upstream_id = Some(id.clone()),
            StreamEvent::SystemFingerprint(_) | StreamEvent::Native(_) => {}
        }
    }
    s
}

/// The JSON payload of each `data:` line of a transcript.
fn payloads(sse: &str) -> Vec<Value> {
    sse.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// What an Anthropic transcript must decode to, from its payloads.
fn expect_anthropic(sse: &str) -> Summary {
    let mut ch = ChoiceSummary::default();
    let mut usage = serde_json::Map::new();
    let mut id = None;
    // Block index -> tool index, for client tool calls.
    let mut tool_of = BTreeMap::new();
    for v in payloads(sse) {
        match s(&v, "type") {
            "message_start" => {
                id = v["message"]["id"].as_str().map(str::to_string);
                usage.extend(
                    v["message"]["usage"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            "content_block_start" => {
                let b = &v["content_block"];
                if s(b, "type") == "tool_use" {
                    let n = tool_of.len() as u32;
                    tool_of.insert(v["index"].as_u64().unwrap_or(0), n);
                    ch.tools
                        .insert(n, (s(b, "id").into(), s(b, "name").into(), String::new()));
                }
                if s(b, "type") == "text" {
                    ch.content.push_str(s(b, "text"));
                }
            }
            "content_block_delta" => {
                let d = &v["delta"];
                match s(d, "type") {
                    "text_delta" => ch.content.push_str(s(d, "text")),
                    "thinking_delta" => ch.reasoning.push_str(s(d, "thinking")),
                    "signature_delta" => ch.signatures += 1,
                    "input_json_delta" => {
                        let block = v["index"].as_u64().unwrap_or(0);
                        if let Some(t) = tool_of.get(&block).and_then(|n| ch.tools.get_mut(n)) {
                            t.2.push_str(s(d, "partial_json"));
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                usage.extend(v["usage"].as_object().cloned().unwrap_or_default());
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    ch.finish
                        .push((anthropic::finish_reason(r), Some(r.into())));
                }
            }
            _ => {}
        }
    }
    for t in ch.tools.values_mut() {
        if t.2.is_empty() {
            t.2 = "{}".into();
        }
    }
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let summary_usage = (!ch.finish.is_empty()).then(|| TokenUsage {
        prompt: n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens"),
        completion: n("output_tokens"),
        cached_read: n("cache_read_input_tokens"),
        cache_write: n("cache_creation_input_tokens"),
        reasoning: 0,
    });
    let mut choices = BTreeMap::new();
    choices.insert(0, ch);
    Summary {
        choices,
        usage: summary_usage,
        upstream_id: id,
    }
}

/// What an OpenAI-compatible transcript must decode to, from its payloads.
fn expect_openai(sse: &str) -> Summary {
    let mut out = Summary::default();
    for v in payloads(sse) {
        if out.upstream_id.is_none() {
            out.upstream_id = v["id"].as_str().map(str::to_string);
        }
        for c in v["choices"].as_array().into_iter().flatten() {
            let ch = out
                .choices
                .entry(c["index"].as_u64().unwrap_or(0) as u32)
                .or_default();
            let d = &c["delta"];
            match &d["content"] {
                Value::String(t) => ch.content.push_str(t),
                // Mistral's typed parts: text, and thinking made of text parts.
                Value::Array(parts) => {
                    for p in parts {
                        if s(p, "type") == "thinking" {
                            for t in p["thinking"].as_array().into_iter().flatten() {
                                ch.reasoning.push_str(s(t, "text"));
                            }
                        } else {
                            ch.content.push_str(s(p, "text"));
                        }
                    }
                }
                _ => {}
            }
            ch.refusal.push_str(s(d, "refusal"));
            ch.reasoning.push_str(s(d, "reasoning"));
            ch.reasoning.push_str(s(d, "reasoning_content"));
            for (k, t) in d["tool_calls"].as_array().into_iter().flatten().enumerate() {
                let i = t["index"].as_u64().unwrap_or(k as u64) as u32;
                let slot = ch.tools.entry(i).or_default();
                slot.0.push_str(s(t, "id"));
                slot.1.push_str(s(&t["function"], "name"));
                slot.2.push_str(s(&t["function"], "arguments"));
            }
            if let Some(r) = c["finish_reason"].as_str() {
                ch.finish
                    .push((crate::util::openai_finish_reason(r), Some(r.into())));
            }
        }
        if let Some(u) = v["usage"].as_object() {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            let detail = |a: &str, b: &str| u.get(a).and_then(|d| d[b].as_u64());
            out.usage = Some(TokenUsage {
                prompt: n("prompt_tokens"),
                completion: n("completion_tokens"),
                cached_read: detail("prompt_tokens_details", "cached_tokens")
                    .or_else(|| u.get("prompt_cache_hit_tokens").and_then(Value::as_u64))
                    .unwrap_or(0),
                cache_write: detail("prompt_tokens_details", "cache_write_tokens").unwrap_or(0),
                reasoning: detail("completion_tokens_details", "reasoning_tokens").unwrap_or(0),
            });
        }
    }
    out
}

/// What a Gemini transcript must decode to, apart from streamed call arguments (checked by
/// the tests in `gemini`): text, thoughts, finish, usage.
fn expect_gemini(sse: &str) -> Summary {
    let mut out = Summary::default();
    let mut calls = 0;
    for v in payloads(sse) {
        if out.upstream_id.is_none() {
            out.upstream_id = v["responseId"].as_str().map(str::to_string);
        }
        if let Some(r) = v["promptFeedback"]["blockReason"].as_str() {
            let ch = out.choices.entry(0).or_default();
            ch.finish
                .push((FinishReason::ContentFilter, Some(r.into())));
        }
        for c in v["candidates"].as_array().into_iter().flatten() {
            let ch = out
                .choices
                .entry(c["index"].as_u64().unwrap_or(0) as u32)
                .or_default();
            for p in c["content"]["parts"].as_array().into_iter().flatten() {
                if p.get("thoughtSignature").is_some() {
                    ch.signatures += 1;
                }
                if p["functionCall"]["name"].is_string() {
                    calls += 1;
                }
                if p["thought"] == Value::Bool(true) {
                    ch.reasoning.push_str(s(p, "text"));
                } else {
                    ch.content.push_str(s(p, "text"));
                }
            }
            if let Some(r) = c["finishReason"].as_str() {
                let f = match gemini::finish_reason(r) {
                    FinishReason::Stop if calls > 0 => FinishReason::ToolCalls,
                    f => f,
                };
                ch.finish.push((f, Some(r.into())));
            }
        }
        if let Some(u) = v["usageMetadata"].as_object() {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            out.usage = Some(TokenUsage {
                prompt: n("promptTokenCount") + n("toolUsePromptTokenCount"),
                completion: n("candidatesTokenCount") + n("thoughtsTokenCount"),
                cached_read: n("cachedContentTokenCount"),
                cache_write: 0,
                reasoning: n("thoughtsTokenCount"),
            });
        }
    }
    if let Some(ch) = out.choices.get_mut(&0) {
        // Calls are compared by count; their arguments by the `gemini` tests.
        for i in 0..calls {
            ch.tools.insert(i, Default::default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// What kinds of stream content a payload shows, as `"<wire> <what> <name>"`.
    fn kinds(wire: Wire, v: &Value, seen: &mut BTreeSet<String>) {
        let mut add = |what: &str, name: &str| {
            seen.insert(format!("{wire:?} {what} {name}").to_lowercase());
        };
        match wire {
            Wire::Anthropic => {
                add("event", s(v, "type"));
                add("block", s(&v["content_block"], "type"));
                add("delta", s(&v["delta"], "type"));
                add("stop", s(&v["delta"], "stop_reason"));
            }
            Wire::Openai => {
                for c in v["choices"].as_array().into_iter().flatten() {
                    for (k, x) in c["delta"].as_object().into_iter().flatten() {
                        if !x.is_null() {
                            add("delta", k);
                        }
                    }
                    for (k, x) in c["logprobs"].as_object().into_iter().flatten() {
                        if !x.is_null() {
                            add("logprobs", k);
                        }
                    }
                    add("finish", s(c, "finish_reason"));
                }
                if v["usage"].is_object() {
                    add("chunk", "usage");
                }
            }
            Wire::Gemini => {
                for c in v["candidates"].as_array().into_iter().flatten() {
                    for p in c["content"]["parts"].as_array().into_iter().flatten() {
                        for (k, x) in p.as_object().into_iter().flatten() {
                            add("part", k);
                            for k2 in x.as_object().into_iter().flatten().map(|(k2, _)| k2) {
                                add("part", &format!("{k}.{k2}"));
                            }
                        }
                    }
                    add("finish", s(c, "finishReason"));
                }
                for (k, _) in v.as_object().into_iter().flatten() {
                    add("response", k);
                }
                for (k, _) in v["usageMetadata"].as_object().into_iter().flatten() {
                    add("usage", k);
                }
            }
        }
    }

    /// The stream content each provider documents that a public recording shows; what has
    /// none is covered by the documented-shape tests in each adapter's module.
    const DOCUMENTED: &[&str] = &[
        "anthropic event message_start",
        "anthropic event content_block_start",
        "anthropic event content_block_delta",
        "anthropic event content_block_stop",
        "anthropic event message_delta",
        "anthropic event message_stop",
        "anthropic event ping",
        "anthropic event error",
        "anthropic block text",
        "anthropic block thinking",
        "anthropic block tool_use",
        "anthropic block server_tool_use",
        "anthropic block web_search_tool_result",
        "anthropic block web_fetch_tool_result",
        "anthropic block code_execution_tool_result",
        "anthropic block bash_code_execution_tool_result",
        "anthropic block text_editor_code_execution_tool_result",
        "anthropic block mcp_tool_use",
        "anthropic block mcp_tool_result",
        "anthropic block tool_search_tool_result",
        "anthropic block compaction",
        "anthropic delta text_delta",
        "anthropic delta input_json_delta",
        "anthropic delta thinking_delta",
        "anthropic delta signature_delta",
        "anthropic delta citations_delta",
        "anthropic delta compaction_delta",
        "anthropic stop end_turn",
        "anthropic stop tool_use",
        "anthropic stop max_tokens",
        "anthropic stop refusal",
        "openai delta role",
        "openai delta content",
        "openai delta refusal",
        "openai delta tool_calls",
        "openai delta annotations",
        "openai delta reasoning_content",
        "openai logprobs content",
        "openai logprobs refusal",
        "openai finish stop",
        "openai finish length",
        "openai finish tool_calls",
        "openai chunk usage",
        "gemini part text",
        "gemini part thought",
        "gemini part thoughtsignature",
        "gemini part functioncall.name",
        "gemini part functioncall.args",
        "gemini part functioncall.partialargs",
        "gemini part functioncall.willcontinue",
        "gemini finish stop",
        "gemini response promptfeedback",
        "gemini response usagemetadata",
        "gemini response responseid",
        "gemini usage thoughtstokencount",
        "gemini usage tooluseprompttokencount",
    ];

    #[test]
    fn the_recordings_cover_every_documented_stream_event() {
        let mut seen = BTreeSet::new();
        for r in recordings() {
            for v in payloads(&r.sse) {
                kinds(r.wire, &v, &mut seen);
            }
        }
        let missing: Vec<_> = DOCUMENTED.iter().filter(|k| !seen.contains(**k)).collect();
        assert!(missing.is_empty(), "no recording shows {missing:?}");
    }

    #[test]
    fn every_recording_decodes_to_what_its_payloads_say() {
        let all = recordings();
        assert!(all.len() >= 45, "{} recordings", all.len());
        for r in &all {
            let outcome = decode(r.wire.decoder().as_mut(), r.sse.as_bytes().chunks(37));
            if r.name.ends_with("streaming.md.error") {
                assert!(
                    outcome
                        .error
                        .as_deref()
                        .is_some_and(|e| e.contains("overloaded_error")),
                    "{}: {outcome:?}",
                    r.name
                );
                continue;
            }
            assert_eq!(outcome.error, None, "{}", r.name);
            assert!(outcome.complete, "{} ends whole", r.name);
            let mut got = summarize(&outcome.events);
            let want = match r.wire {
                Wire::Anthropic => expect_anthropic(&r.sse),
                Wire::Openai => expect_openai(&r.sse),
                Wire::Gemini => expect_gemini(&r.sse),
            };
            if r.wire == Wire::Gemini {
                for ch in got.choices.values_mut() {
                    for t in ch.tools.values_mut() {
                        let args: Value = serde_json::from_str(&t.2)
                            .unwrap_or_else(|e| panic!("{}: {t:?}: {e}", r.name));
                        assert!(
                            args.is_object() && !t.0.is_empty() && !t.1.is_empty(),
                            "{}: {t:?}",
                            r.name
                        );
                        *t = Default::default();
                    }
                }
            }
            assert_eq!(got, want, "{}", r.name);
            for ch in got.choices.values() {
                assert_eq!(ch.finish.len(), 1, "{} finishes once per choice", r.name);
            }
        }
    }
}
