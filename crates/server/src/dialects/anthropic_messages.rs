//! Anthropic's Messages API as OpenRouter serves it (`POST /v1/messages`,
//! `POST /v1/messages/count_tokens`): conversions only, between Anthropic's shapes
//! ([`switchyard_api::anthropic`]) and the canonical request, answer and stream events.
//!
//! These mirror the outbound Anthropic adapter (`switchyard_providers::anthropic`), so that
//! a request that comes in as Anthropic and goes out to Anthropic keeps its text, images,
//! documents, tool calls and results, thinking blocks (signatures byte for byte), redacted
//! thinking, and cache markers on blocks and tools. What has no canonical form (server tools
//! such as `web_search_20250305` and their blocks, `service_tier`, unknown fields) is left
//! out and listed in [`Context::untranslated`].

use super::{sse_event, Framer};
use crate::pipeline::Event;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use switchyard_api::anthropic::{
    self as an, BlockDelta, ContentBlock, CountTokensRequest, DocumentBlock, DocumentSource,
    ErrorObject, ErrorResponse, ImageBlock, ImageSource, MessageDelta, MessageDeltaUsage,
    MessagesRequest, StreamEvent, TextBlock, TextOr, ThinkingBlock, ThinkingConfig,
    ToolResultBlock, ToolUseBlock,
};
use switchyard_api::chat::{decode_reasoning_envelope, encode_reasoning_envelope};
use switchyard_api::chat::{
    ChatChunk, ChatRequest, ChatResponse, Content, ContentPart, Extra, FileData, FinishReason,
    FunctionCall, FunctionDef, ImageUrl, JsonSchemaFormat, Message, NamedFunction, NamedToolChoice,
    ReasoningConfig, ReasoningDetail, ResponseFormat, Role, Stop, Tool, ToolCall, ToolCallDelta,
    ToolChoice, Usage,
};
use switchyard_providers::anthropic::{finish_reason, REASONING_FORMAT};
use switchyard_providers::simulated::estimate_tokens;

/// What rendering needs to remember of the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The model the client asked for (the first of `models` when `model` is absent): the
    /// answer's `model` when the pipeline reports none.
    pub model: String,
    /// The client's `thinking`, when given. Thinking is rendered unless it was disabled.
    pub thinking: Option<ThinkingConfig>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// What the request held that has no canonical form and was left out, one entry each
    /// (`tool web_search (web_search_20250305)`, `block server_tool_use in messages[1]`,
    /// `field service_tier`): for the route to log or warn about.
    pub untranslated: Vec<String>,
}

impl Context {
    fn thinking_disabled(&self) -> bool {
        matches!(self.thinking, Some(ThinkingConfig::Disabled))
    }
}

/// The name `json_schema` output formats are given in the canonical `response_format` (and
/// so the forced tool an Anthropic upstream is asked for).
const OUTPUT_FORMAT_NAME: &str = "output";

/// Stop reasons Anthropic documents; any other native reason is mapped from the canonical
/// finish reason.
const STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

// ---------------------------------------------------------------------------------------
// Requests

/// Parses a body, naming the exact field at fault (`messages[0].content[1]: …`); trailing
/// data after the JSON value is refused.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    switchyard_api::parse_body(body)
}

/// A `POST /v1/messages` body → the canonical request, and what rendering the answer needs.
pub fn decode(body: &[u8]) -> Result<(ChatRequest, Context), String> {
    let req: MessagesRequest = parse(body)?;
    if req.messages.is_empty() {
        return Err("`messages` must contain at least one message".into());
    }
    let first_of_models = req.models.as_ref().and_then(|m| m.first()).cloned();
    let Some(model) = req.model.clone().or(first_of_models) else {
        return Err("`model` is required".into());
    };
    if req.messages.iter().all(|m| m.role == an::Role::System) {
        return Err(
            "`messages[0].role`: a conversation needs a user turn, not only system messages".into(),
        );
    }
    // Anthropic refuses empty text blocks (and a missing `text` reads as empty): refused
    // here, before any provider is called, naming the block.
    for (i, m) in req.messages.iter().enumerate() {
        if let TextOr::Blocks(blocks) = &m.content {
            for (j, b) in blocks.iter().enumerate() {
                if matches!(b, ContentBlock::Text(t) if t.text.is_empty()) {
                    return Err(format!(
                        "invalid value for `messages[{i}].content[{j}].text`: text content blocks must be non-empty"
                    ));
                }
            }
        }
    }
    Ok(convert(req, model))
}

fn convert(req: MessagesRequest, model: String) -> (ChatRequest, Context) {
    let mut ctx = Context {
        model,
        thinking: req.thinking.clone(),
        stream: req.stream.unwrap_or(false),
        untranslated: Vec::new(),
    };
    let mut messages = Vec::new();
    if let Some(system) = req.system {
        let parts = match system {
            TextOr::Text(t) => vec![ContentPart::text(t)],
            TextOr::Blocks(blocks) => blocks
                .into_iter()
                .map(|an::SystemBlock::Text(t)| text_part(t))
                .collect(),
        };
        if !parts.is_empty() {
            messages.push(with_content(Role::System, parts));
        }
    }
    for (i, m) in req.messages.into_iter().enumerate() {
        match m.role {
            an::Role::User => user_turn(m.content, i, &mut messages, &mut ctx),
            an::Role::Assistant => messages.push(assistant_turn(m.content, i, &mut ctx)),
            an::Role::System => system_turn(m.content, i, &mut messages, &mut ctx),
        }
    }
    if let Some(cc) = req.cache_control {
        mark_last_block(&mut messages, cc);
    }

    let mut tools = Vec::new();
    for t in req.tools.into_iter().flatten() {
        match t {
            an::Tool::Custom(t) => tools.push(Tool {
                kind: "function".into(),
                function: FunctionDef {
                    name: t.name,
                    description: t.description,
                    parameters: Some(t.input_schema),
                    strict: t.strict,
                },
                cache_control: t.cache_control,
                extra: Extra::new(),
            }),
            an::Tool::Server(v) => {
                let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
                let name = v.get("name").and_then(Value::as_str).unwrap_or("");
                ctx.untranslated.push(format!("tool {name} ({kind})"));
            }
        }
    }
    // A choice among tools none of which is left would be refused upstream.
    let (tool_choice, parallel_tool_calls) = match (&req.tool_choice, tools.is_empty()) {
        (Some(tc), false) => tool_choice(tc),
        _ => (None, None),
    };

    let effort = req.output_config.as_ref().and_then(|o| o.effort.clone());
    let reasoning = match &req.thinking {
        Some(ThinkingConfig::Enabled { budget_tokens, .. }) => Some(ReasoningConfig {
            max_tokens: Some(*budget_tokens),
            ..Default::default()
        }),
        Some(ThinkingConfig::Disabled) => Some(ReasoningConfig {
            enabled: Some(false),
            ..Default::default()
        }),
        // Effort is how much an adaptive thinker thinks; alone it would switch thinking on.
        Some(ThinkingConfig::Adaptive { .. }) => Some(ReasoningConfig {
            enabled: Some(true),
            effort: effort.clone(),
            ..Default::default()
        }),
        None => None,
    };
    if effort.is_some() && !matches!(req.thinking, Some(ThinkingConfig::Adaptive { .. })) {
        ctx.untranslated.push("field output_config.effort".into());
    }
    let response_format = req
        .output_config
        .as_ref()
        .and_then(|o| o.format.as_ref())
        .and_then(|f| match (f.kind.as_str(), &f.schema) {
            ("json_schema", Some(schema)) => Some(ResponseFormat {
                kind: "json_schema".into(),
                json_schema: Some(JsonSchemaFormat {
                    name: OUTPUT_FORMAT_NAME.into(),
                    description: None,
                    schema: Some(schema.clone()),
                    strict: None,
                }),
            }),
            (other, _) => {
                ctx.untranslated
                    .push(format!("field output_config.format ({other})"));
                None
            }
        });
    if req.service_tier.is_some() {
        ctx.untranslated.push("field service_tier".into());
    }
    for key in req.extra.keys() {
        ctx.untranslated.push(format!("field {key}"));
    }

    let chat = ChatRequest {
        model: req.model,
        messages,
        stream: req.stream,
        max_tokens: Some(req.max_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop: req.stop_sequences.map(Stop::Many),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning,
        user: req.metadata.and_then(|m| m.user_id),
        models: req.models,
        provider: req.provider,
        session_id: req.session_id,
        ..Default::default()
    };
    (chat, ctx)
}

fn tool_choice(tc: &an::ToolChoice) -> (Option<ToolChoice>, Option<bool>) {
    let mode = |m: &str| Some(ToolChoice::Mode(m.into()));
    let (choice, disable) = match tc {
        an::ToolChoice::Auto {
            disable_parallel_tool_use,
        } => (mode("auto"), *disable_parallel_tool_use),
        an::ToolChoice::Any {
            disable_parallel_tool_use,
        } => (mode("required"), *disable_parallel_tool_use),
        an::ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        } => (
            Some(ToolChoice::Named(NamedToolChoice {
                kind: "function".into(),
                function: NamedFunction { name: name.clone() },
            })),
            *disable_parallel_tool_use,
        ),
        an::ToolChoice::None => (mode("none"), None),
    };
    (choice, (disable == Some(true)).then_some(false))
}

/// A message of `role` with `parts` as content: plain text when that is all there is.
fn with_content(role: Role, parts: Vec<ContentPart>) -> Message {
    let mut m = Message::text(role, "");
    m.content = Some(content_of(parts));
    m
}

fn content_of(parts: Vec<ContentPart>) -> Content {
    if let [only] = parts.as_slice() {
        if only.kind == "text" && only.cache_control.is_none() && only.extra.is_empty() {
            if let Some(text) = &only.text {
                return Content::Text(text.clone());
            }
        }
    }
    Content::Parts(parts)
}

fn text_part(b: TextBlock) -> ContentPart {
    let mut p = ContentPart::text(b.text);
    p.cache_control = b.cache_control;
    p
}

fn image_part(b: ImageBlock) -> ContentPart {
    let url = match b.source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url,
    };
    ContentPart {
        kind: "image_url".into(),
        text: None,
        image_url: Some(ImageUrl { url, detail: None }),
        file: None,
        cache_control: b.cache_control,
        extra: Extra::new(),
    }
}

