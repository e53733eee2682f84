//! Anthropic's Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`): what a
//! client sends the gateway, what the gateway sends an Anthropic upstream, and what either
//! answers, in the shapes of Anthropic's published API and official SDKs.
//!
//! Nothing new is refused or lost for being new: unknown fields are kept in `extra`, and
//! content blocks, tools and stream events of kinds this version does not know are kept whole
//! as JSON values ([`ContentBlock::Other`], [`Tool::Server`], [`StreamEvent::Other`], …).
//! A block of a *known* kind must have its known shape; the error then names the field.
//!
//! OpenRouter's additions are typed too: `models`, `provider` and `session_id` on the
//! request; `provider` on the message and `cost` in its usage.

use crate::chat::Extra;
use crate::money::Money;
use crate::routing::ProviderPreferences;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Requests

/// The body of `POST /v1/messages`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessagesRequest {
    /// Required by Anthropic; OpenRouter lets `models` stand in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub messages: Vec<InputMessage>,
    /// Required, as Anthropic requires it.
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Automatic caching: a marker for the last cacheable block of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    /// `auto` or `standard_only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,

    // OpenRouter-only fields: read by the gateway, never forwarded upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderPreferences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,

    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of `POST /v1/messages/count_tokens`: a message request without the generation
/// settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CountTokensRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub messages: Vec<InputMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The answer of `POST /v1/messages/count_tokens`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CountTokensResponse {
    pub input_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    /// A system message among the turns, as Claude Code sends one mid-conversation (with its
    /// `mid-conversation-tool-changes` beta); text blocks only.
    System,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputMessage {
    pub role: Role,
    pub content: MessageContent,
}

/// A string, or a list of blocks: the two forms Anthropic takes for message content, the
/// system prompt, a tool result and a document's content. A string is shorthand for one text
/// block.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum TextOr<T> {
    Text(String),
    Blocks(Vec<T>),
}

pub type MessageContent = TextOr<ContentBlock>;
pub type SystemPrompt = TextOr<SystemBlock>;

/// A block of the system prompt, which takes text blocks only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemBlock {
    Text(TextBlock),
}

impl SystemBlock {
    pub fn text(&self) -> &TextBlock {
        let SystemBlock::Text(t) = self;
        t
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TextOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text_or_list(
            d,
            "a string or an array of content blocks",
            TextOr::Text,
            TextOr::Blocks,
        )
    }
}

/// One content block, in a request or in a response. Fields a peer may leave out read as
/// empty (a gateway decodes what upstreams send as leniently as Anthropic's SDKs do).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text(TextBlock),
    Image(ImageBlock),
    Document(DocumentBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    Thinking(ThinkingBlock),
    RedactedThinking(RedactedThinkingBlock),
    /// Any other kind (`server_tool_use`, `web_search_tool_result`, `search_result`,
    /// `container_upload`, `compaction`, …), whole and as sent, `type` included.
    #[serde(untagged)]
    Other(Value),
}

const BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
];

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = Value::deserialize(d)?;
        let kind = match v.get("type") {
            Some(Value::String(t)) => t.clone(),
            None => return Err(de::Error::missing_field("type")),
            Some(_) => return Err(de::Error::custom("`type` must be a string")),
        };
        if !BLOCK_TYPES.contains(&kind.as_str()) {
            return Ok(ContentBlock::Other(v));
        }
        // Read as the block's own struct, so that a failure names the field inside the
        // block; the tag would otherwise land in the struct's `extra`.
        if let Value::Object(m) = &mut v {
            m.remove("type");
        }
        Ok(match kind.as_str() {
            "text" => ContentBlock::Text(typed(v)?),
            "image" => ContentBlock::Image(typed(v)?),
            "document" => ContentBlock::Document(typed(v)?),
            "tool_use" => ContentBlock::ToolUse(typed(v)?),
            "tool_result" => ContentBlock::ToolResult(typed(v)?),
            "thinking" => ContentBlock::Thinking(typed(v)?),
            _ => ContentBlock::RedactedThinking(typed(v)?),
        })
    }
}

