//! The catalogue as clients see it: OpenRouter's `Model` and `PublicEndpoint` shapes.

use crate::money::DecimalString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelList {
    pub data: Vec<Model>,
    /// Every model matching, across pages.
    #[serde(default)]
    pub total_count: usize,
    #[serde(default)]
    pub links: ListLinks,
}

impl ModelList {
    /// One page holding every model.
    pub fn whole(data: Vec<Model>) -> ModelList {
        ModelList {
            total_count: data.len(),
            data,
            links: ListLinks::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ListLinks {
    /// The next page; `null` on the last (the catalogue is always one page).
    pub next: Option<String>,
}

/// `GET /models/count`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelCount {
    pub data: Count,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Count {
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Model {
    pub id: String,
    pub canonical_slug: String,
    pub name: String,
    pub created: u64,
    pub description: String,
    pub context_length: Option<u64>,
    pub architecture: Architecture,
    pub pricing: Pricing,
    pub top_provider: TopProvider,
    pub per_request_limits: Option<serde_json::Value>,
    pub supported_parameters: Vec<String>,
    /// Required (nullable) by the spec: the sampling defaults a model's author recommends.
    /// The catalogue records none, so always `null`.
    #[serde(default)]
    pub default_parameters: Option<serde_json::Value>,
    /// Required (nullable): the voices of a speech model; `null` for every other.
    #[serde(default)]
    pub supported_voices: Option<Vec<String>>,
    pub links: ModelLinks,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelLinks {
    pub details: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Architecture {
    pub modality: String,
    pub input_modalities: Vec<String>,
    pub output_modalities: Vec<String>,
    pub tokenizer: String,
    pub instruct_type: Option<String>,
}

/// USD per token (per request for `request`), as decimal strings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Pricing {
    pub prompt: DecimalString,
    pub completion: DecimalString,
    pub request: DecimalString,
    pub image: DecimalString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cache_read: Option<DecimalString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cache_write: Option<DecimalString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_reasoning: Option<DecimalString>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopProvider {
    pub context_length: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub is_moderated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointsResponse {
    pub data: ModelEndpoints,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelEndpoints {
    pub id: String,
    pub name: String,
    pub created: u64,
    pub description: String,
    pub architecture: Architecture,
    pub endpoints: Vec<PublicEndpoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublicEndpoint {
    pub name: String,
    pub model_id: String,
    pub model_name: String,
    pub context_length: u64,
    pub pricing: Pricing,
    pub provider_name: String,
    pub tag: String,
    pub quantization: Option<String>,
    pub max_completion_tokens: Option<u64>,
    pub max_prompt_tokens: Option<u64>,
    pub supported_parameters: Vec<String>,
    pub status: i32,
    pub uptime_last_5m: Option<f64>,
    pub uptime_last_30m: Option<f64>,
    pub uptime_last_1d: Option<f64>,
    pub supports_implicit_caching: bool,
    pub latency_last_30m: Option<PercentileStats>,
    pub throughput_last_30m: Option<PercentileStats>,
    // Not in the spec fixture (2026-08-22), required by the official SDKs 1.3.x
    // (`PublicEndpoint`).
    /// Which `tool_choice` values the endpoint takes.
    #[serde(default)]
    pub supports_tool_choice: ToolChoiceSupport,
    /// Server tools the provider runs natively, by `openrouter:*` name: none here.
    #[serde(default)]
    pub native_tools: serde_json::Map<String, serde_json::Value>,
    /// The service tier the endpoint sells; `null` for a standard one, as every one here is.
    #[serde(default)]
    pub service_tier: Option<String>,
    /// Speaker labels in transcripts: no speech-to-text endpoint here.
    #[serde(default)]
    pub supports_diarization: bool,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ToolChoiceSupport {
    pub auto: bool,
    pub function: bool,
    pub none: bool,
    pub required: bool,
}

/// `GET /providers`: one of the gateway's active providers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProviderInfo {
    pub name: String,
    pub slug: String,
    /// Required (nullable) by the spec; the catalogue does not record these, so `null`.
    pub privacy_policy_url: Option<String>,
    pub terms_of_service_url: Option<String>,
    pub status_page_url: Option<String>,
    pub headquarters: Option<String>,
    pub datacenters: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PercentileStats {
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
}
