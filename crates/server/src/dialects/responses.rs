//! The OpenAI Responses API (`POST /v1/responses`), stateless as OpenRouter serves it: the
//! client sends the whole conversation as `input` every time, nothing is stored.
//!
//! - [`decode`]: a Responses request into the canonical [`ChatRequest`] and the [`Context`]
//!   rendering needs (the request's echoed fields, how tool names map back);
//! - [`render`]: a completed [`ChatResponse`] as a Responses `response` object;
//! - [`StreamFramer`]: pipeline events as Responses stream events;
//! - [`error_envelope`]: an error body both OpenRouter's spec and the openai SDK accept.
//!
//! Written against what the Codex CLI sends and requires (see
//! `fixtures/responses/CODEX.md`): freeform `custom` tools (its `apply_patch`), `namespace`
//! tools, a client-run `tool_search`, reasoning items echoed back with `encrypted_content`.

use crate::dialects::{sse_event, Framer};
use crate::pipeline::{Event, Finished};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use switchyard_api::chat::{
    self, decode_reasoning_envelope, encode_reasoning_envelope, ChatChunk, ChatRequest,
    ChatResponse, Content, ContentPart as ChatPart, Extra, FinishReason, FunctionCall, FunctionDef,
    ImageUrl, JsonSchemaFormat, Message, NamedFunction, NamedToolChoice, ReasoningDetail,
    ResponseFormat, Role, ToolCall, ToolCallDelta,
};
use switchyard_api::responses::{
    self as rs, ContentPart, Input, InputItem, InputRole, ItemStatus, MessageContent,
    OutputContent, OutputItem, OutputText, ResponseStatus, ResponsesRequest, StreamEvent,
    StreamPart, SummaryPart,
};

/// The `type` of a bare `encrypted_content` blob: the Responses API's own reasoning.
const OPENAI_REASONING_FORMAT: &str = "openai-responses-v1";
/// The function a client-run `tool_search` tool becomes.
const TOOL_SEARCH: &str = "tool_search";
/// The tool types a response object may repeat (OpenRouter's `OpenResponsesResult.tools`);
/// others, such as Codex's `tool_search`, are served but not echoed.
const ECHOED_TOOL_TYPES: &[&str] = &[
    "function",
    "custom",
    "namespace",
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "computer_use_preview",
    "code_interpreter",
    "mcp",
    "image_generation",
    "local_shell",
    "shell",
    "apply_patch",
];
/// Every this many keep-alives, one is a `response.in_progress` event instead of an SSE
/// comment. Codex's idle timer (`stream_idle_timeout_ms`, 300 s by default) counts only
/// events, not comments; with the default 3 s keep-alive this is one event per 30 s, small
/// next to the full response object (tools included) each one repeats.
const KEEPALIVES_PER_PROGRESS: u32 = 10;

/// What rendering a request's answer needs to know about the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The response object before any output: id and times unset, status `in_progress`,
    /// `model` the requested one, and the request's fields a response repeats (`tools`,
    /// `tool_choice`, `instructions`, `temperature`, `metadata`, …).
    pub template: rs::Response,
    /// How the function names the model calls map back to Responses items.
    pub tools: ToolNames,
    /// `type`s of the tools dropped because this gateway cannot run them (hosted tools such
    /// as Codex's default `web_search`), for the caller to log.
    pub dropped_tools: Vec<String>,
}

impl Context {
    /// The model the client asked for (`""` when it named none).
    pub fn requested_model(&self) -> &str {
        &self.template.model
    }
}

/// Chat function names → the Responses tool they stand for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNames {
    map: BTreeMap<String, ToolKind>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolKind {
    Function {
        namespace: Option<String>,
        name: String,
    },
    /// A freeform tool: called with `{"input": "<raw text>"}`, rendered as a
    /// `custom_tool_call` with that text.
    Custom {
        namespace: Option<String>,
        name: String,
    },
    /// The client-run tool search: rendered as a `tool_search_call` with JSON arguments.
    ToolSearch,
}

impl ToolNames {
    /// What the function the model called stands for; a name no tool declared (a model's
    /// invention) stays a plain function call.
    pub fn kind(&self, chat_name: &str) -> ToolKind {
        self.map
            .get(chat_name)
            .cloned()
            .unwrap_or_else(|| ToolKind::Function {
                namespace: None,
                name: chat_name.to_string(),
            })
    }

    /// The chat name of a Responses tool (`name`, optionally inside `namespace`).
    fn chat_name(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            // Codex's own chat encoding of namespaced tools, so a model sees the same names.
            Some(ns) => format!("{ns}__{name}"),
            None => name.to_string(),
        }
    }

    /// The chat name a `tool_choice` naming `name` refers to: the tool itself, or the one
    /// function of that name inside a namespace.
    fn resolve(&self, name: &str) -> Option<String> {
        if self.map.contains_key(name) {
            return Some(name.to_string());
        }
        self.map.iter().find_map(|(chat, kind)| match kind {
            ToolKind::Function { name: n, .. } | ToolKind::Custom { name: n, .. } if n == name => {
                Some(chat.clone())
            }
            _ => None,
        })
    }
}

// ------------------------------------------------------------------------------------------
// decode
// ------------------------------------------------------------------------------------------

/// Parses a Responses request and converts it to the canonical chat request.
pub fn decode(body: &[u8]) -> Result<(ChatRequest, Context), String> {
    let req = rs::parse_responses_request(body)?;
    refuse_stateful(&req)?;

    let mut tools = Tools::default();
    for (i, t) in req.tools.iter().flatten().enumerate() {
        tools.add(t, &format!("tools[{i}]"))?;
    }
    let mut messages = Vec::new();
    if let Some(text) = req.instructions.as_deref().filter(|t| !t.is_empty()) {
        messages.push(Message::text(Role::System, text));
    }
    match &req.input {
        Some(Input::Text(text)) => messages.push(Message::text(Role::User, text.as_str())),
        Some(Input::Items(items)) if !items.is_empty() => {
            messages.extend(conversation(items, &mut tools)?)
        }
        _ => return Err("`input` is required: a string or a non-empty array of items".into()),
    }
    if !messages
        .iter()
        .any(|m| matches!(m.role, Role::User | Role::Assistant | Role::Tool))
    {
        return Err("`input` holds no message to answer".into());
    }

    let (tool_choice, allowed) = match &req.tool_choice {
        Some(tc) => tool_choice(tc, &tools.names)?,
        None => (None, None),
    };
    if let Some(allowed) = allowed {
        tools.defs.retain(|t| allowed.contains(&t.function.name));
    }
    let has_tools = !tools.defs.is_empty();

    let mut extra = Extra::new();
    if let Some(v) = req.text.as_ref().and_then(|t| t.verbosity.clone()) {
        extra.insert("verbosity".into(), Value::String(v));
    }
    // OpenAI's chat API takes the same two fields; other adapters ignore unknown ones.
    if let Some(k) = &req.prompt_cache_key {
        extra.insert("prompt_cache_key".into(), Value::String(k.clone()));
    }
    if let Some(t) = &req.service_tier {
        extra.insert("service_tier".into(), Value::String(t.clone()));
    }

    let chat_req = ChatRequest {
        model: req.model.clone(),
        messages,
        stream: req.stream.filter(|s| *s),
        max_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        tools: has_tools.then(|| tools.defs.clone()),
        // A choice or a parallelism setting without tools is refused by chat upstreams.
        tool_choice: tool_choice.filter(|_| has_tools),
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        response_format: match req.text.as_ref().and_then(|t| t.format.as_ref()) {
            Some(f) => response_format(f)?,
            None => None,
        },
        reasoning: req
            .reasoning
            .as_ref()
            .filter(|r| r.effort.is_some() || r.enabled.is_some() || r.max_tokens.is_some())
            .map(|r| chat::ReasoningConfig {
                effort: r.effort.clone(),
                max_tokens: r.max_tokens,
                exclude: None,
                enabled: r.enabled,
            }),
        user: req.user.clone(),
        models: req.models.clone(),
        provider: req.provider.clone(),
        route: req.route.clone(),
        plugins: req.plugins.clone(),
        // Codex sets `prompt_cache_key` to its conversation id: the sticky-routing key
        // OpenRouter's `session_id` is, so its turns keep hitting one provider's cache.
        session_id: req
            .session_id
            .clone()
            .or_else(|| req.prompt_cache_key.clone()),
        extra,
        ..ChatRequest::default()
    };
    let ctx = Context {
        template: template(&req),
        tools: tools.names,
        dropped_tools: tools.dropped,
    };
    Ok((chat_req, ctx))
}

/// Fields that need stored responses, which a stateless gateway has none of.
///
/// `store: true` is refused as OpenRouter refuses it (its spec has `store: const false`).
/// This does not break Codex: it sends `store: provider.is_azure_responses_endpoint()`
/// (`codex-rs/core/src/client.rs`), false for any base URL that is not an Azure OpenAI host
/// (captured from codex-cli 0.171.0: `"store": false`), and it uses `previous_response_id`
/// only on its WebSocket transport, which custom providers do not get.
fn refuse_stateful(req: &ResponsesRequest) -> Result<(), String> {
    const RESEND: &str =
        "this gateway is stateless and stores no responses: send the whole conversation as \
         `input` (with `store: false`)";
    if req.store == Some(true) {
        return Err(format!("`store: true` is not supported: {RESEND}"));
    }
    if req.previous_response_id.is_some() {
        return Err(format!("`previous_response_id` is not supported: {RESEND}"));
    }
    if req.conversation.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(format!("`conversation` is not supported: {RESEND}"));
    }
    if req.background == Some(true) {
        return Err(format!("`background: true` is not supported: {RESEND}"));
    }
    if req.prompt.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(
            "stored prompts (`prompt`) are not supported: send the prompt as `instructions` \
             and `input`"
                .into(),
        );
    }
    Ok(())
}

/// The chat tools being collected, and how their names map back.
#[derive(Default)]
struct Tools {
    defs: Vec<chat::Tool>,
    names: ToolNames,
    dropped: Vec<String>,
}

impl Tools {
    fn add(&mut self, t: &rs::Tool, at: &str) -> Result<(), String> {
        self.add_in(t, None, at)
    }

    fn add_in(&mut self, t: &rs::Tool, namespace: Option<&str>, at: &str) -> Result<(), String> {
        let named = || {
            t.name
                .as_deref()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("`{at}`: a `{}` tool needs a `name`", t.kind))
        };
        match t.kind.as_str() {
            "function" => {
                let name = named()?;
                let chat_name = self.names.chat_name(namespace, name);
                let kind = ToolKind::Function {
                    namespace: namespace.map(str::to_string),
                    name: name.to_string(),
                };
                self.push(
                    chat_name,
                    kind,
                    t.description.clone(),
                    t.parameters.clone(),
                    t.strict,
                );
            }
            "custom" => {
                let name = named()?;
                let chat_name = self.names.chat_name(namespace, name);
                let kind = ToolKind::Custom {
                    namespace: namespace.map(str::to_string),
                    name: name.to_string(),
                };
                let (description, parameters) = custom_as_function(t);
                self.push(chat_name, kind, Some(description), Some(parameters), None);
            }
            // Codex groups some functions (its sub-agent tools, MCP servers) under a
            // namespace; the model calls them with `namespace` set.
            "namespace" if namespace.is_none() => {
                let ns = named()?;
                for (i, inner) in t.tools.iter().flatten().enumerate() {
                    self.add_in(inner, Some(ns), &format!("{at}.tools[{i}]"))?;
                }
            }
            // Codex's tool search over its deferred tools runs on the client: to the model it
            // is a function like any other.
            "tool_search" if t.execution.as_deref() != Some("server") => {
                let parameters = t.parameters.clone().unwrap_or_else(|| {
                    json!({"type": "object", "properties": {"query": {"type": "string"}},
                           "required": ["query"]})
                });
                self.push(
                    TOOL_SEARCH.into(),
                    ToolKind::ToolSearch,
                    t.description.clone(),
                    Some(parameters),
                    None,
                );
            }
            // Hosted tools (`web_search`, `file_search`, `code_interpreter`,
            // `image_generation`, `mcp`, `computer_use_preview`, a server-side `tool_search`,
            // …) run inside OpenAI's service; no provider behind this gateway runs them.
            // Codex sends `web_search` on every request, so they are dropped, not refused.
            other => self.dropped.push(other.to_string()),
        }
        Ok(())
    }

    fn push(
        &mut self,
        chat_name: String,
        kind: ToolKind,
        description: Option<String>,
        parameters: Option<Value>,
        strict: Option<bool>,
    ) {
        // Tools found by a tool search may repeat ones already declared.
        if self.names.map.contains_key(&chat_name) {
            return;
        }
        self.defs.push(chat::Tool {
            kind: "function".into(),
            function: FunctionDef {
                name: chat_name.clone(),
                description,
                parameters,
                strict,
            },
            cache_control: None,
            extra: Extra::new(),
        });
        self.names.map.insert(chat_name, kind);
    }
}

/// A freeform tool as a function taking one string, `input`. The grammar (Codex's
/// `apply_patch` has a Lark one) goes into the parameter's description, so a model that
/// cannot be constrained by it still sees what to write.
fn custom_as_function(t: &rs::Tool) -> (String, Value) {
    let input = match &t.format {
        Some(f) if f.kind == "grammar" => match &f.definition {
            Some(def) => format!(
                "The raw input. It must match this {} grammar:\n{def}",
                f.syntax.as_deref().unwrap_or("")
            ),
            None => "The raw input.".to_string(),
        },
        _ => "The raw input text.".to_string(),
    };
    let mut description = t.description.clone().unwrap_or_default();
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str("Call this tool with the raw input text as the string argument `input`.");
    let parameters = json!({
        "type": "object",
        "properties": {"input": {"type": "string", "description": input}},
        "required": ["input"],
        "additionalProperties": false,
    });
    (description, parameters)
}