/// A PDF becomes a `file` part (a data URL, or the URL it is at); a text document its text;
/// a document of blocks the text of its text blocks.
fn document_part(b: DocumentBlock) -> ContentPart {
    let file = |file_data: String| ContentPart {
        kind: "file".into(),
        text: None,
        image_url: None,
        file: Some(FileData {
            filename: b.title.clone(),
            file_data: Some(file_data),
            file_id: None,
        }),
        cache_control: b.cache_control.clone(),
        extra: Extra::new(),
    };
    let mut part = match b.source {
        DocumentSource::Base64 { media_type, data } => {
            file(format!("data:{media_type};base64,{data}"))
        }
        DocumentSource::Url { url } => file(url),
        DocumentSource::Text { data, .. } => ContentPart::text(data),
        DocumentSource::Content { content } => ContentPart::text(match content {
            TextOr::Text(t) => t,
            TextOr::Blocks(blocks) => blocks
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text(t) => Some(t.text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }),
    };
    part.cache_control = b.cache_control;
    part
}

/// A user turn: its text, images and documents stay one user message; each tool result
/// becomes a tool message, in the order given (consecutive user-side messages merge back
/// into one turn on the way out).
/// A system message among the turns: its text, in place (an upstream without mid-conversation
/// system messages gets it with the rest of the system prompt).
fn system_turn(content: TextOr<ContentBlock>, i: usize, out: &mut Vec<Message>, ctx: &mut Context) {
    let parts = match content {
        TextOr::Text(t) => vec![ContentPart::text(t)],
        TextOr::Blocks(blocks) => blocks
            .into_iter()
            .filter_map(|b| match b {
                ContentBlock::Text(t) => Some(text_part(t)),
                other => {
                    untranslated_block(&other, i, ctx);
                    None
                }
            })
            .collect(),
    };
    if !parts.is_empty() {
        out.push(with_content(Role::System, parts));
    }
}

fn user_turn(content: TextOr<ContentBlock>, i: usize, out: &mut Vec<Message>, ctx: &mut Context) {
    let blocks = match content {
        TextOr::Text(t) => return out.push(Message::text(Role::User, t)),
        TextOr::Blocks(blocks) => blocks,
    };
    let mut parts = Vec::new();
    for b in blocks {
        match b {
            ContentBlock::Text(t) => parts.push(text_part(t)),
            ContentBlock::Image(img) => parts.push(image_part(img)),
            ContentBlock::Document(doc) => parts.push(document_part(doc)),
            ContentBlock::ToolResult(r) => {
                if !parts.is_empty() {
                    out.push(with_content(Role::User, std::mem::take(&mut parts)));
                }
                out.push(tool_message(r, i, ctx));
            }
            other => untranslated_block(&other, i, ctx),
        }
    }
    if !parts.is_empty() {
        out.push(with_content(Role::User, parts));
    }
}

/// A tool result as a tool message: its text blocks as text parts; the result's own cache
/// marker goes on the last of them. An error result says so in its text, which every model
/// can read (the canonical form has no flag for it).
fn tool_message(r: ToolResultBlock, i: usize, ctx: &mut Context) -> Message {
    let mut parts: Vec<ContentPart> = match r.content {
        None => Vec::new(),
        Some(TextOr::Text(t)) => vec![ContentPart::text(t)],
        Some(TextOr::Blocks(blocks)) => blocks
            .into_iter()
            .filter_map(|b| match b {
                ContentBlock::Text(t) => Some(text_part(t)),
                other => {
                    untranslated_block(&other, i, ctx);
                    None
                }
            })
            .collect(),
    };
    if r.is_error == Some(true) {
        match parts.first_mut().and_then(|p| p.text.as_mut()) {
            Some(t) => t.insert_str(0, "Error: "),
            None => parts.insert(0, ContentPart::text("Error".into())),
        }
    }
    if let Some(cc) = r.cache_control {
        match parts.last_mut() {
            Some(last) => last.cache_control = Some(cc),
            None => {
                let mut p = ContentPart::text(String::new());
                p.cache_control = Some(cc);
                parts.push(p);
            }
        }
    }
    let mut m = with_content(Role::Tool, parts);
    if m.content == Some(Content::Parts(Vec::new())) {
        m.content = Some(Content::Text(String::new()));
    }
    m.tool_call_id = Some(r.tool_use_id);
    m
}

/// An assistant turn: thinking and redacted thinking as `reasoning_details` (signatures as
/// sent), text as content, tool uses as tool calls whose arguments are the input's JSON.
fn assistant_turn(content: TextOr<ContentBlock>, i: usize, ctx: &mut Context) -> Message {
    let mut m = Message::text(Role::Assistant, "");
    let blocks = match content {
        TextOr::Text(t) => {
            m.content = Some(Content::Text(t));
            return m;
        }
        TextOr::Blocks(blocks) => blocks,
    };
    m.content = None;
    let mut parts = Vec::new();
    let mut details = Vec::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for (n, b) in blocks.into_iter().enumerate() {
        let index = u32::try_from(n).unwrap_or(u32::MAX);
        match b {
            ContentBlock::Thinking(t) => {
                reasoning.push_str(&t.thinking);
                let mut d = ReasoningDetail::new("reasoning.text", REASONING_FORMAT, index);
                d.text = Some(t.thinking);
                // An empty signature is none: such a block cannot be sent back to Anthropic.
                d.signature = Some(t.signature).filter(|s| !s.is_empty());
                details.push(d);
            }
            ContentBlock::RedactedThinking(r) => {
                // Another provider's reasoning we handed out in a block of Anthropic's shape:
                // back to what it was, for that provider.
                if let Some(theirs) = decode_reasoning_envelope(&r.data) {
                    details.extend(theirs);
                    continue;
                }
                let mut d = ReasoningDetail::new("reasoning.encrypted", REASONING_FORMAT, index);
                d.data = Some(r.data);
                details.push(d);
            }
            ContentBlock::Text(t) => parts.push(text_part(t)),
            ContentBlock::Image(img) => parts.push(image_part(img)),
            ContentBlock::Document(doc) => parts.push(document_part(doc)),
            ContentBlock::ToolUse(u) => calls.push(ToolCall {
                id: u.id,
                kind: "function".into(),
                function: FunctionCall {
                    name: u.name,
                    arguments: u.input.to_string(),
                },
            }),
            other => untranslated_block(&other, i, ctx),
        }
    }
    if !parts.is_empty() {
        m.content = Some(content_of(parts));
    }
    if !reasoning.is_empty() {
        m.reasoning = Some(reasoning);
    }
    if !details.is_empty() {
        m.reasoning_details = Some(details);
    }
    if !calls.is_empty() {
        m.tool_calls = Some(calls);
    }
    m
}

fn untranslated_block(b: &ContentBlock, i: usize, ctx: &mut Context) {
    let kind = match b {
        ContentBlock::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        ContentBlock::Text(_) => "text",
        ContentBlock::Image(_) => "image",
        ContentBlock::Document(_) => "document",
        ContentBlock::ToolUse(_) => "tool_use",
        ContentBlock::ToolResult(_) => "tool_result",
        ContentBlock::Thinking(_) => "thinking",
        ContentBlock::RedactedThinking(_) => "redacted_thinking",
    };
    ctx.untranslated
        .push(format!("block {kind} in messages[{i}]"));
}

/// Anthropic's top-level `cache_control` marks the last cacheable block: here the last part
/// of the last message that has content (a message of tool calls only has no part to mark),
/// unless that part is marked already.
fn mark_last_block(messages: &mut [Message], cc: Value) {
    let Some(m) = messages
        .iter_mut()
        .rev()
        .find(|m| m.content.as_ref().is_some_and(|c| !c.parts().is_empty()))
    else {
        return;
    };
    let mut parts = m.content.as_ref().map(Content::parts).unwrap_or_default();
    if let Some(last) = parts.last_mut() {
        last.cache_control.get_or_insert(cc);
    }
    m.content = Some(Content::Parts(parts));
}

// ---------------------------------------------------------------------------------------
// Answers

/// A whole answer in Anthropic's shape: thinking blocks first (in the order of
/// `reasoning_details`, signatures kept), then the text, then one `tool_use` block per tool
/// call; OpenRouter's `provider` and `usage.cost` added.
///
/// A tool call's `input` is its arguments parsed; arguments that are empty give `{}`, and
/// arguments that are not a JSON object are passed on as a JSON string holding the text the
/// model wrote, so that the client sees what it was given rather than a made-up `{}`.
pub fn render(resp: &ChatResponse, ctx: &Context) -> an::Message {
    if let Some(m) = relayed(resp) {
        return m;
    }
    let choice = resp.choices.first();
    let msg = choice.map(|c| &c.message);
    let mut content = Vec::new();
    if let Some(m) = msg {
        let details = m.reasoning_details.as_deref().unwrap_or_default();
        if !ctx.thinking_disabled() {
            content.extend(thinking_blocks(m.reasoning.as_deref(), details));
        }
        // Whether or not thinking is shown: the provider refuses the next turn without them.
        content.extend(envelope_block(details));
        for text in [&m.content, &m.refusal].into_iter().flatten() {
            if !text.is_empty() {
                content.push(text_block(text.clone()));
            }
        }
        for tc in m.tool_calls.iter().flatten() {
            content.push(tool_use_block(
                tc.id.clone(),
                tc.function.name.clone(),
                tool_input(&tc.function.arguments),
            ));
        }
    }
    let has_tool_use = content
        .iter()
        .any(|b| matches!(b, ContentBlock::ToolUse(_)));
    let model = if resp.model.is_empty() {
        ctx.model.clone()
    } else {
        resp.model.clone()
    };
    let mut out = new_message(resp.id.clone(), model);
    out.content = content;
    out.stop_reason = Some(stop_reason(
        choice.and_then(|c| c.finish_reason),
        choice.and_then(|c| c.native_finish_reason.as_deref()),
        has_tool_use,
    ));
    out.usage = usage(resp.usage.as_ref());
    out.provider = resp.provider.clone();
    // Asked for with `X-OpenRouter-Metadata: enabled`; `MessagesResult.openrouter_metadata`.
    if let Some(md) = &resp.openrouter_metadata {
        out.extra.insert("openrouter_metadata".into(), md.clone());
    }
    out
}

/// An Anthropic endpoint's own answer, for this Anthropic client: as it was sent (server-tool
/// blocks, citations, `container`, usage details), naming the gateway's id, model and
/// provider and the charge (`usage.cost`), with what OpenRouter's document requires added
/// where the upstream left it out.
fn relayed(resp: &ChatResponse) -> Option<an::Message> {
    let mut m: an::Message = serde_json::from_value(resp.native.as_deref()?.clone()).ok()?;
    for b in &mut m.content {
        match b {
            ContentBlock::Text(t) if t.citations.is_none() => {
                t.extra.entry("citations").or_insert(Value::Null);
            }
            ContentBlock::ToolUse(u) => {
                u.extra
                    .entry("caller")
                    .or_insert_with(|| json!({"type": "direct"}));
            }
            _ => {}
        }
    }
    m.id.clone_from(&resp.id);
    m.model.clone_from(&resp.model);
    m.provider.clone_from(&resp.provider);
    m.usage.cost = resp.usage.as_ref().and_then(|u| u.cost);
    complete_message(&mut m);
    if let Some(md) = &resp.openrouter_metadata {
        m.extra.insert("openrouter_metadata".into(), md.clone());
    }
    Some(m)
}

/// Another provider's signed reasoning (Gemini's thought signatures on its function calls,
/// OpenAI's encrypted reasoning) has no place in Anthropic's blocks, yet must come back on
/// the next turn or that provider refuses it. It travels in a `redacted_thinking` block — the
/// one block clients return untouched and show nobody — packed in the gateway's envelope;
/// [`decode`] unpacks it, and an Anthropic endpoint never sees it.
fn envelope_block(details: &[ReasoningDetail]) -> Option<ContentBlock> {
    let theirs: Vec<ReasoningDetail> = details
        .iter()
        .filter(|d| !is_anthropic(d) && (d.data.is_some() || d.signature.is_some()))
        .cloned()
        .collect();
    if theirs.is_empty() {
        return None;
    }
    encode_reasoning_envelope(&theirs).map(|data| {
        ContentBlock::RedactedThinking(an::RedactedThinkingBlock {
            data,
            extra: Extra::new(),
        })
    })
}

/// Whether a reasoning detail is Anthropic's (or says nothing of its origin): only those
/// carry a signature or redacted data that Anthropic will take back.
fn is_anthropic(d: &ReasoningDetail) -> bool {
    d.format.as_deref().is_none_or(|f| f == REASONING_FORMAT)
}

fn thinking_blocks(reasoning: Option<&str>, details: &[ReasoningDetail]) -> Vec<ContentBlock> {
    let mut blocks = Vec::new();
    let mut has_text = false;
    for d in details {
        match d.kind.as_str() {
            "reasoning.text" | "reasoning.summary" => {
                let text = d
                    .text
                    .clone()
                    .or_else(|| d.summary.clone())
                    .unwrap_or_default();
                let signature = d.signature.clone().filter(|_| is_anthropic(d));
                if text.is_empty() && signature.is_none() {
                    continue;
                }
                has_text |= !text.is_empty();
                blocks.push(ContentBlock::Thinking(ThinkingBlock {
                    thinking: text,
                    signature: signature.unwrap_or_default(),
                    extra: Extra::new(),
                }));
            }
            "reasoning.encrypted" if is_anthropic(d) => {
                if let Some(data) = &d.data {
                    blocks.push(ContentBlock::RedactedThinking(an::RedactedThinkingBlock {
                        data: data.clone(),
                        extra: Extra::new(),
                    }));
                }
            }
            _ => {}
        }
    }
    if let Some(r) = reasoning.filter(|r| !r.is_empty() && !has_text) {
        blocks.insert(
            0,
            ContentBlock::Thinking(ThinkingBlock {
                thinking: r.to_string(),
                ..Default::default()
            }),
        );
    }
    blocks
}

fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(arguments.to_string()),
    }
}

/// The provider's own reason when it is Anthropic's word and agrees with the canonical one
/// (a forced structured-output tool ends in `tool_use` upstream but in `stop` here), else
/// the canonical one in Anthropic's words. An answer with tool calls that says it merely
/// stopped ends in `tool_use`, which is what Anthropic clients loop on.
pub fn stop_reason(
    finish: Option<FinishReason>,
    native: Option<&str>,
    has_tool_use: bool,
) -> String {
    let native = native
        .filter(|n| STOP_REASONS.contains(n))
        .filter(|n| finish.is_none_or(|f| finish_reason(n) == f));
    let word = native.unwrap_or(match finish {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        Some(FinishReason::Stop | FinishReason::Error) | None => "end_turn",
    });
    if has_tool_use && word == "end_turn" {
        "tool_use".into()
    } else {
        word.into()
    }
}

/// Canonical usage in Anthropic's terms: `input_tokens` excludes cache reads and writes.
/// With every field OpenRouter's document requires of it (`AnthropicUsage.required`).
fn usage(u: Option<&Usage>) -> an::Usage {
    let Some(u) = u else {
        return an::Usage {
            cache_creation_input_tokens: Some(0),
            cache_read_input_tokens: Some(0),
            extra: usage_extra(None),
            ..Default::default()
        };
    };
    let (read, write) = cache_tokens(u);
    an::Usage {
        input_tokens: u.prompt_tokens.saturating_sub(read).saturating_sub(write),
        output_tokens: u.completion_tokens,
        cache_creation_input_tokens: Some(write),
        cache_read_input_tokens: Some(read),
        cost: u.cost,
        extra: usage_extra(Some(u)),
    }
}