/// `v` as a `T`; a failure names the field within `v`.
fn typed<T: DeserializeOwned, E: de::Error>(v: Value) -> Result<T, E> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            E::custom(inner)
        } else {
            E::custom(format_args!("`{path}`: {inner}"))
        }
    })
}

/// Reads a `type`-tagged object: as `K` when its tag is one of `known`, otherwise whole as a
/// value (also when it has no `type`).
fn known_or_other<'de, D, K>(d: D, known: &[&str]) -> Result<Result<K, Value>, D::Error>
where
    D: Deserializer<'de>,
    K: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    match v.get("type") {
        Some(Value::String(t)) if known.contains(&t.as_str()) => typed(v).map(Ok),
        _ => Ok(Err(v)),
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TextBlock {
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citations: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TextBlock {
    pub fn new(text: impl Into<String>) -> TextBlock {
        TextBlock {
            text: text.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageBlock {
    pub source: ImageSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentBlock {
    pub source: DocumentSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citations: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocumentSource {
    /// A PDF (`application/pdf`).
    Base64 { media_type: String, data: String },
    /// Plain text (`text/plain`).
    Text { media_type: String, data: String },
    /// A PDF by URL.
    Url { url: String },
    /// A document made of content blocks (text and images).
    Content { content: TextOr<ContentBlock> },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolUseBlock {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// A JSON object (null when a peer left it out).
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    /// `caller` and what newer versions add.
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TextOr<ContentBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ThinkingBlock {
    #[serde(default)]
    pub thinking: String,
    /// Required when a client sends the block back; empty when a stream opens the block
    /// (the signature follows as a `signature_delta`), and absent in some documented streams.
    #[serde(default)]
    pub signature: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RedactedThinkingBlock {
    #[serde(default)]
    pub data: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `tools`: a client tool the model calls and the client runs, or one of
/// Anthropic's server tools (`web_search_20250305`, `bash_20250124`, …), kept whole.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Tool {
    Custom(CustomTool),
    Server(Value),
}

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        // A client tool has no `type`, a null one or `custom`; every server tool names its
        // own versioned type.
        match v.get("type") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if t == "custom" => {}
            Some(Value::String(_)) => return Ok(Tool::Server(v)),
            Some(_) => return Err(de::Error::custom("`type` must be a string")),
        }
        typed(v).map(Tool::Custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomTool {
    /// Absent, null or `custom`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object.
    pub input_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Tool {
    /// The tool's name (server tools have one too: `web_search`, `bash`, …).
    pub fn name(&self) -> Option<&str> {
        match self {
            Tool::Custom(t) => Some(&t.name),
            Tool::Server(v) => v.get("name").and_then(Value::as_str),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThinkingConfig {
    Enabled {
        budget_tokens: u32,
        /// `summarized` or `omitted`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display: Option<String>,
    },
    Disabled,
    Adaptive {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display: Option<String>,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OutputConfig {
    /// `low`, `medium`, `high`, `xhigh` or `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"type": "json_schema", "schema": {…}}`: the answer is JSON text matching the schema.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------
// Responses

/// What `POST /v1/messages` answers, and the `message` of a stream's `message_start`.
/// Lenient where streams are: a `message_start` carries no content and, in some documented
/// transcripts, no usage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    #[serde(default)]
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type", default = "message_type")]
    pub kind: String,
    /// Always `assistant`.
    #[serde(default = "assistant_role")]
    pub role: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `pause_turn`, `refusal`,
    /// `model_context_window_exceeded`, or a newer word; null only in `message_start`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    /// OpenRouter: the provider that served the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `container`, `context_management`, `stop_details`, …
    #[serde(flatten)]
    pub extra: Extra,
}

fn message_type() -> String {
    "message".into()
}

fn assistant_role() -> String {
    "assistant".into()
}

impl Message {
    /// An empty assistant message, as a stream's `message_start` carries it.
    pub fn new(id: impl Into<String>, model: impl Into<String>) -> Message {
        Message {
            id: id.into(),
            kind: message_type(),
            role: assistant_role(),
            model: model.into(),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: Usage::default(),
            provider: None,
            extra: Extra::new(),
        }
    }
}

/// Anthropic's `input_tokens` excludes cache reads and cache writes: the prompt was
/// `input_tokens + cache_creation_input_tokens + cache_read_input_tokens` long.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// OpenRouter: the charge for the answer in USD, an exact JSON number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_money"
    )]
    pub cost: Option<Money>,
    /// `cache_creation`, `service_tier`, `server_tool_use`, `inference_geo`, …
    #[serde(flatten)]
    pub extra: Extra,
}

/// A cost as any JSON number or decimal string; anything else reads as none. Read through a
/// value because stream events are (and `Money`'s own reader needs the raw text, which a
/// value no longer has); the number's shortest form is exact for any amount a provider
/// writes.
fn lenient_money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => Money::parse(&n.to_string()).ok(),
        Some(Value::String(s)) => Money::parse(&s).ok(),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------
// Streams

/// One server-sent event of a streamed message; the SSE `event:` name is its `type`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: Message,
    },
    ContentBlockStart {
        #[serde(default)]
        index: u32,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        #[serde(default)]
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        #[serde(default)]
        index: u32,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDelta,
        /// Always sent by Anthropic (cumulative counts); absent in some documented
        /// transcripts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<MessageDeltaUsage>,
        /// `context_management`, …
        #[serde(flatten)]
        extra: Extra,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorObject,
    },
    /// An event type added after this was written, kept whole.
    #[serde(untagged)]
    Other(Value),
}

const EVENT_TYPES: &[&str] = &[
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
];

impl<'de> Deserialize<'de> for StreamEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Known {
            MessageStart {
                message: Message,
            },
            ContentBlockStart {
                #[serde(default)]
                index: u32,
                content_block: ContentBlock,
            },
            ContentBlockDelta {
                #[serde(default)]
                index: u32,
                delta: BlockDelta,
            },
            ContentBlockStop {
                #[serde(default)]
                index: u32,
            },
            MessageDelta {
                #[serde(default)]
                delta: MessageDelta,
                #[serde(default)]
                usage: Option<MessageDeltaUsage>,
                #[serde(flatten)]
                extra: Extra,
            },
            MessageStop,
            Ping,
            Error {
                #[serde(default)]
                error: ErrorObject,
            },
        }
        Ok(match known_or_other::<D, Known>(d, EVENT_TYPES)? {
            Err(v) => StreamEvent::Other(v),
            Ok(Known::MessageStart { message }) => StreamEvent::MessageStart { message },
            Ok(Known::ContentBlockStart {
                index,
                content_block,
            }) => StreamEvent::ContentBlockStart {
                index,
                content_block,
            },
            Ok(Known::ContentBlockDelta { index, delta }) => {
                StreamEvent::ContentBlockDelta { index, delta }
            }
            Ok(Known::ContentBlockStop { index }) => StreamEvent::ContentBlockStop { index },
            Ok(Known::MessageDelta {
                delta,
                usage,
                extra,
            }) => StreamEvent::MessageDelta {
                delta,
                usage,
                extra,
            },
            Ok(Known::MessageStop) => StreamEvent::MessageStop,
            Ok(Known::Ping) => StreamEvent::Ping,
            Ok(Known::Error { error }) => StreamEvent::Error { error },
        })
    }
}

impl StreamEvent {
    /// The event's `type`, which is also its SSE `event:` name.
    pub fn name(&self) -> &str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Ping => "ping",
            StreamEvent::Error { .. } => "error",
            StreamEvent::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }
}

/// The `delta` of a `content_block_delta`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    CitationsDelta {
        citation: Value,
    },
    /// A delta type added after this was written (`compaction_delta`, …), kept whole.
    #[serde(untagged)]
    Other(Value),
}

const DELTA_TYPES: &[&str] = &[
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "signature_delta",
    "citations_delta",
];

impl<'de> Deserialize<'de> for BlockDelta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(tag = "type")]
        enum Known {
            #[serde(rename = "text_delta")]
            Text {
                #[serde(default)]
                text: String,
            },
            #[serde(rename = "input_json_delta")]
            InputJson {
                #[serde(default)]
                partial_json: String,
            },
            #[serde(rename = "thinking_delta")]
            Thinking {
                #[serde(default)]
                thinking: String,
            },
            #[serde(rename = "signature_delta")]
            Signature {
                #[serde(default)]
                signature: String,
            },
            #[serde(rename = "citations_delta")]
            Citations {
                #[serde(default)]
                citation: Value,
            },
        }
        Ok(match known_or_other::<D, Known>(d, DELTA_TYPES)? {
            Err(v) => BlockDelta::Other(v),
            Ok(Known::Text { text }) => BlockDelta::TextDelta { text },
            Ok(Known::InputJson { partial_json }) => BlockDelta::InputJsonDelta { partial_json },
            Ok(Known::Thinking { thinking }) => BlockDelta::ThinkingDelta { thinking },
            Ok(Known::Signature { signature }) => BlockDelta::SignatureDelta { signature },
            Ok(Known::Citations { citation }) => BlockDelta::CitationsDelta { citation },
        })
    }
}

/// The `delta` of a `message_delta`: how the message ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MessageDelta {
    /// Written even when null, as Anthropic does.
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// `stop_details`, `container`, …
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `usage` of a `message_delta`: cumulative counts, each only when known.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MessageDeltaUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// OpenRouter: the charge for the answer in USD, an exact JSON number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_money"
    )]
    pub cost: Option<Money>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------
// Errors

/// Anthropic's error envelope: `{"type": "error", "error": {"type", "message"},
/// "request_id"}`; also the data of a stream's `error` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorResponse {
    /// Always `error`.
    #[serde(rename = "type", default = "error_type_name")]
    pub kind: String,
    pub error: ErrorObject,
    /// Written even when null: Anthropic's envelope always has it, and OpenRouter's document
    /// requires it (`AnthropicMessagesErrorResponse.required`).
    #[serde(default)]
    pub request_id: Option<String>,
}

