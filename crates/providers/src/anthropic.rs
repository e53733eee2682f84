//! Anthropic Messages API. System prompts move to `system`, tool results become `tool_result`
//! blocks in user turns, reasoning round-trips through `reasoning_details` (signatures kept),
//! and structured output is asked for with one forced tool whose input is the JSON answer.

use crate::sse::SseEvent;
use crate::util::{join_url, tool_arguments};
use crate::{Completion, Decoder, HttpRequest, ProviderError, StreamEvent, Target, TokenUsage};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use switchyard_api::chat::{
    parse_data_url, ChatRequest, Choice, ChunkChoice, Content, ContentPart, Delta, FinishReason,
    FunctionCall, FunctionDelta, Message, ReasoningDetail, ResponseMessage, Role, ToolCall,
    ToolCallDelta, ToolChoice,
};

pub const API_VERSION: &str = "2023-06-01";
pub const REASONING_FORMAT: &str = "anthropic-claude-v1";
/// Anthropic requires `max_tokens`; this is used when the client gives none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
const MIN_THINKING_BUDGET: u32 = 1024;

/// What decoding needs to know about the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The forced tool that carries a `json_schema` / `json_object` answer.
    pub json_tool: Option<String>,
}

impl Context {
    pub fn of(req: &ChatRequest) -> Context {
        let json_tool = req
            .response_format
            .as_ref()
            .and_then(|rf| match rf.kind.as_str() {
                "json_schema" => Some(
                    rf.json_schema
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_else(|| "json_response".into()),
                ),
                "json_object" => Some("json_response".into()),
                _ => None,
            });
        Context { json_tool }
    }
}

#[derive(Serialize)]
struct MessagesRequest {
    model: String,
    max_tokens: u32,
    messages: Vec<AnMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize, Debug, PartialEq)]
struct AnMessage {
    role: &'static str,
    content: Vec<Value>,
}

pub fn build_request(
    target: Target<'_>,
    req: &ChatRequest,
    stream: bool,
) -> Result<HttpRequest, ProviderError> {
    let body = encode(target.upstream_model, req, stream)?;
    let body = serde_json::to_vec(&body).map_err(|e| ProviderError::Unsupported(e.to_string()))?;
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("anthropic-version".to_string(), API_VERSION.to_string()),
    ];
    if let Some(key) = target.api_key {
        headers.push(("x-api-key".into(), key.to_string()));
    }
    headers.extend(target.headers.iter().cloned());
    Ok(HttpRequest {
        url: join_url(target.base_url, "messages"),
        headers,
        body,
    })
}

fn encode(model: &str, req: &ChatRequest, stream: bool) -> Result<MessagesRequest, ProviderError> {
    let mut system = Vec::new();
    let mut messages: Vec<AnMessage> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        match m.role {
            Role::System | Role::Developer => {
                system.extend(content_blocks(m.content.as_ref(), i)?);
            }
            Role::User => push_turn(
                &mut messages,
                "user",
                content_blocks(m.content.as_ref(), i)?,
            ),
            Role::Assistant => push_turn(&mut messages, "assistant", assistant_blocks(m, i)?),
            Role::Tool => {
                let id = m.tool_call_id.clone().ok_or_else(|| {
                    ProviderError::Unsupported(format!(
                        "messages[{i}].tool_call_id is required for a tool message"
                    ))
                })?;
                let text = m.text_content();
                push_turn(
                    &mut messages,
                    "user",
                    vec![json!({"type": "tool_result", "tool_use_id": id, "content": text})],
                );
            }
        }
    }

    let ctx = Context::of(req);
    let mut tools: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .filter(|t| t.kind == "function")
        .map(|t| {
            let mut tool = Map::new();
            tool.insert("name".into(), json!(t.function.name));
            if let Some(d) = &t.function.description {
                tool.insert("description".into(), json!(d));
            }
            tool.insert(
                "input_schema".into(),
                t.function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object"})),
            );
            if let Some(cc) = &t.cache_control {
                tool.insert("cache_control".into(), cc.clone());
            }
            Value::Object(tool)
        })
        .collect();

    let disable_parallel = req.parallel_tool_calls == Some(false);
    let mut tool_choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "none" => Some(json!({"type": "none"})),
            "required" => Some(json!({"type": "any"})),
            _ => Some(json!({"type": "auto"})),
        },
        Some(ToolChoice::Named(n)) => Some(json!({"type": "tool", "name": n.function.name})),
    };

    if let Some(name) = &ctx.json_tool {
        let schema = req
            .response_format
            .as_ref()
            .and_then(|rf| rf.json_schema.as_ref())
            .and_then(|s| s.schema.clone())
            .unwrap_or_else(|| json!({"type": "object"}));
        tools.push(json!({
            "name": name,
            "description": "Respond with the answer as this tool's input, a JSON value matching its schema.",
            "input_schema": schema,
        }));
        tool_choice = Some(json!({"type": "tool", "name": name}));
    }
    if disable_parallel {
        if let Some(Value::Object(tc)) = tool_choice.as_mut() {
            if tc.get("type") != Some(&json!("none")) {
                tc.insert("disable_parallel_tool_use".into(), json!(true));
            }
        } else if !tools.is_empty() {
            tool_choice = Some(json!({"type": "auto", "disable_parallel_tool_use": true}));
        }
    }

    let mut max_tokens = req.max_output_tokens().unwrap_or(DEFAULT_MAX_TOKENS);
    let thinking = match &req.reasoning {
        Some(r) if r.wanted() => {
            let budget = r.budget(max_tokens).max(MIN_THINKING_BUDGET);
            if max_tokens <= budget {
                max_tokens = budget.saturating_add(max_tokens);
            }
            Some(json!({"type": "enabled", "budget_tokens": budget}))
        }
        _ => None,
    };

    Ok(MessagesRequest {
        model: model.to_string(),
        max_tokens,
        messages,
        system,
        tools,
        tool_choice,
        stop_sequences: req.stop.as_ref().map(|s| s.to_vec()),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        thinking,
        metadata: req.user.as_ref().map(|u| json!({"user_id": u})),
        stream,
    })
}