// ---------------------------------------------------------------------------------------
// Fields OpenRouter's document requires
//
// OpenRouter's OpenAPI document (`MessagesResult`, `MessagesStreamEvents`) requires fields
// that Anthropic's API writes only when they say something and that Anthropic's SDKs read
// as null when absent: `container` and `stop_details` on a message and a `message_delta`,
// `citations` on a text block, `caller` on a tool call, and the usage details below.
// Clients generated from the document (`@openrouter/sdk`) refuse an answer without them;
// Anthropic's clients read the values written here exactly as they read the absence.

/// A message (an answer, or `message_start`'s) with `container` and `stop_details` null:
/// no container tool runs here, and a refusal's classifier details are not known.
fn new_message(id: String, model: String) -> an::Message {
    let mut m = an::Message::new(id, model);
    for field in ["container", "stop_details"] {
        m.extra.insert(field.into(), Value::Null);
    }
    m.usage = usage(None);
    m
}

/// An upstream's `message_start` message with what `MessagesStartEvent` requires added where
/// the upstream left it out (Anthropic writes `container`, `stop_details` and most usage
/// details only when they say something); what it did send is kept.
fn complete_message(m: &mut an::Message) {
    for field in ["container", "stop_details"] {
        m.extra.entry(field).or_insert(Value::Null);
    }
    let u = &mut m.usage;
    // Typed fields: only when absent there, so that no key is written twice.
    if u.cache_creation_input_tokens.is_none() {
        u.extra
            .entry("cache_creation_input_tokens")
            .or_insert(Value::Null);
    }
    if u.cache_read_input_tokens.is_none() {
        u.extra
            .entry("cache_read_input_tokens")
            .or_insert(Value::Null);
    }
    for (k, v) in usage_extra(None) {
        u.extra.entry(k).or_insert(v);
    }
}

/// Adds to a relayed `content_block_start` block what the document requires of its kind
/// (`AnthropicTextBlock.citations`, `AnthropicToolUseBlock.caller`,
/// `AnthropicThinkingBlock.signature`, which Anthropic's stream fills by `signature_delta`
/// and starts without). Returns whether anything was added.
fn complete_block(block: &mut Value) -> bool {
    let (field, value) = match block.get("type").and_then(Value::as_str) {
        Some("text") => ("citations", Value::Null),
        Some("tool_use") => ("caller", json!({"type": "direct"})),
        Some("thinking") => ("signature", json!("")),
        _ => return false,
    };
    match block.as_object_mut() {
        Some(o) if !o.contains_key(field) => {
            o.insert(field.into(), value);
            true
        }
        _ => false,
    }
}

/// A text block with `citations` null (`AnthropicTextBlock.required`): the canonical form
/// carries none.
fn text_block(text: String) -> ContentBlock {
    let mut b = TextBlock::new(text);
    b.extra.insert("citations".into(), Value::Null);
    ContentBlock::Text(b)
}

/// A tool call's block, called by the model itself (`caller: {"type": "direct"}`, required
/// by `AnthropicToolUseBlock`): the gateway runs no code-execution tool that could call one.
fn tool_use_block(id: String, name: String, input: Value) -> ContentBlock {
    let mut extra = Extra::new();
    extra.insert("caller".into(), json!({"type": "direct"}));
    ContentBlock::ToolUse(ToolUseBlock {
        id,
        name,
        input,
        cache_control: None,
        extra,
    })
}

/// Usage details the canonical form does not know, null; `output_tokens_details` from the
/// reasoning tokens when the provider counted them.
fn usage_extra(u: Option<&Usage>) -> Extra {
    let mut extra = Extra::new();
    extra.insert("output_tokens_details".into(), output_tokens_details(u));
    for field in [
        "cache_creation",
        "inference_geo",
        "server_tool_use",
        "service_tier",
    ] {
        extra.insert(field.into(), Value::Null);
    }
    extra
}

fn output_tokens_details(u: Option<&Usage>) -> Value {
    u.and_then(|u| u.completion_tokens_details.as_ref()).map_or(
        Value::Null,
        |d| json!({"thinking_tokens": d.reasoning_tokens}),
    )
}

fn cache_tokens(u: &Usage) -> (u64, u64) {
    u.prompt_tokens_details
        .as_ref()
        .map_or((0, 0), |d| (d.cached_tokens, d.cache_write_tokens))
}

// ---------------------------------------------------------------------------------------
// Errors

/// Anthropic's error type for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        // Anthropic documents `invalid_request_error` for 4xx statuses it does not list.
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// A failure in Anthropic's error envelope.
pub fn error_envelope(status: u16, message: &str, request_id: Option<&str>) -> ErrorResponse {
    ErrorResponse::new(error_type(status), message, request_id.map(str::to_string))
}

// ---------------------------------------------------------------------------------------
// Token counting

/// Tokens an image is counted as: Anthropic's cost of an image at its largest size before
/// scaling (about 1.15 megapixels at 750 pixels a token).
pub const IMAGE_TOKENS: u64 = 1_600;
/// Tokens a PDF is counted as: a few pages of text and page images. The page count is not
/// known without reading the PDF.
pub const DOCUMENT_TOKENS: u64 = 3_000;
/// Tokens added for the tool-use system prompt Anthropic adds when tools are given.
pub const TOOLS_TOKENS: u64 = 346;
/// Tokens each message adds for its role and framing.
const MESSAGE_TOKENS: u64 = 4;

/// An **estimate** of the input tokens of a `POST /v1/messages/count_tokens` body (parsed as
/// strictly as a message request): text at four characters a token over the system prompt,
/// every message and every tool definition, plus fixed allowances for images
/// ([`IMAGE_TOKENS`]), PDFs ([`DOCUMENT_TOKENS`]), the tool prompt ([`TOOLS_TOKENS`]) and
/// each message's framing. No tokenizer is involved: clients use it to budget context, for
/// which an estimate of the right size is enough.
pub fn count_tokens(body: &[u8]) -> Result<u64, String> {
    let req: CountTokensRequest = parse(body)?;
    if req.messages.is_empty() {
        return Err("`messages` must contain at least one message".into());
    }
    let mut n: u64 = 0;
    match &req.system {
        Some(TextOr::Text(t)) => n = n.saturating_add(estimate_tokens(t)),
        Some(TextOr::Blocks(blocks)) => {
            for b in blocks {
                n = n.saturating_add(estimate_tokens(&b.text().text));
            }
        }
        None => {}
    }
    for m in &req.messages {
        n = n
            .saturating_add(MESSAGE_TOKENS)
            .saturating_add(content_tokens(&m.content));
    }
    let tools = req.tools.as_deref().unwrap_or_default();
    if !tools.is_empty() {
        n = n.saturating_add(TOOLS_TOKENS);
    }
    for t in tools {
        // A tool is shown to the model as its definition; its JSON is a fair proxy.
        let text = serde_json::to_string(t).unwrap_or_default();
        n = n.saturating_add(estimate_tokens(&text));
    }
    Ok(n.max(1))
}

fn content_tokens(content: &TextOr<ContentBlock>) -> u64 {
    match content {
        TextOr::Text(t) => estimate_tokens(t),
        TextOr::Blocks(blocks) => blocks
            .iter()
            .fold(0u64, |n, b| n.saturating_add(block_tokens(b))),
    }
}

