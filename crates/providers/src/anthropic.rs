//! Anthropic Messages API. System prompts move to `system`, tool results become `tool_result`
//! blocks in user turns, reasoning round-trips through `reasoning_details` (signatures kept),
//! and structured output is asked for with one forced tool whose input is the JSON answer.
//! The wire shapes are [`switchyard_api::anthropic`]'s.

use crate::sse::SseEvent;
use crate::util::{join_url, tool_arguments};
use crate::{Completion, Decoder, HttpRequest, ProviderError, StreamEvent, Target, TokenUsage};
use serde_json::{json, Map, Value};
use switchyard_api::anthropic::{
    self as an, BlockDelta, ContentBlock, CustomTool, DocumentBlock, DocumentSource, ImageBlock,
    ImageSource, InputMessage, MessageDeltaUsage, MessagesRequest, Metadata, RedactedThinkingBlock,
    TextBlock, TextOr, ThinkingBlock, ThinkingConfig, ToolResultBlock, ToolUseBlock,
};
use switchyard_api::chat::{
    parse_data_url, ChatRequest, Choice, ChunkChoice, Content, ContentPart, Delta, Extra,
    FinishReason, FunctionCall, FunctionDelta, Message, NativeDialect, NativeRequest,
    ReasoningDetail, ResponseMessage, Role, ToolCall, ToolCallDelta, ToolChoice,
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
    /// Pass each upstream event on as [`StreamEvent::Native`] too.
    pub relay: bool,
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
        // The client's own body goes upstream as sent: no forced JSON tool was added to it,
        // and its stream is relayed to it event for event.
        if req
            .native
            .as_deref()
            .is_some_and(|n| n.dialect == NativeDialect::AnthropicMessages)
        {
            return Context {
                json_tool: None,
                relay: true,
            };
        }
        Context {
            json_tool,
            relay: false,
        }
    }
}

pub fn build_request(
    target: Target<'_>,
    req: &ChatRequest,
    stream: bool,
) -> Result<HttpRequest, ProviderError> {
    let native = req
        .native
        .as_deref()
        .filter(|n| n.dialect == NativeDialect::AnthropicMessages);
    let body = match native {
        Some(n) => passthrough(n, target.upstream_model, req, stream),
        None => serde_json::to_value(encode(target.upstream_model, req, stream)?),
    };
    let body = body
        .and_then(|b| serde_json::to_vec(&b))
        .map_err(|e| ProviderError::Unsupported(e.to_string()))?;
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("anthropic-version".to_string(), API_VERSION.to_string()),
    ];
    if let Some(key) = target.api_key {
        headers.push(("x-api-key".into(), key.to_string()));
    }
    headers.extend(target.headers.iter().cloned());
    for (name, value) in native.iter().flat_map(|n| &n.headers) {
        // A beta the provider's configuration already enables is sent once, with the client's.
        match headers
            .iter_mut()
            .find(|(h, _)| h.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => {
                v.push(',');
                v.push_str(value);
            }
            None => headers.push((name.clone(), value.clone())),
        }
    }
    Ok(HttpRequest {
        url: join_url(target.base_url, "messages"),
        headers,
        body,
    })
}

/// Fields OpenRouter adds to a Messages request, which Anthropic does not take.
const GATEWAY_FIELDS: &[&str] = &[
    "models",
    "provider",
    "session_id",
    "route",
    "transforms",
    "plugins",
    "usage",
];