/// Anthropic wants alternating turns; consecutive turns of one role are merged.
fn push_turn(messages: &mut Vec<AnMessage>, role: &'static str, blocks: Vec<Value>) {
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(AnMessage {
            role,
            content: blocks,
        }),
    }
}

fn content_blocks(content: Option<&Content>, i: usize) -> Result<Vec<Value>, ProviderError> {
    let Some(content) = content else {
        return Ok(vec![]);
    };
    content
        .parts()
        .iter()
        .filter(|p| {
            !(p.kind == "text" && p.text.as_deref() == Some("") && p.cache_control.is_none())
        })
        .map(|p| part_block(p, i))
        .collect()
}

fn part_block(p: &ContentPart, i: usize) -> Result<Value, ProviderError> {
    let mut block = match p.kind.as_str() {
        "text" => json!({"type": "text", "text": p.text.clone().unwrap_or_default()}),
        "image_url" => {
            let url = p
                .image_url
                .as_ref()
                .map(|u| u.url.as_str())
                .unwrap_or_default();
            json!({"type": "image", "source": source(url)})
        }
        "file" => {
            let data = p
                .file
                .as_ref()
                .and_then(|f| f.file_data.as_deref())
                .ok_or_else(|| {
                    ProviderError::Unsupported(format!(
                        "messages[{i}]: file parts need `file.file_data`"
                    ))
                })?;
            json!({"type": "document", "source": source(data)})
        }
        other => {
            return Err(ProviderError::Unsupported(format!(
                "messages[{i}]: content type `{other}` is not supported by Anthropic"
            )))
        }
    };
    if let (Some(cc), Value::Object(b)) = (&p.cache_control, &mut block) {
        b.insert("cache_control".into(), cc.clone());
    }
    Ok(block)
}

fn source(url: &str) -> Value {
    match parse_data_url(url) {
        Some((mime, data)) => json!({"type": "base64", "media_type": mime, "data": data}),
        None => json!({"type": "url", "url": url}),
    }
}

fn assistant_blocks(m: &Message, i: usize) -> Result<Vec<Value>, ProviderError> {
    let mut blocks = Vec::new();
    // Thinking blocks must come first and be returned exactly as received.
    for d in m.reasoning_details.iter().flatten() {
        if d.format.as_deref().is_some_and(|f| f != REASONING_FORMAT) {
            continue;
        }
        match d.kind.as_str() {
            "reasoning.text" if d.signature.is_some() => blocks.push(json!({
                "type": "thinking",
                "thinking": d.text.clone().unwrap_or_default(),
                "signature": d.signature,
            })),
            "reasoning.encrypted" => {
                if let Some(data) = &d.data {
                    blocks.push(json!({"type": "redacted_thinking", "data": data}));
                }
            }
            _ => {}
        }
    }
    blocks.extend(content_blocks(m.content.as_ref(), i)?);
    for tc in m.tool_calls.iter().flatten() {
        let input = tool_arguments(i, tc)?;
        blocks.push(
            json!({"type": "tool_use", "id": tc.id, "name": tc.function.name, "input": input}),
        );
    }
    Ok(blocks)
}

#[derive(Deserialize)]
struct AnResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    content: Vec<AnBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: AnUsage,
}

