//! OpenAI's Responses API (`POST /responses`) as OpenRouter serves it: stateless (`store` is
//! always false, `previous_response_id` is refused), with OpenRouter's `models`, `provider` and
//! `session_id`. Shapes follow OpenAI's API reference and the official SDK
//! (`openai-python`, `src/openai/types/responses/`), OpenRouter's OpenAPI document
//! (`ResponsesRequest`, `OpenResponsesResult`, `StreamEvents`), and what the Codex CLI sends.
//!
//! Items and parts whose `type` this version does not know are kept whole (`Other`), so that
//! the dialect can name them in its error instead of failing to parse.

use crate::chat::Extra;
use crate::money::Money;
use crate::routing::ProviderPreferences;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

// ------------------------------------------------------------------------------------------
// Request
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResponsesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// A stored conversation (id or object): refused, nothing is stored here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    /// A stored prompt template: refused for the same reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,

    // OpenRouter's fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderPreferences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Value>,

    #[serde(flatten)]
    pub extra: Extra,
}

/// `input`: a single user text, or the whole conversation as items.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<InputItem>),
}

// Not `untagged`: an error deep inside an item keeps its path (`input[3]…`).
impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text_or_list(
            d,
            "a string or an array of input items",
            Input::Text,
            Input::Items,
        )
    }
}

/// One item of `input`. A message may omit `type` (OpenAI's "easy input message").
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    Message(InputMessage),
    FunctionCall(FunctionCallItem),
    FunctionCallOutput(FunctionCallOutputItem),
    CustomToolCall(CustomToolCallItem),
    CustomToolCallOutput(CustomToolCallOutputItem),
    Reasoning(ReasoningItem),
    ToolSearchCall(ToolSearchCallItem),
    ToolSearchOutput(ToolSearchOutputItem),
    ItemReference(ItemReference),
    /// Any other item type, kept whole.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

impl InputItem {
    /// The item's `type` as it came.
    pub fn kind(&self) -> &str {
        match self {
            InputItem::Message(_) => "message",
            InputItem::FunctionCall(_) => "function_call",
            InputItem::FunctionCallOutput(_) => "function_call_output",
            InputItem::CustomToolCall(_) => "custom_tool_call",
            InputItem::CustomToolCallOutput(_) => "custom_tool_call_output",
            InputItem::Reasoning(_) => "reasoning",
            InputItem::ToolSearchCall(_) => "tool_search_call",
            InputItem::ToolSearchOutput(_) => "tool_search_output",
            InputItem::ItemReference(_) => "item_reference",
            InputItem::Other(m) => m.get("type").and_then(Value::as_str).unwrap_or("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        let kind = match map.get("type") {
            Some(Value::String(s)) => s.clone(),
            None if map.contains_key("role") => "message".to_string(),
            None => {
                return Err(de::Error::custom(
                    "an input item needs a `type` (or a `role`)",
                ))
            }
            Some(_) => return Err(de::Error::custom("`type` must be a string")),
        };
        Ok(match kind.as_str() {
            "message" => InputItem::Message(variant(&kind, map)?),
            "function_call" => InputItem::FunctionCall(variant(&kind, map)?),
            "function_call_output" => InputItem::FunctionCallOutput(variant(&kind, map)?),
            "custom_tool_call" => InputItem::CustomToolCall(variant(&kind, map)?),
            "custom_tool_call_output" => InputItem::CustomToolCallOutput(variant(&kind, map)?),
            "reasoning" => InputItem::Reasoning(variant(&kind, map)?),
            "tool_search_call" => InputItem::ToolSearchCall(variant(&kind, map)?),
            "tool_search_output" => InputItem::ToolSearchOutput(variant(&kind, map)?),
            "item_reference" => InputItem::ItemReference(variant(&kind, map)?),
            _ => InputItem::Other(map),
        })
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InputRole {
    User,
    Assistant,
    System,
    Developer,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputMessage {
    pub role: InputRole,
    /// Null is allowed for assistant messages in OpenRouter's schema.
    #[serde(default)]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A message's `content` or a tool output: text, or typed parts.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text_or_list(
            d,
            "a string or an array of content parts",
            MessageContent::Text,
            MessageContent::Parts,
        )
    }
}

/// One content part of an input message or a tool output.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    InputText(TextPart),
    /// Assistant text sent back as history.
    OutputText(TextPart),
    Refusal(RefusalPart),
    InputImage(ImagePart),
    InputFile(FilePart),
    InputAudio(AudioPart),
    /// Any other part type, kept whole.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

// By hand, like `InputItem`'s: a known part with a bad field is an error, not an unknown part.
impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        let kind = match map.get("type") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(de::Error::custom("a content part needs a string `type`")),
        };
        Ok(match kind.as_str() {
            "input_text" => ContentPart::InputText(variant(&kind, map)?),
            "output_text" => ContentPart::OutputText(variant(&kind, map)?),
            "refusal" => ContentPart::Refusal(variant(&kind, map)?),
            "input_image" => ContentPart::InputImage(variant(&kind, map)?),
            "input_file" => ContentPart::InputFile(variant(&kind, map)?),
            "input_audio" => ContentPart::InputAudio(variant(&kind, map)?),
            _ => ContentPart::Other(map),
        })
    }
}

