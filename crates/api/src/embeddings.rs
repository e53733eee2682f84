//! OpenRouter's (and OpenAI's) `POST /embeddings`: text or token ids in, one vector per input
//! out. Vectors are `f32`, as every provider computes and OpenAI's base64 form encodes them.

use crate::chat::{CostDetails, Extra};
use crate::money::Money;
use crate::routing::ProviderPreferences;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// OpenAI's limit on inputs per request; it also bounds what one request makes the gateway
/// hold (one vector per input).
pub const MAX_INPUTS: usize = 2048;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub input: EmbeddingInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// `search_query`, `search_document`, …: what the vectors are for (Gemini's task type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<String>,
    /// Read by the gateway, never forwarded upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderPreferences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields this version does not know: forwarded to OpenAI-compatible servers, as in chat.
    #[serde(flatten)]
    pub extra: Extra,
}

impl EmbeddingsRequest {
    pub fn wants_base64(&self) -> bool {
        self.encoding_format == Some(EncodingFormat::Base64)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    Float,
    Base64,
}

/// The four shapes OpenAI accepts. Multimodal inputs (OpenRouter's `content` parts) are
/// refused at parse time: no configured protocol can carry them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum EmbeddingInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many vectors the answer must hold.
    pub fn count(&self) -> usize {
        match self {
            EmbeddingInput::Text(_) | EmbeddingInput::Tokens(_) => 1,
            EmbeddingInput::Texts(t) => t.len(),
            EmbeddingInput::TokenLists(t) => t.len(),
        }
    }

    /// One input, not a list of them (Gemini's `embedContent` rather than its batch call).
    pub fn is_single(&self) -> bool {
        matches!(self, EmbeddingInput::Text(_) | EmbeddingInput::Tokens(_))
    }

    /// The texts, or `None` for token ids (which only OpenAI-compatible servers take).
    pub fn texts(&self) -> Option<Vec<&str>> {
        match self {
            EmbeddingInput::Text(t) => Some(vec![t.as_str()]),
            EmbeddingInput::Texts(ts) => Some(ts.iter().map(String::as_str).collect()),
            EmbeddingInput::Tokens(_) | EmbeddingInput::TokenLists(_) => None,
        }
    }

    /// Every text joined, for the fault directives of the simulated and fake providers.
    pub fn joined_text(&self) -> String {
        self.texts().map(|t| t.join("\n")).unwrap_or_default()
    }

    /// At most this many tokens, since the reservation caps the charge: two UTF-8 bytes a
    /// token for text (as for chat prompts: dense scripts stay under it), each input rounded
    /// up; token ids count themselves.
    pub fn prompt_upper_bound(&self) -> u64 {
        self.per_input(|t| len(t).div_ceil(2))
    }

    /// The tokens to bill when the provider reports none: four characters a token, the rule
    /// of thumb providers publish. Never more than [`Self::prompt_upper_bound`].
    pub fn estimated_tokens(&self) -> u64 {
        self.per_input(|t| len_chars(t).div_ceil(4))
    }

    fn per_input(&self, text_tokens: impl Fn(&str) -> u64) -> u64 {
        let count = |ids: &[u32]| u64::try_from(ids.len()).unwrap_or(u64::MAX);
        match self {
            EmbeddingInput::Text(t) => text_tokens(t),
            EmbeddingInput::Texts(ts) => ts
                .iter()
                .fold(0u64, |a, t| a.saturating_add(text_tokens(t))),
            EmbeddingInput::Tokens(ids) => count(ids),
            EmbeddingInput::TokenLists(ls) => {
                ls.iter().fold(0u64, |a, l| a.saturating_add(count(l)))
            }
        }
    }
}

fn len(s: &str) -> u64 {
    u64::try_from(s.len()).unwrap_or(u64::MAX)
}

fn len_chars(s: &str) -> u64 {
    u64::try_from(s.chars().count()).unwrap_or(u64::MAX)
}

impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        classify(v).map_err(serde::de::Error::custom)
    }
}

fn token_id(v: &Value) -> Result<u32, String> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("token ids are integers from 0 to {}, not {v}", u32::MAX))
}