/// `tool_choice` in chat terms; for `allowed_tools`, also the chat names to keep.
fn tool_choice(
    tc: &rs::ToolChoice,
    names: &ToolNames,
) -> Result<(Option<chat::ToolChoice>, Option<Vec<String>>), String> {
    let mode = |m: &str| -> Result<chat::ToolChoice, String> {
        match m {
            "auto" | "none" | "required" => Ok(chat::ToolChoice::Mode(m.to_string())),
            other => Err(format!(
                "invalid value for `tool_choice`: `{other}` (expected `auto`, `none` or `required`)"
            )),
        }
    };
    let named = |name: Option<&str>| -> Result<String, String> {
        let name = name.ok_or("`tool_choice` needs a `name`")?;
        names
            .resolve(name)
            .ok_or_else(|| format!("`tool_choice` names `{name}`, which is not among `tools`"))
    };
    match tc {
        rs::ToolChoice::Mode(m) => Ok((Some(mode(m)?), None)),
        rs::ToolChoice::Specific(s) => match s.kind.as_str() {
            "function" | "custom" => {
                let name = named(s.name.as_deref())?;
                let choice = chat::ToolChoice::Named(NamedToolChoice {
                    kind: "function".into(),
                    function: NamedFunction { name },
                });
                Ok((Some(choice), None))
            }
            // Chat has no allowed-tools choice of its own: the same restriction is a shorter
            // tool list.
            "allowed_tools" => {
                let choice = mode(s.mode.as_deref().unwrap_or("auto"))?;
                let mut keep = Vec::new();
                for t in s.tools.iter().flatten() {
                    match t.get("type").and_then(Value::as_str) {
                        Some("function" | "custom") => {
                            keep.push(named(t.get("name").and_then(Value::as_str))?)
                        }
                        Some(TOOL_SEARCH) => keep.push(TOOL_SEARCH.into()),
                        _ => {}
                    }
                }
                Ok((Some(choice), Some(keep)))
            }
            other => Err(format!(
                "`tool_choice` of type `{other}` names a hosted tool, which this gateway does \
                 not run"
            )),
        },
    }
}

fn response_format(f: &rs::TextFormat) -> Result<Option<ResponseFormat>, String> {
    match f.kind.as_str() {
        "text" => Ok(None),
        "json_object" => Ok(Some(ResponseFormat {
            kind: "json_object".into(),
            json_schema: None,
        })),
        "json_schema" => {
            let schema = f
                .schema
                .clone()
                .ok_or("`text.format` of type `json_schema` needs a `schema`")?;
            Ok(Some(ResponseFormat {
                kind: "json_schema".into(),
                json_schema: Some(JsonSchemaFormat {
                    name: f.name.clone().unwrap_or_else(|| "response".into()),
                    description: f.description.clone(),
                    schema: Some(schema),
                    strict: f.strict,
                }),
            }))
        }
        other => Err(format!(
            "invalid value for `text.format.type`: `{other}` (expected `text`, `json_object` or \
             `json_schema`)"
        )),
    }
}

/// The input items as chat messages.
///
/// One model turn arrives as several items — reasoning, a message, function calls, in any
/// order — and becomes one assistant message: everything from the model is gathered until an
/// item from anyone else (a user message, a tool output) closes the turn. Reasoning goes into
/// that message's `reasoning_details`, so signatures and encrypted reasoning reach the
/// provider that issued them.
fn conversation(items: &[InputItem], tools: &mut Tools) -> Result<Vec<Message>, String> {
    let mut c = Conversation::default();
    for (i, item) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        match item {
            InputItem::Message(m) => match m.role {
                InputRole::Assistant => {
                    let text = assistant_text(m.content.as_ref(), &at)?;
                    if let Some(text) = text {
                        let turn = c.assistant();
                        let joined = match turn.content.take() {
                            Some(Content::Text(before)) => before + &text,
                            _ => text,
                        };
                        turn.content = Some(Content::Text(joined));
                    }
                }
                role => {
                    let role = match role {
                        InputRole::System => Role::System,
                        InputRole::Developer => Role::Developer,
                        _ => Role::User,
                    };
                    let content = match &m.content {
                        Some(content) => content_of(content, &format!("{at}.content"))?,
                        None => Content::Text(String::new()),
                    };
                    c.push(message(role, Some(content)));
                }
            },
            InputItem::FunctionCall(f) => {
                let name = tools.names.chat_name(f.namespace.as_deref(), &f.name);
                c.call(f.call_id.clone(), name, f.arguments.clone());
            }
            InputItem::CustomToolCall(f) => {
                let name = tools.names.chat_name(f.namespace.as_deref(), &f.name);
                let arguments = json!({"input": f.input}).to_string();
                c.call(f.call_id.clone(), name, arguments);
            }
            InputItem::ToolSearchCall(f) => {
                let id = f
                    .call_id
                    .clone()
                    .or_else(|| f.id.clone())
                    .unwrap_or_else(|| format!("tool_search_{i}"));
                let arguments = match &f.arguments {
                    Value::Null => "{}".to_string(),
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                c.last_search = Some(id.clone());
                c.call(id, TOOL_SEARCH.into(), arguments);
            }
            InputItem::FunctionCallOutput(o) => {
                let content = content_of(&o.output, &format!("{at}.output"))?;
                c.push(tool_result(o.call_id.clone(), content));
            }
            InputItem::CustomToolCallOutput(o) => {
                let content = content_of(&o.output, &format!("{at}.output"))?;
                c.push(tool_result(o.call_id.clone(), content));
            }
            InputItem::ToolSearchOutput(o) => {
                // The tools it found become callable from now on.
                for (j, t) in o.tools.iter().enumerate() {
                    tools.add(t, &format!("{at}.tools[{j}]"))?;
                }
                let id = o
                    .call_id
                    .clone()
                    .or_else(|| c.last_search.clone())
                    .unwrap_or_default();
                let found = serde_json::to_string(&o.tools).unwrap_or_default();
                c.push(tool_result(id, Content::Text(found)));
            }
            InputItem::Reasoning(r) => {
                let details = details_of(r);
                if !details.is_empty() {
                    c.assistant()
                        .reasoning_details
                        .get_or_insert_with(Vec::new)
                        .extend(details);
                }
            }
            InputItem::ItemReference(_) => {
                return Err(format!(
                    "`{at}`: `item_reference` items point at stored items, and this gateway \
                     stores none: send the items themselves"
                ))
            }
            // The record of a hosted web search an earlier turn made elsewhere: nothing a
            // chat provider can take, and its results are already in the model's message.
            InputItem::Other(m)
                if m.get("type").and_then(Value::as_str) == Some("web_search_call") => {}
            other => {
                return Err(format!(
                    "`{at}`: input items of type `{}` are not supported",
                    other.kind()
                ))
            }
        }
    }
    Ok(c.finish())
}

#[derive(Default)]
struct Conversation {
    out: Vec<Message>,
    /// The model's turn being gathered.
    turn: Option<Message>,
    /// The last tool search call's id, for an output that names none.
    last_search: Option<String>,
}

impl Conversation {
    fn assistant(&mut self) -> &mut Message {
        self.turn
            .get_or_insert_with(|| message(Role::Assistant, None))
    }

    fn call(&mut self, id: String, name: String, arguments: String) {
        self.assistant()
            .tool_calls
            .get_or_insert_with(Vec::new)
            .push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall { name, arguments },
            });
    }

    fn close_turn(&mut self) {
        if let Some(turn) = self.turn.take() {
            // A turn of reasoning alone (the client dropped the rest) is no message a
            // provider accepts; its reasoning has nothing left to continue.
            if turn.content.is_some() || turn.tool_calls.is_some() {
                self.out.push(turn);
            }
        }
    }

    fn push(&mut self, m: Message) {
        self.close_turn();
        self.out.push(m);
    }

    fn finish(mut self) -> Vec<Message> {
        self.close_turn();
        self.out
    }
}

fn message(role: Role, content: Option<Content>) -> Message {
    Message {
        role,
        content,
        name: None,
        tool_calls: None,
        tool_call_id: None,
        reasoning: None,
        reasoning_details: None,
        extra: Extra::new(),
    }
}

fn tool_result(call_id: String, content: Content) -> Message {
    let mut m = message(Role::Tool, Some(content));
    m.tool_call_id = Some(call_id);
    m
}

/// An assistant message's text (its `output_text` and `refusal` parts joined).
fn assistant_text(content: Option<&MessageContent>, at: &str) -> Result<Option<String>, String> {
    match content {
        None => Ok(None),
        Some(MessageContent::Text(t)) => Ok(Some(t.clone())),
        Some(MessageContent::Parts(parts)) => {
            let mut text = String::new();
            for (j, p) in parts.iter().enumerate() {
                match p {
                    ContentPart::OutputText(t) | ContentPart::InputText(t) => {
                        text.push_str(&t.text)
                    }
                    ContentPart::Refusal(r) => text.push_str(&r.refusal),
                    _ => {
                        return Err(format!(
                            "`{at}.content[{j}]`: an assistant message holds only text"
                        ))
                    }
                }
            }
            Ok(Some(text))
        }
    }
}

/// Message content or a tool output as chat content: one text part stays plain text.
fn content_of(content: &MessageContent, at: &str) -> Result<Content, String> {
    let parts = match content {
        MessageContent::Text(t) => return Ok(Content::Text(t.clone())),
        MessageContent::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        out.push(chat_part(p, &format!("{at}[{j}]"))?);
    }
    match out.as_slice() {
        [] => Ok(Content::Text(String::new())),
        [only] if only.kind == "text" => Ok(Content::Text(only.text.clone().unwrap_or_default())),
        _ => Ok(Content::Parts(out)),
    }
}

fn chat_part(p: &ContentPart, at: &str) -> Result<ChatPart, String> {
    let part = |kind: &str| ChatPart {
        kind: kind.to_string(),
        text: None,
        image_url: None,
        file: None,
        cache_control: None,
        extra: Extra::new(),
    };
    const NO_FILES: &str = "this gateway has no file store: send the content inline";
    match p {
        ContentPart::InputText(t) | ContentPart::OutputText(t) => {
            Ok(ChatPart::text(t.text.clone()))
        }
        ContentPart::Refusal(r) => Ok(ChatPart::text(r.refusal.clone())),
        ContentPart::InputImage(img) => {
            let url = match (&img.image_url, &img.file_id) {
                (Some(url), _) => url.clone(),
                (None, Some(_)) => return Err(format!("`{at}.file_id`: {NO_FILES} (`image_url`)")),
                (None, None) => return Err(format!("`{at}`: an `input_image` needs `image_url`")),
            };
            let mut out = part("image_url");
            out.image_url = Some(ImageUrl {
                url,
                detail: img.detail.clone(),
            });
            Ok(out)
        }
        ContentPart::InputFile(f) => {
            let data = match (&f.file_data, &f.file_url, &f.file_id) {
                (Some(d), _, _) | (None, Some(d), _) => d.clone(),
                (None, None, Some(_)) => {
                    return Err(format!("`{at}.file_id`: {NO_FILES} (`file_data`)"))
                }
                (None, None, None) => {
                    return Err(format!("`{at}`: an `input_file` needs `file_data`"))
                }
            };
            let mut out = part("file");
            out.file = Some(chat::FileData {
                filename: f.filename.clone(),
                file_data: Some(data),
                file_id: None,
            });
            Ok(out)
        }
        ContentPart::InputAudio(a) => {
            let mut out = part("input_audio");
            out.extra.insert(
                "input_audio".into(),
                json!({"data": a.input_audio.data, "format": a.input_audio.format}),
            );
            Ok(out)
        }
        ContentPart::Other(m) => Err(format!(
            "`{at}`: content parts of type `{}` are not supported",
            m.get("type").and_then(Value::as_str).unwrap_or("unknown")
        )),
    }
}

/// A reasoning item as `reasoning_details`: ours come back whole from `encrypted_content`;
/// others (a client replaying items of its own) are read from their fields.
fn details_of(r: &rs::ReasoningItem) -> Vec<ReasoningDetail> {
    if let Some(details) = r
        .encrypted_content
        .as_deref()
        .and_then(decode_reasoning_envelope)
    {
        return details;
    }
    let detail = |kind: &str, format: Option<String>| ReasoningDetail {
        kind: kind.to_string(),
        text: None,
        summary: None,
        data: None,
        signature: None,
        id: r.id.clone(),
        format,
        index: Some(0),
        extra: Extra::new(),
    };
    let mut out = Vec::new();
    for s in &r.summary {
        let SummaryPart::SummaryText { text } = s;
        let mut d = detail("reasoning.summary", r.format.clone());
        d.summary = Some(text.clone());
        out.push(d);
    }
    let text: String = r
        .content
        .iter()
        .flatten()
        .map(rs::ReasoningContent::text)
        .collect();
    if !text.is_empty() || r.signature.is_some() {
        let mut d = detail("reasoning.text", r.format.clone());
        d.text = Some(text);
        d.signature = r.signature.clone();
        out.push(d);
    }
    if let Some(data) = &r.encrypted_content {
        // A bare blob in a Responses item is OpenAI's own reasoning; naming its format keeps
        // other providers' adapters from taking it for theirs.
        let format = r
            .format
            .clone()
            .or_else(|| Some(OPENAI_REASONING_FORMAT.into()));
        let mut d = detail("reasoning.encrypted", format);
        d.data = Some(data.clone());
        out.push(d);
    }
    out
}

/// The response object before any output.
fn template(req: &ResponsesRequest) -> rs::Response {
    rs::Response {
        id: String::new(),
        object: "response".into(),
        created_at: 0,
        status: ResponseStatus::InProgress,
        completed_at: None,
        model: req.model.clone().unwrap_or_default(),
        output: Vec::new(),
        error: None,
        incomplete_details: None,
        instructions: req.instructions.clone(),
        metadata: req.metadata.clone(),
        temperature: req.temperature,
        top_p: req.top_p,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        tools: req
            .tools
            .iter()
            .flatten()
            .filter(|t| ECHOED_TOOL_TYPES.contains(&t.kind.as_str()))
            .cloned()
            .collect(),
        tool_choice: req
            .tool_choice
            .clone()
            .unwrap_or_else(|| rs::ToolChoice::Mode("auto".into())),
        parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
        max_output_tokens: req.max_output_tokens,
        previous_response_id: None,
        reasoning: req.reasoning.clone(),
        text: Some(req.text.clone().unwrap_or_else(|| rs::TextConfig {
            format: Some(rs::TextFormat {
                kind: "text".into(),
                name: None,
                description: None,
                schema: None,
                strict: None,
                extra: Extra::new(),
            }),
            verbosity: None,
            extra: Extra::new(),
        })),
        store: false,
        background: false,
        truncation: Some(req.truncation.clone().unwrap_or_else(|| "disabled".into())),
        top_logprobs: req.top_logprobs,
        user: req.user.clone(),
        safety_identifier: req.safety_identifier.clone(),
        prompt_cache_key: req.prompt_cache_key.clone(),
        service_tier: req.service_tier.clone(),
        usage: None,
        openrouter_metadata: None,
    }
}

// ------------------------------------------------------------------------------------------
// render
// ------------------------------------------------------------------------------------------