/// The client's own Messages body, for an Anthropic endpoint: the upstream's model name,
/// `stream` as this call streams, the gateway's fields removed, and `metadata.user_id` as the
/// gateway forwards end-user ids (hashed, in `req.user`). Everything else — blocks, thinking
/// signatures, cache breakpoints, server tools — goes as the client sent it.
fn passthrough(
    native: &NativeRequest,
    model: &str,
    req: &ChatRequest,
    stream: bool,
) -> Result<Value, serde_json::Error> {
    let mut body: Map<String, Value> = serde_json::from_slice(&native.body)?;
    for f in GATEWAY_FIELDS {
        body.remove(*f);
    }
    // After a turn another provider served, the conversation holds reasoning Anthropic
    // cannot verify and would refuse: that provider's signatures, packed by the gateway into
    // `redacted_thinking` blocks, and its thoughts as unsigned `thinking` blocks.
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        for m in messages {
            if let Some(Value::Array(blocks)) = m.get_mut("content") {
                blocks.retain(|b| !foreign_reasoning(b));
            }
        }
    }
    body.insert("model".into(), Value::String(model.to_string()));
    body.insert("stream".into(), Value::Bool(stream));
    // Anthropic requires it; a client that relied on the gateway's default gets that.
    if !body.contains_key("max_tokens") {
        body.insert(
            "max_tokens".into(),
            Value::from(req.max_output_tokens().unwrap_or(DEFAULT_MAX_TOKENS)),
        );
    }
    if let Some(Value::Object(meta)) = body.get_mut("metadata") {
        match &req.user {
            Some(u) => {
                meta.insert("user_id".into(), Value::String(u.clone()));
            }
            None => {
                meta.remove("user_id");
            }
        }
    }
    Ok(Value::Object(body))
}

/// A block of reasoning Anthropic did not write (see [`passthrough`]).
fn foreign_reasoning(block: &Value) -> bool {
    let text = |field: &str| block.get(field).and_then(Value::as_str);
    match text("type") {
        Some("thinking") => text("signature").is_none_or(str::is_empty),
        Some("redacted_thinking") => text("data")
            .and_then(switchyard_api::chat::decode_reasoning_envelope)
            .is_some(),
        _ => false,
    }
}

fn encode(model: &str, req: &ChatRequest, stream: bool) -> Result<MessagesRequest, ProviderError> {
    let mut system = Vec::new();
    let mut messages: Vec<InputMessage> = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        match m.role {
            Role::System | Role::Developer => {
                for block in content_blocks(m.content.as_ref(), i)? {
                    let ContentBlock::Text(text) = block else {
                        return Err(ProviderError::Unsupported(format!(
                            "messages[{i}]: a system prompt for Anthropic is text only"
                        )));
                    };
                    system.push(an::SystemBlock::Text(text));
                }
            }
            Role::User => push_turn(
                &mut messages,
                an::Role::User,
                content_blocks(m.content.as_ref(), i)?,
            ),
            Role::Assistant => {
                push_turn(&mut messages, an::Role::Assistant, assistant_blocks(m, i)?)
            }
            Role::Tool => {
                let id = m.tool_call_id.clone().ok_or_else(|| {
                    ProviderError::Unsupported(format!(
                        "messages[{i}].tool_call_id is required for a tool message"
                    ))
                })?;
                // A cache marker on the result's content marks the result: Anthropic's tool
                // results carry one marker for their whole content.
                let cache_control = m
                    .content
                    .as_ref()
                    .map(Content::parts)
                    .and_then(|parts| parts.into_iter().rev().find_map(|p| p.cache_control));
                let result = ToolResultBlock {
                    tool_use_id: id,
                    content: Some(TextOr::Text(m.text_content())),
                    is_error: None,
                    cache_control,
                    extra: Extra::new(),
                };
                push_turn(
                    &mut messages,
                    an::Role::User,
                    vec![ContentBlock::ToolResult(result)],
                );
            }
        }
    }

    let ctx = Context::of(req);
    let mut tools: Vec<an::Tool> = req
        .tools
        .iter()
        .flatten()
        .filter(|t| t.kind == "function")
        .map(|t| {
            an::Tool::Custom(CustomTool {
                kind: None,
                name: t.function.name.clone(),
                description: t.function.description.clone(),
                input_schema: t
                    .function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object"})),
                cache_control: t.cache_control.clone(),
                strict: None,
                extra: Extra::new(),
            })
        })
        .collect();

    let disable_parallel = req.parallel_tool_calls == Some(false);
    let mut tool_choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => Some(match m.as_str() {
            "none" => an::ToolChoice::None,
            "required" => an::ToolChoice::Any {
                disable_parallel_tool_use: None,
            },
            _ => an::ToolChoice::Auto {
                disable_parallel_tool_use: None,
            },
        }),
        Some(ToolChoice::Named(n)) => Some(an::ToolChoice::Tool {
            name: n.function.name.clone(),
            disable_parallel_tool_use: None,
        }),
    };

    if let Some(name) = &ctx.json_tool {
        let schema = req
            .response_format
            .as_ref()
            .and_then(|rf| rf.json_schema.as_ref())
            .and_then(|s| s.schema.clone())
            .unwrap_or_else(|| json!({"type": "object"}));
        tools.push(an::Tool::Custom(CustomTool {
            kind: None,
            name: name.clone(),
            description: Some(
                "Respond with the answer as this tool's input, a JSON value matching its schema."
                    .into(),
            ),
            input_schema: schema,
            cache_control: None,
            strict: None,
            extra: Extra::new(),
        }));
        tool_choice = Some(an::ToolChoice::Tool {
            name: name.clone(),
            disable_parallel_tool_use: None,
        });
    }
    if disable_parallel {
        match tool_choice.as_mut() {
            Some(
                an::ToolChoice::Auto {
                    disable_parallel_tool_use,
                }
                | an::ToolChoice::Any {
                    disable_parallel_tool_use,
                }
                | an::ToolChoice::Tool {
                    disable_parallel_tool_use,
                    ..
                },
            ) => *disable_parallel_tool_use = Some(true),
            // `none` takes no such flag.
            Some(an::ToolChoice::None) => {}
            None if !tools.is_empty() => {
                tool_choice = Some(an::ToolChoice::Auto {
                    disable_parallel_tool_use: Some(true),
                });
            }
            None => {}
        }
    }

    let mut max_tokens = req.max_output_tokens().unwrap_or(DEFAULT_MAX_TOKENS);
    let thinking = match &req.reasoning {
        Some(r) if r.wanted() => {
            let budget = r.budget(max_tokens).max(MIN_THINKING_BUDGET);
            if max_tokens <= budget {
                max_tokens = budget.saturating_add(max_tokens);
            }
            Some(ThinkingConfig::Enabled {
                budget_tokens: budget,
                display: None,
            })
        }
        _ => None,
    };

    Ok(MessagesRequest {
        model: Some(model.to_string()),
        messages,
        max_tokens,
        system: (!system.is_empty()).then_some(TextOr::Blocks(system)),
        stop_sequences: req.stop.as_ref().map(|s| s.to_vec()),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        thinking,
        metadata: req.user.as_ref().map(|u| Metadata {
            user_id: Some(u.clone()),
            extra: Extra::new(),
        }),
        stream: stream.then_some(true),
        cache_control: None,
        service_tier: None,
        output_config: None,
        models: None,
        provider: None,
        session_id: None,
        extra: Extra::new(),
    })
}