fn token_list(items: &[Value]) -> Result<Vec<u32>, String> {
    if items.is_empty() {
        return Err("a token array must not be empty".into());
    }
    items.iter().map(token_id).collect()
}

/// Which of the four shapes `v` is, with a message naming what is wrong otherwise.
fn classify(v: Value) -> Result<EmbeddingInput, String> {
    let items = match v {
        Value::String(s) if s.is_empty() => return Err("the input text must not be empty".into()),
        Value::String(s) => return Ok(EmbeddingInput::Text(s)),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "expected a string, an array of strings, an array of token ids or an array of token arrays, not {}",
                kind(&other)
            ))
        }
    };
    if items.is_empty() {
        return Err("the input array must not be empty".into());
    }
    if items.len() > MAX_INPUTS {
        return Err(format!(
            "at most {MAX_INPUTS} inputs per request, not {}",
            items.len()
        ));
    }
    match items.first() {
        Some(Value::String(_)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) if !s.is_empty() => Ok(s),
                Value::String(_) => Err(format!("input[{i}] must not be empty")),
                other => Err(format!(
                    "input[{i}] is {}, but input[0] is a string",
                    kind(&other)
                )),
            })
            .collect::<Result<_, _>>()
            .map(EmbeddingInput::Texts),
        Some(Value::Number(_)) => token_list(&items).map(EmbeddingInput::Tokens),
        Some(Value::Array(_)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Array(ids) => token_list(ids).map_err(|e| format!("input[{i}]: {e}")),
                other => Err(format!(
                    "input[{i}] is {}, but input[0] is a token array",
                    kind(other)
                )),
            })
            .collect::<Result<_, _>>()
            .map(EmbeddingInput::TokenLists),
        Some(Value::Object(_)) => Err(
            "multimodal inputs (content parts) are not supported; send text or token ids".into(),
        ),
        Some(other) => Err(format!(
            "input[0] is {}; expected a string, a token id or a token array",
            kind(other)
        )),
        None => Err("the input array must not be empty".into()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a request body, naming the field at fault, as `parse_chat_request` does.
pub fn parse_embeddings_request(body: &[u8]) -> Result<EmbeddingsRequest, String> {
    let req: EmbeddingsRequest = crate::parse_body(body)?;
    if req.model.trim().is_empty() {
        return Err("`model` is required".into());
    }
    if req.dimensions == Some(0) {
        return Err("`dimensions` must be at least 1".into());
    }
    Ok(req)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingsResponse {
    pub object: String,
    pub data: Vec<EmbeddingObject>,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub usage: EmbeddingsUsage,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingObject {
    pub object: String,
    pub embedding: Vector,
    pub index: usize,
}

/// A vector as the client asked for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

impl Vector {
    pub fn new(values: Vec<f32>, format: Option<EncodingFormat>) -> Vector {
        match format {
            Some(EncodingFormat::Base64) => Vector::Base64(encode_base64(&values)),
            _ => Vector::Float(values),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EmbeddingsUsage {
    pub prompt_tokens: u64,
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_details: Option<CostDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_byok: Option<bool>,
}

/// OpenAI's `encoding_format: "base64"`: the vector's `f32`s, little-endian, base64-encoded.
pub fn encode_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The inverse of [`encode_base64`]; `None` if `s` is not base64 of whole `f32`s.
pub fn decode_base64(s: &str) -> Option<Vec<f32>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    bytes
        .chunks_exact(4)
        .map(|c| <[u8; 4]>::try_from(c).ok().map(f32::from_le_bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<EmbeddingsRequest, String> {
        parse_embeddings_request(body.as_bytes())
    }

    #[test]
    fn the_four_input_shapes_parse() {
        let one = parse(r#"{"model":"m","input":"hello world"}"#).expect("text");
        assert_eq!(one.input, EmbeddingInput::Text("hello world".into()));
        assert!(one.input.is_single() && one.input.count() == 1);
        let many = parse(r#"{"model":"m","input":["a","bc"]}"#).expect("texts");
        assert_eq!(many.input.count(), 2);
        assert_eq!(many.input.texts(), Some(vec!["a", "bc"]));
        let ids = parse(r#"{"model":"m","input":[102257, 0]}"#).expect("tokens");
        assert_eq!(ids.input, EmbeddingInput::Tokens(vec![102257, 0]));
        assert!(ids.input.texts().is_none());
        let lists = parse(r#"{"model":"m","input":[[1,2],[3]]}"#).expect("token lists");
        assert_eq!(lists.input.count(), 2);
        assert_eq!(lists.input.prompt_upper_bound(), 3);
        // Serialised back in the shape it came in, for OpenAI-compatible upstreams.
        assert_eq!(
            serde_json::to_value(&lists.input).unwrap_or_default(),
            serde_json::json!([[1, 2], [3]])
        );
    }

    #[test]
    fn bad_inputs_are_refused_with_the_reason() {
        for (body, says) in [
            (r#"{"model":"m","input":""}"#, "must not be empty"),
            (r#"{"model":"m","input":[]}"#, "must not be empty"),
            (
                r#"{"model":"m","input":["a",""]}"#,
                "input[1] must not be empty",
            ),
            (r#"{"model":"m","input":["a",1]}"#, "input[1] is a number"),
            (r#"{"model":"m","input":[1.5]}"#, "token ids are integers"),
            (r#"{"model":"m","input":[-1]}"#, "token ids are integers"),
            (
                r#"{"model":"m","input":[4294967296]}"#,
                "token ids are integers",
            ),
            (
                r#"{"model":"m","input":[[1],[]]}"#,
                "input[1]: a token array must not be empty",
            ),
            (
                r#"{"model":"m","input":[{"content":[{"type":"text","text":"x"}]}]}"#,
                "multimodal",
            ),
            (r#"{"model":"m","input":42}"#, "not a number"),
            (r#"{"model":"m","input":[null]}"#, "input[0] is null"),
            (r#"{"model":"m"}"#, "input"),
            (r#"{"input":"x"}"#, "model"),
            (r#"{"model":" ","input":"x"}"#, "`model` is required"),
            (r#"{"model":"m","input":"x","dimensions":0}"#, "at least 1"),
            (r#"{"model":"m","input":"x","dimensions":-1}"#, "dimensions"),
            (
                r#"{"model":"m","input":"x","encoding_format":"invalid_format"}"#,
                "encoding_format",
            ),
            (
                r#"{"model":"m","input":"x"} trailing"#,
                "invalid request body",
            ),
        ] {
            let err = parse(body).expect_err(body);
            assert!(err.contains(says), "{body}: {err}");
        }
        let too_many = format!(
            r#"{{"model":"m","input":[{}]}}"#,
            vec!["\"a\""; MAX_INPUTS + 1].join(",")
        );
        assert!(parse(&too_many).is_err_and(|e| e.contains("at most 2048")));
    }

    #[test]
    fn token_bounds_cover_the_estimate() {
        let input = EmbeddingInput::Texts(vec!["héllo wörld".into(), "日本語".into()]);
        // 13 bytes → 7, 9 bytes → 5; 11 characters → 3, 3 → 1.
        assert_eq!(input.prompt_upper_bound(), 12);
        assert_eq!(input.estimated_tokens(), 4);
        assert!(input.estimated_tokens() <= input.prompt_upper_bound());
    }

    #[test]
    fn base64_is_little_endian_f32_and_round_trips() {
        let v = [1.0f32, -0.5, 0.0057293195];
        let b = encode_base64(&v);
        assert_eq!(&b[..8], "AACAPwAA", "1.0f32 is 00 00 80 3f");
        assert_eq!(decode_base64(&b), Some(v.to_vec()));
        assert_eq!(decode_base64("AAA="), None, "two bytes are no f32");
        assert_eq!(decode_base64("not base64!"), None);
        let vector = Vector::new(v.to_vec(), Some(EncodingFormat::Base64));
        assert_eq!(vector, Vector::Base64(b));
        assert_eq!(
            serde_json::to_string(&Vector::new(vec![0.25], None)).unwrap_or_default(),
            "[0.25]"
        );
    }
}