fn error_type_name() -> String {
    "error".into()
}

impl ErrorResponse {
    pub fn new(kind: &str, message: impl Into<String>, request_id: Option<String>) -> Self {
        ErrorResponse {
            kind: error_type_name(),
            error: ErrorObject {
                kind: kind.to_string(),
                message: message.into(),
            },
            request_id,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ErrorObject {
    /// `invalid_request_error`, `authentication_error`, `billing_error`, `permission_error`,
    /// `not_found_error`, `request_too_large`, `rate_limit_error`, `timeout_error`,
    /// `api_error`, `overloaded_error`, or a newer word.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(json: &str) -> T {
        let parsed: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let again = serde_json::to_string(&parsed).expect("serialises");
        let reparsed: T = serde_json::from_str(&again).expect("re-parses");
        assert_eq!(parsed, reparsed);
        let mut original: Value = serde_json::from_str(json).expect("json");
        let written: Value = serde_json::from_str(&again).expect("json");
        // Anthropic documents `stop_sequence` as always present (null when none); one
        // recording omits it.
        if written.get("stop_sequence") == Some(&Value::Null) {
            if let Value::Object(o) = &mut original {
                o.entry("stop_sequence").or_insert(Value::Null);
            }
        }
        assert_eq!(original, written, "re-serialised differs");
        parsed
    }

    /// The examples of Anthropic's API reference and guides, one per feature.
    const REQUESTS: &[&str] = &[
        r#"{"max_tokens":1024,"messages":[{"content":"Hello, world","role":"user"}],"model":"claude-opus-4-6"}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[
            {"role":"user","content":"Hello there."},
            {"role":"assistant","content":"Hi, I'm Claude. How can I help you?"},
            {"role":"user","content":"Can you explain LLMs in plain English?"}]}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"system":[
              {"type":"text","text":"You are an AI assistant tasked with analyzing literary works."},
              {"type":"text","text":"<the entire contents of Pride and Prejudice>","cache_control":{"type":"ephemeral","ttl":"1h"}}],
            "messages":[{"role":"user","content":"Analyze the major themes in Pride and Prejudice."}],
            "metadata":{"user_id":"13803d75-b4b5-4c3e-b2a2-6f21399b021b"},"stop_sequences":["\n\nHuman:"],
            "temperature":0.5,"top_p":0.9,"top_k":40,"stream":true,"service_tier":"auto","cache_control":{"type":"ephemeral"}}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":[
              {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQSkZJRg=="}},
              {"type":"image","source":{"type":"url","url":"https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"}},
              {"type":"text","text":"Describe these images."}]}]}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":[
              {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="},"title":"Paper","context":"ctx","citations":{"enabled":true},"cache_control":{"type":"ephemeral"}},
              {"type":"document","source":{"type":"url","url":"https://assets.anthropic.com/m/1cd9d098ac3e6467/original/Claude-3-Model-Card-October-Addendum.pdf"}},
              {"type":"document","source":{"type":"text","media_type":"text/plain","data":"The grass is green. The sky is blue."},"title":"My Document"},
              {"type":"document","source":{"type":"content","content":[{"type":"text","text":"First chunk"},{"type":"text","text":"Second chunk"}]}},
              {"type":"text","text":"What are the key findings in this document?"}]}]}"#,
        r#"{"model":"claude-opus-4-1","max_tokens":1024,
            "tools":[{"name":"get_weather","description":"Get the current weather in a given location",
              "input_schema":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},
                "unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]},"cache_control":{"type":"ephemeral"}},
              {"type":"custom","name":"get_time","input_schema":{"type":"object"},"strict":true},
              {"type":"web_search_20250305","name":"web_search","max_uses":5,"allowed_domains":["example.com"]},
              {"type":"bash_20250124","name":"bash"}],
            "tool_choice":{"type":"any","disable_parallel_tool_use":true},
            "messages":[{"role":"user","content":"What is the weather like in San Francisco?"},
              {"role":"assistant","content":[{"type":"text","text":"I'll check the weather."},
                {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA","unit":"celsius"},"caller":{"type":"direct"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"},
                {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"error"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}],"is_error":true},
                {"type":"tool_result","tool_use_id":"toolu_3"}]}]}"#,
        r#"{"model":"claude-sonnet-4-5","max_tokens":16000,"thinking":{"type":"enabled","budget_tokens":10000},
            "messages":[{"role":"user","content":"Are there an infinite number of prime numbers such that n mod 4 == 3?"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"Let me think...","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
                {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
                {"type":"text","text":"Yes."}]},
              {"role":"user","content":"Why?"}]}"#,
        r#"{"model":"claude-opus-4-6","max_tokens":16000,"thinking":{"type":"adaptive","display":"summarized"},"output_config":{"effort":"high"},"messages":[{"role":"user","content":"q"}]}"#,
        r#"{"model":"claude-opus-4-6","max_tokens":100,"thinking":{"type":"disabled"},"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"q"}]}"#,
        r#"{"model":"claude-opus-4-6","max_tokens":100,"tool_choice":{"type":"tool","name":"get_weather"},"messages":[{"role":"user","content":"q"}],
            "output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"],"additionalProperties":false}}}}"#,
        r#"{"model":"claude-opus-4-6","max_tokens":100,"tool_choice":{"type":"auto"},"messages":[{"role":"user","content":[
            {"type":"search_result","source":"https://example.com","title":"T","content":[{"type":"text","text":"x"}]},
            {"type":"text","text":"cite","citations":[{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}]}]}],
            "container":"container_1","context_management":{"edits":[]}}"#,
        r#"{"models":["anthropic/claude-sonnet-4.5","openai/gpt-4o"],"max_tokens":10,"messages":[{"role":"user","content":"q"}],
            "provider":{"order":["anthropic"],"allow_fallbacks":false},"session_id":"s-1"}"#,
    ];

    #[test]
    fn published_requests_parse_and_reserialise() {
        for r in REQUESTS {
            round_trip::<MessagesRequest>(r);
        }
        let req: MessagesRequest = serde_json::from_str(REQUESTS[5]).expect("parses");
        let tools = req.tools.clone().unwrap_or_default();
        assert!(
            matches!(&tools[0], Tool::Custom(t) if t.name == "get_weather" && t.cache_control.is_some())
        );
        assert!(matches!(&tools[1], Tool::Custom(t) if t.strict == Some(true)));
        assert!(matches!(&tools[2], Tool::Server(_)));
        assert_eq!(tools[2].name(), Some("web_search"));
        assert_eq!(
            req.tool_choice,
            Some(ToolChoice::Any {
                disable_parallel_tool_use: Some(true)
            })
        );
        let TextOr::Blocks(blocks) = &req.messages[1].content else {
            panic!("blocks")
        };
        let ContentBlock::ToolUse(call) = &blocks[1] else {
            panic!("tool_use")
        };
        assert_eq!(call.input["location"], "San Francisco, CA");
        assert_eq!(call.extra.get("caller"), Some(&json!({"type": "direct"})));
        assert!(
            !call.extra.contains_key("type"),
            "the tag is not kept twice"
        );

        // Tags are written once: read into the tag, not into `extra`.
        let cached: MessagesRequest = serde_json::from_str(REQUESTS[2]).expect("parses");
        let Some(TextOr::Blocks(system)) = &cached.system else {
            panic!("system blocks")
        };
        assert!(system.iter().all(|b| b.text().extra.is_empty()));
        assert_eq!(
            system[1].text().cache_control,
            Some(json!({"type": "ephemeral", "ttl": "1h"}))
        );
        let written = serde_json::to_string(&cached).expect("serialises");
        assert_eq!(written.matches(r#""type":"text""#).count(), 2, "{written}");

        let thinking: MessagesRequest = serde_json::from_str(REQUESTS[6]).expect("parses");
        assert_eq!(
            thinking.thinking,
            Some(ThinkingConfig::Enabled {
                budget_tokens: 10000,
                display: None
            })
        );
        let TextOr::Blocks(blocks) = &thinking.messages[1].content else {
            panic!("blocks")
        };
        assert!(matches!(&blocks[0], ContentBlock::Thinking(t) if t.signature.starts_with("EqQB")));
        assert!(
            matches!(&blocks[1], ContentBlock::RedactedThinking(r) if r.data.starts_with("EmwK"))
        );

        let unknown: MessagesRequest = serde_json::from_str(REQUESTS[10]).expect("parses");
        assert!(unknown.extra.contains_key("container"));
        let TextOr::Blocks(blocks) = &unknown.messages[0].content else {
            panic!("blocks")
        };
        assert!(matches!(&blocks[0], ContentBlock::Other(v) if v["type"] == "search_result"));

        let or: MessagesRequest = serde_json::from_str(REQUESTS[11]).expect("parses");
        assert!(or.model.is_none());
        assert_eq!(or.session_id.as_deref(), Some("s-1"));
        assert_eq!(or.provider.and_then(|p| p.allow_fallbacks), Some(false));
        // Exact money inside `provider` reads beside the flattened `extra`.
        let priced: MessagesRequest = serde_json::from_str(
            r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"q"}],"provider":{"max_price":{"prompt":1.5}},"x":1}"#,
        )
        .expect("parses");
        assert_eq!(
            priced
                .provider
                .and_then(|p| p.max_price)
                .and_then(|m| m.prompt),
            Money::parse("1.5").ok()
        );
    }

    #[test]
    fn the_schema_example_and_count_tokens_parse() {
        let doc: Value = serde_json::from_str(include_str!(
            "../../providers/fixtures/anthropic__create-message-params.schema.json"
        ))
        .expect("schema");
        let example = doc["schemas"]["CreateMessageParams"]["example"].to_string();
        let req: MessagesRequest = round_trip(&example);
        assert_eq!(req.max_tokens, 1024);

        let count: CountTokensRequest = round_trip(
            r#"{"model":"claude-opus-4-6","system":"Be brief.","messages":[{"role":"user","content":"Hello, Claude"}],
                "tools":[{"name":"t","input_schema":{"type":"object"}}]}"#,
        );
        assert_eq!(count.messages.len(), 1);
        round_trip::<CountTokensResponse>(r#"{"input_tokens":2095}"#);
    }

    #[test]
    fn errors_name_the_field_inside_a_block() {
        let bad_media = r#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[
            {"type":"text","text":"hi"},{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}]}"#;
        let mut de = serde_json::Deserializer::from_str(bad_media);
        let err =
            serde_path_to_error::deserialize::<_, MessagesRequest>(&mut de).expect_err("no data");
        let msg = format!("{} {}", err.path(), err.inner());
        assert!(msg.contains("messages[0].content[1]"), "{msg}");
        assert!(msg.contains("data"), "{msg}");

        let bad_tool = r#"{"name":"t","input_schema":{"type":"object"},"description":7}"#;
        let err = serde_json::from_str::<Tool>(bad_tool).expect_err("bad description");
        assert!(err.to_string().contains("description"), "{err}");

        assert!(serde_json::from_str::<ContentBlock>(r#"{"text":"no type"}"#).is_err());
        assert!(serde_json::from_str::<MessagesRequest>(
            r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#
        )
        .is_err_and(|e| e.to_string().contains("max_tokens")));
    }

    #[test]
    fn recorded_responses_parse_and_reserialise() {
        for body in [
            include_str!("../../providers/fixtures/anthropic__anthropic-text.json"),
            include_str!("../../providers/fixtures/anthropic__anthropic-clear-thinking.1.json"),
            include_str!("../../providers/fixtures/anthropic__anthropic-json-tool.1.json"),
            include_str!("../../providers/fixtures/anthropic__anthropic-web-fetch-tool.error.json"),
        ] {
            let m: Message = round_trip(body);
            assert_eq!((m.kind.as_str(), m.role.as_str()), ("message", "assistant"));
            assert!(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
        }
        let m: Message = serde_json::from_str(include_str!(
            "../../providers/fixtures/anthropic__anthropic-web-fetch-tool.error.json"
        ))
        .expect("parses");
        assert!(matches!(&m.content[1], ContentBlock::Other(v) if v["type"] == "server_tool_use"));
        assert!(m.usage.extra.contains_key("server_tool_use"));
    }

    #[test]
    fn openrouter_usage_carries_an_exact_cost() {
        let mut m = Message::new("gen-1", "anthropic/claude-sonnet-4.5");
        m.provider = Some("Anthropic".into());
        m.usage.cost = Money::parse("0.0000125").ok();
        m.stop_reason = Some("end_turn".into());
        let text = serde_json::to_string(&m).expect("serialises");
        assert!(text.contains(r#""cost":0.0000125"#), "{text}");
        assert!(text.contains(r#""stop_sequence":null"#), "{text}");
        let back: Message = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, m);
        // Inside a stream event (read through a value), too.
        let ev = StreamEvent::MessageDelta {
            delta: MessageDelta {
                stop_reason: Some("end_turn".into()),
                ..Default::default()
            },
            usage: Some(MessageDeltaUsage {
                output_tokens: Some(3),
                cost: Money::parse("0.000001").ok(),
                ..Default::default()
            }),
            extra: Extra::new(),
        };
        let text = serde_json::to_string(&ev).expect("serialises");
        assert_eq!(
            text,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3,"cost":0.000001}}"#
        );
        assert_eq!(serde_json::from_str::<StreamEvent>(&text).ok(), Some(ev));
    }

    /// Every `data:` payload of the recorded streams.
    fn payloads() -> Vec<(bool, String)> {
        let chunks = [
            include_str!("../../providers/fixtures/anthropic__anthropic-text.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-clear-thinking.1.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-json-tool.1.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-tool-no-args.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-web-search-tool.1.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-web-fetch-tool.1.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-code-execution-20250825.1.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-mcp.1.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-compaction.1.chunks.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-tool-search-regex.1.chunks.txt"),
        ];
        let sse = [
            include_str!("../../providers/fixtures/anthropic__anthropic-streaming.md.basic.sse.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-streaming.md.tool-use.sse.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-streaming.md.extended-thinking.sse.txt"),
            include_str!("../../providers/fixtures/anthropic__anthropic-streaming.md.error.sse.txt"),
            include_str!("../../providers/fixtures/anthropic__sdk-python-tool_use_response.sse.txt"),
            include_str!("../../providers/fixtures/anthropic__sdk-python-refusal_response.sse.txt"),
            include_str!("../../providers/fixtures/anthropic__sdk-python-incomplete_partial_json_response.sse.txt"),
        ];
        let mut out: Vec<(bool, String)> = chunks
            .iter()
            .flat_map(|c| c.lines())
            .filter(|l| !l.trim().is_empty())
            .map(|l| (true, l.to_string()))
            .collect();
        // The documentation's transcripts elide fields (usage, signatures) a real stream has.
        out.extend(
            sse.iter()
                .flat_map(|s| s.lines())
                .filter_map(|l| l.strip_prefix("data: "))
                .map(|l| (false, l.to_string())),
        );
        out
    }

    #[test]
    fn recorded_stream_events_parse_and_reserialise() {
        let mut kinds = std::collections::BTreeSet::new();
        for (recorded, p) in payloads() {
            let ev: StreamEvent = if recorded {
                round_trip(&p)
            } else {
                serde_json::from_str(&p).unwrap_or_else(|e| panic!("{e}: {p}"))
            };
            let again: StreamEvent =
                serde_json::from_str(&serde_json::to_string(&ev).expect("serialises"))
                    .expect("re-parses");
            assert_eq!(again, ev);
            kinds.insert(match &ev {
                StreamEvent::ContentBlockDelta { delta, .. } => match delta {
                    BlockDelta::Other(v) => format!("other delta {}", v["type"]),
                    d => format!("{d:?}").split(' ').next().unwrap_or("").to_string(),
                },
                e => e.name().to_string(),
            });
        }
        for k in [
            "message_start",
            "content_block_start",
            "content_block_stop",
            "message_delta",
            "message_stop",
            "ping",
            "error",
            "TextDelta",
            "InputJsonDelta",
            "ThinkingDelta",
            "SignatureDelta",
            "CitationsDelta",
            "other delta \"compaction_delta\"",
        ] {
            assert!(kinds.contains(k), "{k} not seen: {kinds:?}");
        }
        let err: StreamEvent = serde_json::from_str(
            r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#,
        )
        .expect("parses");
        assert_eq!(
            err,
            StreamEvent::Error {
                error: ErrorObject {
                    kind: "overloaded_error".into(),
                    message: "Overloaded".into()
                }
            }
        );
        let future: StreamEvent =
            serde_json::from_str(r#"{"type":"telemetry","x":1}"#).expect("kept");
        assert_eq!(future.name(), "telemetry");
    }

    #[test]
    fn the_error_envelope_has_anthropics_shape() {
        let e = ErrorResponse::new(
            "rate_limit_error",
            "Number of requests has exceeded your rate limit",
            Some("req_018EeWyXxfu5pfWkrYcMdjWG".into()),
        );
        assert_eq!(
            serde_json::to_value(&e).ok(),
            Some(json!({"type":"error","error":{"type":"rate_limit_error",
                "message":"Number of requests has exceeded your rate limit"},"request_id":"req_018EeWyXxfu5pfWkrYcMdjWG"}))
        );
        round_trip::<ErrorResponse>(
            r#"{"type":"error","error":{"type":"not_found_error","message":"The requested resource could not be found."},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}"#,
        );
    }
}