/// Deserialises one variant of a hand-tagged enum from its object, naming the inner field at
/// fault. The tag is removed first: left in, it would land in the variant's `extra`.
fn variant<T: DeserializeOwned, E: de::Error>(
    kind: &str,
    mut map: Map<String, Value>,
) -> Result<T, E> {
    map.remove("type");
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            E::custom(format!("{kind}: {inner}"))
        } else {
            E::custom(format!("{kind}: `{path}`: {inner}"))
        }
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TextPart {
    pub text: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefusalPart {
    pub refusal: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImagePart {
    /// A URL or a `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// An uploaded file: refused, this gateway has no file store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FilePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// A `data:` URL (or base64 text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AudioPart {
    pub input_audio: AudioData,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AudioData {
    pub data: String,
    pub format: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

/// A function call the model made (output) or that the client sends back (input).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionCallItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub name: String,
    /// JSON text.
    pub arguments: String,
    /// The `namespace` tool the function belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionCallOutputItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub output: MessageContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A call of a `custom` (freeform) tool: its input is raw text, not JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomToolCallItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub name: String,
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomToolCallOutputItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub call_id: String,
    pub output: MessageContent,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Reasoning: a summary, the reasoning text itself (open models), and opaque
/// `encrypted_content` the client sends back so the provider can continue from it.
/// `format` and `signature` are OpenRouter's additions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReasoningItem {
    /// Required on output; clients may omit it on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub summary: Vec<SummaryPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ReasoningContent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SummaryPart {
    SummaryText { text: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReasoningContent {
    ReasoningText {
        text: String,
    },
    /// Codex's older spelling of the same.
    Text {
        text: String,
    },
}

impl ReasoningContent {
    pub fn text(&self) -> &str {
        match self {
            ReasoningContent::ReasoningText { text } | ReasoningContent::Text { text } => text,
        }
    }
}

/// The model asking the client to search its deferred tools (Codex's `tool_search` with
/// `execution: "client"`); `arguments` is a JSON object, not text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolSearchCallItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    #[serde(default)]
    pub arguments: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The client's answer to a tool search: the tools it now exposes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolSearchOutputItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemReference {
    pub id: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `tools`. A struct rather than an enum so that hosted tools this gateway cannot
/// serve (`web_search`, `file_search`, …) still parse and can be echoed or dropped by name.
///
/// - `function`: `name`, `description`, `parameters`, `strict` (flat, unlike chat's).
/// - `custom`: `name`, `description`, `format` (freeform text or a grammar).
/// - `namespace`: `name`, `description`, `tools` (functions called with `namespace` set).
/// - `tool_search`: `execution` (`client` or `server`), `description`, `parameters`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<CustomToolFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A custom tool's input format: `{"type":"text"}` or
/// `{"type":"grammar","syntax":"lark"|"regex","definition":…}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomToolFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syntax: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `none`, `auto` or `required`.
    Mode(String),
    Specific(SpecificToolChoice),
}

/// `{"type":"function","name":…}`, `{"type":"custom","name":…}`,
/// `{"type":"allowed_tools","mode":…,"tools":[…]}`, or a hosted tool's `{"type":…}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpecificToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TextConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `text.format`: `{"type":"text"}`, `{"type":"json_object"}`, or
/// `{"type":"json_schema","name","schema","strict","description"}` (flat, unlike chat's).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TextFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// OpenAI's `reasoning {effort, summary}` with OpenRouter's `enabled` and `max_tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReasoningConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// `auto`, `concise` or `detailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Parses a request body, naming the exact field at fault (`input[2]: function_call item:
/// missing field `call_id``). Trailing data after the JSON value is an error.
pub fn parse_responses_request(body: &[u8]) -> Result<ResponsesRequest, String> {
    let req: ResponsesRequest = crate::parse_body(body)?;
    Ok(req)
}

// ------------------------------------------------------------------------------------------
// Response
// ------------------------------------------------------------------------------------------

/// The response object. Fields OpenRouter's `OpenResponsesResult` requires (nullable or not)
/// are always written; the official SDKs need `id`, `created_at`, `model`, `object`, `output`,
/// `parallel_tool_calls`, `tool_choice` and `tools`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub id: String,
    /// Always `response`.
    pub object: String,
    pub created_at: u64,
    pub status: ResponseStatus,
    #[serde(default)]
    pub completed_at: Option<u64>,
    pub model: String,
    pub output: Vec<OutputItem>,
    #[serde(default)]
    pub error: Option<ResponseError>,
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub presence_penalty: Option<f64>,
    #[serde(default)]
    pub frequency_penalty: Option<f64>,
    pub tools: Vec<Tool>,
    pub tool_choice: ToolChoice,
    pub parallel_tool_calls: bool,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    #[serde(default)]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default)]
    pub store: bool,
    #[serde(default)]
    pub background: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Absent until the end: OpenRouter's lifecycle events do not allow `null` here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openrouter_metadata: Option<Value>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    Completed,
    Failed,
    InProgress,
    Cancelled,
    Queued,
    Incomplete,
}

/// `error` of a failed response. `code` is one of OpenAI's strings (`server_error`,
/// `rate_limit_exceeded`, `invalid_prompt`, …): clients such as Codex decide from it whether
/// to retry, and drop the message when it is not a string.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResponseError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IncompleteDetails {
    /// `max_output_tokens` or `content_filter`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Message(OutputMessage),
    Reasoning(ReasoningItem),
    FunctionCall(FunctionCallItem),
    CustomToolCall(CustomToolCallItem),
    ToolSearchCall(ToolSearchCallItem),
}

// Written by hand for the same reason as `InputItem`'s: the tag must not reach the variants'
// flattened `extra`.
impl<'de> Deserialize<'de> for OutputItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let kind = match map.remove("type") {
            Some(Value::String(s)) => s,
            _ => return Err(de::Error::custom("an output item needs a string `type`")),
        };
        let v = Value::Object(map);
        let e = |e: serde_json::Error| de::Error::custom(format!("{kind} item: {e}"));
        Ok(match kind.as_str() {
            "message" => OutputItem::Message(serde_json::from_value(v).map_err(e)?),
            "reasoning" => OutputItem::Reasoning(serde_json::from_value(v).map_err(e)?),
            "function_call" => OutputItem::FunctionCall(serde_json::from_value(v).map_err(e)?),
            "custom_tool_call" => OutputItem::CustomToolCall(serde_json::from_value(v).map_err(e)?),
            "tool_search_call" => OutputItem::ToolSearchCall(serde_json::from_value(v).map_err(e)?),
            other => return Err(de::Error::custom(format!("unknown output item `{other}`"))),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputMessage {
    pub id: String,
    /// Always `assistant`.
    pub role: String,
    pub status: ItemStatus,
    pub content: Vec<OutputContent>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    OutputText(OutputText),
    Refusal { refusal: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputText {
    pub text: String,
    /// Required by the SDKs even when empty.
    #[serde(default)]
    pub annotations: Vec<Value>,
}

impl OutputText {
    pub fn new(text: impl Into<String>) -> OutputText {
        OutputText {
            text: text.into(),
            annotations: Vec::new(),
        }
    }
}

/// Token usage, with OpenRouter's `cost`, `is_byok` and `cost_details`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub input_tokens: u64,
    pub input_tokens_details: InputTokensDetails,
    pub output_tokens: u64,
    pub output_tokens_details: OutputTokensDetails,
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_byok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_details: Option<CostDetails>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct InputTokensDetails {
    pub cached_tokens: u64,
    /// The openai SDK (3.5x) declares it required.
    #[serde(default)]
    pub cache_write_tokens: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CostDetails {
    pub upstream_inference_cost: Option<Money>,
    pub upstream_inference_input_cost: Money,
    pub upstream_inference_output_cost: Money,
}

// ------------------------------------------------------------------------------------------
// Stream events
// ------------------------------------------------------------------------------------------

/// One server-sent event of a streamed response; the SSE `event:` name equals `type`.
/// Every event carries `sequence_number`, counting from 0 within the stream.
///
/// (Deserialising one whose usage has a `cost` fails: `Money` reads a raw JSON number, which
/// an internally tagged enum buffers away. Parse such events as `serde_json::Value`.)
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum StreamEvent {
    #[serde(rename = "response.created")]
    Created {
        sequence_number: u64,
        response: Box<Response>,
    },
    #[serde(rename = "response.in_progress")]
    InProgress {
        sequence_number: u64,
        response: Box<Response>,
    },
    #[serde(rename = "response.completed")]
    Completed {
        sequence_number: u64,
        response: Box<Response>,
    },
    #[serde(rename = "response.incomplete")]
    Incomplete {
        sequence_number: u64,
        response: Box<Response>,
    },
    #[serde(rename = "response.failed")]
    Failed {
        sequence_number: u64,
        response: Box<Response>,
    },
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        sequence_number: u64,
        output_index: u32,
        item: OutputItem,
    },
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        sequence_number: u64,
        output_index: u32,
        item: OutputItem,
    },
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        part: StreamPart,
    },
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        part: StreamPart,
    },
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        delta: String,
        /// Required by the SDKs and OpenRouter's schema; always empty here.
        logprobs: Vec<Value>,
    },
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        text: String,
        logprobs: Vec<Value>,
    },
    #[serde(rename = "response.refusal.delta")]
    RefusalDelta {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        delta: String,
    },
    #[serde(rename = "response.refusal.done")]
    RefusalDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        refusal: String,
    },
    #[serde(rename = "response.reasoning_summary_part.added")]
    ReasoningSummaryPartAdded {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        summary_index: u32,
        part: SummaryPart,
    },
    #[serde(rename = "response.reasoning_summary_part.done")]
    ReasoningSummaryPartDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        summary_index: u32,
        part: SummaryPart,
    },
    #[serde(rename = "response.reasoning_summary_text.delta")]
    ReasoningSummaryTextDelta {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        summary_index: u32,
        delta: String,
    },
    #[serde(rename = "response.reasoning_summary_text.done")]
    ReasoningSummaryTextDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        summary_index: u32,
        text: String,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningTextDelta {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        delta: String,
    },
    #[serde(rename = "response.reasoning_text.done")]
    ReasoningTextDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        content_index: u32,
        text: String,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        delta: String,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        /// Required by OpenRouter's schema, though not by OpenAI's.
        name: String,
        arguments: String,
    },
    #[serde(rename = "response.custom_tool_call_input.delta")]
    CustomToolCallInputDelta {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        delta: String,
    },
    #[serde(rename = "response.custom_tool_call_input.done")]
    CustomToolCallInputDone {
        sequence_number: u64,
        item_id: String,
        output_index: u32,
        input: String,
    },
    #[serde(rename = "error")]
    Error {
        sequence_number: u64,
        code: Option<String>,
        message: String,
        param: Option<String>,
    },
}