/// A completed answer as a Responses `response` object: a reasoning item (when there is
/// reasoning), a message, then one item per tool call; `incomplete` when the answer was cut
/// at the token limit or by a content filter.
pub fn render(resp: &ChatResponse, ctx: &Context) -> rs::Response {
    let mut r = ctx.template.clone();
    r.id = resp.id.clone();
    r.created_at = resp.created;
    r.model = resp.model.clone();
    let choice = resp.choices.first();
    let finish = choice.and_then(|c| c.finish_reason);
    let (status, incomplete, error) = outcome(finish);
    // The pipeline stamps a whole answer when it is done, which is when it completed.
    if matches!(status, ResponseStatus::Completed) {
        r.completed_at = Some(resp.created);
    }
    let ids = ItemIds(&r.id);
    let mut output = Vec::new();
    if let Some(c) = choice {
        let m = &c.message;
        let details = m.reasoning_details.as_deref().unwrap_or_default();
        let (summary, text) = reasoning_texts(m.reasoning.as_deref(), details);
        if let Some(item) = reasoning_item(ids.at("rs", output.len()), summary, text, details) {
            output.push(OutputItem::Reasoning(item));
        }
        if m.content.is_some() || m.refusal.is_some() {
            let mut content = Vec::new();
            if let Some(text) = &m.content {
                content.push(OutputContent::OutputText(OutputText::new(text.as_str())));
            }
            if let Some(refusal) = &m.refusal {
                content.push(OutputContent::Refusal {
                    refusal: refusal.clone(),
                });
            }
            output.push(OutputItem::Message(rs::OutputMessage {
                id: ids.at("msg", output.len()),
                role: "assistant".into(),
                status: item_status(status),
                content,
                extra: Extra::new(),
            }));
        }
        for tc in m.tool_calls.iter().flatten() {
            let call = Call {
                id: ids.at(
                    call_prefix(&ctx.tools.kind(&tc.function.name)),
                    output.len(),
                ),
                call_id: tc.id.clone(),
                kind: ctx.tools.kind(&tc.function.name),
                args: tc.function.arguments.clone(),
            };
            output.push(call.item(ItemStatus::Completed));
        }
    }
    r.output = output;
    r.status = status;
    r.incomplete_details = incomplete;
    r.error = error;
    r.usage = resp.usage.as_ref().map(usage);
    r.openrouter_metadata = resp.openrouter_metadata.clone();
    r
}

/// Item ids derived from the response id, so they are unique across a conversation.
struct ItemIds<'a>(&'a str);

impl ItemIds<'_> {
    fn at(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}_{index}_{}", self.0)
    }
}

fn call_prefix(kind: &ToolKind) -> &'static str {
    match kind {
        ToolKind::Function { .. } => "fc",
        ToolKind::Custom { .. } => "ctc",
        ToolKind::ToolSearch => "ts",
    }
}

/// The response's status from the finish reason, with its details or error.
fn outcome(
    finish: Option<FinishReason>,
) -> (
    ResponseStatus,
    Option<rs::IncompleteDetails>,
    Option<rs::ResponseError>,
) {
    let incomplete = |reason: &str| {
        (
            ResponseStatus::Incomplete,
            Some(rs::IncompleteDetails {
                reason: reason.into(),
            }),
            None,
        )
    };
    match finish {
        Some(FinishReason::Length) => incomplete("max_output_tokens"),
        Some(FinishReason::ContentFilter) => incomplete("content_filter"),
        Some(FinishReason::Error) => (
            ResponseStatus::Failed,
            None,
            Some(rs::ResponseError {
                code: "server_error".into(),
                message: "the provider ended the answer with an error".into(),
            }),
        ),
        _ => (ResponseStatus::Completed, None, None),
    }
}

fn item_status(status: ResponseStatus) -> ItemStatus {
    match status {
        ResponseStatus::Completed => ItemStatus::Completed,
        _ => ItemStatus::Incomplete,
    }
}

/// The summary and the reasoning text of a piece of reasoning. A `reasoning` string next to
/// `reasoning.summary` details is the same summary again (that is how OpenAI models'
/// reasoning reaches chat), so then only `reasoning.text` details count as text.
fn reasoning_texts(reasoning: Option<&str>, details: &[ReasoningDetail]) -> (String, String) {
    let summary: String = details
        .iter()
        .filter(|d| d.kind == "reasoning.summary")
        .filter_map(|d| d.summary.as_deref())
        .collect();
    let detail_text = || -> String {
        details
            .iter()
            .filter(|d| d.kind == "reasoning.text")
            .filter_map(|d| d.text.as_deref())
            .collect()
    };
    let text = match reasoning.filter(|r| !r.is_empty()) {
        Some(r) if summary.is_empty() => r.to_string(),
        _ => detail_text(),
    };
    (summary, text)
}

/// A reasoning item, or none when there is nothing to show or to send back.
fn reasoning_item(
    id: String,
    summary: String,
    text: String,
    details: &[ReasoningDetail],
) -> Option<rs::ReasoningItem> {
    // Only signatures and opaque data matter to the provider; plain text needs no return trip.
    let needs_return = details
        .iter()
        .any(|d| d.signature.is_some() || d.data.is_some());
    if summary.is_empty() && text.is_empty() && !needs_return {
        return None;
    }
    Some(rs::ReasoningItem {
        id: Some(id),
        summary: if summary.is_empty() {
            Vec::new()
        } else {
            vec![SummaryPart::SummaryText { text: summary }]
        },
        content: (!text.is_empty()).then(|| vec![rs::ReasoningContent::ReasoningText { text }]),
        encrypted_content: needs_return
            .then(|| encode_reasoning_envelope(details))
            .flatten(),
        status: Some(ItemStatus::Completed),
        format: details.iter().find_map(|d| d.format.clone()),
        signature: details.iter().find_map(|d| d.signature.clone()),
        extra: Extra::new(),
    })
}

fn usage(u: &chat::Usage) -> rs::Usage {
    let prompt = u.prompt_tokens_details.clone().unwrap_or_default();
    rs::Usage {
        input_tokens: u.prompt_tokens,
        input_tokens_details: rs::InputTokensDetails {
            cached_tokens: prompt.cached_tokens,
            cache_write_tokens: prompt.cache_write_tokens,
        },
        output_tokens: u.completion_tokens,
        output_tokens_details: rs::OutputTokensDetails {
            reasoning_tokens: u
                .completion_tokens_details
                .as_ref()
                .map_or(0, |d| d.reasoning_tokens),
        },
        total_tokens: u.total_tokens,
        cost: u.cost,
        is_byok: u.is_byok,
        cost_details: u.cost_details.as_ref().map(|c| rs::CostDetails {
            upstream_inference_cost: c.upstream_inference_cost,
            upstream_inference_input_cost: c.upstream_inference_prompt_cost,
            upstream_inference_output_cost: c.upstream_inference_completions_cost,
        }),
    }
}

/// One tool call on its way to becoming an item.
#[derive(Debug, Clone)]
struct Call {
    id: String,
    call_id: String,
    kind: ToolKind,
    /// The function arguments as the model wrote them (JSON text).
    args: String,
}

impl Call {
    fn item(&self, status: ItemStatus) -> OutputItem {
        match &self.kind {
            ToolKind::Function { namespace, name } => {
                OutputItem::FunctionCall(rs::FunctionCallItem {
                    id: Some(self.id.clone()),
                    call_id: self.call_id.clone(),
                    name: name.clone(),
                    arguments: self.args.clone(),
                    namespace: namespace.clone(),
                    status: Some(status),
                    extra: Extra::new(),
                })
            }
            ToolKind::Custom { namespace, name } => {
                OutputItem::CustomToolCall(rs::CustomToolCallItem {
                    id: Some(self.id.clone()),
                    call_id: self.call_id.clone(),
                    name: name.clone(),
                    input: self.custom_input(),
                    namespace: namespace.clone(),
                    status: None,
                    extra: Extra::new(),
                })
            }
            ToolKind::ToolSearch => OutputItem::ToolSearchCall(rs::ToolSearchCallItem {
                id: Some(self.id.clone()),
                call_id: Some(self.call_id.clone()),
                execution: Some("client".into()),
                arguments: serde_json::from_str(&self.args).unwrap_or_else(|_| json!({})),
                status: Some(status),
                extra: Extra::new(),
            }),
        }
    }

    /// A freeform tool's raw input: the `input` the model was asked for, else whatever it
    /// wrote, so a model that ignored the wrapper still gets its text through.
    fn custom_input(&self) -> String {
        match serde_json::from_str::<Value>(&self.args) {
            Ok(Value::Object(o)) => match o.get("input") {
                Some(Value::String(s)) => s.clone(),
                _ => self.args.clone(),
            },
            _ => self.args.clone(),
        }
    }

    fn added_item(&self) -> OutputItem {
        let mut empty = self.clone();
        empty.args = match self.kind {
            ToolKind::ToolSearch => "{}".into(),
            _ => String::new(),
        };
        let mut item = empty.item(ItemStatus::InProgress);
        if let OutputItem::CustomToolCall(c) = &mut item {
            c.input = String::new();
        }
        item
    }
}

// ------------------------------------------------------------------------------------------
// errors
// ------------------------------------------------------------------------------------------

/// An error body: OpenRouter's `{"error":{"code","message"}}` (what its spec documents for
/// `/responses`, `code` the HTTP status) with OpenAI's `type` and `param` beside them. The
/// openai SDK reads `message`, `type`, `param` and `code` from it without checking their
/// types, and Codex shows `error.message`; both read either shape.
pub fn error_envelope(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "authentication_error",
        402 => "insufficient_quota",
        403 => "permission_error",
        404 => "not_found_error",
        408 => "timeout_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    };
    json!({"error": {"code": status, "message": message, "type": kind, "param": null}})
}

/// A failed stream's `error.code`, from the HTTP status the failure would have had. Codex
/// acts on it: `server_error` and `rate_limit_exceeded` are retried, `invalid_prompt` is
/// shown and ends the run (the right end for a request a retry cannot fix, such as a 402),
/// and a code that is not one of OpenAI's strings loses the message.
pub fn failure_code(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_exceeded",
        408 => "server_error",
        400..=499 => "invalid_prompt",
        _ => "server_error",
    }
}

// ------------------------------------------------------------------------------------------
// stream
// ------------------------------------------------------------------------------------------

/// Frames a streamed answer as Responses events: `response.created` and
/// `response.in_progress` first, then each output item opened (`output_item.added`, its
/// content part), filled (text, reasoning and argument deltas) and closed (the `.done` events,
/// `output_item.done` with the whole item), and last `response.completed` with every item and
/// the usage — or `response.incomplete` when the answer was cut, `response.failed` when it
/// failed. `sequence_number` counts from 0. A keep-alive is an SSE comment, and every
/// `KEEPALIVES_PER_PROGRESS`th a `response.in_progress` event.
///
/// Codex records only `output_item.done` items and needs `response.completed` (it treats a
/// stream that ends without one as a dropped connection and retries); the openai SDK's stream
/// helper needs `response.created` first, one response id throughout, and every added item
/// done before the end.
pub struct StreamFramer {
    ctx: Context,
    response_id: String,
    created_at: u64,
    seq: u64,
    started: bool,
    ended: bool,
    /// The model serving now, from the deltas.
    model: Option<String>,
    items: Vec<Slot>,
    open_reasoning: Option<usize>,
    open_message: Option<usize>,
    /// Chat tool-call index → item.
    calls: BTreeMap<u32, usize>,
    /// Reasoning data without text that came after the answer had moved on (a Gemini thought
    /// signature arriving with a tool call): sent in a reasoning item of its own at the end.
    late_details: Vec<ReasoningDetail>,
    finish: Option<FinishReason>,
    /// Keep-alives since the last `response.in_progress`.
    quiet: u32,
}

struct Slot {
    id: String,
    open: bool,
    kind: SlotKind,
}

enum SlotKind {
    Reasoning(ReasoningSlot),
    Message(MessageSlot),
    Call(Call),
}

#[derive(Default)]
struct ReasoningSlot {
    summary: String,
    summary_open: bool,
    text: String,
    text_open: bool,
    details: Vec<ReasoningDetail>,
}

#[derive(Default)]
struct MessageSlot {
    text: String,
    text_part: Option<u32>,
    refusal: String,
    refusal_part: Option<u32>,
}

impl MessageSlot {
    fn next_part(&self) -> u32 {
        u32::from(self.text_part.is_some()) + u32::from(self.refusal_part.is_some())
    }
}

impl StreamFramer {
    /// A framer that names the response after the first chunk: its `id` (the generation id,
    /// which the pipeline keeps across a failover, as [`render`] uses it) and `created`.
    /// Keep-alives before that chunk are SSE comments.
    pub fn new(ctx: Context) -> StreamFramer {
        StreamFramer {
            ctx,
            response_id: String::new(),
            created_at: 0,
            seq: 0,
            started: false,
            ended: false,
            model: None,
            items: Vec::new(),
            open_reasoning: None,
            open_message: None,
            calls: BTreeMap::new(),
            late_details: Vec::new(),
            finish: None,
            quiet: 0,
        }
    }

    /// A framer that knows the response's id and time already, so the stream opens on its
    /// first event, a keep-alive included (the lifecycle events are then the first bytes).
    pub fn with_response(ctx: Context, response_id: String, created_at: u64) -> StreamFramer {
        let mut f = StreamFramer::new(ctx);
        f.response_id = response_id;
        f.created_at = created_at;
        f
    }

    fn emit(&mut self, out: &mut Vec<u8>, ev: impl FnOnce(u64) -> StreamEvent) {
        let ev = ev(self.seq);
        self.seq = self.seq.saturating_add(1);
        sse_event(out, Some(ev.name()), &ev);
    }

    /// The response object as it stands.
    fn snapshot(&self, status: ResponseStatus, output: Vec<OutputItem>) -> Box<rs::Response> {
        let mut r = self.ctx.template.clone();
        r.id = self.response_id.clone();
        r.created_at = self.created_at;
        if let Some(m) = &self.model {
            r.model = m.clone();
        }
        r.status = status;
        r.output = output;
        Box::new(r)
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        self.started = true;
        let created = self.snapshot(ResponseStatus::InProgress, Vec::new());
        let in_progress = created.clone();
        self.emit(out, |sequence_number| StreamEvent::Created {
            sequence_number,
            response: created,
        });
        self.emit(out, |sequence_number| StreamEvent::InProgress {
            sequence_number,
            response: in_progress,
        });
    }