#[derive(Deserialize)]
struct AnBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Value>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct AnUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl AnUsage {
    /// Later reports (message_delta) only carry what changed.
    fn merge(&mut self, newer: AnUsage) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
    }

    /// Anthropic's `input_tokens` excludes cache reads and writes; ours includes them.
    fn canonical(self) -> TokenUsage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let write = self.cache_creation_input_tokens.unwrap_or(0);
        TokenUsage {
            prompt: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(write),
            completion: self.output_tokens.unwrap_or(0),
            cached_read: read,
            cache_write: write,
            reasoning: 0,
        }
    }
}

pub fn finish_reason(native: &str) -> FinishReason {
    match native {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

pub fn decode_response(body: &[u8], ctx: &Context) -> Result<Completion, ProviderError> {
    let resp: AnResponse = serde_json::from_slice(body).map_err(ProviderError::decode)?;
    let mut msg = ResponseMessage {
        role: "assistant".into(),
        ..Default::default()
    };
    let mut details = Vec::new();
    let mut tool_calls = Vec::new();
    let mut json_answered = false;
    for (i, b) in resp.content.into_iter().enumerate() {
        match b.kind.as_str() {
            "text" => push_opt(&mut msg.content, b.text.as_deref().unwrap_or_default()),
            "thinking" => {
                let text = b.thinking.unwrap_or_default();
                push_opt(&mut msg.reasoning, &text);
                let mut d = ReasoningDetail::new("reasoning.text", REASONING_FORMAT, i as u32);
                d.text = Some(text);
                d.signature = b.signature;
                details.push(d);
            }
            "redacted_thinking" => {
                let mut d = ReasoningDetail::new("reasoning.encrypted", REASONING_FORMAT, i as u32);
                d.data = b.data;
                details.push(d);
            }
            "tool_use" => {
                let args = b.input.unwrap_or_else(|| json!({})).to_string();
                if ctx.json_tool.is_some() && b.name == ctx.json_tool {
                    push_opt(&mut msg.content, &args);
                    json_answered = true;
                } else {
                    tool_calls.push(ToolCall {
                        id: b.id.unwrap_or_default(),
                        kind: "function".into(),
                        function: FunctionCall {
                            name: b.name.unwrap_or_default(),
                            arguments: args,
                        },
                    });
                }
            }
            // Server tools (web search / fetch) and their results are Anthropic-side detail.
            _ => {}
        }
    }
    if !details.is_empty() {
        msg.reasoning_details = Some(details);
    }
    if !tool_calls.is_empty() {
        msg.tool_calls = Some(tool_calls);
    }
    let finish = match resp.stop_reason.as_deref() {
        Some("tool_use") if json_answered && msg.tool_calls.is_none() => Some(FinishReason::Stop),
        other => other.map(finish_reason),
    };
    Ok(Completion {
        choices: vec![Choice {
            index: 0,
            message: msg,
            finish_reason: finish,
            native_finish_reason: resp.stop_reason,
            logprobs: None,
        }],
        usage: resp.usage.canonical(),
        upstream_id: resp.id,
        system_fingerprint: None,
    })
}

fn push_opt(slot: &mut Option<String>, text: &str) {
    slot.get_or_insert_with(String::new).push_str(text);
}

#[derive(Deserialize)]
struct AnEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    message: Option<AnStartMessage>,
    #[serde(default)]
    content_block: Option<AnBlock>,
    #[serde(default)]
    delta: Option<AnDelta>,
    #[serde(default)]
    usage: Option<AnUsage>,
    #[serde(default)]
    error: Option<AnError>,
}

#[derive(Deserialize)]
struct AnStartMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    usage: Option<AnUsage>,
}

#[derive(Deserialize)]
struct AnDelta {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct AnError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// Content blocks of a stream, by their Anthropic index.
#[derive(Clone, Copy, PartialEq)]
enum BlockKind {
    Text,
    Thinking,
    /// A client tool call, with its index among tool calls.
    Tool(u32),
    /// The forced structured-output tool: its input streams as content.
    JsonAnswer,
    Other,
}

/// One content block of a stream.
struct Block {
    index: u32,
    kind: BlockKind,
    /// Whether any of a tool block's input has been passed on. Input that arrives empty
    /// (`"input": {}` and then only an empty `partial_json`) must still end as a JSON
    /// object: clients parse the arguments.
    wrote_input: bool,
    /// Input given whole in `content_block_start`, sent if no delta follows it.
    start_input: Option<String>,
    open: bool,
}

#[derive(Default)]
pub struct StreamDecoder {
    ctx: Context,
    blocks: Vec<Block>,
    tools: u32,
    usage: AnUsage,
    json_answered: bool,
    done: bool,
}

impl StreamDecoder {
    pub fn new(ctx: Context) -> StreamDecoder {
        StreamDecoder {
            ctx,
            ..Default::default()
        }
    }

