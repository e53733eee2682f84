//! OpenAI Chat Completions with OpenRouter's extensions: the canonical form every adapter
//! converts to and from. Known fields are typed; unknown ones are kept in `extra` so that a
//! field a newer client sends still reaches an OpenAI-compatible upstream.

use crate::money::Money;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub type Extra = Map<String, Value>;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChatRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,

    // OpenRouter-only fields: read by the gateway, never forwarded upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::routing::ProviderPreferences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transforms: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_reasoning: Option<bool>,

    #[serde(flatten)]
    pub extra: Extra,

    /// The client's own body when it spoke an upstream's native dialect (Anthropic Messages):
    /// an endpoint of that protocol is sent this, only `model` rewritten, so that nothing the
    /// canonical form cannot say (server tools, betas, top-level `cache_control`) is lost.
    /// Never serialised; dropped when the gateway itself changes the conversation (a
    /// mid-stream continuation).
    #[serde(skip)]
    pub native: Option<std::sync::Arc<NativeRequest>>,
}

/// A request body as the client sent it, in a provider's own dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeRequest {
    pub dialect: NativeDialect,
    /// The body's bytes, parsed only if an endpoint of that dialect is called (most requests
    /// never are: no second parse on their path).
    pub body: std::sync::Arc<[u8]>,
    /// Headers of the dialect the upstream must see too (`anthropic-beta`).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeDialect {
    AnthropicMessages,
}