impl StreamEvent {
    /// The event's `type`, used as the SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::Created { .. } => "response.created",
            StreamEvent::InProgress { .. } => "response.in_progress",
            StreamEvent::Completed { .. } => "response.completed",
            StreamEvent::Incomplete { .. } => "response.incomplete",
            StreamEvent::Failed { .. } => "response.failed",
            StreamEvent::OutputItemAdded { .. } => "response.output_item.added",
            StreamEvent::OutputItemDone { .. } => "response.output_item.done",
            StreamEvent::ContentPartAdded { .. } => "response.content_part.added",
            StreamEvent::ContentPartDone { .. } => "response.content_part.done",
            StreamEvent::OutputTextDelta { .. } => "response.output_text.delta",
            StreamEvent::OutputTextDone { .. } => "response.output_text.done",
            StreamEvent::RefusalDelta { .. } => "response.refusal.delta",
            StreamEvent::RefusalDone { .. } => "response.refusal.done",
            StreamEvent::ReasoningSummaryPartAdded { .. } => {
                "response.reasoning_summary_part.added"
            }
            StreamEvent::ReasoningSummaryPartDone { .. } => "response.reasoning_summary_part.done",
            StreamEvent::ReasoningSummaryTextDelta { .. } => {
                "response.reasoning_summary_text.delta"
            }
            StreamEvent::ReasoningSummaryTextDone { .. } => "response.reasoning_summary_text.done",
            StreamEvent::ReasoningTextDelta { .. } => "response.reasoning_text.delta",
            StreamEvent::ReasoningTextDone { .. } => "response.reasoning_text.done",
            StreamEvent::FunctionCallArgumentsDelta { .. } => {
                "response.function_call_arguments.delta"
            }
            StreamEvent::FunctionCallArgumentsDone { .. } => {
                "response.function_call_arguments.done"
            }
            StreamEvent::CustomToolCallInputDelta { .. } => "response.custom_tool_call_input.delta",
            StreamEvent::CustomToolCallInputDone { .. } => "response.custom_tool_call_input.done",
            StreamEvent::Error { .. } => "error",
        }
    }
}