    fn output_index(index: usize) -> u32 {
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    fn open(&mut self, prefix: &str, kind: SlotKind, out: &mut Vec<u8>) -> usize {
        let index = self.items.len();
        let id = ItemIds(&self.response_id).at(prefix, index);
        let kind = match kind {
            SlotKind::Call(mut c) => {
                c.id.clone_from(&id);
                SlotKind::Call(c)
            }
            other => other,
        };
        let slot = Slot {
            id,
            open: true,
            kind,
        };
        let item = Self::item(&slot, ItemStatus::InProgress, true);
        self.items.push(slot);
        let output_index = Self::output_index(index);
        self.emit(out, |sequence_number| StreamEvent::OutputItemAdded {
            sequence_number,
            output_index,
            item,
        });
        index
    }

    /// The item of a slot: as added (empty) or as it stands.
    fn item(slot: &Slot, status: ItemStatus, added: bool) -> OutputItem {
        match &slot.kind {
            SlotKind::Reasoning(r) => {
                if added {
                    return OutputItem::Reasoning(rs::ReasoningItem {
                        id: Some(slot.id.clone()),
                        summary: Vec::new(),
                        content: None,
                        encrypted_content: None,
                        status: Some(ItemStatus::InProgress),
                        format: None,
                        signature: None,
                        extra: Extra::new(),
                    });
                }
                let item = reasoning_item(
                    slot.id.clone(),
                    r.summary.clone(),
                    r.text.clone(),
                    &r.details,
                );
                // Never empty here: a slot opens only for text or details.
                OutputItem::Reasoning(item.unwrap_or_else(|| rs::ReasoningItem {
                    id: Some(slot.id.clone()),
                    summary: Vec::new(),
                    content: None,
                    encrypted_content: None,
                    status: Some(ItemStatus::Completed),
                    format: None,
                    signature: None,
                    extra: Extra::new(),
                }))
            }
            SlotKind::Message(m) => {
                let mut content = Vec::new();
                if !added {
                    if m.text_part.is_some() {
                        content.push(OutputContent::OutputText(OutputText::new(m.text.as_str())));
                    }
                    if m.refusal_part.is_some() {
                        content.push(OutputContent::Refusal {
                            refusal: m.refusal.clone(),
                        });
                    }
                }
                OutputItem::Message(rs::OutputMessage {
                    id: slot.id.clone(),
                    role: "assistant".into(),
                    status,
                    content,
                    extra: Extra::new(),
                })
            }
            SlotKind::Call(c) if added => c.added_item(),
            SlotKind::Call(c) => c.item(status),
        }
    }

    fn delta(&mut self, d: &chat::Delta, out: &mut Vec<u8>) {
        self.reasoning(d, out);
        if let Some(text) = d.content.as_deref().filter(|t| !t.is_empty()) {
            self.text(text, false, out);
        }
        if let Some(refusal) = d.refusal.as_deref().filter(|t| !t.is_empty()) {
            self.text(refusal, true, out);
        }
        for tc in d.tool_calls.iter().flatten() {
            self.tool_call(tc, out);
        }
    }

    fn reasoning(&mut self, d: &chat::Delta, out: &mut Vec<u8>) {
        let details = d.reasoning_details.as_deref().unwrap_or_default();
        let (summary, text) = reasoning_texts(d.reasoning.as_deref(), details);
        let index = if !summary.is_empty() || !text.is_empty() {
            Some(self.reasoning_slot(out))
        } else if details.is_empty() {
            return;
        } else if let Some(i) = self.open_reasoning {
            Some(i)
        } else if self.open_message.is_none() && self.calls.is_empty() {
            Some(self.reasoning_slot(out))
        } else {
            None
        };
        let Some(index) = index else {
            merge_details(&mut self.late_details, details);
            return;
        };
        let item_id = self
            .items
            .get(index)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let output_index = Self::output_index(index);
        let Some(SlotKind::Reasoning(r)) = self.items.get_mut(index).map(|s| &mut s.kind) else {
            return;
        };
        merge_details(&mut r.details, details);
        let open_summary = !summary.is_empty() && !r.summary_open;
        r.summary_open |= !summary.is_empty();
        r.text_open |= !text.is_empty();
        r.summary.push_str(&summary);
        r.text.push_str(&text);
        if open_summary {
            let item_id = item_id.clone();
            self.emit(out, |sequence_number| {
                StreamEvent::ReasoningSummaryPartAdded {
                    sequence_number,
                    item_id,
                    output_index,
                    summary_index: 0,
                    part: SummaryPart::SummaryText {
                        text: String::new(),
                    },
                }
            });
        }
        if !summary.is_empty() {
            let item_id = item_id.clone();
            self.emit(out, |sequence_number| {
                StreamEvent::ReasoningSummaryTextDelta {
                    sequence_number,
                    item_id,
                    output_index,
                    summary_index: 0,
                    delta: summary,
                }
            });
        }
        if !text.is_empty() {
            self.emit(out, |sequence_number| StreamEvent::ReasoningTextDelta {
                sequence_number,
                item_id,
                output_index,
                content_index: 0,
                delta: text,
            });
        }
    }

    /// The open reasoning item, or a new one (closing the message: reasoning after text
    /// starts a new step).
    fn reasoning_slot(&mut self, out: &mut Vec<u8>) -> usize {
        if let Some(i) = self.open_reasoning {
            return i;
        }
        self.close_message(ItemStatus::Completed, out);
        let i = self.open("rs", SlotKind::Reasoning(ReasoningSlot::default()), out);
        self.open_reasoning = Some(i);
        i
    }

    fn text(&mut self, piece: &str, refusal: bool, out: &mut Vec<u8>) {
        self.close_reasoning(out);
        let index = match self.open_message {
            Some(i) => i,
            None => {
                let i = self.open("msg", SlotKind::Message(MessageSlot::default()), out);
                self.open_message = Some(i);
                i
            }
        };
        let item_id = self
            .items
            .get(index)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let output_index = Self::output_index(index);
        let Some(SlotKind::Message(m)) = self.items.get_mut(index).map(|s| &mut s.kind) else {
            return;
        };
        let next = m.next_part();
        let (part, opened) = if refusal {
            match m.refusal_part {
                Some(p) => (p, false),
                None => {
                    m.refusal_part = Some(next);
                    (next, true)
                }
            }
        } else {
            match m.text_part {
                Some(p) => (p, false),
                None => {
                    m.text_part = Some(next);
                    (next, true)
                }
            }
        };
        if refusal {
            m.refusal.push_str(piece);
        } else {
            m.text.push_str(piece);
        }
        if opened {
            let item_id = item_id.clone();
            let part_value = if refusal {
                StreamPart::Refusal {
                    refusal: String::new(),
                }
            } else {
                StreamPart::OutputText(OutputText::new(""))
            };
            self.emit(out, |sequence_number| StreamEvent::ContentPartAdded {
                sequence_number,
                item_id,
                output_index,
                content_index: part,
                part: part_value,
            });
        }
        let delta = piece.to_string();
        if refusal {
            self.emit(out, |sequence_number| StreamEvent::RefusalDelta {
                sequence_number,
                item_id,
                output_index,
                content_index: part,
                delta,
            });
        } else {
            self.emit(out, |sequence_number| StreamEvent::OutputTextDelta {
                sequence_number,
                item_id,
                output_index,
                content_index: part,
                delta,
                logprobs: Vec::new(),
            });
        }
    }

    fn tool_call(&mut self, tc: &ToolCallDelta, out: &mut Vec<u8>) {
        self.close_reasoning(out);
        self.close_message(ItemStatus::Completed, out);
        let name = tc.function.as_ref().and_then(|f| f.name.as_deref());
        let index = match self.calls.get(&tc.index) {
            Some(&i) => i,
            None => {
                let kind = self.ctx.tools.kind(name.unwrap_or_default());
                let call = Call {
                    id: String::new(),
                    call_id: tc
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("call_{}_{}", tc.index, self.response_id)),
                    kind,
                    args: String::new(),
                };
                let prefix = call_prefix(&call.kind);
                let i = self.open(prefix, SlotKind::Call(call), out);
                self.calls.insert(tc.index, i);
                i
            }
        };
        let item_id = self
            .items
            .get(index)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let output_index = Self::output_index(index);
        let Some(SlotKind::Call(c)) = self.items.get_mut(index).map(|s| &mut s.kind) else {
            return;
        };
        // A name that arrives only after the first piece still decides the item.
        if let (Some(name), ToolKind::Function { name: n, .. }) = (name, &c.kind) {
            if n.is_empty() {
                c.kind = self.ctx.tools.kind(name);
            }
        }
        let Some(piece) = tc
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty())
        else {
            return;
        };
        c.args.push_str(piece);
        // A freeform tool's input is the unwrapped string, whole only once the arguments
        // are: it is sent at the end. Tool search arguments are an object, sent whole too.
        if matches!(c.kind, ToolKind::Function { .. }) {
            let delta = piece.to_string();
            self.emit(out, |sequence_number| {
                StreamEvent::FunctionCallArgumentsDelta {
                    sequence_number,
                    item_id,
                    output_index,
                    delta,
                }
            });
        }
    }

    fn close_reasoning(&mut self, out: &mut Vec<u8>) {
        let Some(index) = self.open_reasoning.take() else {
            return;
        };
        let Some(slot) = self.items.get_mut(index) else {
            return;
        };
        slot.open = false;
        let item_id = slot.id.clone();
        let output_index = Self::output_index(index);
        let SlotKind::Reasoning(r) = &slot.kind else {
            return;
        };
        let (summary, text) = (
            r.summary_open.then(|| r.summary.clone()),
            r.text_open.then(|| r.text.clone()),
        );
        let item = Self::item(slot, ItemStatus::Completed, false);
        if let Some(text) = summary {
            let id = item_id.clone();
            let t = text.clone();
            self.emit(out, |sequence_number| {
                StreamEvent::ReasoningSummaryTextDone {
                    sequence_number,
                    item_id: id,
                    output_index,
                    summary_index: 0,
                    text: t,
                }
            });
            let id = item_id.clone();
            self.emit(out, |sequence_number| {
                StreamEvent::ReasoningSummaryPartDone {
                    sequence_number,
                    item_id: id,
                    output_index,
                    summary_index: 0,
                    part: SummaryPart::SummaryText { text },
                }
            });
        }
        // Reasoning text has no content-part events: OpenRouter's schema allows none for it,
        // and neither Codex nor the openai SDK needs them.
        if let Some(text) = text {
            self.emit(out, |sequence_number| StreamEvent::ReasoningTextDone {
                sequence_number,
                item_id,
                output_index,
                content_index: 0,
                text,
            });
        }
        self.emit(out, |sequence_number| StreamEvent::OutputItemDone {
            sequence_number,
            output_index,
            item,
        });
    }

    fn close_message(&mut self, status: ItemStatus, out: &mut Vec<u8>) {
        let Some(index) = self.open_message.take() else {
            return;
        };
        let Some(slot) = self.items.get_mut(index) else {
            return;
        };
        slot.open = false;
        let item_id = slot.id.clone();
        let output_index = Self::output_index(index);
        let SlotKind::Message(m) = &slot.kind else {
            return;
        };
        let text = m.text_part.map(|p| (p, m.text.clone()));
        let refusal = m.refusal_part.map(|p| (p, m.refusal.clone()));
        let item = Self::item(slot, status, false);
        // Parts close in the order they opened.
        let mut parts: Vec<(u32, bool, String)> = text
            .map(|(p, t)| (p, false, t))
            .into_iter()
            .chain(refusal.map(|(p, t)| (p, true, t)))
            .collect();
        parts.sort_by_key(|(p, _, _)| *p);
        for (content_index, is_refusal, body) in parts {
            let id = item_id.clone();
            let b = body.clone();
            if is_refusal {
                self.emit(out, |sequence_number| StreamEvent::RefusalDone {
                    sequence_number,
                    item_id: id,
                    output_index,
                    content_index,
                    refusal: b,
                });
            } else {
                self.emit(out, |sequence_number| StreamEvent::OutputTextDone {
                    sequence_number,
                    item_id: id,
                    output_index,
                    content_index,
                    text: b,
                    logprobs: Vec::new(),
                });
            }
            let id = item_id.clone();
            let part = if is_refusal {
                StreamPart::Refusal { refusal: body }
            } else {
                StreamPart::OutputText(OutputText::new(body))
            };
            self.emit(out, |sequence_number| StreamEvent::ContentPartDone {
                sequence_number,
                item_id: id,
                output_index,
                content_index,
                part,
            });
        }
        self.emit(out, |sequence_number| StreamEvent::OutputItemDone {
            sequence_number,
            output_index,
            item,
        });
    }

    fn close_calls(&mut self, out: &mut Vec<u8>) {
        let open: Vec<usize> = self.calls.values().copied().collect();
        for index in open {
            let Some(slot) = self.items.get_mut(index) else {
                continue;
            };
            if !slot.open {
                continue;
            }
            slot.open = false;
            let item_id = slot.id.clone();
            let output_index = Self::output_index(index);
            let SlotKind::Call(c) = &slot.kind else {
                continue;
            };
            let call = c.clone();
            let item = Self::item(slot, ItemStatus::Completed, false);
            match &call.kind {
                ToolKind::Function { name, .. } => {
                    let (id, name, arguments) = (item_id, name.clone(), call.args.clone());
                    self.emit(out, |sequence_number| {
                        StreamEvent::FunctionCallArgumentsDone {
                            sequence_number,
                            item_id: id,
                            output_index,
                            name,
                            arguments,
                        }
                    });
                }
                ToolKind::Custom { .. } => {
                    let input = call.custom_input();
                    if !input.is_empty() {
                        let (id, delta) = (item_id.clone(), input.clone());
                        self.emit(out, |sequence_number| {
                            StreamEvent::CustomToolCallInputDelta {
                                sequence_number,
                                item_id: id,
                                output_index,
                                delta,
                            }
                        });
                    }
                    self.emit(out, |sequence_number| {
                        StreamEvent::CustomToolCallInputDone {
                            sequence_number,
                            item_id,
                            output_index,
                            input,
                        }
                    });
                }
                ToolKind::ToolSearch => {}
            }
            self.emit(out, |sequence_number| StreamEvent::OutputItemDone {
                sequence_number,
                output_index,
                item,
            });
        }
    }

    fn finished(&mut self, f: &Finished, out: &mut Vec<u8>) {
        let finish = f.finish_reason.or(self.finish);
        let (status, incomplete, error) = outcome(finish);
        self.close_reasoning(out);
        self.close_message(item_status(status), out);
        self.close_calls(out);
        if !self.late_details.is_empty() {
            let details = std::mem::take(&mut self.late_details);
            let slot = ReasoningSlot {
                details,
                ..ReasoningSlot::default()
            };
            let i = self.open("rs", SlotKind::Reasoning(slot), out);
            self.open_reasoning = Some(i);
            self.close_reasoning(out);
        }
        let output = self
            .items
            .iter()
            .map(|s| Self::item(s, ItemStatus::Completed, false))
            .map(|item| match item {
                OutputItem::Message(mut m) => {
                    m.status = item_status(status);
                    OutputItem::Message(m)
                }
                other => other,
            })
            .collect();
        let mut response = self.snapshot(status, output);
        if matches!(status, ResponseStatus::Completed) {
            response.completed_at = Some(crate::routes::unix_now());
        }
        response.incomplete_details = incomplete;
        response.error = error;
        response.usage = f.chunk.usage.as_ref().map(usage);
        response.openrouter_metadata = f.chunk.openrouter_metadata.clone();
        self.emit(out, |sequence_number| match status {
            ResponseStatus::Incomplete => StreamEvent::Incomplete {
                sequence_number,
                response,
            },
            ResponseStatus::Failed => StreamEvent::Failed {
                sequence_number,
                response,
            },
            _ => StreamEvent::Completed {
                sequence_number,
                response,
            },
        });
    }

    /// The stream ends in failure: `response.failed` with what was produced so far (items
    /// still open marked incomplete) and OpenAI's error code for the status.
    fn failed(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) {
        let (status, message) = match &chunk.error {
            Some(e) => (e.code, e.message.clone()),
            None => (502, "the stream failed".to_string()),
        };
        let output = self
            .items
            .iter()
            .map(|s| {
                let st = if s.open {
                    ItemStatus::Incomplete
                } else {
                    ItemStatus::Completed
                };
                Self::item(s, st, false)
            })
            .collect();
        let mut response = self.snapshot(ResponseStatus::Failed, output);
        response.error = Some(rs::ResponseError {
            code: failure_code(status).into(),
            message,
        });
        self.emit(out, |sequence_number| StreamEvent::Failed {
            sequence_number,
            response,
        });
    }
}