    fn block(&mut self, index: u32) -> Option<&mut Block> {
        self.blocks.iter_mut().rev().find(|b| b.index == index)
    }

    /// Ends a block: a tool call that got no input gets its start input, or `{}`.
    fn close(block: &mut Block) -> Option<StreamEvent> {
        if !std::mem::take(&mut block.open) || block.wrote_input {
            return None;
        }
        let input = block.start_input.take().unwrap_or_else(|| "{}".to_string());
        input_delta(block.kind, input)
    }

    /// Ends every block still open, for a stream that finishes without their
    /// `content_block_stop`.
    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        out.extend(self.blocks.iter_mut().filter_map(Self::close));
    }
}

/// A piece of a tool block's input, as what the block streams to.
fn input_delta(kind: BlockKind, json: String) -> Option<StreamEvent> {
    match kind {
        BlockKind::Tool(n) => Some(choice(Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index: n,
                function: Some(FunctionDelta {
                    name: None,
                    arguments: Some(json),
                }),
                ..Default::default()
            }]),
            ..Default::default()
        })),
        BlockKind::JsonAnswer => Some(choice(Delta {
            content: Some(json),
            ..Default::default()
        })),
        _ => None,
    }
}

fn choice(delta: Delta) -> StreamEvent {
    StreamEvent::Choice(ChunkChoice {
        index: 0,
        delta,
        ..Default::default()
    })
}