/// Anthropic wants alternating turns; consecutive turns of one role are merged.
fn push_turn(messages: &mut Vec<InputMessage>, role: an::Role, blocks: Vec<ContentBlock>) {
    if let Some(InputMessage {
        role: last_role,
        content: TextOr::Blocks(last),
    }) = messages.last_mut()
    {
        if *last_role == role {
            last.extend(blocks);
            return;
        }
    }
    messages.push(InputMessage {
        role,
        content: TextOr::Blocks(blocks),
    });
}

fn content_blocks(content: Option<&Content>, i: usize) -> Result<Vec<ContentBlock>, ProviderError> {
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

fn part_block(p: &ContentPart, i: usize) -> Result<ContentBlock, ProviderError> {
    let cache_control = p.cache_control.clone();
    Ok(match p.kind.as_str() {
        "text" => ContentBlock::Text(TextBlock {
            text: p.text.clone().unwrap_or_default(),
            citations: None,
            cache_control,
            extra: Extra::new(),
        }),
        "image_url" => {
            let url = p
                .image_url
                .as_ref()
                .map(|u| u.url.as_str())
                .unwrap_or_default();
            let source = match parse_data_url(url) {
                Some((mime, data)) => ImageSource::Base64 {
                    media_type: mime.into(),
                    data: data.into(),
                },
                None => ImageSource::Url { url: url.into() },
            };
            ContentBlock::Image(ImageBlock {
                source,
                cache_control,
                extra: Extra::new(),
            })
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
            let source = match parse_data_url(data) {
                Some((mime, data)) => DocumentSource::Base64 {
                    media_type: mime.into(),
                    data: data.into(),
                },
                None => DocumentSource::Url { url: data.into() },
            };
            ContentBlock::Document(DocumentBlock {
                source,
                title: None,
                context: None,
                citations: None,
                cache_control,
                extra: Extra::new(),
            })
        }
        other => {
            return Err(ProviderError::Unsupported(format!(
                "messages[{i}]: content type `{other}` is not supported by Anthropic"
            )))
        }
    })
}

fn assistant_blocks(m: &Message, i: usize) -> Result<Vec<ContentBlock>, ProviderError> {
    let mut blocks = Vec::new();
    // Thinking blocks must come first and be returned exactly as received.
    for d in m.reasoning_details.iter().flatten() {
        if d.format.as_deref().is_some_and(|f| f != REASONING_FORMAT) {
            continue;
        }
        match (d.kind.as_str(), &d.signature, &d.data) {
            ("reasoning.text", Some(signature), _) => {
                blocks.push(ContentBlock::Thinking(ThinkingBlock {
                    thinking: d.text.clone().unwrap_or_default(),
                    signature: signature.clone(),
                    extra: Extra::new(),
                }))
            }
            ("reasoning.encrypted", _, Some(data)) => {
                blocks.push(ContentBlock::RedactedThinking(RedactedThinkingBlock {
                    data: data.clone(),
                    extra: Extra::new(),
                }))
            }
            _ => {}
        }
    }
    blocks.extend(content_blocks(m.content.as_ref(), i)?);
    for tc in m.tool_calls.iter().flatten() {
        blocks.push(ContentBlock::ToolUse(ToolUseBlock {
            id: tc.id.clone(),
            name: tc.function.name.clone(),
            input: tool_arguments(i, tc)?,
            cache_control: None,
            extra: Extra::new(),
        }));
    }
    Ok(blocks)
}

/// Token counts as reported so far: later reports (`message_delta`) carry only what changed.
#[derive(Default, Clone, Copy)]
struct Tally {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl Tally {
    fn of_message(u: &an::Usage) -> Tally {
        Tally {
            input_tokens: Some(u.input_tokens),
            output_tokens: Some(u.output_tokens),
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
        }
    }

    fn merge(&mut self, newer: &MessageDeltaUsage) {
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

/// A tool call's input as arguments text: a peer that left it out gave none.
fn input_text(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_string(),
        v => v.to_string(),
    }
}

pub fn decode_response(body: &[u8], ctx: &Context) -> Result<Completion, ProviderError> {
    let resp: an::Message = serde_json::from_slice(body).map_err(ProviderError::decode)?;
    let mut msg = ResponseMessage {
        role: "assistant".into(),
        ..Default::default()
    };
    let mut details = Vec::new();
    let mut tool_calls = Vec::new();
    let mut json_answered = false;
    for (i, b) in resp.content.into_iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        match b {
            ContentBlock::Text(t) => push_opt(&mut msg.content, &t.text),
            ContentBlock::Thinking(t) => {
                push_opt(&mut msg.reasoning, &t.thinking);
                let mut d = ReasoningDetail::new("reasoning.text", REASONING_FORMAT, index);
                d.text = Some(t.thinking);
                // A block without a signature cannot be sent back: it is kept as reasoning
                // only.
                d.signature = Some(t.signature).filter(|s| !s.is_empty());
                details.push(d);
            }
            ContentBlock::RedactedThinking(r) => {
                let mut d = ReasoningDetail::new("reasoning.encrypted", REASONING_FORMAT, index);
                d.data = Some(r.data);
                details.push(d);
            }
            ContentBlock::ToolUse(u) => {
                let args = input_text(&u.input);
                if ctx.json_tool.as_deref() == Some(u.name.as_str()) {
                    push_opt(&mut msg.content, &args);
                    json_answered = true;
                } else {
                    tool_calls.push(ToolCall {
                        id: u.id,
                        kind: "function".into(),
                        function: FunctionCall {
                            name: u.name,
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
        usage: Tally::of_message(&resp.usage).canonical(),
        upstream_id: Some(resp.id).filter(|id| !id.is_empty()),
        system_fingerprint: None,
        native: ctx
            .relay
            .then(|| serde_json::from_slice(body).ok().map(Box::new))
            .flatten(),
    })
}

fn push_opt(slot: &mut Option<String>, text: &str) {
    slot.get_or_insert_with(String::new).push_str(text);
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
    usage: Tally,
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

    fn start_block(&mut self, index: u32, block: ContentBlock, out: &mut Vec<StreamEvent>) {
        let mut start_input = None;
        let kind = match block {
            ContentBlock::Text(t) => {
                if !t.text.is_empty() {
                    out.push(choice(Delta {
                        content: Some(t.text),
                        ..Default::default()
                    }));
                }
                BlockKind::Text
            }
            ContentBlock::Thinking(_) => BlockKind::Thinking,
            ContentBlock::ToolUse(u) => {
                // Anthropic sends `"input": {}` here and the input in deltas; an input given
                // here whole is kept for a block that gets none.
                start_input = match &u.input {
                    Value::Null => None,
                    Value::Object(o) if o.is_empty() => None,
                    v => Some(v.to_string()),
                };
                if self.ctx.json_tool.as_deref() == Some(u.name.as_str()) {
                    self.json_answered = true;
                    BlockKind::JsonAnswer
                } else {
                    let n = self.tools;
                    self.tools = self.tools.saturating_add(1);
                    out.push(choice(Delta {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: n,
                            id: Some(u.id),
                            kind: Some("function".into()),
                            function: Some(FunctionDelta {
                                name: Some(u.name),
                                arguments: Some(String::new()),
                            }),
                        }]),
                        ..Default::default()
                    }));
                    BlockKind::Tool(n)
                }
            }
            ContentBlock::RedactedThinking(r) => {
                let mut d = ReasoningDetail::new("reasoning.encrypted", REASONING_FORMAT, index);
                d.data = Some(r.data);
                out.push(choice(Delta {
                    reasoning_details: Some(vec![d]),
                    ..Default::default()
                }));
                BlockKind::Other
            }
            _ => BlockKind::Other,
        };
        self.blocks.push(Block {
            index,
            kind,
            wrote_input: false,
            start_input,
            open: true,
        });
    }

    fn block_delta(&mut self, index: u32, delta: BlockDelta, out: &mut Vec<StreamEvent>) {
        let (kind, block) = match self.block(index) {
            Some(b) => (b.kind, Some(b)),
            None => (BlockKind::Other, None),
        };
        match (delta, kind) {
            (BlockDelta::TextDelta { text }, _) => out.push(choice(Delta {
                content: Some(text),
                ..Default::default()
            })),
            (
                BlockDelta::InputJsonDelta { partial_json },
                BlockKind::Tool(_) | BlockKind::JsonAnswer,
            ) => {
                if partial_json.is_empty() {
                    return;
                }
                if let Some(b) = block {
                    b.wrote_input = true;
                }
                out.extend(input_delta(kind, partial_json));
            }
            (BlockDelta::ThinkingDelta { thinking }, _) => {
                let mut detail = ReasoningDetail::new("reasoning.text", REASONING_FORMAT, index);
                detail.text = Some(thinking.clone());
                out.push(choice(Delta {
                    reasoning: Some(thinking),
                    reasoning_details: Some(vec![detail]),
                    ..Default::default()
                }));
            }
            (BlockDelta::SignatureDelta { signature }, _) => {
                let mut detail = ReasoningDetail::new("reasoning.text", REASONING_FORMAT, index);
                detail.text = Some(String::new());
                detail.signature = Some(signature);
                out.push(choice(Delta {
                    reasoning_details: Some(vec![detail]),
                    ..Default::default()
                }));
            }
            _ => {}
        }
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
        let e: an::StreamEvent = serde_json::from_str(&ev.data).map_err(ProviderError::decode)?;
        let mut out = Vec::new();
        if self.ctx.relay && !matches!(e, an::StreamEvent::Error { .. }) {
            out.push(StreamEvent::Native(ev.clone()));
        }
        match e {
            an::StreamEvent::MessageStart { message } => {
                if !message.id.is_empty() {
                    out.push(StreamEvent::UpstreamId(message.id));
                }
                self.usage = Tally::of_message(&message.usage);
                out.push(choice(Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..Default::default()
                }));
            }
            an::StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.start_block(index, content_block, &mut out),
            an::StreamEvent::ContentBlockDelta { index, delta } => {
                self.block_delta(index, delta, &mut out)
            }
            an::StreamEvent::ContentBlockStop { index } => {
                if let Some(b) = self.block(index) {
                    out.extend(Self::close(b));
                }
            }
            an::StreamEvent::MessageDelta { delta, usage, .. } => {
                if let Some(u) = &usage {
                    self.usage.merge(u);
                }
                if let Some(reason) = delta.stop_reason {
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
            an::StreamEvent::MessageStop => {
                self.close_all(&mut out);
                self.done = true;
            }
            an::StreamEvent::Error { error } => {
                return Err(ProviderError::StreamError {
                    kind: if error.kind.is_empty() {
                        "error".into()
                    } else {
                        error.kind
                    },
                    message: if error.message.is_empty() {
                        "upstream error".into()
                    } else {
                        error.message
                    },
                });
            }
            // ping, and event types added after this was written.
            an::StreamEvent::Ping | an::StreamEvent::Other(_) => {}
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

    /// A client that spoke Anthropic's own dialect is passed through to an Anthropic endpoint:
    /// the body as sent (server tools, top-level cache_control, thinking signatures) with only
    /// the model, `stream` and the gateway's fields changed, and its betas added to the
    /// provider's.
    #[test]
    fn a_native_anthropic_body_goes_through_as_sent() {
        let raw = json!({
            "model": "anthropic/claude-sonnet-4.5",
            "models": ["anthropic/claude-sonnet-4.5"],
            "provider": {"order": ["anthropic"]},
            "session_id": "s-1",
            "max_tokens": 64,
            "cache_control": {"type": "ephemeral"},
            "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
            "metadata": {"user_id": "alice"},
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "EqQBCkYIBxgCKkB+/="},
                    {"type": "text", "text": "hello"}]},
                {"role": "user", "content": "again"}
            ],
        });
        let body = raw.to_string().into_bytes().into();
        let req = ChatRequest {
            user: Some("user-hashed".into()),
            native: Some(std::sync::Arc::new(NativeRequest {
                dialect: NativeDialect::AnthropicMessages,
                body,
                headers: vec![(
                    "anthropic-beta".into(),
                    "interleaved-thinking-2025-05-14".into(),
                )],
            })),
            ..ChatRequest::default()
        };
        let configured = [(
            "anthropic-beta".to_string(),
            "context-1m-2025-08-07".to_string(),
        )];
        let sim = crate::simulated::SimulationConfig::default();
        let target = Target {
            protocol: crate::Protocol::Anthropic,
            base_url: "https://api.anthropic.com/v1",
            api_key: Some("sk-ant"),
            upstream_model: "claude-sonnet-4-5",
            headers: &configured,
            simulation: &sim,
        };
        let http = build_request(target, &req, true).expect("builds");
        let sent: Value = serde_json::from_slice(&http.body).expect("JSON");
        let mut expected = raw;
        for f in ["models", "provider", "session_id"] {
            expected.as_object_mut().map(|o| o.remove(f));
        }
        expected["model"] = json!("claude-sonnet-4-5");
        expected["stream"] = json!(true);
        expected["metadata"]["user_id"] = json!("user-hashed");
        assert_eq!(sent, expected);
        let betas: Vec<_> = http
            .headers
            .iter()
            .filter(|(h, _)| h == "anthropic-beta")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            betas,
            ["context-1m-2025-08-07,interleaved-thinking-2025-05-14"]
        );
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
    fn a_cache_marker_on_a_tool_result_reaches_its_block() {
        let v = encode_json(
            r#"{"messages":[{"role":"user","content":"q"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}},
                {"id":"t2","type":"function","function":{"name":"f","arguments":"{}"}}]},
              {"role":"tool","tool_call_id":"t1","content":"plain"},
              {"role":"tool","tool_call_id":"t2","content":[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}]}]}"#,
        );
        let results = &v["messages"][2]["content"];
        assert!(results[0].get("cache_control").is_none());
        assert_eq!(results[1]["content"], "ab");
        assert_eq!(results[1]["cache_control"], json!({"type": "ephemeral"}));
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
            relay: false,
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
                StreamEvent::UpstreamId(_)
                | StreamEvent::SystemFingerprint(_)
                | StreamEvent::Native(_) => {}
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
            relay: false,
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
            {"role":"tool","tool_call_id":"toolu_1","content":"18C"},{"role":"tool","tool_call_id":"toolu_2","content":[{"type":"text","text":"19C","cache_control":{"type":"ephemeral"}}]}],
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
