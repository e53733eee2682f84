//! OpenAI's legacy text completions (`POST /completions`) as OpenRouter serves them: a
//! `prompt` in, `choices[].text` out, with OpenRouter's routing fields and `usage.cost`.
//! Known fields are typed; unknown ones are kept in `extra` (and not forwarded: the gateway
//! answers a completion with a chat model, so a completions-only knob means nothing there).

use crate::chat::{Extra, ReasoningConfig, Stop, StreamOptions, Usage};
use crate::error::ErrorBody;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CompletionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Prompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_of: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// How many log probabilities per token: not served (the answer comes from a chat model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,

    // OpenRouter's fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::routing::ProviderPreferences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,

    #[serde(flatten)]
    pub extra: Extra,
}

/// `prompt` in each shape OpenAI accepts. Only [`Prompt::Text`] and a one-element
/// [`Prompt::Texts`] can be served; the others parse so that the refusal can say why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<i64>),
    TokenBatches(Vec<Vec<i64>>),
}

/// A whole answer, and (with `error` possibly set) one stream chunk: OpenAI uses the same
/// `text_completion` object for both.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompletionResponse {
    pub id: String,
    /// Always `text_completion`.
    pub object: String,
    pub created: u64,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    pub choices: Vec<CompletionChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openrouter_metadata: Option<Value>,
}

/// A stream chunk has the response's shape.
pub type CompletionChunk = CompletionResponse;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompletionChoice {
    pub text: String,
    pub index: u32,
    /// Always `null`: log probabilities are not served. Written, as OpenAI does.
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// `stop`, `length`, `content_filter` (`tool_calls` if a model insisted on a tool), or
    /// `error` on a failed stream's last chunk; `null` on the chunks before the last.
    pub finish_reason: Option<crate::chat::FinishReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_finish_reason: Option<String>,
    /// The model's reasoning, when it reasoned and the client did not exclude it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

/// Parses a request body, naming the field at fault (`temperature: invalid type: …`); a body
/// with anything after its JSON value is refused. The prompt's shape is checked by the
/// dialect, which knows what it can serve.
pub fn parse_completion_request(body: &[u8]) -> Result<CompletionRequest, String> {
    let req: CompletionRequest = crate::parse_body(body)?;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prompt_shape_parses() {
        let p = |body: &str| {
            parse_completion_request(body.as_bytes())
                .expect("parses")
                .prompt
        };
        assert_eq!(p(r#"{"prompt":"hi"}"#), Some(Prompt::Text("hi".into())));
        assert_eq!(
            p(r#"{"prompt":["a","b"]}"#),
            Some(Prompt::Texts(vec!["a".into(), "b".into()]))
        );
        assert_eq!(p(r#"{"prompt":[1,2]}"#), Some(Prompt::Tokens(vec![1, 2])));
        assert_eq!(
            p(r#"{"prompt":[[1],[2,3]]}"#),
            Some(Prompt::TokenBatches(vec![vec![1], vec![2, 3]]))
        );
        // An empty array is read as the first shape that fits; the dialect refuses it.
        assert_eq!(p(r#"{"prompt":[]}"#), Some(Prompt::Texts(vec![])));
        assert_eq!(p(r#"{"model":"m"}"#), None);
    }

    #[test]
    fn errors_name_the_field_and_trailing_data_is_refused() {
        let err = parse_completion_request(br#"{"prompt":"x","temperature":"hot"}"#)
            .expect_err("bad temperature");
        assert!(err.contains("`temperature`"), "{err}");
        let err = parse_completion_request(br#"{"prompt":{"text":"x"}}"#).expect_err("object");
        assert!(err.contains("`prompt`"), "{err}");
        let err =
            parse_completion_request(br#"{"prompt":"x","max_tokens":-1}"#).expect_err("negative");
        assert!(err.contains("`max_tokens`"), "{err}");
        let err = parse_completion_request(br#"{"prompt":"x"} {}"#).expect_err("trailing");
        assert!(err.contains("trailing"), "{err}");
        let err = parse_completion_request(b"[1]").expect_err("not an object");
        assert!(err.starts_with("invalid request body"), "{err}");
    }

    #[test]
    fn unknown_fields_are_kept() {
        let req = parse_completion_request(br#"{"prompt":"x","logit_bias":{"50256":-100}}"#)
            .expect("parses");
        assert!(req.extra.contains_key("logit_bias"));
    }

    #[test]
    fn a_response_writes_null_logprobs_and_no_absent_extras() {
        let r = CompletionResponse {
            id: "gen-1".into(),
            object: "text_completion".into(),
            created: 1,
            model: "m".into(),
            provider: None,
            system_fingerprint: None,
            choices: vec![CompletionChoice {
                text: "hi".into(),
                index: 0,
                logprobs: None,
                finish_reason: None,
                native_finish_reason: None,
                reasoning: None,
            }],
            usage: None,
            error: None,
            openrouter_metadata: None,
        };
        let v = serde_json::to_value(&r).expect("serialises");
        assert_eq!(
            v,
            serde_json::json!({"id":"gen-1","object":"text_completion","created":1,"model":"m",
                "choices":[{"text":"hi","index":0,"logprobs":null,"finish_reason":null}]})
        );
    }
}