impl Decoder for StreamDecoder {
    fn event(&mut self, ev: &SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        let e: AnEvent = serde_json::from_str(&ev.data).map_err(ProviderError::decode)?;
        let index = e.index.unwrap_or(0);
        let mut out = Vec::new();
        match e.kind.as_str() {
            "message_start" => {
                if let Some(m) = e.message {
                    if let Some(id) = m.id {
                        out.push(StreamEvent::UpstreamId(id));
                    }
                    if let Some(u) = m.usage {
                        self.usage.merge(u);
                    }
                }
                out.push(choice(Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..Default::default()
                }));
            }
            "content_block_start" => {
                let Some(b) = e.content_block else {
                    return Ok(out);
                };
                let kind = match b.kind.as_str() {
                    "text" => BlockKind::Text,
                    "thinking" => BlockKind::Thinking,
                    "tool_use" if self.ctx.json_tool.is_some() && b.name == self.ctx.json_tool => {
                        self.json_answered = true;
                        BlockKind::JsonAnswer
                    }
                    "tool_use" => {
                        let n = self.tools;
                        self.tools = self.tools.saturating_add(1);
                        out.push(choice(Delta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index: n,
                                id: b.id.clone(),
                                kind: Some("function".into()),
                                function: Some(FunctionDelta {
                                    name: b.name.clone(),
                                    arguments: Some(String::new()),
                                }),
                            }]),
                            ..Default::default()
                        }));
                        BlockKind::Tool(n)
                    }
                    "redacted_thinking" => {
                        let mut d =
                            ReasoningDetail::new("reasoning.encrypted", REASONING_FORMAT, index);
                        d.data = b.data.clone();
                        out.push(choice(Delta {
                            reasoning_details: Some(vec![d]),
                            ..Default::default()
                        }));
                        BlockKind::Other
                    }
                    _ => BlockKind::Other,
                };
                if let (BlockKind::Text, Some(t)) = (kind, b.text.filter(|t| !t.is_empty())) {
                    out.push(choice(Delta {
                        content: Some(t),
                        ..Default::default()
                    }));
                }
                // Anthropic sends `"input": {}` here and the input in deltas; an input given
                // here whole is kept for a block that gets none.
                let start_input = b
                    .input
                    .as_ref()
                    .filter(|v| !matches!(v, Value::Object(o) if o.is_empty()))
                    .map(Value::to_string);
                self.blocks.push(Block {
                    index,
                    kind,
                    wrote_input: false,
                    start_input,
                    open: true,
                });
            }
            "content_block_delta" => {
                let Some(d) = e.delta else {
                    return Ok(out);
                };
                let (kind, block) = match self.block(index) {
                    Some(b) => (b.kind, Some(b)),
                    None => (BlockKind::Other, None),
                };
                match (d.kind.as_deref(), kind) {
                    (Some("text_delta"), _) => out.push(choice(Delta {
                        content: d.text,
                        ..Default::default()
                    })),
                    (Some("input_json_delta"), BlockKind::Tool(_) | BlockKind::JsonAnswer) => {
                        let json = d.partial_json.unwrap_or_default();
                        if json.is_empty() {
                            return Ok(out);
                        }
                        if let Some(b) = block {
                            b.wrote_input = true;
                        }
                        out.extend(input_delta(kind, json));
                    }
                    (Some("thinking_delta"), _) => {
                        let mut detail =
                            ReasoningDetail::new("reasoning.text", REASONING_FORMAT, index);
                        detail.text = d.thinking.clone();
                        out.push(choice(Delta {
                            reasoning: d.thinking,
                            reasoning_details: Some(vec![detail]),
                            ..Default::default()
                        }));
                    }
                    (Some("signature_delta"), _) => {
                        let mut detail =
                            ReasoningDetail::new("reasoning.text", REASONING_FORMAT, index);
                        detail.text = Some(String::new());
                        detail.signature = d.signature;
                        out.push(choice(Delta {
                            reasoning_details: Some(vec![detail]),
                            ..Default::default()
                        }));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(b) = self.block(index) {
                    out.extend(Self::close(b));
                }
            }
            "message_delta" => {
                if let Some(u) = e.usage {
                    self.usage.merge(u);
                }
                if let Some(reason) = e.delta.and_then(|d| d.stop_reason) {
                    self.close_all(&mut out);
                    let finish = if reason == "tool_use" && self.json_answered && self.tools == 0 {
                        FinishReason::Stop
                    } else {
                        finish_reason(&reason)
                    };
                    out.push(StreamEvent::Choice(ChunkChoice {
                        index: 0,
                        delta: Delta::default(),
                        finish_reason: Some(finish),
                        native_finish_reason: Some(reason),
                        logprobs: None,
                    }));
                }
                out.push(StreamEvent::Usage(self.usage.canonical()));
            }
            "message_stop" => {
                self.close_all(&mut out);
                self.done = true;
            }
            "error" => {
                let err = e.error.unwrap_or(AnError {
                    kind: "error".into(),
                    message: "upstream error".into(),
                });
                return Err(ProviderError::StreamError {
                    kind: err.kind,
                    message: err.message,
                });
            }
            // ping, and event types added after this was written.
            _ => {}
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chunks_as_sse, run_decoder};
    use switchyard_api::chat::parse_chat_request;

    fn encode_json(body: &str) -> Value {
        let req = parse_chat_request(body.as_bytes()).expect("valid request");
        serde_json::to_value(encode("claude-x", &req, false).expect("encodes")).unwrap_or_default()
    }

    #[test]
    fn encodes_system_tools_images_and_multi_turn() {
        let v = encode_json(
            r#"{"model":"anthropic/claude","max_tokens":100,"stop":["END"],"temperature":0.2,
            "messages":[
              {"role":"system","content":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}]},
              {"role":"user","content":[{"type":"text","text":"Weather?"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
                {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]},
              {"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function",
                "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"toolu_1","content":"18C"},
              {"role":"user","content":"thanks"}],
            "tools":[{"type":"function","function":{"name":"get_weather","description":"w",
              "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
            "tool_choice":"required","parallel_tool_calls":false}"#,
        );
        assert_eq!(v["system"][0]["text"], "Be brief.");
        assert_eq!(v["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(v["max_tokens"], 100);
        assert_eq!(v["stop_sequences"][0], "END");
        let msgs = v["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            msgs.len(),
            3,
            "tool result and next user turn merge: {msgs:?}"
        );
        assert_eq!(msgs[0]["content"][1]["source"]["type"], "base64");
        assert_eq!(msgs[0]["content"][1]["source"]["media_type"], "image/png");
        assert_eq!(msgs[0]["content"][2]["source"]["type"], "url");
        assert_eq!(msgs[1]["content"][0]["type"], "tool_use");
        assert_eq!(msgs[1]["content"][0]["input"]["city"], "Paris");
        assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
        assert_eq!(msgs[2]["content"][0]["tool_use_id"], "toolu_1");
        assert_eq!(msgs[2]["content"][1]["text"], "thanks");
        assert_eq!(
            v["tools"][0]["input_schema"]["properties"]["city"]["type"],
            "string"
        );
        assert_eq!(v["tool_choice"]["type"], "any");
        assert_eq!(v["tool_choice"]["disable_parallel_tool_use"], true);
    }

    #[test]
    fn thinking_round_trips_with_signature() {
        let v = encode_json(
            r#"{"messages":[{"role":"user","content":"q"},
              {"role":"assistant","content":"a","reasoning_details":[
                {"type":"reasoning.text","text":"hmm","signature":"sig==","format":"anthropic-claude-v1","index":0}]},
              {"role":"user","content":"more"}],
             "reasoning":{"effort":"high"},"max_tokens":2000}"#,
        );
        assert_eq!(v["messages"][1]["content"][0]["type"], "thinking");
        assert_eq!(v["messages"][1]["content"][0]["signature"], "sig==");
        assert_eq!(v["messages"][1]["content"][1]["text"], "a");
        let budget = v["thinking"]["budget_tokens"].as_u64().unwrap_or(0);
        assert!(budget >= 1024 && v["max_tokens"].as_u64().unwrap_or(0) > budget);
    }

    #[test]
    fn json_schema_becomes_forced_tool_and_comes_back_as_content() {
        let v = encode_json(
            r#"{"messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_schema",
              "json_schema":{"name":"answer","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}}}"#,
        );
        assert_eq!(v["tool_choice"], json!({"type":"tool","name":"answer"}));
        assert_eq!(
            v["tools"][0]["input_schema"]["properties"]["n"]["type"],
            "integer"
        );
        let ctx = Context {
            json_tool: Some("answer".into()),
        };
        let body = br#"{"id":"msg_1","content":[{"type":"tool_use","id":"t","name":"answer","input":{"n":4}}],
            "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":3}}"#;
        let c = decode_response(body, &ctx).expect("decodes");
        assert_eq!(c.choices[0].message.content.as_deref(), Some(r#"{"n":4}"#));
        assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Stop));
        assert!(c.choices[0].message.tool_calls.is_none());
    }

    #[test]
    fn decodes_recorded_responses() {
        let ctx = Context::default();
        let t = decode_response(
            include_bytes!("../fixtures/anthropic__anthropic-text.json"),
            &ctx,
        )
        .expect("text");
        assert!(t.choices[0]
            .message
            .content
            .as_deref()
            .is_some_and(|s| !s.is_empty()));
        assert_eq!(t.choices[0].finish_reason, Some(FinishReason::Stop));
        assert!(t.usage.prompt > 0 && t.usage.completion > 0);

        let th = decode_response(
            include_bytes!("../fixtures/anthropic__anthropic-clear-thinking.1.json"),
            &ctx,
        )
        .expect("thinking");
        let m = &th.choices[0].message;
        assert_eq!(m.reasoning.as_deref(), Some("925 divided by 5 = 185"));
        let d = m.reasoning_details.clone().unwrap_or_default();
        assert!(d[0]
            .signature
            .as_deref()
            .is_some_and(|s| s.starts_with("Er4B")));
        assert_eq!(th.usage.prompt, 69);

        let tool = decode_response(
            include_bytes!("../fixtures/anthropic__anthropic-json-tool.1.json"),
            &ctx,
        )
        .expect("tool");
        assert_eq!(tool.choices[0].finish_reason, Some(FinishReason::ToolCalls));
        let calls = tool.choices[0]
            .message
            .tool_calls
            .clone()
            .unwrap_or_default();
        assert!(serde_json::from_str::<Value>(&calls[0].function.arguments).is_ok());

        decode_response(
            include_bytes!("../fixtures/anthropic__anthropic-web-fetch-tool.error.json"),
            &ctx,
        )
        .expect("server tool blocks are skipped, not fatal");
    }

    fn collect(
        evs: &[StreamEvent],
    ) -> (
        String,
        String,
        Vec<ToolCallDelta>,
        Option<TokenUsage>,
        Vec<FinishReason>,
    ) {
        let (mut text, mut reasoning, mut tools, mut usage, mut finish) =
            (String::new(), String::new(), vec![], None, vec![]);
        for e in evs {
            match e {
                StreamEvent::Choice(c) => {
                    text.push_str(c.delta.content.as_deref().unwrap_or(""));
                    reasoning.push_str(c.delta.reasoning.as_deref().unwrap_or(""));
                    tools.extend(c.delta.tool_calls.clone().unwrap_or_default());
                    finish.extend(c.finish_reason);
                }
                StreamEvent::Usage(u) => usage = Some(*u),
                StreamEvent::UpstreamId(_) | StreamEvent::SystemFingerprint(_) => {}
            }
        }
        (text, reasoning, tools, usage, finish)
    }

    #[test]
    fn decodes_every_recorded_stream() {
        let recorded = [
            chunks_as_sse(
                include_str!("../fixtures/anthropic__anthropic-text.chunks.txt"),
                true,
            ),
            chunks_as_sse(
                include_str!("../fixtures/anthropic__anthropic-json-tool.1.chunks.txt"),
                true,
            ),
            chunks_as_sse(
                include_str!("../fixtures/anthropic__anthropic-clear-thinking.1.chunks.txt"),
                true,
            ),
            include_str!("../fixtures/anthropic__anthropic-streaming.md.basic.sse.txt").to_string(),
            include_str!("../fixtures/anthropic__anthropic-streaming.md.tool-use.sse.txt")
                .to_string(),
            include_str!("../fixtures/anthropic__anthropic-streaming.md.extended-thinking.sse.txt")
                .to_string(),
        ];
        for (i, sse) in recorded.iter().enumerate() {
            let mut d = StreamDecoder::default();
            let evs = run_decoder(&mut d, sse).unwrap_or_else(|e| panic!("stream {i}: {e}"));
            assert!(d.is_done(), "stream {i} reaches message_stop");
            let (text, _, tools, usage, finish) = collect(&evs);
            assert!(
                !text.is_empty() || !tools.is_empty(),
                "stream {i} has output"
            );
            // The documentation transcripts (3..) elide some usage numbers; the recordings do not.
            assert!(
                usage.is_some_and(|u| i >= 3 || (u.prompt > 0 && u.completion > 0)),
                "stream {i} usage"
            );
            assert_eq!(finish.len(), 1, "stream {i} finishes once");
        }
        // Tool call arguments reassemble into valid JSON under one index.
        let mut d = StreamDecoder::default();
        let evs = run_decoder(&mut d, &recorded[4]).expect("tool stream");
        let (_, _, tools, _, finish) = collect(&evs);
        assert_eq!(finish, vec![FinishReason::ToolCalls]);
        let args: String = tools
            .iter()
            .filter(|t| t.index == 0)
            .filter_map(|t| t.function.as_ref().and_then(|f| f.arguments.clone()))
            .collect();
        assert!(serde_json::from_str::<Value>(&args).is_ok(), "{args}");
        assert!(
            tools[0].id.is_some()
                && tools[0]
                    .function
                    .as_ref()
                    .and_then(|f| f.name.clone())
                    .is_some()
        );
        // Thinking arrives as reasoning, with the signature kept.
        let mut d = StreamDecoder::default();
        let evs = run_decoder(&mut d, &recorded[5]).expect("thinking stream");
        let (_, reasoning, ..) = collect(&evs);
        assert!(!reasoning.is_empty());
        assert!(evs.iter().any(|e| matches!(e, StreamEvent::Choice(c)
            if c.delta.reasoning_details.as_ref().is_some_and(|d| d[0].signature.is_some()))));
    }

    /// The arguments a stream gives each tool call, by index.
    fn arguments_by_index(evs: &[StreamEvent]) -> Vec<String> {
        let (_, _, tools, _, _) = collect(evs);
        let mut args: Vec<String> = Vec::new();
        for t in tools {
            let i = t.index as usize;
            if args.len() <= i {
                args.resize(i + 1, String::new());
            }
            if let Some(a) = t.function.and_then(|f| f.arguments) {
                args[i].push_str(&a);
            }
        }
        args
    }

    #[test]
    fn a_tool_call_with_empty_input_has_arguments_of_an_empty_object() {
        // Recorded: `"input": {}` then one `input_json_delta` with `partial_json: ""`.
        let sse = chunks_as_sse(
            include_str!("../fixtures/anthropic__anthropic-tool-no-args.chunks.txt"),
            true,
        );
        let evs = run_decoder(&mut StreamDecoder::default(), &sse).expect("decodes");
        assert_eq!(arguments_by_index(&evs), vec!["{}".to_string()]);
        let (text, _, tools, _, finish) = collect(&evs);
        assert_eq!(text, "I'll update the issue list for you.");
        assert_eq!(
            tools[0].function.as_ref().and_then(|f| f.name.as_deref()),
            Some("updateIssueList")
        );
        assert_eq!(finish, vec![FinishReason::ToolCalls]);

        // The same for the forced structured-output tool, whose input is the answer.
        let ctx = Context {
            json_tool: Some("updateIssueList".into()),
        };
        let evs = run_decoder(&mut StreamDecoder::new(ctx), &sse).expect("decodes");
        let (text, _, tools, _, finish) = collect(&evs);
        assert_eq!(text, "I'll update the issue list for you.{}");
        assert!(tools.is_empty());
        assert_eq!(finish, vec![FinishReason::Stop]);
    }

    /// Stream content Anthropic documents for which no public recording was found, in the
    /// documented shapes.
    #[test]
    fn documented_events_without_a_public_recording() {
        let start = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}

"#;
        let stop = |reason: &str| {
            format!(
                "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{reason}\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":2}}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
            )
        };
        let redacted = format!(
            "{start}event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgBEgy3va3pzix\"}}}}\n\nevent: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n{}",
            stop("end_turn")
        );
        let evs = run_decoder(&mut StreamDecoder::default(), &redacted).expect("decodes");
        assert!(evs.iter().any(|e| matches!(e, StreamEvent::Choice(c)
            if c.delta.reasoning_details.as_ref().is_some_and(|d| d[0].kind == "reasoning.encrypted"
                && d[0].data.as_deref() == Some("EmwKAhgBEgy3va3pzix")))));
        for (reason, want) in [
            ("stop_sequence", FinishReason::Stop),
            ("pause_turn", FinishReason::Stop),
            ("model_context_window_exceeded", FinishReason::Length),
            ("refusal", FinishReason::ContentFilter),
        ] {
            let evs = run_decoder(
                &mut StreamDecoder::default(),
                &format!("{start}{}", stop(reason)),
            )
            .expect("decodes");
            let (.., finish) = collect(&evs);
            assert_eq!(finish, vec![want], "{reason}");
        }
        // Event, block and delta types added later are passed over, not fatal.
        let future = format!(
            "{start}event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"hologram\"}}}}\n\nevent: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"hologram_delta\"}}}}\n\nevent: telemetry\ndata: {{\"type\":\"telemetry\"}}\n\n{}",
            stop("end_turn")
        );
        let mut d = StreamDecoder::default();
        run_decoder(&mut d, &future).expect("decodes");
        assert!(d.is_done());
    }

    #[test]
    fn error_event_is_an_error() {
        let sse = include_str!("../fixtures/anthropic__anthropic-streaming.md.error.sse.txt");
        let err = run_decoder(&mut StreamDecoder::default(), sse).expect_err("error event");
        assert!(
            matches!(err, ProviderError::StreamError { ref kind, .. } if kind == "overloaded_error")
        );
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;
    use crate::testutil::SchemaSet;
    use switchyard_api::chat::parse_chat_request;

    /// Requests covering every feature the adapter translates; each encoded body must conform
    /// to `CreateMessageParams` in Anthropic's published OpenAPI spec.
    const CASES: &[&str] = &[
        r#"{"messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"messages":[{"role":"system","content":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}]},
            {"role":"developer","content":"dev"},
            {"role":"user","content":[{"type":"text","text":"look"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
              {"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}},
              {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBER"}}]}],
           "max_tokens":50,"temperature":0.5,"top_p":0.9,"top_k":40,"stop":["X"],"user":"u-1","stream":true}"#,
        r#"{"messages":[{"role":"user","content":"w?"},
            {"role":"assistant","content":"checking","tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"w","arguments":"{\"c\":\"P\"}"}},
              {"id":"toolu_2","type":"function","function":{"name":"w","arguments":""}}]},
            {"role":"tool","tool_call_id":"toolu_1","content":"18C"},{"role":"tool","tool_call_id":"toolu_2","content":"19C"}],
           "tools":[{"type":"function","function":{"name":"w","description":"d","parameters":{"type":"object","properties":{"c":{"type":"string"}}}},"cache_control":{"type":"ephemeral"}}],
           "tool_choice":{"type":"function","function":{"name":"w"}},"parallel_tool_calls":false}"#,
        r#"{"messages":[{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"w"}}],"tool_choice":"none"}"#,
        r#"{"messages":[{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"w"}}],"tool_choice":"auto"}"#,
        r#"{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a","reasoning_details":[
              {"type":"reasoning.text","text":"t","signature":"s","format":"anthropic-claude-v1"},
              {"type":"reasoning.encrypted","data":"d","format":"anthropic-claude-v1"}]},{"role":"user","content":"again"}],
           "reasoning":{"max_tokens":2048},"max_tokens":1000}"#,
        r#"{"messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_schema","json_schema":{"name":"out","schema":{"type":"object"}}}}"#,
        r#"{"messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_object"}}"#,
    ];

    #[test]
    fn encoded_requests_conform_to_the_published_schema() {
        let doc: Value = serde_json::from_str(include_str!(
            "../fixtures/anthropic__create-message-params.schema.json"
        ))
        .expect("schema parses");
        let set = SchemaSet {
            schemas: doc["schemas"].as_object().cloned().unwrap_or_default(),
        };
        for (i, case) in CASES.iter().enumerate() {
            let req = parse_chat_request(case.as_bytes()).expect("case parses");
            let body = serde_json::to_value(
                encode("claude-sonnet-4-5", &req, req.is_stream()).expect("encodes"),
            )
            .unwrap_or_default();
            let errs = set.validate("CreateMessageParams", &body);
            assert!(errs.is_empty(), "case {i}: {errs:#?}\n{body:#}");
        }
        // The checker itself catches a bad body.
        let bad = json!({"model": "m", "max_tokens": "many", "messages": [], "bogus": 1});
        assert!(set.validate("CreateMessageParams", &bad).len() >= 2);
    }
}