impl Framer for StreamFramer {
    fn frame(&mut self, ev: &Event, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        // The stream opens with the two lifecycle events, as soon as the response has a name:
        // the openai SDK refuses anything before `response.created`, and one id throughout.
        let fresh = !self.started;
        if fresh {
            let first = match ev {
                Event::Delta(c) | Event::Failed(c) => Some(c),
                Event::Finished(f) => Some(&f.chunk),
                Event::KeepAlive | Event::Native(_) => None,
            };
            if let Some(c) = first {
                if self.response_id.is_empty() {
                    self.response_id = if c.id.is_empty() {
                        "resp".into()
                    } else {
                        c.id.clone()
                    };
                    self.created_at = c.created;
                }
            }
            if self.response_id.is_empty() {
                out.extend_from_slice(b": keep-alive\n\n");
                return;
            }
            self.start(out);
        }
        match ev {
            Event::KeepAlive if fresh => {}
            Event::KeepAlive => {
                self.quiet = self.quiet.saturating_add(1);
                if self.quiet >= KEEPALIVES_PER_PROGRESS {
                    self.quiet = 0;
                    let response = self.snapshot(ResponseStatus::InProgress, Vec::new());
                    self.emit(out, |sequence_number| StreamEvent::InProgress {
                        sequence_number,
                        response,
                    });
                } else {
                    out.extend_from_slice(b": keep-alive\n\n");
                }
            }
            Event::Delta(chunk) => {
                self.quiet = 0;
                if !chunk.model.is_empty() {
                    self.model = Some(chunk.model.clone());
                }
                for c in &chunk.choices {
                    self.delta(&c.delta, out);
                    if c.finish_reason.is_some() {
                        self.finish = c.finish_reason;
                    }
                }
            }
            Event::Finished(f) => {
                self.finished(f, out);
                self.ended = true;
            }
            Event::Failed(chunk) => {
                self.failed(chunk, out);
                self.ended = true;
            }
            // Only a dialect that hands the pipeline its own body gets these.
            Event::Native(_) => {}
        }
    }
}

/// `POST /responses`, OpenAI's Responses API, stateless as OpenRouter serves it.
pub struct Responses;

impl super::Dialect for Responses {
    type Context = Context;
    type Framer = StreamFramer;

    fn decode(
        body: &[u8],
        _: &axum::http::HeaderMap,
    ) -> Result<(ChatRequest, Context), crate::error::GatewayError> {
        decode(body).map_err(crate::error::GatewayError::BadRequest)
    }

    fn render(resp: ChatResponse, ctx: &Context) -> axum::response::Response {
        axum::response::IntoResponse::into_response(axum::Json(render(&resp, ctx)))
    }

    /// Named at once: the lifecycle events are the stream's first bytes, so a client waiting
    /// for `response.created` (Codex, the openai SDK) sees it even while the upstream is quiet.
    fn framer(ctx: Context, id: &str) -> StreamFramer {
        StreamFramer::with_response(ctx, id.to_string(), crate::routes::unix_now())
    }

    fn error(err: crate::error::GatewayError) -> axum::response::Response {
        err.respond_as(|body| error_envelope(body.code, &body.message))
    }
}