fn block_tokens(b: &ContentBlock) -> u64 {
    match b {
        ContentBlock::Text(t) => estimate_tokens(&t.text),
        ContentBlock::Image(_) => IMAGE_TOKENS,
        ContentBlock::Document(d) => match &d.source {
            DocumentSource::Text { data, .. } => estimate_tokens(data),
            DocumentSource::Content { content } => content_tokens(content),
            DocumentSource::Base64 { .. } | DocumentSource::Url { .. } => DOCUMENT_TOKENS,
        },
        ContentBlock::ToolUse(u) => {
            estimate_tokens(&u.name).saturating_add(estimate_tokens(&u.input.to_string()))
        }
        ContentBlock::ToolResult(r) => r.content.as_ref().map_or(0, content_tokens),
        ContentBlock::Thinking(t) => estimate_tokens(&t.thinking),
        ContentBlock::RedactedThinking(r) => estimate_tokens(&r.data),
        ContentBlock::Other(v) => estimate_tokens(&v.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Streams

/// The block open in the stream, with its index.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Text(u32),
    Thinking(u32),
    /// A tool call's block.
    Tool(u32),
    /// A block relayed as the upstream sent it.
    Relayed(u32),
}

impl Open {
    fn index(self) -> u32 {
        match self {
            Open::Text(i) | Open::Thinking(i) | Open::Tool(i) | Open::Relayed(i) => i,
        }
    }
}

/// The pipeline's events as Anthropic's stream: `message_start` before anything else, then
/// one content block at a time (thinking with its `signature_delta`, redacted thinking,
/// text, one `tool_use` block per tool call with its input as `input_json_delta`s), each
/// closed when the next opens, then `message_delta` (stop reason, usage with OpenRouter's
/// `cost`) and `message_stop`; a failure is an `error` event. Quiet periods are `ping`s once
/// the message has started, SSE comments before.
///
/// Deltas for a tool call whose block was closed already (a provider that interleaves
/// parallel calls) are sent with that block's index: Anthropic's SDKs gather deltas by index.
pub struct StreamFramer {
    ctx: Context,
    started: bool,
    done: bool,
    next_index: u32,
    open: Option<Open>,
    /// Each tool call seen, by its canonical index: the index of its block.
    tool_blocks: Vec<(u32, u32)>,
    /// What a relayed `message_delta` said, for the closing one (sent with the priced usage).
    relayed_stop: Option<MessageDelta>,
    /// A relayed `tool_use` block was seen (the stop reason's `tool_use` stands).
    relayed_tool: bool,
}

impl StreamFramer {
    pub fn new(ctx: Context) -> StreamFramer {
        StreamFramer {
            ctx,
            started: false,
            done: false,
            next_index: 0,
            open: None,
            tool_blocks: Vec::new(),
            relayed_stop: None,
            relayed_tool: false,
        }
    }

    /// An Anthropic endpoint's own event, for this Anthropic client: passed on as sent, but
    /// for `message_start`, which names the gateway's id, model and provider, and the
    /// upstream's `message_delta` / `message_stop`, held back for the closing pair that
    /// carries the priced usage. Block indices are tracked so that a stream continued
    /// elsewhere after a failure goes on with the next index.
    fn native(&mut self, n: &crate::pipeline::NativeEvent, out: &mut Vec<u8>) {
        let Ok(ev) = serde_json::from_str::<StreamEvent>(&n.data) else {
            return;
        };
        match ev {
            StreamEvent::MessageStart { mut message } => {
                if std::mem::replace(&mut self.started, true) {
                    return;
                }
                message.id.clone_from(&n.id);
                message.model.clone_from(&n.model);
                message.provider = Some(n.provider.clone());
                complete_message(&mut message);
                emit(out, &StreamEvent::MessageStart { message });
                return;
            }
            StreamEvent::ContentBlockStart {
                index,
                ref content_block,
            } => {
                self.close(out);
                // A text block stays open for a continuation after a failover to carry on
                // in: the answer stays one block, and a block cut before its first word is
                // not left empty (Anthropic refuses empty text blocks sent back).
                self.open = Some(match content_block {
                    ContentBlock::Text(_) => Open::Text(index),
                    _ => Open::Relayed(index),
                });
                self.next_index = self.next_index.max(index.saturating_add(1));
                if matches!(content_block, ContentBlock::ToolUse(_)) {
                    self.relayed_tool = true;
                }
                // As sent, with what the document requires of the block added if missing.
                if let Ok(mut v) = serde_json::from_str::<Value>(&n.data) {
                    if complete_block(&mut v["content_block"]) {
                        sse_event(out, Some(&n.event), &v);
                        return;
                    }
                }
            }
            StreamEvent::ContentBlockStop { index }
                if self.open.is_some_and(|o| o.index() == index) =>
            {
                self.open = None;
            }
            StreamEvent::MessageDelta { delta, .. } => {
                self.relayed_stop = Some(delta);
                return;
            }
            StreamEvent::MessageStop => return,
            _ => {}
        }
        // As sent: fields this version does not know reach the client too.
        sse_event_raw(out, &n.event, &n.data);
    }

    fn start(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let model = if chunk.model.is_empty() {
            self.ctx.model.clone()
        } else {
            chunk.model.clone()
        };
        let mut message = new_message(chunk.id.clone(), model);
        message.provider = chunk.provider.clone();
        emit(out, &StreamEvent::MessageStart { message });
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            emit(
                out,
                &StreamEvent::ContentBlockStop {
                    index: open.index(),
                },
            );
        }
    }

    /// Closes the open block and starts `block` as the next; returns its index.
    fn open_block(&mut self, kind: fn(u32) -> Open, block: ContentBlock, out: &mut Vec<u8>) -> u32 {
        self.close(out);
        let index = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        emit(
            out,
            &StreamEvent::ContentBlockStart {
                index,
                content_block: block,
            },
        );
        self.open = Some(kind(index));
        index
    }

    fn delta(&self, index: u32, delta: BlockDelta, out: &mut Vec<u8>) {
        emit(out, &StreamEvent::ContentBlockDelta { index, delta });
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        let index = match self.open {
            Some(Open::Text(i)) => i,
            // An empty piece opens nothing (the first delta of every stream is one).
            _ if text.is_empty() => return,
            _ => self.open_block(Open::Text, text_block(String::new()), out),
        };
        self.delta(
            index,
            BlockDelta::TextDelta {
                text: text.to_string(),
            },
            out,
        );
    }

    fn thinking_block(&mut self, out: &mut Vec<u8>) -> u32 {
        match self.open {
            Some(Open::Thinking(i)) => i,
            _ => self.open_block(
                Open::Thinking,
                ContentBlock::Thinking(ThinkingBlock::default()),
                out,
            ),
        }
    }

    fn thinking(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() && !matches!(self.open, Some(Open::Thinking(_))) {
            return;
        }
        let index = self.thinking_block(out);
        self.delta(
            index,
            BlockDelta::ThinkingDelta {
                thinking: text.to_string(),
            },
            out,
        );
    }

    fn reasoning(
        &mut self,
        reasoning: Option<&str>,
        details: &[ReasoningDetail],
        out: &mut Vec<u8>,
    ) {
        match reasoning {
            Some(r) => self.thinking(r, out),
            // Some upstreams send the text only in the details.
            None => {
                for d in details {
                    if matches!(d.kind.as_str(), "reasoning.text" | "reasoning.summary") {
                        let text = d.text.as_deref().or(d.summary.as_deref());
                        // A signature arrives with empty text: not a piece of thinking.
                        if let Some(t) = text.filter(|t| !t.is_empty()) {
                            self.thinking(t, out);
                        }
                    }
                }
            }
        }
        for d in details.iter().filter(|d| is_anthropic(d)) {
            match d.kind.as_str() {
                "reasoning.text" => {
                    if let Some(sig) = d.signature.as_deref().filter(|s| !s.is_empty()) {
                        let index = self.thinking_block(out);
                        self.delta(
                            index,
                            BlockDelta::SignatureDelta {
                                signature: sig.to_string(),
                            },
                            out,
                        );
                    }
                }
                "reasoning.encrypted" => {
                    if let Some(data) = &d.data {
                        let block = ContentBlock::RedactedThinking(an::RedactedThinkingBlock {
                            data: data.clone(),
                            extra: Extra::new(),
                        });
                        // Whole in its start event, as Anthropic sends it.
                        self.open_block(Open::Thinking, block, out);
                        self.close(out);
                    }
                }
                _ => {}
            }
        }
    }

    fn tool_call(&mut self, tc: &ToolCallDelta, out: &mut Vec<u8>) {
        let known = self
            .tool_blocks
            .iter()
            .find(|(call, _)| *call == tc.index)
            .map(|(_, block)| *block);
        let index = match known {
            Some(i) => i,
            None => {
                let block = tool_use_block(
                    tc.id.clone().unwrap_or_default(),
                    tc.function
                        .as_ref()
                        .and_then(|f| f.name.clone())
                        .unwrap_or_default(),
                    json!({}),
                );
                let i = self.open_block(Open::Tool, block, out);
                self.tool_blocks.push((tc.index, i));
                i
            }
        };
        if let Some(args) = tc
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty())
        {
            self.delta(
                index,
                BlockDelta::InputJsonDelta {
                    partial_json: args.to_string(),
                },
                out,
            );
        }
    }

    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        self.start(chunk, out);
        let Some(choice) = chunk.choices.first() else {
            return;
        };
        let d = &choice.delta;
        let details = d.reasoning_details.as_deref().unwrap_or_default();
        if !self.ctx.thinking_disabled() {
            self.reasoning(d.reasoning.as_deref(), details, out);
        }
        // Whether or not thinking is shown: see `envelope_block`.
        if let Some(block) = envelope_block(details) {
            self.open_block(Open::Thinking, block, out);
            self.close(out);
        }
        for text in [&d.content, &d.refusal].into_iter().flatten() {
            self.text(text, out);
        }
        for tc in d.tool_calls.iter().flatten() {
            self.tool_call(tc, out);
        }
    }

    fn finish(&mut self, f: &crate::pipeline::Finished, out: &mut Vec<u8>) {
        self.start(&f.chunk, out);
        self.close(out);
        let relayed = self.relayed_stop.take();
        let stop = stop_reason(
            f.finish_reason,
            f.native_finish_reason.as_deref(),
            !self.tool_blocks.is_empty() || self.relayed_tool,
        );
        // The upstream's own words when it ended the answer itself (which stop sequence).
        let (stop_sequence, mut delta_extra) = match relayed {
            Some(d) if d.stop_reason.as_deref() == Some(stop.as_str()) => {
                (d.stop_sequence, d.extra)
            }
            _ => (None, Extra::new()),
        };
        let u = usage(f.chunk.usage.as_ref());
        // `MessagesDeltaEvent` requires `container` and `stop_details` in the delta (null
        // unless the upstream said them), and `output_tokens_details` and `server_tool_use`
        // in the usage (see `new_message`).
        for field in ["container", "stop_details"] {
            delta_extra.entry(field).or_insert(Value::Null);
        }
        let mut usage_extra = Extra::new();
        usage_extra.insert(
            "output_tokens_details".into(),
            output_tokens_details(f.chunk.usage.as_ref()),
        );
        usage_extra.insert("server_tool_use".into(), Value::Null);
        emit(
            out,
            &StreamEvent::MessageDelta {
                delta: MessageDelta {
                    stop_reason: Some(stop),
                    stop_sequence,
                    extra: delta_extra,
                },
                usage: Some(MessageDeltaUsage {
                    input_tokens: Some(u.input_tokens),
                    output_tokens: Some(u.output_tokens),
                    cache_creation_input_tokens: u.cache_creation_input_tokens,
                    cache_read_input_tokens: u.cache_read_input_tokens,
                    cost: u.cost,
                    extra: usage_extra,
                }),
                extra: Extra::new(),
            },
        );
        match &f.chunk.openrouter_metadata {
            // Asked for with `X-OpenRouter-Metadata: enabled`: where OpenRouter's document
            // puts it in a stream (`MessagesStopEvent.openrouter_metadata`). Anthropic's SDKs
            // read `message_stop` by its type and ignore the rest.
            Some(md) => emit(
                out,
                &StreamEvent::Other(json!({"type": "message_stop", "openrouter_metadata": md})),
            ),
            None => emit(out, &StreamEvent::MessageStop),
        }
    }
}

fn emit(out: &mut Vec<u8>, ev: &StreamEvent) {
    sse_event(out, Some(ev.name()), ev);
}

/// An event written as received. Its data is one line of JSON (the SSE parser joined any
/// continuation lines with `\n`, which JSON allows only as whitespace): written as one line.
fn sse_event_raw(out: &mut Vec<u8>, event: &str, data: &str) {
    if !event.is_empty() {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    for (i, line) in data.split('\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\ndata: ");
        }
        out.extend_from_slice(line.as_bytes());
    }
    out.extend_from_slice(b"\n\n");
}