/// The part of a `response.content_part.*` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamPart {
    OutputText(OutputText),
    Refusal { refusal: String },
    ReasoningText { text: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_string_input_and_unknown_fields() {
        let req = parse_responses_request(
            br#"{"model":"openai/gpt-4o","input":"hi","client_metadata":{"a":"b"},
            "provider":{"order":["openai"]},"session_id":"s1"}"#,
        )
        .expect("parses");
        assert_eq!(req.input, Some(Input::Text("hi".into())));
        assert!(req.extra.contains_key("client_metadata"));
        assert_eq!(req.session_id.as_deref(), Some("s1"));
        assert!(req.provider.is_some());
    }

    #[test]
    fn parses_every_item_kind() {
        let req = parse_responses_request(
            br#"{"input":[
              {"role":"user","content":"easy"},
              {"type":"message","role":"developer","id":"m1","content":[{"type":"input_text","text":"dev"}]},
              {"type":"message","role":"user","content":[
                 {"type":"input_text","text":"look"},
                 {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"auto"},
                 {"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,BB"},
                 {"type":"input_audio","input_audio":{"data":"CC","format":"wav"}},
                 {"type":"input_video","video_url":"https://v"}]},
              {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"s"}],"content":null,"encrypted_content":"E"},
              {"type":"function_call","id":"fc_1","call_id":"c1","name":"f","arguments":"{}","status":"completed"},
              {"type":"function_call_output","call_id":"c1","output":"ok"},
              {"type":"custom_tool_call","call_id":"c2","name":"apply_patch","input":"*** Begin"},
              {"type":"custom_tool_call_output","call_id":"c2","output":"done"},
              {"type":"tool_search_call","call_id":"c3","execution":"client","arguments":{"query":"q"}},
              {"type":"tool_search_output","call_id":"c3","execution":"client","tools":[]},
              {"type":"item_reference","id":"x"},
              {"type":"web_search_call","id":"ws","status":"completed","action":{"type":"search"}},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"a","annotations":[]}]}
            ]}"#,
        )
        .expect("parses");
        let Some(Input::Items(items)) = req.input else {
            panic!("items expected")
        };
        let kinds: Vec<&str> = items.iter().map(InputItem::kind).collect();
        assert_eq!(
            kinds,
            [
                "message",
                "message",
                "message",
                "reasoning",
                "function_call",
                "function_call_output",
                "custom_tool_call",
                "custom_tool_call_output",
                "tool_search_call",
                "tool_search_output",
                "item_reference",
                "web_search_call",
                "message"
            ]
        );
        let InputItem::Message(m) = &items[2] else {
            panic!("message")
        };
        let Some(MessageContent::Parts(parts)) = &m.content else {
            panic!("parts")
        };
        assert!(matches!(parts[4], ContentPart::Other(_)));
        let InputItem::Message(m) = &items[1] else {
            panic!("message")
        };
        // The tag is not kept as an unknown field.
        assert!(m.extra.is_empty(), "{:?}", m.extra);
    }

    #[test]
    fn errors_name_the_item_and_field() {
        let err = parse_responses_request(
            br#"{"input":[{"role":"user","content":"a"},{"type":"function_call","name":"f","arguments":"{}"}]}"#,
        )
        .expect_err("call_id missing");
        assert!(err.contains("input[1]"), "{err}");
        assert!(err.contains("call_id"), "{err}");
        let err = parse_responses_request(
            br#"{"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":5}]}]}"#,
        )
        .expect_err("bad text");
        assert!(err.contains("input[0]"), "{err}");
        assert!(err.contains("content[0]"), "{err}");
        let err = parse_responses_request(br#"{"input":[{"role":"wizard","content":"x"}]}"#)
            .expect_err("bad role");
        assert!(err.contains("role"), "{err}");
        let err = parse_responses_request(br#"{"input":"hi","temperature":"hot"}"#)
            .expect_err("bad temperature");
        assert!(err.contains("temperature"), "{err}");
        let err =
            parse_responses_request(br#"{"input":"hi"} {"more":1}"#).expect_err("trailing data");
        assert!(err.contains("trailing"), "{err}");
    }

    #[test]
    fn tools_and_choices_parse() {
        let req = parse_responses_request(
            br#"{"input":"x","tools":[
              {"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":false},
              {"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}},
              {"type":"namespace","name":"ns","tools":[{"type":"function","name":"g"}]},
              {"type":"web_search","external_web_access":false}],
              "tool_choice":{"type":"function","name":"f"},
              "text":{"format":{"type":"json_schema","name":"o","schema":{"type":"object"},"strict":true},"verbosity":"low"},
              "reasoning":{"effort":"high","summary":"auto"}}"#,
        )
        .expect("parses");
        let tools = req.tools.expect("tools");
        assert_eq!(
            tools[1].format.as_ref().map(|f| f.kind.as_str()),
            Some("grammar")
        );
        assert_eq!(tools[2].tools.as_ref().map(Vec::len), Some(1));
        assert!(tools[3].extra.contains_key("external_web_access"));
        assert!(matches!(req.tool_choice, Some(ToolChoice::Specific(_))));
        let parsed =
            parse_responses_request(br#"{"input":"x","tool_choice":"required"}"#).expect("parses");
        assert_eq!(
            parsed.tool_choice,
            Some(ToolChoice::Mode("required".into()))
        );
    }

    #[test]
    fn stream_events_carry_type_and_sequence_number() {
        let ev = StreamEvent::OutputTextDelta {
            sequence_number: 4,
            item_id: "msg_1".into(),
            output_index: 0,
            content_index: 0,
            delta: "Hel".into(),
            logprobs: vec![],
        };
        let v = serde_json::to_value(&ev).expect("serialises");
        assert_eq!(v["type"], "response.output_text.delta");
        assert_eq!(v["sequence_number"], 4);
        assert_eq!(v["logprobs"], serde_json::json!([]));
        assert_eq!(ev.name(), "response.output_text.delta");
        let back: StreamEvent = serde_json::from_value(v).expect("parses");
        assert_eq!(back, ev);

        let item = OutputItem::FunctionCall(FunctionCallItem {
            id: Some("fc_1".into()),
            call_id: "c1".into(),
            name: "f".into(),
            arguments: "{}".into(),
            namespace: None,
            status: Some(ItemStatus::Completed),
            extra: Extra::new(),
        });
        let ev = StreamEvent::OutputItemDone {
            sequence_number: 9,
            output_index: 1,
            item,
        };
        let v = serde_json::to_value(&ev).expect("serialises");
        assert_eq!(v["item"]["type"], "function_call");
        assert_eq!(v["item"]["status"], "completed");
        let back: StreamEvent = serde_json::from_value(v).expect("parses");
        assert_eq!(back, ev);
    }
}