impl ChatRequest {
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// `max_completion_tokens` wins over the deprecated `max_tokens`.
    pub fn max_output_tokens(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// The request with every OpenRouter-only field removed: what an OpenAI-compatible
    /// upstream may see.
    pub fn without_gateway_fields(mut self) -> ChatRequest {
        self.models = None;
        self.provider = None;
        self.route = None;
        self.transforms = None;
        self.plugins = None;
        self.usage = None;
        self.session_id = None;
        self.include_reasoning = None;
        self
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Vec<ReasoningDetail>>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    pub fn text(role: Role, text: impl Into<String>) -> Message {
        Message {
            role,
            content: Some(Content::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            reasoning: None,
            reasoning_details: None,
            extra: Extra::new(),
        }
    }

    /// All text of the message's content, parts joined without separator.
    pub fn text_content(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join(""),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Content {
    pub fn parts(&self) -> Vec<ContentPart> {
        match self {
            Content::Text(t) => vec![ContentPart::text(t.clone())],
            Content::Parts(p) => p.clone(),
        }
    }
}

/// One part of a multimodal message. A struct rather than an enum so that part types this
/// version does not know (`video_url`, `input_audio`, …) still pass through.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ImageUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ContentPart {
    pub fn text(text: String) -> ContentPart {
        ContentPart {
            kind: "text".into(),
            text: Some(text),
            image_url: None,
            file: None,
            cache_control: None,
            extra: Extra::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

/// A `data:<mime>;base64,<payload>` URL split into its parts.
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `none`, `auto` or `required`.
    Mode(String),
    Named(NamedToolChoice),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: NamedFunction,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamedFunction {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<JsonSchemaFormat>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReasoningConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl ReasoningConfig {
    /// Whether the caller asked for reasoning at all.
    pub fn wanted(&self) -> bool {
        self.enabled != Some(false)
            && (self.enabled == Some(true) || self.max_tokens.is_some() || self.effort.is_some())
            && self.effort.as_deref() != Some("none")
    }

    /// A thinking-token budget for providers that take one: `max_tokens` if given, otherwise
    /// the effort's share of the output budget as OpenRouter documents it.
    pub fn budget(&self, max_output: u32) -> u32 {
        if let Some(b) = self.max_tokens {
            return b;
        }
        let pct = match self.effort.as_deref() {
            Some("max") | Some("xhigh") => 95,
            Some("high") => 80,
            Some("low") => 20,
            Some("minimal") => 10,
            _ => 50,
        };
        (u64::from(max_output) * pct / 100) as u32
    }
}

/// One entry of `reasoning_details`; clients must send these back unmodified, so every field
/// (including ones this version does not know) survives a round trip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReasoningDetail {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ReasoningDetail {
    pub fn new(kind: &str, format: &str, index: u32) -> ReasoningDetail {
        ReasoningDetail {
            kind: kind.into(),
            text: None,
            summary: None,
            data: None,
            signature: None,
            id: None,
            format: Some(format.into()),
            index: Some(index),
            extra: Extra::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionCall {
    pub name: String,
    /// JSON text, as OpenAI sends it.
    pub arguments: String,
}

/// Normalised finish reasons (`finish_reason`); the provider's own word goes in
/// `native_finish_reason`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatResponse {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Required (nullable) in OpenRouter's schema, so always written.
    #[serde(default)]
    pub system_fingerprint: Option<String>,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openrouter_metadata: Option<Value>,
    /// The upstream's own answer when the client spoke its dialect (see
    /// `ChatRequest::native`): that dialect renders it as sent. Never serialised.
    #[serde(skip)]
    pub native: Option<Box<Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Choice {
    pub index: u32,
    pub message: ResponseMessage,
    pub finish_reason: Option<FinishReason>,
    #[serde(default)]
    pub native_finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResponseMessage {
    pub role: String,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Vec<ReasoningDetail>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_byok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_details: Option<CostDetails>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PromptTokensDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CompletionTokensDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CostDetails {
    pub upstream_inference_cost: Option<Money>,
    pub upstream_inference_prompt_cost: Money,
    pub upstream_inference_completions_cost: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatChunk {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Optional and not nullable in OpenRouter's chunk schema (the official TypeScript SDK
    /// rejects a `null`): absent unless the upstream sent one. Unlike `ChatResponse`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openrouter_metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<FinishReason>,
    #[serde(default)]
    pub native_finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Vec<ReasoningDetail>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.content.is_none()
            && self.refusal.is_none()
            && self.reasoning.is_none()
            && self.reasoning_details.is_none()
            && self.tool_calls.is_none()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FunctionDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// Parses a request body, naming the exact field at fault (`messages[0].role: unknown variant`).
pub fn parse_chat_request(body: &[u8]) -> Result<ChatRequest, String> {
    let req: ChatRequest = crate::parse_body(body)?;
    if req.messages.is_empty() {
        return Err("`messages` must contain at least one message".into());
    }
    Ok(req)
}

// ------------------------------------------------------------------------------------------
// Reasoning details packed for clients that return only an opaque field (a Responses
// reasoning item's `encrypted_content`, an Anthropic `redacted_thinking` block's `data`)
// ------------------------------------------------------------------------------------------

const ENVELOPE_PREFIX: &str = "swy1.";

/// Packs `reasoning_details` into one opaque string: a Responses reasoning item's
/// `encrypted_content`, or an Anthropic `redacted_thinking` block's `data`.
///
/// Clients echo reasoning items back, but only some of their fields: Codex keeps `id`,
/// `summary`, `content` and `encrypted_content` and drops OpenRouter's `signature` and
/// `format`. A thinking block's signature (Anthropic) or a thought signature tied to a tool
/// call (Gemini) that came back without them would be refused upstream, so the details travel
/// whole, in the one field every client returns untouched. The content is not secret (its text
/// is in `content` too); the prefix marks it as ours.
pub fn encode_reasoning_envelope(details: &[ReasoningDetail]) -> Option<String> {
    use base64::Engine;
    let json = serde_json::to_vec(details).ok()?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    Some(format!("{ENVELOPE_PREFIX}{b64}"))
}

/// The details packed by [`encode_reasoning_envelope`], or `None` when `encrypted_content` is
/// not ours (a provider's own blob).
pub fn decode_reasoning_envelope(encrypted: &str) -> Option<Vec<ReasoningDetail>> {
    use base64::Engine;
    let b64 = encrypted.strip_prefix(ENVELOPE_PREFIX)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_fields_and_strips_gateway_fields() {
        let body =
            br#"{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi","x_msg":1}],
            "provider":{"order":["openai"]},"models":["a/b"],"new_param":{"k":true}}"#;
        let req = parse_chat_request(body).expect("parses");
        assert_eq!(req.messages[0].extra.get("x_msg"), Some(&Value::from(1)));
        let upstream = serde_json::to_value(req.without_gateway_fields()).unwrap_or_default();
        assert_eq!(upstream["new_param"]["k"], Value::Bool(true));
        assert!(upstream.get("provider").is_none());
        assert!(upstream.get("models").is_none());
    }

    #[test]
    fn error_names_the_field() {
        let err =
            parse_chat_request(br#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#)
                .expect_err("bad role");
        assert!(err.contains("messages[0].role"), "{err}");
        let err = parse_chat_request(br#"{"model":"m","messages":[],"temperature":"hot"}"#)
            .expect_err("bad temperature");
        assert!(err.contains("temperature"), "{err}");
        let err = parse_chat_request(br#"{"model":"m","messages":[]}"#).expect_err("empty");
        assert!(err.contains("messages"), "{err}");
    }

    #[test]
    fn multimodal_parts_parse() {
        let req = parse_chat_request(
            br#"{"messages":[{"role":"user","content":[{"type":"text","text":"what"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
            {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,BBBB"}},
            {"type":"input_audio","input_audio":{"data":"CCCC","format":"wav"}}]}]}"#,
        )
        .expect("parses");
        let Some(Content::Parts(parts)) = &req.messages[0].content else {
            panic!("parts expected")
        };
        assert_eq!(parts.len(), 4);
        assert_eq!(
            parts[1]
                .image_url
                .as_ref()
                .and_then(|u| parse_data_url(&u.url)),
            Some(("image/png", "AAAA"))
        );
        assert!(parts[3].extra.contains_key("input_audio"));
    }

    #[test]
    fn reasoning_envelope_round_trips() {
        let mut d = ReasoningDetail::new("reasoning.text", "anthropic-claude-v1", 0);
        d.text = Some("thinking".into());
        d.signature = Some("sig==".into());
        let packed = encode_reasoning_envelope(std::slice::from_ref(&d)).expect("packs");
        assert!(packed.starts_with(ENVELOPE_PREFIX));
        assert_eq!(decode_reasoning_envelope(&packed), Some(vec![d]));
        assert_eq!(decode_reasoning_envelope("gAAAAABopenai"), None);
        assert_eq!(decode_reasoning_envelope("swy1.!!!"), None);
    }

    #[test]
    fn reasoning_budget_follows_effort() {
        let r = ReasoningConfig {
            effort: Some("high".into()),
            ..Default::default()
        };
        assert!(r.wanted());
        assert_eq!(r.budget(10_000), 8_000);
        let off = ReasoningConfig {
            effort: Some("none".into()),
            ..Default::default()
        };
        assert!(!off.wanted());
    }
}
