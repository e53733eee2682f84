//! Provider adapters. Each wire protocol is one module of pure conversion functions:
//! `build_request` (canonical request → the provider's HTTP request), `decode_response`
//! (the provider's JSON → [`Completion`]) and a [`Decoder`] (the provider's stream events →
//! canonical [`StreamEvent`]s). All I/O lives in [`client`], which drives any protocol the same
//! way; [`simulated`] answers in-process for the demo and never touches the network.
//!
//! - [`openai`]: OpenAI and every OpenAI-compatible API (Groq, Together, Fireworks, DeepSeek,
//!   Mistral, xAI, OpenRouter, vLLM, Ollama, llama.cpp, …).
//! - [`anthropic`]: the Anthropic Messages API.
//! - [`gemini`]: Google Gemini `generateContent` / `streamGenerateContent?alt=sse`, and
//!   `embedContent` / `batchEmbedContents`.
//!
//! Embeddings go the same way: `build_embeddings_request` and `decode_embeddings` in the
//! OpenAI and Gemini modules, [`simulated::embed`] in-process.

pub mod anthropic;
pub mod client;
pub mod error;
pub mod gemini;
pub mod openai;
pub mod redact;
pub mod simulated;
pub mod sse;
mod util;

pub use client::{EventStream, Limits, Timeouts, UpstreamClient};
pub use error::{ProviderError, TimeoutKind};
pub use redact::Secrets;

use serde::{Deserialize, Serialize};
use switchyard_api::chat::{Choice, ChunkChoice};

/// The wire protocol an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OpenAI Chat Completions and everything compatible with it.
    Openai,
    Anthropic,
    Gemini,
    /// In-process simulation: no network, for the demo and for trying routing and billing.
    Simulated,
}

impl Protocol {
    /// The output limit the adapter sends when the client gives none (`None`: the provider's
    /// own default applies).
    pub fn default_max_tokens(self) -> Option<u32> {
        match self {
            Protocol::Anthropic => Some(anthropic::DEFAULT_MAX_TOKENS),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Openai => "openai",
            Protocol::Anthropic => "anthropic",
            Protocol::Gemini => "gemini",
            Protocol::Simulated => "simulated",
        }
    }
}

/// Everything an adapter needs to know about the endpoint it is calling.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub protocol: Protocol,
    pub base_url: &'a str,
    pub api_key: Option<&'a str>,
    pub upstream_model: &'a str,
    /// Extra headers from the provider's configuration (e.g. `anthropic-beta`).
    pub headers: &'a [(String, String)],
    pub simulation: &'a simulated::SimulationConfig,
}

/// Token counts as the upstream reported them. `prompt` includes cached reads and cache
/// writes; `completion` includes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub prompt: u64,
    pub completion: u64,
    pub cached_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub choices: Vec<Choice>,
    pub usage: TokenUsage,
    pub upstream_id: Option<String>,
    pub system_fingerprint: Option<String>,
}

/// A whole embeddings answer: one vector per input, in the inputs' order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u64,
    /// The upstream reported no usage: `prompt_tokens` was estimated from the input.
    pub estimated: bool,
    pub upstream_id: Option<String>,
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A delta of one choice, possibly with its finish reason.
    Choice(ChunkChoice),
    /// Usage so far; the last one seen is the total.
    Usage(TokenUsage),
    /// The upstream's own id for this generation.
    UpstreamId(String),
    /// The upstream's `system_fingerprint` (OpenAI-compatible APIs only), relayed as sent.
    SystemFingerprint(String),
    /// The upstream's own event, as it came, for a client that speaks the same dialect
    /// (an Anthropic Messages client served by an Anthropic endpoint): relayed event for event.
    /// Comes before the canonical events decoded from it, which still drive billing.
    Native(sse::SseEvent),
}

/// An HTTP request ready to send: built by a pure function so it can be checked in tests.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Turns one protocol's stream events into canonical ones.
pub trait Decoder: Send {
    fn event(&mut self, ev: &sse::SseEvent) -> Result<Vec<StreamEvent>, ProviderError>;
    /// Whether the upstream sent its terminal event: nothing after it is read.
    fn is_done(&self) -> bool;
    /// Whether the response is whole if the body ends now.
    fn is_complete(&self) -> bool {
        self.is_done()
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod testutil;