impl Framer for StreamFramer {
    fn frame(&mut self, ev: &Event, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match ev {
            Event::KeepAlive if self.started => emit(out, &StreamEvent::Ping),
            Event::KeepAlive => out.extend_from_slice(b": ping\n\n"),
            Event::Delta(chunk) => self.chunk(chunk, out),
            Event::Native(n) => self.native(n, out),
            Event::Finished(f) => {
                self.finish(f, out);
                self.done = true;
            }
            Event::Failed(chunk) => {
                let (code, message) = chunk
                    .error
                    .as_ref()
                    .map_or((500, "upstream error"), |e| (e.code, e.message.as_str()));
                emit(
                    out,
                    &StreamEvent::Error {
                        error: ErrorObject {
                            kind: error_type(code).into(),
                            message: message.into(),
                        },
                    },
                );
                self.done = true;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The dialect

/// `POST /messages`, the Anthropic Messages API as OpenRouter serves it.
pub struct AnthropicMessages;

impl super::Dialect for AnthropicMessages {
    type Context = Context;
    type Framer = StreamFramer;

    fn decode(
        body: &[u8],
        headers: &axum::http::HeaderMap,
    ) -> Result<(ChatRequest, Context), crate::error::GatewayError> {
        let (mut req, ctx) = decode(body).map_err(crate::error::GatewayError::BadRequest)?;
        // The body as sent goes to Anthropic endpoints (only `model` rewritten): what the
        // canonical form cannot say survives there.
        let beta = headers
            .get_all("anthropic-beta")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        req.native = Some(std::sync::Arc::new(switchyard_api::chat::NativeRequest {
            dialect: switchyard_api::chat::NativeDialect::AnthropicMessages,
            body: body.into(),
            headers: if beta.is_empty() {
                vec![]
            } else {
                vec![("anthropic-beta".to_string(), beta)]
            },
        }));
        if !ctx.untranslated.is_empty() {
            tracing::debug!(left_out = ?ctx.untranslated, "parts of an Anthropic request have no canonical form; only Anthropic endpoints see them");
        }
        Ok((req, ctx))
    }

    fn render(resp: ChatResponse, ctx: &Context) -> axum::response::Response {
        axum::response::IntoResponse::into_response(axum::Json(render(&resp, ctx)))
    }

    fn framer(ctx: Context, _: &str) -> StreamFramer {
        StreamFramer::new(ctx)
    }

    fn error(err: crate::error::GatewayError) -> axum::response::Response {
        err.respond_as(|body| {
            serde_json::to_value(error_envelope(body.code, &body.message, None)).unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::NativeEvent;

    /// An Anthropic endpoint's whole answer reaches an Anthropic client as sent: server-tool
    /// blocks, citations and usage details the canonical form has no place for are kept;
    /// only the id, model, provider and the charge are the gateway's.
    #[test]
    fn a_relayed_answer_keeps_what_translation_would_drop() {
        let upstream = serde_json::json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rust"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
                 "content": [{"type": "web_search_result", "url": "https://www.rust-lang.org", "title": "Rust", "encrypted_content": "EqgB"}]},
                {"type": "text", "text": "Rust is a language.",
                 "citations": [{"type": "web_search_result_location", "url": "https://www.rust-lang.org", "title": "Rust", "encrypted_index": "Eo8B", "cited_text": "Rust"}]}
            ],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5, "server_tool_use": {"web_search_requests": 1}}
        });
        let mut resp = response(
            ResponseMessage {
                role: "assistant".into(),
                content: Some("Rust is a language.".into()),
                ..ResponseMessage::default()
            },
            Some(FinishReason::Stop),
            Some("end_turn"),
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                total_tokens: 15,
                cost: Money::parse("0.0001").ok(),
                ..Usage::default()
            },
        );
        resp.native = Some(Box::new(upstream.clone()));
        let out = serde_json::to_value(render(&resp, &Context::default())).expect("json");
        assert_eq!(out["id"], "gen-123");
        assert_eq!(out["model"], "anthropic/claude-sonnet-4.5");
        assert_eq!(out["provider"], "Anthropic");
        assert_eq!(out["content"][0], upstream["content"][0]);
        assert_eq!(out["content"][1], upstream["content"][1]);
        assert_eq!(
            out["content"][2]["citations"],
            upstream["content"][2]["citations"]
        );
        assert_eq!(out["usage"]["server_tool_use"]["web_search_requests"], 1);
        assert_eq!(out["usage"]["input_tokens"], 10);
        assert_eq!(out["usage"]["cost"].to_string(), "0.0001");
    }

    /// What Claude Code sends for a model id it does not know: a system message among the
    /// turns, adaptive thinking with `display`, `output_config`, `context_management` and a
    /// `defer_loading` tool. All of it is accepted; the system message stays in place.
    #[test]
    fn claude_codes_request_shape_decodes() {
        let body = serde_json::json!({
            "model": "fake/claude", "max_tokens": 32000, "stream": true,
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
                       {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "<system-reminder>r</system-reminder>"},
                                             {"type": "text", "text": "Say hello", "cache_control": {"type": "ephemeral"}}]},
                {"role": "system", "content": [{"type": "text", "text": "Tools changed.", "cache_control": {"type": "ephemeral"}}]}
            ],
            "tools": [{"name": "Read", "description": "r", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "additionalProperties": false}},
                      {"name": "DeferredToolPlaceholder", "description": "d", "input_schema": {"type": "object", "properties": {}}, "defer_loading": true}],
            "metadata": {"user_id": "{\"device_id\":\"d\"}"},
            "thinking": {"type": "adaptive", "display": "omitted"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "high"}
        });
        let (req, ctx) = decode(body.to_string().as_bytes()).expect("Claude Code's shape decodes");
        assert!(ctx.stream);
        let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::System, Role::User, Role::System]);
        assert_eq!(req.messages[2].text_content(), "Tools changed.");
        assert_eq!(req.tools.as_ref().map(Vec::len), Some(2));
        assert_eq!(req.max_output_tokens(), Some(32000));
        assert!(req.reasoning.as_ref().is_some_and(|r| r.wanted()));
    }
    use crate::pipeline::Finished;
    use switchyard_api::chat::{Choice, ChunkChoice, PromptTokensDetails, ResponseMessage};
    use switchyard_api::error::ErrorBody;
    use switchyard_api::Money;
    use switchyard_providers::anthropic as upstream;
    use switchyard_providers::simulated::SimulationConfig;
    use switchyard_providers::sse::{SseDecoder, SseEvent};
    use switchyard_providers::{Decoder, Protocol, StreamEvent as Up, Target, TokenUsage};

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../../providers/fixtures/", $name))
        };
    }

    /// What the outbound Anthropic adapter sends for a canonical request.
    fn outbound(req: &ChatRequest) -> (Vec<u8>, Value) {
        let sim = SimulationConfig::default();
        let target = Target {
            protocol: Protocol::Anthropic,
            base_url: "https://api.anthropic.com/v1",
            api_key: None,
            upstream_model: "claude-sonnet-4-5",
            headers: &[],
            simulation: &sim,
        };
        let http = upstream::build_request(target, req, req.is_stream()).expect("builds");
        let v = serde_json::from_slice(&http.body).expect("json");
        (http.body, v)
    }

    fn decoded(body: &str) -> (ChatRequest, Context) {
        decode(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// A message's content as blocks (a string is one text block).
    fn as_blocks(content: &Value) -> Value {
        match content {
            Value::String(s) => json!([{"type": "text", "text": s}]),
            other => other.clone(),
        }
    }

    /// Anthropic requests covering what the conversions carry; each must come out of the
    /// outbound adapter as it came in.
    const LOSSLESS: &[&str] = &[
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello, world"}]}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,
            "system":[{"type":"text","text":"You are a literary analyst."},
              {"type":"text","text":"<Pride and Prejudice>","cache_control":{"type":"ephemeral","ttl":"1h"}}],
            "messages":[{"role":"user","content":[
              {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQSkZJRg=="},"cache_control":{"type":"ephemeral"}},
              {"type":"image","source":{"type":"url","url":"https://upload.wikimedia.org/a.jpg"}},
              {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="},"cache_control":{"type":"ephemeral"}},
              {"type":"document","source":{"type":"url","url":"https://assets.anthropic.com/card.pdf"}},
              {"type":"text","text":"Compare these."}]},
              {"role":"assistant","content":"They differ."},
              {"role":"user","content":"How?"}],
            "stop_sequences":["\n\nHuman:"],"temperature":0.5,"top_p":0.9,"top_k":40,
            "metadata":{"user_id":"13803d75-b4b5-4c3e-b2a2-6f21399b021b"},"stream":true}"#,
        r#"{"model":"claude-opus-4-1","max_tokens":1024,
            "tools":[{"name":"get_weather","description":"Get the current weather in a given location",
              "input_schema":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]},
              "cache_control":{"type":"ephemeral"}},
              {"name":"get_time","input_schema":{"type":"object","properties":{}}}],
            "tool_choice":{"type":"any","disable_parallel_tool_use":true},
            "messages":[{"role":"user","content":"What is the weather like in San Francisco?"},
              {"role":"assistant","content":[{"type":"text","text":"I'll check."},
                {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA","unit":"celsius"}},
                {"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"},
                {"type":"tool_result","tool_use_id":"toolu_02","content":"noon","cache_control":{"type":"ephemeral"}},
                {"type":"text","text":"And tomorrow?"}]}]}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":16000,"thinking":{"type":"enabled","budget_tokens":10000},
            "messages":[{"role":"user","content":"Are there an infinite number of prime numbers such that n mod 4 == 3?"},
              {"role":"assistant","content":[
                {"type":"thinking","thinking":"Let me think about primes p ≡ 3 (mod 4)…\n\"Euclid\"","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds/+/=="},
                {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
                {"type":"text","text":"Yes."},
                {"type":"tool_use","id":"toolu_9","name":"check","input":{"n":3}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"ok"}]}],
            "tools":[{"name":"check","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto"}}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":100,"tools":[{"name":"w","input_schema":{"type":"object"}}],
            "tool_choice":{"type":"tool","name":"w"},"messages":[{"role":"user","content":"q"}]}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":100,"tools":[{"name":"w","input_schema":{"type":"object"}}],
            "tool_choice":{"type":"none"},"messages":[{"role":"user","content":"q"}]}"#,
    ];

    #[test]
    fn anthropic_in_and_anthropic_out_is_lossless() {
        for (i, body) in LOSSLESS.iter().enumerate() {
            let original: Value = serde_json::from_str(body).expect("json");
            let (req, ctx) = decoded(body);
            assert!(
                ctx.untranslated.is_empty(),
                "case {i}: {:?}",
                ctx.untranslated
            );
            let (_, sent) = outbound(&req);
            let msgs = |v: &Value| -> Vec<Value> {
                v["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| json!({"role": m["role"], "content": as_blocks(&m["content"])}))
                    .collect()
            };
            assert_eq!(msgs(&sent), msgs(&original), "case {i}: messages");
            assert_eq!(
                as_blocks(&sent["system"]),
                if original["system"].is_null() {
                    Value::Null
                } else {
                    as_blocks(&original["system"])
                },
                "case {i}: system"
            );
            for key in [
                "max_tokens",
                "tools",
                "tool_choice",
                "thinking",
                "stop_sequences",
                "temperature",
                "top_p",
                "top_k",
                "metadata",
                "stream",
            ] {
                assert_eq!(sent[key], original[key], "case {i}: {key}");
            }
        }
    }

    #[test]
    fn a_thinking_signature_reaches_anthropic_byte_for_byte() {
        let body = LOSSLESS[3];
        let (req, _) = decoded(body);
        let details = req.messages[1]
            .reasoning_details
            .clone()
            .unwrap_or_default();
        let signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds/+/==";
        assert_eq!(details[0].signature.as_deref(), Some(signature));
        assert_eq!(details[0].format.as_deref(), Some(REASONING_FORMAT));
        assert_eq!(details[1].kind, "reasoning.encrypted");
        let (bytes, sent) = outbound(&req);
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(
            text.contains(&format!(r#""signature":"{signature}""#)),
            "{text}"
        );
        let block = &sent["messages"][1]["content"][0];
        assert_eq!(
            block["thinking"],
            "Let me think about primes p ≡ 3 (mod 4)…\n\"Euclid\""
        );
        assert_eq!(
            sent["messages"][1]["content"][1]["type"],
            "redacted_thinking"
        );
    }

    #[test]
    fn decodes_to_the_canonical_form() {
        let (req, ctx) = decoded(LOSSLESS[1]);
        assert_eq!(req.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(req.max_tokens, Some(1024));
        assert_eq!(req.stop, Some(Stop::Many(vec!["\n\nHuman:".into()])));
        assert_eq!(
            req.user.as_deref(),
            Some("13803d75-b4b5-4c3e-b2a2-6f21399b021b")
        );
        assert!(req.is_stream() && ctx.stream);
        let system = &req.messages[0];
        assert_eq!(system.role, Role::System);
        let Some(Content::Parts(sys)) = &system.content else {
            panic!("system parts")
        };
        assert_eq!(
            sys[1].cache_control,
            Some(json!({"type":"ephemeral","ttl":"1h"}))
        );
        let Some(Content::Parts(parts)) = &req.messages[1].content else {
            panic!("user parts")
        };
        let url = |p: &ContentPart| p.image_url.as_ref().map(|u| u.url.clone());
        assert_eq!(
            url(&parts[0]).as_deref(),
            Some("data:image/jpeg;base64,/9j/4AAQSkZJRg==")
        );
        assert_eq!(
            url(&parts[1]).as_deref(),
            Some("https://upload.wikimedia.org/a.jpg")
        );
        assert_eq!(parts[2].kind, "file");
        assert_eq!(
            parts[2].file.as_ref().and_then(|f| f.file_data.as_deref()),
            Some("data:application/pdf;base64,JVBERi0xLjQ=")
        );
        assert_eq!(
            req.messages[2].content,
            Some(Content::Text("They differ.".into()))
        );

        let (req, _) = decoded(LOSSLESS[2]);
        let tools = req.tools.clone().unwrap_or_default();
        assert_eq!(tools[0].kind, "function");
        assert_eq!(
            tools[0]
                .function
                .parameters
                .as_ref()
                .map(|p| p["required"][0].clone()),
            Some(json!("location"))
        );
        assert_eq!(tools[0].cache_control, Some(json!({"type":"ephemeral"})));
        assert_eq!(req.tool_choice, Some(ToolChoice::Mode("required".into())));
        assert_eq!(req.parallel_tool_calls, Some(false));
        let calls = req.messages[1].tool_calls.clone().unwrap_or_default();
        assert_eq!(calls[0].function.name, "get_weather");
        let args: Value = serde_json::from_str(&calls[0].function.arguments).expect("json");
        assert_eq!(
            args,
            json!({"location":"San Francisco, CA","unit":"celsius"})
        );
        // Tool results become tool messages; the text after them a user message.
        let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(
            req.messages[2].tool_call_id.as_deref(),
            Some("toolu_01A09q90qw90lq917835lq9")
        );
        assert_eq!(req.messages[2].text_content(), "15 degrees");

        let (req, ctx) = decoded(LOSSLESS[3]);
        assert_eq!(
            req.reasoning.as_ref().and_then(|r| r.max_tokens),
            Some(10000)
        );
        assert!(matches!(
            ctx.thinking,
            Some(ThinkingConfig::Enabled {
                budget_tokens: 10000,
                ..
            })
        ));
        assert_eq!(req.tool_choice, Some(ToolChoice::Mode("auto".into())));
        assert_eq!(req.parallel_tool_calls, None);
        assert!(req.messages[1]
            .reasoning
            .as_deref()
            .is_some_and(|r| r.starts_with("Let me")));

        let (req, _) = decoded(LOSSLESS[4]);
        assert!(matches!(&req.tool_choice, Some(ToolChoice::Named(n)) if n.function.name == "w"));
        let (req, _) = decoded(LOSSLESS[5]);
        assert_eq!(req.tool_choice, Some(ToolChoice::Mode("none".into())));
    }

    #[test]
    fn thinking_modes_and_output_config() {
        let body = |thinking: &str, extra: &str| {
            format!(
                r#"{{"model":"m","max_tokens":2000,"messages":[{{"role":"user","content":"q"}}],"thinking":{thinking}{extra}}}"#
            )
        };
        let (req, ctx) = decoded(&body(r#"{"type":"disabled"}"#, ""));
        assert_eq!(req.reasoning.as_ref().and_then(|r| r.enabled), Some(false));
        assert!(ctx.thinking_disabled());
        let (req, ctx) = decoded(&body(
            r#"{"type":"adaptive"}"#,
            r#","output_config":{"effort":"high"}"#,
        ));
        let r = req.reasoning.clone().unwrap_or_default();
        assert_eq!((r.enabled, r.effort.as_deref()), (Some(true), Some("high")));
        assert!(ctx.untranslated.is_empty());
        // Effort without adaptive thinking has no canonical form.
        let (req, ctx) = decoded(
            r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"}],"output_config":{"effort":"low",
                "format":{"type":"json_schema","schema":{"type":"object","properties":{"n":{"type":"integer"}}}}}}"#,
        );
        assert!(req.reasoning.is_none());
        assert_eq!(
            ctx.untranslated,
            vec!["field output_config.effort".to_string()]
        );
        let rf = req.response_format.clone().expect("format");
        assert_eq!(rf.kind, "json_schema");
        assert_eq!(
            rf.json_schema
                .and_then(|s| s.schema)
                .map(|s| s["properties"]["n"]["type"].clone()),
            Some(json!("integer"))
        );
        // …which the outbound adapter asks of Anthropic as a forced tool.
        let (_, sent) = outbound(&req);
        assert_eq!(
            sent["tool_choice"],
            json!({"type":"tool","name":OUTPUT_FORMAT_NAME})
        );
    }

    #[test]
    fn tool_results_keep_their_text_errors_and_cache_markers() {
        let (req, ctx) = decoded(
            r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},
              {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}},{"type":"tool_use","id":"t2","name":"f","input":{}},{"type":"tool_use","id":"t3","name":"f","input":{}}]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"a"},{"type":"text","text":"b"},
                  {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}}],"cache_control":{"type":"ephemeral"}},
                {"type":"tool_result","tool_use_id":"t2","content":"boom","is_error":true},
                {"type":"tool_result","tool_use_id":"t3"}]}]}"#,
        );
        let t1 = &req.messages[2];
        assert_eq!(
            (t1.role, t1.tool_call_id.as_deref()),
            (Role::Tool, Some("t1"))
        );
        assert_eq!(t1.text_content(), "ab");
        let Some(Content::Parts(parts)) = &t1.content else {
            panic!("parts")
        };
        assert_eq!(parts[1].cache_control, Some(json!({"type":"ephemeral"})));
        assert_eq!(
            ctx.untranslated,
            vec!["block image in messages[2]".to_string()]
        );
        assert_eq!(req.messages[3].text_content(), "Error: boom");
        assert_eq!(req.messages[4].content, Some(Content::Text(String::new())));
        // All three go back to Anthropic as one user turn of tool results.
        let (_, sent) = outbound(&req);
        let turn = &sent["messages"][2];
        assert_eq!(turn["role"], "user");
        let ids: Vec<&str> = turn["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["tool_use_id"].as_str())
            .collect();
        assert_eq!(ids, ["t1", "t2", "t3"]);
    }

    #[test]
    fn server_tools_and_unknown_fields_are_left_out_and_named() {
        let (req, ctx) = decoded(
            r#"{"model":"m","max_tokens":10,"service_tier":"auto","container":"c_1",
              "tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}],
              "tool_choice":{"type":"any"},
              "messages":[{"role":"user","content":"news?"},
                {"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},
                  {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},{"type":"text","text":"Nothing."}]},
                {"role":"user","content":"ok"}]}"#,
        );
        assert!(req.tools.is_none());
        assert!(req.tool_choice.is_none(), "no tool left to choose");
        assert_eq!(
            req.messages[1].content,
            Some(Content::Text("Nothing.".into()))
        );
        assert_eq!(
            ctx.untranslated,
            [
                "block server_tool_use in messages[1]",
                "block web_search_tool_result in messages[1]",
                "tool web_search (web_search_20250305)",
                "field service_tier",
                "field container",
            ]
        );
        assert!(serde_json::to_value(&req).is_ok_and(|v| v.get("container").is_none()));
    }

    #[test]
    fn top_level_cache_control_marks_the_last_block() {
        let (req, _) = decoded(
            r#"{"model":"m","max_tokens":10,"cache_control":{"type":"ephemeral"},"system":"s",
              "messages":[{"role":"user","content":"first"},{"role":"assistant","content":"a"},{"role":"user","content":"last"}]}"#,
        );
        let Some(Content::Parts(parts)) = &req.messages[3].content else {
            panic!("parts")
        };
        assert_eq!(parts[0].cache_control, Some(json!({"type":"ephemeral"})));
        assert_eq!(req.messages[1].content, Some(Content::Text("first".into())));
        let (_, sent) = outbound(&req);
        assert_eq!(
            sent["messages"][2]["content"][0]["cache_control"]["type"],
            "ephemeral"
        );
    }

    #[test]
    fn text_documents_and_models_without_model() {
        let (req, ctx) = decoded(
            r#"{"models":["anthropic/claude-sonnet-4.5","openai/gpt-4o"],"max_tokens":10,"session_id":"s-1",
              "provider":{"order":["anthropic"]},
              "messages":[{"role":"user","content":[
                {"type":"document","source":{"type":"text","media_type":"text/plain","data":"The grass is green."},"title":"Doc"},
                {"type":"document","source":{"type":"content","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}},
                {"type":"text","text":"Colour?"}]}]}"#,
        );
        assert_eq!(ctx.model, "anthropic/claude-sonnet-4.5");
        assert!(req.model.is_none());
        assert_eq!(req.models.as_ref().map(Vec::len), Some(2));
        assert_eq!(req.session_id.as_deref(), Some("s-1"));
        assert!(req.provider.is_some());
        assert_eq!(
            req.messages[0].text_content(),
            "The grass is green.one\ntwoColour?"
        );
    }

    #[test]
    fn malformed_requests_are_refused_naming_the_field() {
        let cases = [
            (
                r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#,
                "max_tokens",
            ),
            (
                r#"{"model":"m","max_tokens":1,"messages":[]}"#,
                "`messages`",
            ),
            (
                r#"{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}"#,
                "`model`",
            ),
            (
                r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]} {}"#,
                "trailing",
            ),
            (
                r#"{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"a"},
                {"type":"image","source":{"type":"base64","data":"x"}}]}]}"#,
                "messages[0].content[1]",
            ),
            (
                r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled"}}"#,
                "budget_tokens",
            ),
            (
                r#"{"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}"#,
                "max_tokens",
            ),
        ];
        for (body, needle) in cases {
            let err = decode(body.as_bytes()).expect_err(body);
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }

    fn response(
        message: ResponseMessage,
        finish: Option<FinishReason>,
        native: Option<&str>,
        usage: Usage,
    ) -> ChatResponse {
        ChatResponse {
            id: "gen-123".into(),
            object: "chat.completion".into(),
            created: 0,
            model: "anthropic/claude-sonnet-4.5".into(),
            provider: Some("Anthropic".into()),
            system_fingerprint: None,
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason: finish,
                native_finish_reason: native.map(str::to_string),
                logprobs: None,
            }],
            usage: Some(usage),
            openrouter_metadata: None,
            native: None,
        }
    }

    fn priced(t: TokenUsage) -> Usage {
        Usage {
            prompt_tokens: t.prompt,
            completion_tokens: t.completion,
            total_tokens: t.prompt + t.completion,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: t.cached_read,
                cache_write_tokens: t.cache_write,
            }),
            cost: Money::parse("0.000123456789").ok(),
            ..Default::default()
        }
    }

    /// Anthropic's recorded answers, decoded by the outbound adapter and rendered back, are
    /// the answers recorded.
    #[test]
    fn recorded_answers_render_as_recorded() {
        for body in [
            fixture!("anthropic__anthropic-text.json"),
            fixture!("anthropic__anthropic-clear-thinking.1.json"),
            fixture!("anthropic__anthropic-json-tool.1.json"),
        ] {
            let original: an::Message = serde_json::from_str(body).expect("parses");
            let c = upstream::decode_response(body.as_bytes(), &upstream::Context::default())
                .expect("decodes");
            let mut choices = c.choices.clone();
            let choice = choices.remove(0);
            let resp = response(
                choice.message,
                choice.finish_reason,
                choice.native_finish_reason.as_deref(),
                priced(c.usage),
            );
            let m = render(&resp, &Context::default());
            // The recordings predate the fields OpenRouter's document requires of every
            // block (`citations`, `caller`): compared without them.
            let mut content = m.content.clone();
            for b in &mut content {
                match b {
                    ContentBlock::Text(t) => t.extra.retain(|k, _| k != "citations"),
                    ContentBlock::ToolUse(u) => u.extra.retain(|k, _| k != "caller"),
                    _ => {}
                }
            }
            assert_eq!(content, original.content);
            assert_eq!(m.stop_reason, original.stop_reason);
            assert_eq!(m.usage.input_tokens, original.usage.input_tokens);
            assert_eq!(m.usage.output_tokens, original.usage.output_tokens);
            assert_eq!(
                m.usage.cache_read_input_tokens,
                original.usage.cache_read_input_tokens
            );
            assert_eq!(
                m.usage.cache_creation_input_tokens,
                original.usage.cache_creation_input_tokens
            );
            assert_eq!((m.kind.as_str(), m.role.as_str()), ("message", "assistant"));
            assert_eq!(m.provider.as_deref(), Some("Anthropic"));
        }
    }

    #[test]
    fn renders_usage_cost_order_and_stop_reasons() {
        let mut msg = ResponseMessage {
            role: "assistant".into(),
            content: Some("Here.".into()),
            reasoning: Some("hmm".into()),
            ..Default::default()
        };
        let mut t = ReasoningDetail::new("reasoning.text", REASONING_FORMAT, 0);
        t.text = Some("hmm".into());
        t.signature = Some("sig==".into());
        let mut r = ReasoningDetail::new("reasoning.encrypted", REASONING_FORMAT, 1);
        r.data = Some("EmwK".into());
        let mut foreign = ReasoningDetail::new("reasoning.encrypted", "openai-responses-v1", 2);
        foreign.data = Some("gAAAA".into());
        msg.reasoning_details = Some(vec![t, r, foreign.clone()]);
        // Another provider's reasoning goes out packed, and comes back as it was.
        let packed = encode_reasoning_envelope(&[foreign.clone()]).expect("packs");
        msg.tool_calls = Some(vec![
            ToolCall {
                id: "call_1".into(),
                kind: "function".into(),
                function: FunctionCall {
                    name: "f".into(),
                    arguments: r#"{"a":1}"#.into(),
                },
            },
            ToolCall {
                id: "call_2".into(),
                kind: "function".into(),
                function: FunctionCall {
                    name: "g".into(),
                    arguments: String::new(),
                },
            },
            ToolCall {
                id: "call_3".into(),
                kind: "function".into(),
                function: FunctionCall {
                    name: "h".into(),
                    arguments: "{\"a\":".into(),
                },
            },
        ]);
        let usage = priced(TokenUsage {
            prompt: 1000,
            completion: 50,
            cached_read: 600,
            cache_write: 100,
            reasoning: 0,
        });
        let resp = response(
            msg.clone(),
            Some(FinishReason::ToolCalls),
            Some("tool_calls"),
            usage,
        );
        let m = render(&resp, &Context::default());
        let v = serde_json::to_value(&m).expect("json");
        assert_eq!(
            v["content"],
            json!([
                {"type":"thinking","thinking":"hmm","signature":"sig=="},
                {"type":"redacted_thinking","data":"EmwK"},
                {"type":"redacted_thinking","data":packed},
                {"type":"text","text":"Here.","citations":null},
                {"type":"tool_use","id":"call_1","name":"f","input":{"a":1},"caller":{"type":"direct"}},
                {"type":"tool_use","id":"call_2","name":"g","input":{},"caller":{"type":"direct"}},
                {"type":"tool_use","id":"call_3","name":"h","input":"{\"a\":","caller":{"type":"direct"}},
            ])
        );
        let turn = json!({"model": "m", "max_tokens": 9, "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": v["content"].clone()}]});
        let (back, _) = decode(turn.to_string().as_bytes()).expect("decodes");
        let details = back.messages[1]
            .reasoning_details
            .clone()
            .unwrap_or_default();
        assert!(details.contains(&foreign), "{details:?}");
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(v["stop_sequence"], Value::Null);
        assert_eq!(
            (v["id"].as_str(), v["model"].as_str()),
            (Some("gen-123"), Some("anthropic/claude-sonnet-4.5"))
        );
        assert_eq!(v["provider"], "Anthropic");
        assert_eq!(v["usage"]["input_tokens"], 300);
        assert_eq!(v["usage"]["cache_read_input_tokens"], 600);
        assert_eq!(v["usage"]["cache_creation_input_tokens"], 100);
        assert_eq!(v["usage"]["output_tokens"], 50);
        let text = serde_json::to_string(&m).expect("json");
        assert!(text.contains(r#""cost":0.000123456789"#), "{text}");

        // Thinking the client turned off is not shown; reasoning without details is.
        let off = Context {
            thinking: Some(ThinkingConfig::Disabled),
            ..Default::default()
        };
        // Only another provider's packed reasoning stays: that provider needs it back.
        assert!(!render(&resp, &off).content.iter().any(|b| match b {
            ContentBlock::Thinking(_) => true,
            ContentBlock::RedactedThinking(r) => r.data != packed,
            _ => false,
        }));
        msg.reasoning_details = None;
        msg.tool_calls = None;
        let plain = render(
            &response(
                msg,
                Some(FinishReason::Stop),
                Some("stop"),
                Usage::default(),
            ),
            &Context::default(),
        );
        assert_eq!(
            plain.content[0],
            ContentBlock::Thinking(ThinkingBlock {
                thinking: "hmm".into(),
                ..Default::default()
            })
        );

        for (finish, native, tools, want) in [
            (
                Some(FinishReason::Stop),
                Some("end_turn"),
                false,
                "end_turn",
            ),
            (
                Some(FinishReason::Stop),
                Some("stop_sequence"),
                false,
                "stop_sequence",
            ),
            (
                Some(FinishReason::Stop),
                Some("pause_turn"),
                false,
                "pause_turn",
            ),
            (Some(FinishReason::Stop), Some("stop"), false, "end_turn"),
            (
                Some(FinishReason::Length),
                Some("length"),
                false,
                "max_tokens",
            ),
            (
                Some(FinishReason::Length),
                Some("model_context_window_exceeded"),
                false,
                "model_context_window_exceeded",
            ),
            (
                Some(FinishReason::ToolCalls),
                Some("tool_calls"),
                true,
                "tool_use",
            ),
            (
                Some(FinishReason::ContentFilter),
                Some("content_filter"),
                false,
                "refusal",
            ),
            (
                Some(FinishReason::ContentFilter),
                Some("refusal"),
                false,
                "refusal",
            ),
            // A forced structured-output tool: Anthropic said tool_use, the answer is text.
            (
                Some(FinishReason::Stop),
                Some("tool_use"),
                false,
                "end_turn",
            ),
            (Some(FinishReason::Stop), Some("STOP"), true, "tool_use"),
            (Some(FinishReason::Error), None, false, "end_turn"),
            (None, None, false, "end_turn"),
        ] {
            assert_eq!(
                stop_reason(finish, native, tools),
                want,
                "{finish:?} {native:?}"
            );
        }
    }

    #[test]
    fn errors_map_to_anthropics_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (408, "invalid_request_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ] {
            assert_eq!(error_type(status), kind, "{status}");
        }
        assert_eq!(
            serde_json::to_value(error_envelope(429, "slow down", Some("req_1"))).ok(),
            Some(
                json!({"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"})
            )
        );
        assert_eq!(
            serde_json::to_value(error_envelope(500, "oops", None)).ok(),
            Some(
                json!({"type":"error","error":{"type":"api_error","message":"oops"},"request_id":null})
            )
        );
    }

    #[test]
    fn counts_tokens_as_an_estimate() {
        let n = |body: &str| count_tokens(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let hello = n(r#"{"model":"m","messages":[{"role":"user","content":"Hello, Claude"}]}"#);
        assert_eq!(hello, MESSAGE_TOKENS + estimate_tokens("Hello, Claude"));
        let with_system = n(
            r#"{"model":"m","system":[{"type":"text","text":"Be brief."}],"messages":[{"role":"user","content":"Hello, Claude"}]}"#,
        );
        assert_eq!(with_system, hello + estimate_tokens("Be brief."));
        let image = n(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}},
            {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBER"}}]}]}"#,
        );
        assert_eq!(image, MESSAGE_TOKENS + IMAGE_TOKENS + DOCUMENT_TOKENS);
        let tools = n(
            r#"{"model":"m","messages":[{"role":"user","content":"q"}],"tools":[{"name":"get_weather","input_schema":{"type":"object"}}]}"#,
        );
        assert!(tools > TOOLS_TOKENS + MESSAGE_TOKENS);
        assert!(count_tokens(br#"{"model":"m","messages":[]}"#).is_err());
        assert!(
            count_tokens(br#"{"model":"m","messages":[{"role":"user","content":7}]}"#)
                .is_err_and(|e| e.contains("messages[0].content"))
        );
    }

    // ---- streams ----

    fn sse_frames(bytes: &[u8]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.push(bytes, &mut out).expect("sse");
        out.extend(d.finish().expect("sse"));
        out
    }

    fn chunks_as_sse(chunks: &str) -> String {
        chunks
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("json");
                format!("event: {}\ndata: {l}\n\n", v["type"].as_str().unwrap_or(""))
            })
            .collect()
    }

    fn chunk(choices: Vec<ChunkChoice>) -> ChatChunk {
        ChatChunk {
            id: "gen-1".into(),
            object: "chat.completion.chunk".into(),
            created: 0,
            model: "anthropic/claude-sonnet-4.5".into(),
            provider: Some("Anthropic".into()),
            system_fingerprint: None,
            choices,
            usage: None,
            error: None,
            openrouter_metadata: None,
        }
    }

    /// An Anthropic stream as the pipeline yields it: decoded by the outbound adapter, each
    /// choice a delta, the priced usage at the end (or the failure).
    fn pipeline_events(sse: &str) -> Vec<Event> {
        pipeline_events_relaying(sse, false)
    }

    /// The same, for an Anthropic client served by an Anthropic endpoint: the decoder relays
    /// each upstream event and the pipeline sends those instead of its canonical deltas.
    fn pipeline_events_relaying(sse: &str, relay: bool) -> Vec<Event> {
        let mut dec = upstream::StreamDecoder::new(upstream::Context {
            json_tool: None,
            relay,
        });
        let mut events = Vec::new();
        let (mut usage, mut finish, mut native) = (TokenUsage::default(), None, None);
        for ev in sse_frames(sse.as_bytes()) {
            if dec.is_done() {
                break;
            }
            match dec.event(&ev) {
                Ok(items) => {
                    for item in items {
                        match item {
                            Up::Choice(c) => {
                                if c.finish_reason.is_some() {
                                    finish = c.finish_reason;
                                    native = c.native_finish_reason.clone();
                                }
                                if !relay {
                                    events.push(Event::Delta(chunk(vec![c])));
                                }
                            }
                            Up::Native(ev) => events.push(Event::Native(NativeEvent {
                                id: "gen-1".into(),
                                model: "anthropic/claude-sonnet-4.5".into(),
                                provider: "Anthropic".into(),
                                event: ev.event,
                                data: ev.data,
                            })),
                            Up::Usage(u) => usage = u,
                            Up::UpstreamId(_) | Up::SystemFingerprint(_) => {}
                        }
                    }
                }
                Err(e) => {
                    let mut c = chunk(vec![]);
                    c.error = Some(ErrorBody {
                        code: 529,
                        message: e.to_string(),
                        metadata: None,
                        availability: None,
                    });
                    events.push(Event::Failed(c));
                    return events;
                }
            }
        }
        let mut c = chunk(vec![]);
        c.usage = Some(priced(usage));
        events.push(Event::Finished(Finished {
            chunk: c,
            finish_reason: finish,
            native_finish_reason: native,
        }));
        events
    }

    /// The framer's bytes as (event name, event) pairs; every name is its event's type.
    fn framed(events: &[Event], ctx: Context) -> Vec<StreamEvent> {
        let mut f = StreamFramer::new(ctx);
        let mut out = Vec::new();
        for e in events {
            f.frame(e, &mut out);
        }
        sse_frames(&out)
            .into_iter()
            .map(|e| {
                let ev: StreamEvent = serde_json::from_str(&e.data).expect("event parses");
                assert_eq!(e.event, ev.name(), "event name is the data's type");
                ev
            })
            .collect()
    }

    /// Events with what the canonical form does not carry taken out: pings, empty input
    /// pieces, the message in `message_start` and usage in `message_delta` (compared apart),
    /// a tool call's `caller`.
    fn comparable(events: Vec<StreamEvent>) -> Vec<StreamEvent> {
        events
            .into_iter()
            .filter_map(|e| match e {
                StreamEvent::Ping => None,
                StreamEvent::ContentBlockDelta {
                    delta: BlockDelta::InputJsonDelta { partial_json },
                    ..
                } if partial_json.is_empty() => None,
                StreamEvent::MessageStart { .. } => Some(StreamEvent::MessageStart {
                    message: an::Message::new("", ""),
                }),
                StreamEvent::MessageDelta { delta, .. } => Some(StreamEvent::MessageDelta {
                    delta: MessageDelta {
                        stop_reason: delta.stop_reason,
                        stop_sequence: None,
                        extra: Extra::new(),
                    },
                    usage: None,
                    extra: Extra::new(),
                }),
                StreamEvent::ContentBlockStart {
                    index,
                    content_block: ContentBlock::ToolUse(mut u),
                } => {
                    u.extra.clear();
                    Some(StreamEvent::ContentBlockStart {
                        index,
                        content_block: ContentBlock::ToolUse(u),
                    })
                }
                e => Some(e),
            })
            .collect()
    }

    fn original(sse: &str) -> Vec<StreamEvent> {
        sse_frames(sse.as_bytes())
            .into_iter()
            .map(|e| serde_json::from_str(&e.data).expect("recorded event parses"))
            .collect()
    }

    /// The usage a recorded stream reports in the end (`message_start`, then `message_delta`).
    fn recorded_usage(events: &[StreamEvent]) -> (u64, u64, u64, u64) {
        let (mut input, mut output, mut write, mut read) = (0, 0, 0, 0);
        for e in events {
            match e {
                StreamEvent::MessageStart { message } => {
                    input = message.usage.input_tokens;
                    output = message.usage.output_tokens;
                    write = message.usage.cache_creation_input_tokens.unwrap_or(0);
                    read = message.usage.cache_read_input_tokens.unwrap_or(0);
                }
                StreamEvent::MessageDelta { usage: Some(u), .. } => {
                    input = u.input_tokens.unwrap_or(input);
                    output = u.output_tokens.unwrap_or(output);
                    write = u.cache_creation_input_tokens.unwrap_or(write);
                    read = u.cache_read_input_tokens.unwrap_or(read);
                }
                _ => {}
            }
        }
        (input, output, write, read)
    }

    #[test]
    fn recorded_streams_come_out_event_for_event() {
        let streams = [
            chunks_as_sse(fixture!("anthropic__anthropic-text.chunks.txt")),
            chunks_as_sse(fixture!("anthropic__anthropic-clear-thinking.1.chunks.txt")),
            chunks_as_sse(fixture!("anthropic__anthropic-json-tool.1.chunks.txt")),
            fixture!("anthropic__anthropic-streaming.md.basic.sse.txt").to_string(),
            fixture!("anthropic__anthropic-streaming.md.extended-thinking.sse.txt").to_string(),
            fixture!("anthropic__anthropic-streaming.md.tool-use.sse.txt").to_string(),
            fixture!("anthropic__sdk-python-tool_use_response.sse.txt").to_string(),
        ];
        for (i, sse) in streams.iter().enumerate() {
            let recorded = original(sse);
            let ours = framed(&pipeline_events(sse), Context::default());
            assert_eq!(
                comparable(ours.clone()),
                comparable(recorded.clone()),
                "stream {i}"
            );
            let StreamEvent::MessageStart { message } = &ours[0] else {
                panic!("stream {i}: message_start first")
            };
            assert_eq!(
                (message.id.as_str(), message.model.as_str()),
                ("gen-1", "anthropic/claude-sonnet-4.5")
            );
            assert_eq!(message.provider.as_deref(), Some("Anthropic"));
            assert!(message.content.is_empty() && message.stop_reason.is_none());
            assert_eq!(ours.last(), Some(&StreamEvent::MessageStop));
            let Some(StreamEvent::MessageDelta { usage: Some(u), .. }) = ours.iter().rev().nth(1)
            else {
                panic!("stream {i}: message_delta before message_stop")
            };
            let (input, output, write, read) = recorded_usage(&recorded);
            assert_eq!(
                (
                    u.input_tokens,
                    u.output_tokens,
                    u.cache_creation_input_tokens,
                    u.cache_read_input_tokens
                ),
                (Some(input), Some(output), Some(write), Some(read)),
                "stream {i}"
            );
            assert_eq!(u.cost, Money::parse("0.000123456789").ok());
        }
    }

    /// An Anthropic endpoint's stream reaches an Anthropic client event for event: every
    /// recorded event (pings, server tools, citations, empty input deltas included) comes out
    /// as recorded, but `message_start`, which names the gateway's id, model and provider,
    /// and the closing `message_delta`, whose usage carries the charge.
    #[test]
    fn relayed_streams_are_the_recorded_events_exactly() {
        let streams = [
            chunks_as_sse(fixture!("anthropic__anthropic-text.chunks.txt")),
            chunks_as_sse(fixture!("anthropic__anthropic-clear-thinking.1.chunks.txt")),
            chunks_as_sse(fixture!(
                "anthropic__anthropic-web-search-tool.1.chunks.txt"
            )),
            chunks_as_sse(fixture!(
                "anthropic__anthropic-code-execution-20250825.1.chunks.txt"
            )),
            fixture!("anthropic__anthropic-streaming.md.basic.sse.txt").to_string(),
            fixture!("anthropic__anthropic-streaming.md.extended-thinking.sse.txt").to_string(),
            fixture!("anthropic__anthropic-streaming.md.tool-use.sse.txt").to_string(),
            fixture!("anthropic__sdk-python-tool_use_response.sse.txt").to_string(),
        ];
        for (i, sse) in streams.iter().enumerate() {
            let recorded = original(sse);
            let ours = framed(&pipeline_events_relaying(sse, true), Context::default());
            assert_eq!(ours.len(), recorded.len(), "stream {i}: {ours:#?}");
            for (n, (o, r)) in ours.iter().zip(&recorded).enumerate() {
                match (o, r) {
                    (
                        StreamEvent::MessageStart { message: mo },
                        StreamEvent::MessageStart { message: mr },
                    ) => {
                        assert_eq!(mo.id, "gen-1");
                        assert_eq!(mo.model, "anthropic/claude-sonnet-4.5");
                        assert_eq!(mo.provider.as_deref(), Some("Anthropic"));
                        // What the recording sent, and what OpenRouter's document requires
                        // where it sent nothing.
                        let mut expected = mr.clone();
                        complete_message(&mut expected);
                        // Compared as written and read back, as the client reads it.
                        let expected: an::Message =
                            serde_json::from_value(serde_json::to_value(&expected).expect("json"))
                                .expect("parses");
                        assert_eq!(mo.usage, expected.usage, "stream {i}");
                        assert_eq!(mo.extra, expected.extra, "stream {i}");
                    }
                    (
                        StreamEvent::MessageDelta {
                            delta: dout,
                            usage: Some(u),
                            ..
                        },
                        StreamEvent::MessageDelta { delta: din, .. },
                    ) => {
                        // As sent, `container` and `stop_details` (required) null if unsaid.
                        let mut din = din.clone();
                        for field in ["container", "stop_details"] {
                            din.extra.entry(field).or_insert(Value::Null);
                        }
                        assert_eq!(dout, &din, "stream {i}: the stop reason as sent");
                        assert_eq!(u.cost, Money::parse("0.000123456789").ok());
                    }
                    _ => {
                        // Blocks as recorded, with the fields the document requires of them
                        // where the recording has none (a tool call's `caller`, …).
                        let mut expected = serde_json::to_value(r).expect("json");
                        if let Some(b) = expected.get_mut("content_block") {
                            complete_block(b);
                        }
                        let expected: StreamEvent =
                            serde_json::from_value(expected).expect("parses");
                        assert_eq!(o, &expected, "stream {i}, event {n}");
                    }
                }
            }
        }
    }

    /// Everything a stream's events add up to: blocks as an SDK would gather them.
    fn gather(events: &[StreamEvent]) -> Vec<Value> {
        let mut blocks: Vec<Value> = Vec::new();
        let mut inputs: Vec<String> = Vec::new();
        for e in events {
            match e {
                StreamEvent::ContentBlockStart { content_block, .. } => {
                    blocks.push(serde_json::to_value(content_block).expect("json"));
                    inputs.push(String::new());
                }
                StreamEvent::ContentBlockDelta { index, delta } => {
                    let i = *index as usize;
                    match delta {
                        BlockDelta::TextDelta { text } => {
                            let t = format!("{}{text}", blocks[i]["text"].as_str().unwrap_or(""));
                            blocks[i]["text"] = json!(t);
                        }
                        BlockDelta::ThinkingDelta { thinking } => {
                            let t = format!(
                                "{}{thinking}",
                                blocks[i]["thinking"].as_str().unwrap_or("")
                            );
                            blocks[i]["thinking"] = json!(t);
                        }
                        BlockDelta::SignatureDelta { signature } => {
                            blocks[i]["signature"] = json!(signature)
                        }
                        BlockDelta::InputJsonDelta { partial_json } => {
                            inputs[i].push_str(partial_json)
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        for (b, input) in blocks.iter_mut().zip(inputs) {
            if b["type"] == "tool_use" {
                b["input"] = if input.is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(&input).expect("input is JSON")
                };
                if let Value::Object(o) = b {
                    o.remove("caller");
                }
            }
        }
        blocks
    }

    #[test]
    fn every_recorded_stream_gathers_to_the_same_blocks() {
        for (i, sse) in [
            chunks_as_sse(fixture!("anthropic__anthropic-text.chunks.txt")),
            chunks_as_sse(fixture!("anthropic__anthropic-clear-thinking.1.chunks.txt")),
            chunks_as_sse(fixture!("anthropic__anthropic-json-tool.1.chunks.txt")),
            chunks_as_sse(fixture!("anthropic__anthropic-tool-no-args.chunks.txt")),
            fixture!("anthropic__anthropic-streaming.md.extended-thinking.sse.txt").to_string(),
            fixture!("anthropic__anthropic-streaming.md.tool-use.sse.txt").to_string(),
            fixture!("anthropic__sdk-python-tool_use_response.sse.txt").to_string(),
        ]
        .iter()
        .enumerate()
        {
            let ours = gather(&framed(&pipeline_events(sse), Context::default()));
            assert_eq!(ours, gather(&original(sse)), "stream {i}");
        }
        // Server-tool streams keep their text; the server tools' own blocks have no
        // canonical form.
        let sse = chunks_as_sse(fixture!(
            "anthropic__anthropic-web-search-tool.1.chunks.txt"
        ));
        let text = |blocks: Vec<Value>| -> String {
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect()
        };
        let ours = gather(&framed(&pipeline_events(&sse), Context::default()));
        assert!(!text(ours.clone()).is_empty());
        assert_eq!(text(ours), text(gather(&original(&sse))));
    }

    #[test]
    fn redacted_thinking_and_a_failure_mid_stream() {
        let start = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","usage":{"input_tokens":3,"output_tokens":1}}}

"#;
        let sse = format!(
            "{start}event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"redacted_thinking\",\"data\":\"EmwKAhgBEgy3va3pzix\"}}}}\n\n\
             event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n\
             event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
             event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{{\"type\":\"text_delta\",\"text\":\"Hi\"}}}}\n\n\
             event: error\ndata: {{\"type\": \"error\", \"error\": {{\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}}}\n\n"
        );
        let ours = framed(&pipeline_events(&sse), Context::default());
        let names: Vec<&str> = ours.iter().map(StreamEvent::name).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "error"
            ]
        );
        assert_eq!(
            ours[1],
            StreamEvent::ContentBlockStart {
                index: 0,
                content_block: ContentBlock::RedactedThinking(an::RedactedThinkingBlock {
                    data: "EmwKAhgBEgy3va3pzix".into(),
                    extra: Extra::new()
                })
            }
        );
        assert!(matches!(
            &ours[3],
            StreamEvent::ContentBlockStart { index: 1, .. }
        ));
        let StreamEvent::Error { error } = &ours[5] else {
            panic!("error")
        };
        assert_eq!(error.kind, "overloaded_error");
        assert!(error.message.contains("Overloaded"), "{}", error.message);
    }

    fn delta(d: switchyard_api::chat::Delta) -> Event {
        Event::Delta(chunk(vec![ChunkChoice {
            index: 0,
            delta: d,
            ..Default::default()
        }]))
    }

    #[test]
    fn keep_alives_tool_calls_of_other_providers_and_the_end() {
        use switchyard_api::chat::{Delta, FunctionDelta};
        let call = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| {
            delta(Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index,
                    id: id.map(str::to_string),
                    kind: id.map(|_| "function".to_string()),
                    function: Some(FunctionDelta {
                        name: name.map(str::to_string),
                        arguments: Some(args.into()),
                    }),
                }]),
                ..Default::default()
            })
        };
        let mut f = StreamFramer::new(Context {
            model: "openai/gpt-4o".into(),
            ..Default::default()
        });
        let mut out = Vec::new();
        f.frame(&Event::KeepAlive, &mut out);
        assert_eq!(out, b": ping\n\n");
        out.clear();
        for ev in [
            delta(Delta {
                role: Some("assistant".into()),
                content: Some(String::new()),
                ..Default::default()
            }),
            Event::KeepAlive,
            // An OpenAI-style reasoning model: reasoning text without Anthropic details.
            delta(Delta {
                reasoning: Some("think".into()),
                ..Default::default()
            }),
            delta(Delta {
                content: Some("Calling.".into()),
                ..Default::default()
            }),
            call(0, Some("call_a"), Some("f"), ""),
            call(0, None, None, "{\"x\":"),
            call(1, Some("call_b"), Some("g"), "{}"),
            // A late piece for the first call: sent under its own block's index.
            call(0, None, None, "1}"),
        ] {
            f.frame(&ev, &mut out);
        }
        let mut c = chunk(vec![]);
        c.usage = Some(priced(TokenUsage {
            prompt: 10,
            completion: 5,
            ..Default::default()
        }));
        f.frame(
            &Event::Finished(Finished {
                chunk: c,
                finish_reason: Some(FinishReason::ToolCalls),
                native_finish_reason: Some("tool_calls".into()),
            }),
            &mut out,
        );
        // Nothing after the end.
        let len = out.len();
        f.frame(&Event::KeepAlive, &mut out);
        assert_eq!(out.len(), len);

        let text = String::from_utf8(out.clone()).expect("utf-8");
        assert!(
            text.contains("event: ping\ndata: {\"type\":\"ping\"}\n\n"),
            "{text}"
        );
        let events: Vec<StreamEvent> = sse_frames(&out)
            .iter()
            .map(|e| serde_json::from_str(&e.data).expect("parses"))
            .collect();
        let names: Vec<&str> = events.iter().map(StreamEvent::name).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let blocks = gather(&events);
        assert_eq!(
            blocks,
            vec![
                json!({"type":"thinking","thinking":"think","signature":""}),
                json!({"type":"text","text":"Calling."}),
                json!({"type":"tool_use","id":"call_a","name":"f","input":{"x":1}}),
                json!({"type":"tool_use","id":"call_b","name":"g","input":{}}),
            ]
        );
        let StreamEvent::MessageDelta {
            delta,
            usage: Some(u),
            ..
        } = &events[15]
        else {
            panic!("message_delta")
        };
        assert_eq!(delta.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!((u.input_tokens, u.output_tokens), (Some(10), Some(5)));
        assert!(text.contains(r#""cost":0.000123456789"#), "{text}");
    }

    #[test]
    fn routing_metadata_goes_on_the_message_and_on_message_stop() {
        let md = json!({"requested": "fake/claude", "attempt": 1});
        let mut resp = response(
            ResponseMessage {
                role: "assistant".into(),
                content: Some("hi".into()),
                ..Default::default()
            },
            Some(FinishReason::Stop),
            None,
            Usage::default(),
        );
        let plain = serde_json::to_value(render(&resp, &Context::default())).expect("json");
        assert!(plain.get("openrouter_metadata").is_none(), "{plain}");
        resp.openrouter_metadata = Some(md.clone());
        let m = serde_json::to_value(render(&resp, &Context::default())).expect("json");
        assert_eq!(m["openrouter_metadata"], md);

        let mut c = chunk(vec![]);
        c.openrouter_metadata = Some(md.clone());
        let end = Event::Finished(Finished {
            chunk: c,
            finish_reason: Some(FinishReason::Stop),
            native_finish_reason: None,
        });
        // Read as written: the typed event has no field for it.
        let mut f = StreamFramer::new(Context::default());
        let mut out = Vec::new();
        f.frame(&end, &mut out);
        let last = sse_frames(&out)
            .last()
            .map(|e| (e.event.clone(), serde_json::from_str::<Value>(&e.data).ok()));
        assert_eq!(
            last,
            Some((
                "message_stop".to_string(),
                Some(json!({"type": "message_stop", "openrouter_metadata": md}))
            ))
        );
    }

    #[test]
    fn a_stream_without_deltas_still_starts_and_thinking_can_be_off() {
        use switchyard_api::chat::Delta;
        let mut c = chunk(vec![]);
        c.usage = Some(Usage::default());
        let end = Event::Finished(Finished {
            chunk: c,
            finish_reason: Some(FinishReason::Length),
            native_finish_reason: None,
        });
        let names: Vec<String> = framed(std::slice::from_ref(&end), Context::default())
            .iter()
            .map(|e| e.name().to_string())
            .collect();
        assert_eq!(names, ["message_start", "message_delta", "message_stop"]);

        let off = Context {
            thinking: Some(ThinkingConfig::Disabled),
            ..Default::default()
        };
        let events = framed(
            &[
                delta(Delta {
                    reasoning: Some("secret".into()),
                    ..Default::default()
                }),
                delta(Delta {
                    content: Some("hi".into()),
                    ..Default::default()
                }),
                end,
            ],
            off,
        );
        assert_eq!(gather(&events), vec![json!({"type":"text","text":"hi"})]);
        assert!(
            matches!(&events[events.len() - 2], StreamEvent::MessageDelta { delta, .. } if delta.stop_reason.as_deref() == Some("max_tokens"))
        );

        // A failure before any delta is an error event alone.
        let mut failed = chunk(vec![]);
        failed.error = Some(ErrorBody {
            code: 402,
            message: "Insufficient credits".into(),
            metadata: None,
            availability: None,
        });
        let events = framed(&[Event::Failed(failed)], Context::default());
        assert_eq!(
            events,
            vec![StreamEvent::Error {
                error: ErrorObject {
                    kind: "billing_error".into(),
                    message: "Insufficient credits".into()
                }
            }]
        );
    }
}