/// Adds streamed `reasoning_details` pieces to those gathered so far: text and summary
/// pieces of one block (same `index`, kind and id) are concatenated, a signature or id that
/// arrives later joins its block; opaque data is never split, so each piece stays its own.
fn merge_details(acc: &mut Vec<ReasoningDetail>, pieces: &[ReasoningDetail]) {
    for p in pieces {
        let same_block = acc.last_mut().filter(|last| {
            last.kind == p.kind
                && last.kind != "reasoning.encrypted"
                && last.index == p.index
                && (last.id.is_none() || p.id.is_none() || last.id == p.id)
                && last.signature.is_none()
        });
        match same_block {
            Some(last) => {
                if let Some(t) = &p.text {
                    last.text.get_or_insert_with(String::new).push_str(t);
                }
                if let Some(s) = &p.summary {
                    last.summary.get_or_insert_with(String::new).push_str(s);
                }
                if p.signature.is_some() {
                    last.signature.clone_from(&p.signature);
                }
                if last.id.is_none() {
                    last.id.clone_from(&p.id);
                }
                if last.format.is_none() {
                    last.format.clone_from(&p.format);
                }
            }
            None => acc.push(p.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Finished;
    use switchyard_api::chat::ChunkChoice;

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/dialects/fixtures/responses/"
    );

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).expect("fixture readable")
    }

    fn decode_json(v: Value) -> (ChatRequest, Context) {
        decode(&serde_json::to_vec(&v).expect("json")).expect("decodes")
    }

    fn decode_err(v: Value) -> String {
        decode(&serde_json::to_vec(&v).expect("json")).expect_err("refused")
    }

    fn text_of(m: &Message) -> String {
        m.text_content()
    }

    // ---------------- decode ----------------

    #[test]
    fn string_input_and_scalar_fields() {
        let (req, ctx) = decode_json(json!({
            "model": "openai/gpt-4o", "input": "hi", "instructions": "be brief",
            "stream": true, "max_output_tokens": 100, "temperature": 0.5, "top_p": 0.9,
            "reasoning": {"effort": "high", "summary": "auto"},
            "text": {"format": {"type": "json_schema", "name": "out",
                     "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
            "user": "u1", "models": ["a/b"], "provider": {"order": ["openai"]},
            "prompt_cache_key": "conv-1", "metadata": {"k": "v"}, "client_metadata": {"x": 1},
            "store": false, "include": ["reasoning.encrypted_content"]
        }));
        assert_eq!(req.model.as_deref(), Some("openai/gpt-4o"));
        assert_eq!(req.messages.len(), 2);
        assert_eq!(req.messages[0].role, Role::System);
        assert_eq!(text_of(&req.messages[0]), "be brief");
        assert_eq!(req.messages[1].role, Role::User);
        assert_eq!(text_of(&req.messages[1]), "hi");
        assert_eq!(req.stream, Some(true));
        assert_eq!(req.max_tokens, Some(100));
        assert_eq!(req.temperature, Some(0.5));
        assert_eq!(req.top_p, Some(0.9));
        let reasoning = req.reasoning.clone().expect("reasoning");
        assert_eq!(reasoning.effort.as_deref(), Some("high"));
        let format = req.response_format.clone().expect("format");
        assert_eq!(format.kind, "json_schema");
        let schema = format.json_schema.expect("schema");
        assert_eq!(schema.name, "out");
        assert_eq!(schema.strict, Some(true));
        assert_eq!(req.user.as_deref(), Some("u1"));
        assert_eq!(req.models, Some(vec!["a/b".to_string()]));
        assert!(req.provider.is_some());
        assert_eq!(req.session_id.as_deref(), Some("conv-1"));
        assert_eq!(req.extra.get("verbosity"), Some(&json!("low")));
        assert_eq!(req.extra.get("prompt_cache_key"), Some(&json!("conv-1")));
        // Responses-only fields stay out of the chat request.
        assert!(!req.extra.contains_key("client_metadata"));
        assert!(!req.extra.contains_key("metadata"));
        assert_eq!(ctx.requested_model(), "openai/gpt-4o");
        assert_eq!(ctx.template.instructions.as_deref(), Some("be brief"));
        assert_eq!(ctx.template.metadata.as_ref().map(|m| m.len()), Some(1));
        assert_eq!(ctx.template.max_output_tokens, Some(100));
    }

    #[test]
    fn session_id_wins_over_prompt_cache_key_and_summary_alone_is_no_reasoning() {
        let (req, _) = decode_json(json!({"input": "x", "session_id": "s",
            "prompt_cache_key": "p", "reasoning": {"summary": "auto"}}));
        assert_eq!(req.session_id.as_deref(), Some("s"));
        assert!(req.reasoning.is_none());
        assert!(req.stream.is_none());
    }

    #[test]
    fn one_model_turn_becomes_one_assistant_message() {
        let mut detail = ReasoningDetail::new("reasoning.text", "anthropic-claude-v1", 0);
        detail.text = Some("think".into());
        detail.signature = Some("sig".into());
        let envelope = encode_reasoning_envelope(std::slice::from_ref(&detail)).expect("packs");
        let (req, _) = decode_json(json!({"input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"role": "user", "content": "run two"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": envelope},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sure.", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"},
            {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
            {"type": "message", "role": "assistant", "content": "done"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}},
            {"role": "user", "content": "thanks"}
        ]}));
        let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::Developer,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool,
                Role::Assistant,
                Role::User
            ]
        );
        let turn = &req.messages[2];
        assert_eq!(text_of(turn), "Sure.");
        let calls = turn.tool_calls.as_ref().expect("calls");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].id, "c1");
        assert_eq!(calls[0].function.arguments, "{\"a\":1}");
        assert_eq!(turn.reasoning_details.as_deref(), Some(&[detail][..]));
        assert_eq!(req.messages[3].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(text_of(&req.messages[4]), "two");
        assert_eq!(text_of(&req.messages[5]), "done");
    }

    #[test]
    fn foreign_reasoning_items_keep_their_data() {
        let (req, _) = decode_json(json!({"input": [
            {"role": "user", "content": "q"},
            {"type": "reasoning", "id": "rs_a", "summary": [{"type": "summary_text", "text": "S"}],
             "encrypted_content": "gAAAAopaque"},
            {"type": "reasoning", "id": "rs_b", "summary": [],
             "content": [{"type": "reasoning_text", "text": "T"}], "signature": "sig",
             "format": "anthropic-claude-v1"},
            {"type": "message", "role": "assistant", "content": "a"},
            {"role": "user", "content": "again"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "lost"}]}
        ]}));
        assert_eq!(req.messages.len(), 3, "reasoning alone makes no turn");
        let details = req.messages[1].reasoning_details.clone().expect("details");
        let kinds: Vec<&str> = details.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["reasoning.summary", "reasoning.encrypted", "reasoning.text"]
        );
        assert_eq!(details[1].data.as_deref(), Some("gAAAAopaque"));
        assert_eq!(details[1].format.as_deref(), Some(OPENAI_REASONING_FORMAT));
        assert_eq!(details[1].id.as_deref(), Some("rs_a"));
        assert_eq!(details[2].text.as_deref(), Some("T"));
        assert_eq!(details[2].signature.as_deref(), Some("sig"));
        assert_eq!(details[2].format.as_deref(), Some("anthropic-claude-v1"));
    }

    #[test]
    fn function_tools_and_choices() {
        let (req, ctx) = decode_json(json!({"input": "x",
            "tools": [{"type": "function", "name": "get", "description": "d",
                       "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "get"}, "parallel_tool_calls": false}));
        let tools = req.tools.expect("tools");
        assert_eq!(tools[0].kind, "function");
        assert_eq!(tools[0].function.name, "get");
        assert_eq!(tools[0].function.description.as_deref(), Some("d"));
        assert_eq!(tools[0].function.strict, Some(true));
        assert_eq!(
            req.tool_choice,
            Some(chat::ToolChoice::Named(NamedToolChoice {
                kind: "function".into(),
                function: NamedFunction { name: "get".into() }
            }))
        );
        assert_eq!(req.parallel_tool_calls, Some(false));
        assert_eq!(ctx.template.tools.len(), 1);
        assert!(!ctx.template.parallel_tool_calls);

        let (req, _) = decode_json(json!({"input": "x", "tool_choice": "required",
            "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}]}));
        assert_eq!(
            req.tool_choice,
            Some(chat::ToolChoice::Mode("required".into()))
        );

        let (req, _) = decode_json(json!({"input": "x",
            "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
            "tool_choice": {"type": "allowed_tools", "mode": "required",
                            "tools": [{"type": "function", "name": "b"}]}}));
        let names: Vec<String> = req
            .tools
            .iter()
            .flatten()
            .map(|t| t.function.name.clone())
            .collect();
        assert_eq!(names, ["b"]);
        assert_eq!(
            req.tool_choice,
            Some(chat::ToolChoice::Mode("required".into()))
        );

        let err = decode_err(
            json!({"input": "x", "tools": [{"type": "function", "name": "a"}],
            "tool_choice": {"type": "function", "name": "zzz"}}),
        );
        assert!(err.contains("zzz"), "{err}");
        let err = decode_err(json!({"input": "x", "tool_choice": "sometimes"}));
        assert!(err.contains("tool_choice"), "{err}");
        let err = decode_err(json!({"input": "x", "tool_choice": {"type": "web_search_preview"}}));
        assert!(err.contains("hosted"), "{err}");
        let err = decode_err(json!({"input": "x", "tools": [{"type": "function"}]}));
        assert!(err.contains("tools[0]"), "{err}");
    }

    #[test]
    fn hosted_tools_are_dropped_and_take_the_choice_with_them() {
        let (req, ctx) = decode_json(json!({"input": "x", "tool_choice": "auto",
            "parallel_tool_calls": true,
            "tools": [{"type": "web_search", "external_web_access": false},
                      {"type": "tool_search", "execution": "server"}]}));
        assert!(req.tools.is_none());
        assert!(req.tool_choice.is_none());
        assert!(req.parallel_tool_calls.is_none());
        assert_eq!(ctx.dropped_tools, ["web_search", "tool_search"]);
        // Echoed as the client sent them, but for types a response object cannot hold.
        assert_eq!(ctx.template.tools.len(), 1);
        assert_eq!(ctx.template.tools[0].kind, "web_search");
    }

    #[test]
    fn custom_tools_become_functions_of_one_string() {
        let (req, ctx) = decode_json(json!({"input": [
            {"role": "user", "content": "patch it"},
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "c9", "name": "apply_patch",
             "input": "*** Begin Patch\n*** End Patch\n"},
            {"type": "custom_tool_call_output", "call_id": "c9", "output": "ok"}],
            "tools": [{"type": "custom", "name": "apply_patch", "description": "Edit files.",
                       "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}]}));
        let tools = req.tools.expect("tools");
        let f = &tools[0].function;
        assert_eq!(f.name, "apply_patch");
        let params = f.parameters.clone().expect("parameters");
        assert_eq!(params["required"], json!(["input"]));
        assert_eq!(params["properties"]["input"]["type"], "string");
        let desc = params["properties"]["input"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(desc.contains("lark") && desc.contains("start: x"), "{desc}");
        assert!(f
            .description
            .as_deref()
            .unwrap_or_default()
            .starts_with("Edit files."));
        let call = &req.messages[1].tool_calls.as_ref().expect("calls")[0];
        assert_eq!(call.function.name, "apply_patch");
        let args: Value = serde_json::from_str(&call.function.arguments).expect("json args");
        assert_eq!(args, json!({"input": "*** Begin Patch\n*** End Patch\n"}));
        assert_eq!(req.messages[2].tool_call_id.as_deref(), Some("c9"));
        assert_eq!(
            ctx.tools.kind("apply_patch"),
            ToolKind::Custom {
                namespace: None,
                name: "apply_patch".into()
            }
        );
    }

    #[test]
    fn namespaced_functions_are_flattened_and_map_back() {
        let (req, ctx) = decode_json(json!({"input": [
            {"role": "user", "content": "stop it"},
            {"type": "function_call", "call_id": "c1", "namespace": "agents", "name": "close",
             "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "closed"}],
            "tools": [{"type": "namespace", "name": "agents", "description": "Sub-agents.",
                       "tools": [{"type": "function", "name": "close", "parameters": {"type": "object"}},
                                 {"type": "function", "name": "spawn"}]}],
            "tool_choice": {"type": "function", "name": "spawn"}}));
        let names: Vec<String> = req
            .tools
            .iter()
            .flatten()
            .map(|t| t.function.name.clone())
            .collect();
        assert_eq!(names, ["agents__close", "agents__spawn"]);
        assert_eq!(
            req.messages[1].tool_calls.as_ref().expect("calls")[0]
                .function
                .name,
            "agents__close"
        );
        assert_eq!(
            ctx.tools.kind("agents__close"),
            ToolKind::Function {
                namespace: Some("agents".into()),
                name: "close".into()
            }
        );
        let Some(chat::ToolChoice::Named(n)) = req.tool_choice else {
            panic!("named choice expected")
        };
        assert_eq!(n.function.name, "agents__spawn");
    }

    #[test]
    fn client_tool_search_is_a_function_and_its_finds_become_tools() {
        let (req, ctx) = decode_json(json!({"input": [
            {"role": "user", "content": "calendar"},
            {"type": "tool_search_call", "id": "ts_1", "call_id": "s1", "execution": "client",
             "arguments": {"query": "calendar", "limit": 1}},
            {"type": "tool_search_output", "id": "tso_1", "call_id": "s1", "execution": "client",
             "tools": [{"type": "function", "name": "create_event", "parameters": {"type": "object"}}]}],
            "tools": [{"type": "tool_search", "execution": "client", "description": "Find tools.",
                       "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}]}));
        let names: Vec<String> = req
            .tools
            .iter()
            .flatten()
            .map(|t| t.function.name.clone())
            .collect();
        assert_eq!(names, ["tool_search", "create_event"]);
        let call = &req.messages[1].tool_calls.as_ref().expect("calls")[0];
        assert_eq!(call.id, "s1");
        assert_eq!(call.function.name, "tool_search");
        let args: Value = serde_json::from_str(&call.function.arguments).expect("json");
        assert_eq!(args["query"], "calendar");
        assert_eq!(req.messages[2].tool_call_id.as_deref(), Some("s1"));
        assert!(text_of(&req.messages[2]).contains("create_event"));
        assert_eq!(ctx.tools.kind("tool_search"), ToolKind::ToolSearch);
    }

    #[test]
    fn content_parts_convert() {
        let (req, _) = decode_json(json!({"input": [{"role": "user", "content": [
            {"type": "input_text", "text": "what is this"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,BB"},
            {"type": "input_audio", "input_audio": {"data": "CC", "format": "wav"}}]}]}));
        let Some(Content::Parts(parts)) = &req.messages[0].content else {
            panic!("parts expected")
        };
        let kinds: Vec<&str> = parts.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, ["text", "image_url", "file", "input_audio"]);
        assert_eq!(
            parts[1]
                .image_url
                .as_ref()
                .and_then(|u| u.detail.as_deref()),
            Some("low")
        );
        assert_eq!(
            parts[2].file.as_ref().and_then(|f| f.filename.as_deref()),
            Some("a.pdf")
        );
        assert_eq!(parts[3].extra["input_audio"]["format"], "wav");

        let err = decode_err(json!({"input": [{"role": "user", "content": [
            {"type": "input_text", "text": "a"}, {"type": "input_image", "file_id": "file-1"}]}]}));
        assert!(
            err.contains("input[0].content[1]") && err.contains("file"),
            "{err}"
        );
        let err = decode_err(json!({"input": [{"role": "user", "content": [
            {"type": "input_video", "video_url": "https://v"}]}]}));
        assert!(err.contains("input_video"), "{err}");
        let err = decode_err(json!({"input": [{"role": "assistant", "content": [
            {"type": "input_image", "image_url": "https://i"}]}]}));
        assert!(err.contains("assistant"), "{err}");
    }

    #[test]
    fn text_formats() {
        let (req, _) =
            decode_json(json!({"input": "x", "text": {"format": {"type": "json_object"}}}));
        assert_eq!(
            req.response_format.map(|f| f.kind),
            Some("json_object".to_string())
        );
        let (req, _) = decode_json(json!({"input": "x", "text": {"format": {"type": "text"}}}));
        assert!(req.response_format.is_none());
        let err = decode_err(json!({"input": "x", "text": {"format": {"type": "yaml"}}}));
        assert!(err.contains("text.format"), "{err}");
        let err = decode_err(
            json!({"input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}}),
        );
        assert!(err.contains("schema"), "{err}");
    }

    #[test]
    fn stateful_requests_are_refused_with_a_way_out() {
        for body in [
            json!({"input": "x", "store": true}),
            json!({"input": "x", "previous_response_id": "resp_1"}),
            json!({"input": "x", "background": true}),
            json!({"input": "x", "conversation": "conv_1"}),
        ] {
            let err = decode_err(body);
            assert!(err.contains("stateless") && err.contains("input"), "{err}");
        }
        let err = decode_err(json!({"input": [{"type": "item_reference", "id": "msg_1"}]}));
        assert!(
            err.contains("input[0]") && err.contains("item_reference"),
            "{err}"
        );
        let err = decode_err(json!({"input": "x", "prompt": {"id": "pmpt_1"}}));
        assert!(err.contains("prompt"), "{err}");
        // The stateless spellings are fine.
        decode_json(
            json!({"input": "x", "store": false, "previous_response_id": null, "background": false}),
        );
    }

    #[test]
    fn malformed_requests_name_the_field() {
        let err = decode(br#"{"input":[{"role":"user","content":"a"},{"type":"function_call","name":"f","arguments":"{}"}]}"#)
            .expect_err("missing call_id");
        assert!(err.contains("input[1]") && err.contains("call_id"), "{err}");
        let err = decode(br#"{"input":"x","max_output_tokens":"many"}"#).expect_err("bad number");
        assert!(err.contains("max_output_tokens"), "{err}");
        let err = decode(br#"{"input":"x"}{"input":"y"}"#).expect_err("trailing data");
        assert!(err.contains("trailing"), "{err}");
        for body in [&br#"{"model":"m"}"#[..], br#"{"input":[]}"#] {
            let err = decode(body).expect_err("no input");
            assert!(err.contains("input"), "{err}");
        }
        let err = decode(br#"{"input":[{"type":"reasoning","summary":[]}]}"#)
            .expect_err("nothing to answer");
        assert!(err.contains("input"), "{err}");
        let err = decode(br#"{"input":[{"type":"mcp_call","id":"m"}]}"#).expect_err("unknown item");
        assert!(err.contains("mcp_call"), "{err}");
    }

    // ---------------- Codex ----------------

    #[test]
    fn codex_first_turn_decodes() {
        let (req, ctx) = decode(&fixture("codex_gpt55_first_turn.json")).expect("decodes");
        assert_eq!(req.model.as_deref(), Some("gpt-5.5"));
        assert_eq!(req.stream, Some(true));
        // Codex sends its instructions as developer messages, not `instructions`.
        assert_eq!(req.messages[0].role, Role::Developer);
        assert!(text_of(&req.messages[0]).contains("coding agent"));
        let last = req.messages.last().expect("messages");
        assert_eq!(last.role, Role::User);
        assert_eq!(text_of(last), "say hi");
        let names: Vec<String> = req
            .tools
            .iter()
            .flatten()
            .map(|t| t.function.name.clone())
            .collect();
        for expected in [
            "exec_command",
            "write_stdin",
            "apply_patch",
            "view_image",
            "tool_search",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        assert_eq!(
            ctx.tools.kind("apply_patch"),
            ToolKind::Custom {
                namespace: None,
                name: "apply_patch".into()
            }
        );
        assert_eq!(ctx.dropped_tools, ["web_search"]);
        assert_eq!(req.tool_choice, Some(chat::ToolChoice::Mode("auto".into())));
        assert_eq!(req.parallel_tool_calls, Some(true));
        assert_eq!(
            req.reasoning.as_ref().and_then(|r| r.effort.as_deref()),
            Some("medium")
        );
        assert_eq!(req.extra.get("verbosity"), Some(&json!("low")));
        assert!(
            req.session_id.is_some(),
            "prompt_cache_key becomes the session"
        );
    }

    #[test]
    fn codex_unknown_model_turn_decodes() {
        let (req, ctx) = decode(&fixture("codex_unknown_model_first_turn.json")).expect("decodes");
        assert_eq!(req.model.as_deref(), Some("anthropic/claude-sonnet-4.5"));
        assert!(req.reasoning.is_none(), "only a summary setting was sent");
        let names: Vec<String> = req
            .tools
            .iter()
            .flatten()
            .map(|t| t.function.name.clone())
            .collect();
        assert!(
            names.iter().any(|n| n == "multi_agent_v1__close_agent"),
            "{names:?}"
        );
        assert!(matches!(
            ctx.tools.kind("multi_agent_v1__close_agent"),
            ToolKind::Function {
                namespace: Some(_),
                ..
            }
        ));
        assert_eq!(text_of(req.messages.last().expect("messages")), "say hi");
    }

    #[test]
    fn codex_turn_after_tools_decodes() {
        let (req, _) = decode(&fixture("codex_gpt55_after_tools.json")).expect("decodes");
        let assistants: Vec<&Message> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .collect();
        // exec_command (with its reasoning), apply_patch, then two parallel calls.
        assert_eq!(assistants.len(), 3);
        let first = assistants[0];
        assert!(first.reasoning_details.is_some());
        assert_eq!(first.tool_calls.as_ref().map(Vec::len), Some(1));
        let patch = &assistants[1].tool_calls.as_ref().expect("calls")[0];
        assert_eq!(patch.function.name, "apply_patch");
        let args: Value = serde_json::from_str(&patch.function.arguments).expect("json");
        assert!(args["input"]
            .as_str()
            .unwrap_or_default()
            .starts_with("*** Begin Patch"));
        assert_eq!(assistants[2].tool_calls.as_ref().map(Vec::len), Some(2));
        let tools = req.messages.iter().filter(|m| m.role == Role::Tool).count();
        assert_eq!(tools, 4);
    }

    #[test]
    fn codex_sends_our_items_back_and_they_restore_the_turns() {
        // Recorded from codex-cli 0.171.0 answering this framer's own streams (see CODEX.md):
        // it keeps `encrypted_content` but drops `signature` and `format`.
        let (req, ctx) =
            decode(&fixture("codex_gpt55_after_switchyard_items.json")).expect("decodes");
        let assistants: Vec<&Message> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .collect();
        assert_eq!(assistants.len(), 2);
        let first = assistants[0];
        assert_eq!(text_of(first), "Running it.");
        let details = first.reasoning_details.clone().expect("details");
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].kind, "reasoning.text");
        assert_eq!(details[0].text.as_deref(), Some("I should run echo."));
        assert_eq!(details[0].signature.as_deref(), Some("SIG-abc"));
        assert_eq!(details[0].format.as_deref(), Some("anthropic-claude-v1"));
        let call = &first.tool_calls.as_ref().expect("calls")[0];
        assert_eq!(
            (call.id.as_str(), call.function.name.as_str()),
            ("toolu_1", "exec_command")
        );
        let patch = &assistants[1].tool_calls.as_ref().expect("calls")[0];
        assert_eq!(patch.function.name, "apply_patch");
        assert_eq!(
            ctx.tools.kind("apply_patch"),
            ToolKind::Custom {
                namespace: None,
                name: "apply_patch".into()
            }
        );
        let tool_ids: Vec<Option<&str>> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::Tool)
            .map(|m| m.tool_call_id.as_deref())
            .collect();
        assert_eq!(tool_ids, [Some("toolu_1"), Some("toolu_2")]);
    }

    // ---------------- render ----------------

    fn chat_response(message: Value, finish: &str) -> ChatResponse {
        // From text: `Money` reads raw JSON numbers, which a `Value` does not hold.
        let v = json!({
            "id": "gen-1", "object": "chat.completion", "created": 1700000000,
            "model": "anthropic/claude-sonnet-4.5", "provider": "Anthropic",
            "system_fingerprint": null,
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "native_finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                      "prompt_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 1},
                      "completion_tokens_details": {"reasoning_tokens": 2},
                      "cost": 0.0012,
                      "cost_details": {"upstream_inference_cost": null,
                                       "upstream_inference_prompt_cost": 0.0008,
                                       "upstream_inference_completions_cost": 0.0004}}
        });
        serde_json::from_str(&v.to_string()).expect("chat response")
    }

    fn ctx_with_tools() -> Context {
        decode_json(json!({"model": "anthropic/claude-sonnet-4.5", "input": "x",
            "instructions": "sys", "temperature": 0.2, "metadata": {"a": "b"},
            "tools": [{"type": "function", "name": "get"},
                      {"type": "custom", "name": "apply_patch"},
                      {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "inner"}]},
                      {"type": "tool_search", "execution": "client"}]}))
        .1
    }

    #[test]
    fn renders_a_text_answer_with_usage_and_echoed_fields() {
        let resp = chat_response(json!({"role": "assistant", "content": "Hello"}), "stop");
        let r = render(&resp, &ctx_with_tools());
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(v["id"], "gen-1");
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["created_at"], 1700000000);
        assert_eq!(v["model"], "anthropic/claude-sonnet-4.5");
        assert_eq!(v["output"][0]["type"], "message");
        assert_eq!(v["output"][0]["role"], "assistant");
        assert_eq!(v["output"][0]["status"], "completed");
        assert_eq!(
            v["output"][0]["content"][0],
            json!({"type": "output_text", "text": "Hello", "annotations": []})
        );
        assert_eq!(v["usage"]["input_tokens"], 10);
        assert_eq!(v["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert_eq!(v["usage"]["input_tokens_details"]["cache_write_tokens"], 1);
        assert_eq!(v["usage"]["output_tokens"], 5);
        assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
        assert_eq!(v["usage"]["total_tokens"], 15);
        assert_eq!(v["usage"]["cost"], json!(0.0012));
        assert_eq!(
            v["usage"]["cost_details"]["upstream_inference_input_cost"],
            json!(0.0008)
        );
        assert_eq!(v["instructions"], "sys");
        assert_eq!(v["temperature"], json!(0.2));
        assert_eq!(v["metadata"], json!({"a": "b"}));
        // `tool_search` is served but not echoed.
        assert_eq!(v["tools"].as_array().map(Vec::len), Some(3));
        assert_eq!(v["tool_choice"], "auto");
        assert_eq!(v["parallel_tool_calls"], true);
        assert_eq!(v["store"], false);
        // Required by OpenRouter's schema even when null.
        for key in [
            "error",
            "incomplete_details",
            "completed_at",
            "top_p",
            "presence_penalty",
            "frequency_penalty",
            "previous_response_id",
            "max_output_tokens",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
    }

    #[test]
    fn renders_reasoning_and_every_kind_of_call() {
        let resp = chat_response(
            json!({"role": "assistant", "content": null,
                "reasoning": "Let me think.",
                "reasoning_details": [{"type": "reasoning.text", "text": "Let me think.",
                    "signature": "sig==", "format": "anthropic-claude-v1", "index": 0}],
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{\"q\":1}"}},
                    {"id": "c2", "type": "function", "function": {"name": "apply_patch",
                        "arguments": "{\"input\":\"*** Begin Patch\\n\"}"}},
                    {"id": "c3", "type": "function", "function": {"name": "ns__inner", "arguments": "{}"}},
                    {"id": "c4", "type": "function", "function": {"name": "tool_search",
                        "arguments": "{\"query\":\"cal\"}"}}]}),
            "tool_calls",
        );
        let r = render(&resp, &ctx_with_tools());
        let v = serde_json::to_value(&r).expect("json");
        let out = v["output"].as_array().expect("output");
        let kinds: Vec<&str> = out.iter().filter_map(|i| i["type"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "reasoning",
                "function_call",
                "custom_tool_call",
                "function_call",
                "tool_search_call"
            ]
        );
        let rs_item = &out[0];
        assert_eq!(
            rs_item["content"][0],
            json!({"type": "reasoning_text", "text": "Let me think."})
        );
        assert_eq!(rs_item["summary"], json!([]));
        assert_eq!(rs_item["signature"], "sig==");
        assert_eq!(rs_item["format"], "anthropic-claude-v1");
        let packed = rs_item["encrypted_content"].as_str().expect("envelope");
        let details = decode_reasoning_envelope(packed).expect("ours");
        assert_eq!(
            Some(details),
            resp.choices[0].message.reasoning_details.clone()
        );
        assert_eq!(out[1]["call_id"], "c1");
        assert_eq!(out[1]["name"], "get");
        assert_eq!(out[1]["arguments"], "{\"q\":1}");
        assert_eq!(out[1]["status"], "completed");
        assert_eq!(out[2]["name"], "apply_patch");
        assert_eq!(out[2]["input"], "*** Begin Patch\n");
        assert_eq!(out[3]["name"], "inner");
        assert_eq!(out[3]["namespace"], "ns");
        assert_eq!(out[4]["arguments"], json!({"query": "cal"}));
        assert_eq!(out[4]["execution"], "client");
        assert_eq!(v["status"], "completed");
    }

    #[test]
    fn openai_style_summaries_are_not_shown_twice() {
        let resp = chat_response(
            json!({"role": "assistant", "content": "ok", "reasoning": "Sum.",
                "reasoning_details": [
                    {"type": "reasoning.summary", "summary": "Sum.", "format": "openai-responses-v1", "index": 0},
                    {"type": "reasoning.encrypted", "data": "gAAAA", "format": "openai-responses-v1", "index": 1}]}),
            "stop",
        );
        let v = serde_json::to_value(render(&resp, &ctx_with_tools())).expect("json");
        let item = &v["output"][0];
        assert_eq!(
            item["summary"],
            json!([{"type": "summary_text", "text": "Sum."}])
        );
        assert!(item.get("content").is_none());
        assert!(item["encrypted_content"].is_string());
    }

    #[test]
    fn cut_answers_are_incomplete() {
        let resp = chat_response(json!({"role": "assistant", "content": "Hel"}), "length");
        let v = serde_json::to_value(render(&resp, &ctx_with_tools())).expect("json");
        assert_eq!(v["status"], "incomplete");
        assert_eq!(
            v["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(v["output"][0]["status"], "incomplete");
        let resp = chat_response(
            json!({"role": "assistant", "content": ""}),
            "content_filter",
        );
        let v = serde_json::to_value(render(&resp, &ctx_with_tools())).expect("json");
        assert_eq!(v["incomplete_details"]["reason"], "content_filter");
    }

    /// What a client does next: send the output back as input with the tool results.
    fn follow_up(output: &Value, results: &[(&str, &str)]) -> Vec<Value> {
        let mut input = vec![json!({"role": "user", "content": "go"})];
        input.extend(output.as_array().cloned().unwrap_or_default());
        for (call_id, result) in results {
            input.push(
                json!({"type": "function_call_output", "call_id": call_id, "output": result}),
            );
        }
        input
    }

    #[test]
    fn rendered_output_sent_back_restores_the_assistant_turn() {
        let message = json!({"role": "assistant", "content": "Calling.",
            "reasoning": "Plan.",
            "reasoning_details": [
                {"type": "reasoning.text", "text": "Plan.", "signature": "s1", "format": "anthropic-claude-v1", "index": 0},
                {"type": "reasoning.encrypted", "data": "redacted", "format": "anthropic-claude-v1", "index": 1}],
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}},
                           {"id": "c2", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"P\"}"}}]});
        let resp = chat_response(message.clone(), "tool_calls");
        let ctx = ctx_with_tools();
        let v = serde_json::to_value(render(&resp, &ctx)).expect("json");
        // Codex drops the fields it does not know; the envelope must be enough.
        let mut output = v["output"].clone();
        for item in output.as_array_mut().into_iter().flatten() {
            if let Some(o) = item.as_object_mut() {
                o.remove("signature");
                o.remove("format");
            }
        }
        let input = follow_up(&output, &[("c1", "r1")]);
        let mut input = input;
        input.push(json!({"type": "custom_tool_call_output", "call_id": "c2", "output": "r2"}));
        let (req, _) = decode_json(json!({"input": input, "tools": v["tools"].clone()}));
        let turn = &req.messages[1];
        assert_eq!(turn.role, Role::Assistant);
        assert_eq!(text_of(turn), "Calling.");
        assert_eq!(
            turn.reasoning_details,
            resp.choices[0].message.reasoning_details
        );
        let original = resp.choices[0].message.tool_calls.clone().expect("calls");
        let back = turn.tool_calls.clone().expect("calls");
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], original[0]);
        assert_eq!(back[1].id, "c2");
        assert_eq!(back[1].function.name, "apply_patch");
        let args: Value = serde_json::from_str(&back[1].function.arguments).expect("json");
        assert_eq!(args, json!({"input": "P"}));
    }

    #[test]
    fn error_shapes() {
        let v = error_envelope(402, "Insufficient credits");
        assert_eq!(v["error"]["code"], 402);
        assert_eq!(v["error"]["message"], "Insufficient credits");
        assert_eq!(v["error"]["type"], "insufficient_quota");
        assert!(v["error"]["param"].is_null());
        assert_eq!(
            error_envelope(400, "bad")["error"]["type"],
            "invalid_request_error"
        );
        assert_eq!(error_envelope(503, "down")["error"]["type"], "server_error");
        assert_eq!(failure_code(429), "rate_limit_exceeded");
        assert_eq!(failure_code(402), "invalid_prompt");
        assert_eq!(failure_code(400), "invalid_prompt");
        assert_eq!(failure_code(408), "server_error");
        assert_eq!(failure_code(502), "server_error");
    }

    // ---------------- stream ----------------

    fn chunk_event(delta: Value, finish: Option<&str>) -> Event {
        Event::Delta(ChatChunk {
            id: "gen-s1".into(),
            object: "chat.completion.chunk".into(),
            created: 1700000000,
            model: "anthropic/claude-sonnet-4.5".into(),
            provider: Some("Anthropic".into()),
            system_fingerprint: None,
            choices: vec![ChunkChoice {
                index: 0,
                delta: serde_json::from_value(delta).expect("delta"),
                finish_reason: finish.map(|f| serde_json::from_value(json!(f)).expect("finish")),
                native_finish_reason: None,
                logprobs: None,
            }],
            usage: None,
            error: None,
            openrouter_metadata: None,
        })
    }

    fn finished(finish: &str) -> Event {
        let finish: FinishReason = serde_json::from_value(json!(finish)).expect("finish");
        Event::Finished(Finished {
            chunk: ChatChunk {
                id: "x".into(),
                object: "chat.completion.chunk".into(),
                created: 1700000000,
                model: "anthropic/claude-sonnet-4.5".into(),
                provider: None,
                system_fingerprint: None,
                choices: Vec::new(),
                usage: Some(chat::Usage {
                    prompt_tokens: 7,
                    completion_tokens: 3,
                    total_tokens: 10,
                    cost: Some(switchyard_api::Money::parse("0.001").expect("money")),
                    ..chat::Usage::default()
                }),
                error: None,
                openrouter_metadata: None,
            },
            finish_reason: Some(finish),
            native_finish_reason: None,
        })
    }

    /// The stream as (event name, data) pairs; keep-alive comments as ("", Null).
    fn run(ctx: Context, events: &[Event]) -> Vec<(String, Value)> {
        let mut framer = StreamFramer::with_response(ctx, "gen-s1".into(), 1700000001);
        let mut bytes = Vec::new();
        for ev in events {
            framer.frame(ev, &mut bytes);
        }
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.ends_with("\n\n"), "{text}");
        text.split("\n\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                if block.starts_with(':') {
                    return (String::new(), Value::Null);
                }
                let mut name = String::new();
                let mut data = Value::Null;
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = n.to_string();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d).expect("json data");
                    }
                }
                assert_eq!(data["type"], name.as_str(), "event name is the type");
                (name, data)
            })
            .collect()
    }

    fn names(evs: &[(String, Value)]) -> Vec<&str> {
        evs.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// What the openai SDK (openai-python 3.5x, `types/responses/`) requires of each event
    /// and output item, and what its stream helper checks across events.
    fn assert_sdk_shapes(evs: &[(String, Value)]) {
        let required = |kind: &str| -> &[&str] {
            match kind {
                "response.created"
                | "response.in_progress"
                | "response.completed"
                | "response.incomplete"
                | "response.failed" => &["response", "sequence_number"],
                "response.output_item.added" | "response.output_item.done" => {
                    &["item", "output_index", "sequence_number"]
                }
                "response.content_part.added" | "response.content_part.done" => &[
                    "content_index",
                    "item_id",
                    "output_index",
                    "part",
                    "sequence_number",
                ],
                "response.output_text.delta" => &[
                    "content_index",
                    "delta",
                    "item_id",
                    "logprobs",
                    "output_index",
                    "sequence_number",
                ],
                "response.output_text.done" => &[
                    "content_index",
                    "item_id",
                    "logprobs",
                    "output_index",
                    "sequence_number",
                    "text",
                ],
                "response.reasoning_summary_part.added"
                | "response.reasoning_summary_part.done" => &[
                    "item_id",
                    "output_index",
                    "part",
                    "sequence_number",
                    "summary_index",
                ],
                "response.reasoning_summary_text.delta" => &[
                    "delta",
                    "item_id",
                    "output_index",
                    "sequence_number",
                    "summary_index",
                ],
                "response.reasoning_summary_text.done" => &[
                    "item_id",
                    "output_index",
                    "sequence_number",
                    "summary_index",
                    "text",
                ],
                "response.reasoning_text.delta" => &[
                    "content_index",
                    "delta",
                    "item_id",
                    "output_index",
                    "sequence_number",
                ],
                "response.reasoning_text.done" => &[
                    "content_index",
                    "item_id",
                    "output_index",
                    "sequence_number",
                    "text",
                ],
                "response.function_call_arguments.delta"
                | "response.custom_tool_call_input.delta" => {
                    &["delta", "item_id", "output_index", "sequence_number"]
                }
                "response.function_call_arguments.done" => &[
                    "arguments",
                    "item_id",
                    "name",
                    "output_index",
                    "sequence_number",
                ],
                "response.custom_tool_call_input.done" => {
                    &["input", "item_id", "output_index", "sequence_number"]
                }
                "response.refusal.delta" => &[
                    "content_index",
                    "delta",
                    "item_id",
                    "output_index",
                    "sequence_number",
                ],
                "response.refusal.done" => &[
                    "content_index",
                    "item_id",
                    "output_index",
                    "refusal",
                    "sequence_number",
                ],
                other => panic!("unexpected event {other}"),
            }
        };
        let item_required = |kind: &str| -> &[&str] {
            match kind {
                "message" => &["id", "content", "role", "status"],
                "function_call" => &["arguments", "call_id", "name"],
                "custom_tool_call" => &["call_id", "input", "name"],
                "reasoning" => &["id", "summary"],
                "tool_search_call" => &["call_id", "arguments"],
                other => panic!("unexpected item {other}"),
            }
        };
        let response_required = [
            "id",
            "created_at",
            "model",
            "object",
            "output",
            "parallel_tool_calls",
            "tool_choice",
            "tools",
            "status",
            "error",
            "incomplete_details",
            "instructions",
            "metadata",
            "temperature",
            "top_p",
        ];
        let mut added = BTreeMap::new();
        let mut done = BTreeMap::new();
        let mut response_id = None;
        for (i, (name, data)) in evs.iter().filter(|(n, _)| !n.is_empty()).enumerate() {
            assert_eq!(
                data["sequence_number"],
                json!(i),
                "sequence_number of {name}"
            );
            for key in required(name) {
                assert!(data.get(*key).is_some(), "{name} lacks {key}: {data}");
            }
            if let Some(r) = data.get("response") {
                for key in response_required {
                    assert!(r.get(key).is_some(), "{name}.response lacks {key}");
                }
                // One response id throughout (the SDK's stream helper refuses a change).
                let id = r["id"].clone();
                assert_eq!(response_id.get_or_insert_with(|| id.clone()), &id);
            }
            if i == 0 {
                assert_eq!(
                    name, "response.created",
                    "the SDK needs response.created first"
                );
            }
            if let Some(item) = data.get("item") {
                let kind = item["type"].as_str().expect("item type");
                for key in item_required(kind) {
                    assert!(item.get(*key).is_some(), "{kind} item lacks {key}: {item}");
                }
                let index = data["output_index"].as_u64().expect("index");
                if name == "response.output_item.added" {
                    assert!(
                        added.insert(index, item.clone()).is_none(),
                        "index {index} added twice"
                    );
                } else {
                    let before = added.get(&index).expect("done after added");
                    assert_eq!(before["id"], item["id"], "item id kept");
                    assert_eq!(before.get("call_id"), item.get("call_id"), "call id kept");
                    done.insert(index, item.clone());
                }
            } else if let Some(index) = data.get("output_index").and_then(Value::as_u64) {
                assert!(
                    added.contains_key(&index),
                    "{name} before its item was added"
                );
                assert!(!done.contains_key(&index), "{name} after its item was done");
                let item_id = &added[&index]["id"];
                assert_eq!(&data["item_id"], item_id, "{name} names its item");
            }
        }
        let last = evs
            .iter()
            .rev()
            .find(|(n, _)| !n.is_empty())
            .expect("events");
        if last.0 == "response.completed" || last.0 == "response.incomplete" {
            assert_eq!(added.len(), done.len(), "every item done before the end");
            let output = last.1["response"]["output"].as_array().expect("output");
            assert_eq!(output.len(), done.len());
            for (i, item) in output.iter().enumerate() {
                let index = u64::try_from(i).expect("index");
                assert_eq!(
                    Some(item),
                    done.get(&index),
                    "final output matches the done items"
                );
            }
        }
    }

    fn plain_ctx() -> Context {
        decode_json(json!({"model": "anthropic/claude-sonnet-4.5", "input": "x"})).1
    }

    #[test]
    fn text_stream() {
        let evs = run(
            plain_ctx(),
            &[
                chunk_event(json!({"role": "assistant", "content": ""}), None),
                chunk_event(json!({"content": "Hel"}), None),
                chunk_event(json!({"content": "lo"}), Some("stop")),
                finished("stop"),
            ],
        );
        assert_eq!(
            names(&evs),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_sdk_shapes(&evs);
        let created = &evs[0].1["response"];
        assert_eq!(created["id"], "gen-s1");
        assert_eq!(created["status"], "in_progress");
        assert_eq!(created["output"], json!([]));
        assert_eq!(created["created_at"], 1700000001);
        assert_eq!(evs[6].1["text"], "Hello");
        let done = &evs[9].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(done["usage"]["input_tokens"], 7);
        assert_eq!(
            done["usage"]["output_tokens_details"]["reasoning_tokens"],
            0
        );
        assert_eq!(done["usage"]["cost"], json!(0.001));
    }

    #[test]
    fn reasoning_stream_keeps_the_signature() {
        let evs = run(
            plain_ctx(),
            &[
                chunk_event(
                    json!({"reasoning": "Let me ", "reasoning_details": [
                    {"type": "reasoning.text", "text": "Let me ", "format": "anthropic-claude-v1", "index": 0}]}),
                    None,
                ),
                chunk_event(
                    json!({"reasoning": "think.", "reasoning_details": [
                    {"type": "reasoning.text", "text": "think.", "format": "anthropic-claude-v1", "index": 0}]}),
                    None,
                ),
                chunk_event(
                    json!({"reasoning_details": [
                    {"type": "reasoning.text", "signature": "sig==", "format": "anthropic-claude-v1", "index": 0}]}),
                    None,
                ),
                chunk_event(json!({"content": "Answer."}), None),
                finished("stop"),
            ],
        );
        assert_eq!(
            names(&evs),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_sdk_shapes(&evs);
        let item = &evs[6].1["item"];
        assert_eq!(item["type"], "reasoning");
        assert_eq!(item["content"][0]["text"], "Let me think.");
        let details =
            decode_reasoning_envelope(item["encrypted_content"].as_str().expect("envelope"))
                .expect("ours");
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].text.as_deref(), Some("Let me think."));
        assert_eq!(details[0].signature.as_deref(), Some("sig=="));
    }

    #[test]
    fn summary_stream_uses_summary_events() {
        let evs = run(
            plain_ctx(),
            &[
                chunk_event(
                    json!({"reasoning": "Sum", "reasoning_details": [
                    {"type": "reasoning.summary", "summary": "Sum", "format": "openai-responses-v1", "index": 0}]}),
                    None,
                ),
                chunk_event(
                    json!({"reasoning": "mary", "reasoning_details": [
                    {"type": "reasoning.summary", "summary": "mary", "format": "openai-responses-v1", "index": 0}]}),
                    None,
                ),
                chunk_event(
                    json!({"reasoning_details": [
                    {"type": "reasoning.encrypted", "data": "gAAAA", "format": "openai-responses-v1", "index": 1}]}),
                    None,
                ),
                chunk_event(json!({"content": "ok"}), None),
                finished("stop"),
            ],
        );
        assert_eq!(
            names(&evs)[2..9],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
            ]
        );
        assert_sdk_shapes(&evs);
        let item = &evs[8].1["item"];
        assert_eq!(
            item["summary"],
            json!([{"type": "summary_text", "text": "Summary"}])
        );
        let details =
            decode_reasoning_envelope(item["encrypted_content"].as_str().expect("envelope"))
                .expect("ours");
        assert_eq!(details.len(), 2);
        assert_eq!(details[1].data.as_deref(), Some("gAAAA"));
    }

    #[test]
    fn tool_call_stream() {
        let evs = run(
            ctx_with_tools(),
            &[
                chunk_event(json!({"content": "Let me check."}), None),
                chunk_event(
                    json!({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                    "function": {"name": "get", "arguments": ""}}]}),
                    None,
                ),
                chunk_event(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\":"}}]}),
                    None,
                ),
                chunk_event(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
                    None,
                ),
                chunk_event(
                    json!({"tool_calls": [{"index": 1, "id": "c2", "type": "function",
                    "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin"}}]}),
                    None,
                ),
                chunk_event(
                    json!({"tool_calls": [{"index": 1, "function": {"arguments": " Patch\\n\"}"}}]}),
                    None,
                ),
                chunk_event(
                    json!({"tool_calls": [{"index": 2, "id": "c3", "type": "function",
                    "function": {"name": "ns__inner", "arguments": "{}"}}]}),
                    Some("tool_calls"),
                ),
                finished("tool_calls"),
            ],
        );
        assert_eq!(
            names(&evs),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.output_item.added",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "response.output_item.done",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_sdk_shapes(&evs);
        assert_eq!(evs[8].1["item"]["status"], "in_progress");
        assert_eq!(evs[8].1["item"]["arguments"], "");
        assert_eq!(evs[14].1["arguments"], "{\"q\":1}");
        assert_eq!(evs[14].1["name"], "get");
        assert_eq!(evs[17].1["input"], "*** Begin Patch\n");
        let patch = &evs[18].1["item"];
        assert_eq!(patch["type"], "custom_tool_call");
        assert_eq!(patch["call_id"], "c2");
        assert_eq!(patch["input"], "*** Begin Patch\n");
        let inner = &evs[20].1["item"];
        assert_eq!(inner["name"], "inner");
        assert_eq!(inner["namespace"], "ns");
        let output = &evs[21].1["response"]["output"];
        assert_eq!(output.as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn late_signature_gets_an_item_of_its_own_and_returns_with_the_call() {
        let evs = run(
            ctx_with_tools(),
            &[
                chunk_event(json!({"content": "Calling."}), None),
                chunk_event(
                    json!({"reasoning_details": [{"type": "reasoning.encrypted", "data": "THOUGHT",
                        "id": "c1", "format": "google-gemini-v1", "index": 0}],
                    "tool_calls": [{"index": 0, "id": "c1", "type": "function",
                        "function": {"name": "get", "arguments": "{}"}}]}),
                    Some("tool_calls"),
                ),
                finished("tool_calls"),
            ],
        );
        assert_sdk_shapes(&evs);
        let (_, completed) = evs.last().expect("events");
        let output = completed["response"]["output"].clone();
        let kinds: Vec<&str> = output
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["type"].as_str())
            .collect();
        assert_eq!(kinds, ["message", "function_call", "reasoning"]);
        let (req, _) = decode_json(json!({"input": follow_up(&output, &[("c1", "{}")])}));
        let turn = &req.messages[1];
        assert_eq!(
            turn.tool_calls.as_ref().map(|c| c[0].id.clone()).as_deref(),
            Some("c1")
        );
        let details = turn.reasoning_details.clone().expect("details");
        assert_eq!(details[0].id.as_deref(), Some("c1"));
        assert_eq!(details[0].data.as_deref(), Some("THOUGHT"));
        assert_eq!(details[0].format.as_deref(), Some("google-gemini-v1"));
    }

    #[test]
    fn keep_alives_open_the_stream_then_become_comments_and_progress_events() {
        let mut events = vec![Event::KeepAlive];
        events.extend(std::iter::repeat_n(Event::KeepAlive, 12));
        events.push(chunk_event(json!({"content": "x"}), None));
        events.extend(std::iter::repeat_n(Event::KeepAlive, 9));
        events.push(finished("stop"));
        let evs = run(plain_ctx(), &events);
        let seen = names(&evs);
        assert_eq!(seen[..2], ["response.created", "response.in_progress"]);
        // The first keep-alive opened the stream; of the next twelve, the tenth is an event.
        let mut expected = vec![""; 9];
        expected.push("response.in_progress");
        expected.extend(["", ""]);
        assert_eq!(seen[2..14], expected[..]);
        // A delta restarts the count: nine more are all comments.
        let after: Vec<&str> = seen[14..]
            .iter()
            .copied()
            .filter(|n| n.is_empty())
            .collect();
        assert_eq!(after.len(), 9);
        assert_sdk_shapes(&evs);
    }

    #[test]
    fn without_an_id_the_first_chunk_names_the_response() {
        let mut framer = StreamFramer::new(plain_ctx());
        let mut bytes = Vec::new();
        framer.frame(&Event::KeepAlive, &mut bytes);
        assert_eq!(
            bytes, b": keep-alive\n\n",
            "nothing to name the response yet"
        );
        let mut first = chunk_event(json!({"content": "x"}), None);
        if let Event::Delta(c) = &mut first {
            c.id = "gen-from-chunk".into();
            c.created = 1700000042;
        }
        bytes.clear();
        framer.frame(&first, &mut bytes);
        framer.frame(&finished("stop"), &mut bytes);
        let text = String::from_utf8(bytes).expect("utf-8");
        let created = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str::<Value>(d).expect("json"))
            .expect("an event");
        assert_eq!(created["type"], "response.created");
        assert_eq!(created["sequence_number"], 0);
        assert_eq!(created["response"]["id"], "gen-from-chunk");
        assert_eq!(created["response"]["created_at"], 1700000042);
        assert!(text.contains("\"type\":\"response.completed\""), "{text}");
    }

    #[test]
    fn failures_end_the_stream_with_response_failed() {
        let mut failure = match chunk_event(json!({}), None) {
            Event::Delta(c) => c,
            _ => unreachable!(),
        };
        failure.choices.clear();
        failure.error = Some(switchyard_api::error::ErrorBody {
            code: 502,
            message: "upstream exploded".into(),
            metadata: None,
            availability: None,
        });
        let evs = run(
            plain_ctx(),
            &[
                chunk_event(json!({"content": "par"}), None),
                Event::Failed(failure.clone()),
                chunk_event(json!({"content": "ignored"}), None),
                finished("stop"),
            ],
        );
        assert_eq!(
            names(&evs),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.failed",
            ]
        );
        assert_sdk_shapes(&evs);
        let r = &evs[5].1["response"];
        assert_eq!(r["status"], "failed");
        assert_eq!(
            r["error"],
            json!({"code": "server_error", "message": "upstream exploded"})
        );
        assert_eq!(r["output"][0]["status"], "incomplete");
        assert_eq!(r["output"][0]["content"][0]["text"], "par");

        failure.error = Some(switchyard_api::error::ErrorBody {
            code: 429,
            message: "slow down".into(),
            metadata: None,
            availability: None,
        });
        let evs = run(plain_ctx(), &[Event::Failed(failure)]);
        assert_eq!(
            names(&evs),
            [
                "response.created",
                "response.in_progress",
                "response.failed"
            ]
        );
        assert_eq!(evs[2].1["response"]["error"]["code"], "rate_limit_exceeded");
    }

    #[test]
    fn cut_streams_end_incomplete() {
        let evs = run(
            plain_ctx(),
            &[
                chunk_event(json!({"content": "Hel"}), Some("length")),
                finished("length"),
            ],
        );
        let (name, data) = evs.last().expect("events");
        assert_eq!(name, "response.incomplete");
        assert_eq!(data["response"]["status"], "incomplete");
        assert_eq!(
            data["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(data["response"]["output"][0]["status"], "incomplete");
        assert_sdk_shapes(&evs);
    }

    #[test]
    fn refusals_stream_as_their_own_part() {
        let evs = run(
            plain_ctx(),
            &[
                chunk_event(json!({"refusal": "No."}), None),
                finished("stop"),
            ],
        );
        assert_eq!(
            names(&evs)[2..8],
            [
                "response.output_item.added",
                "response.content_part.added",
                "response.refusal.delta",
                "response.refusal.done",
                "response.content_part.done",
                "response.output_item.done",
            ]
        );
        assert_sdk_shapes(&evs);
        assert_eq!(
            evs[7].1["item"]["content"][0],
            json!({"type": "refusal", "refusal": "No."})
        );
    }

    #[test]
    fn stream_events_parse_as_typed_events() {
        let evs = run(
            ctx_with_tools(),
            &[
                chunk_event(json!({"reasoning": "r"}), None),
                chunk_event(json!({"content": "t"}), None),
                chunk_event(
                    json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "tool_search", "arguments": "{}"}}]}),
                    None,
                ),
            ],
        );
        for (name, data) in evs {
            let ev: StreamEvent = serde_json::from_value(data).expect("typed event");
            assert_eq!(ev.name(), name);
        }
    }
}
