//! The catalogue as written in TOML. Unknown fields are errors; values are checked when the
//! catalogue is built, with messages that name the exact field (`models[3].endpoints[0].prompt`).

use serde::Deserialize;
use std::collections::BTreeMap;
use switchyard_providers::simulated::SimulationConfig;
use switchyard_providers::Protocol;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Short id used in `provider.order` / `only` / `ignore` (e.g. `openai`, `groq`).
    pub slug: String,
    /// Display name, as in responses' `provider` field (e.g. `OpenAI`).
    pub name: String,
    pub protocol: Protocol,
    #[serde(default)]
    pub base_url: String,
    /// Environment variable holding the API key. When set here, the provider is only active
    /// if that variable is set and non-empty.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Extra headers sent with every request to this provider.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// For `protocol = "simulated"`: pace and failure rate.
    #[serde(default)]
    pub simulation: Option<SimulationConfig>,
    /// Whether the provider may retain or train on prompts (`allow`) or not (`deny`).
    /// Unstated means `allow`, so `provider.data_collection: "deny"` never trusts a guess.
    #[serde(default)]
    pub data_collection: Option<switchyard_api::routing::DataCollection>,
    /// Zero data retention.
    #[serde(default)]
    pub zdr: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// OpenRouter-style `author/slug`.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Unix time the model was released (for `created`).
    #[serde(default)]
    pub created: u64,
    pub context_length: u64,
    #[serde(default = "text_only")]
    pub input_modalities: Vec<String>,
    #[serde(default = "text_only")]
    pub output_modalities: Vec<String>,
    #[serde(default = "other_tokenizer")]
    pub tokenizer: String,
    #[serde(default)]
    pub endpoints: Vec<EndpointConfig>,
}

fn text_only() -> Vec<String> {
    vec!["text".into()]
}

fn other_tokenizer() -> String {
    "Other".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// A provider `slug`.
    pub provider: String,
    /// The model's id at the provider (e.g. `gpt-4o-2024-08-06`).
    pub upstream_id: String,
    /// USD per prompt token, as a decimal string.
    pub prompt: String,
    /// USD per completion token.
    pub completion: String,
    /// USD per request.
    #[serde(default)]
    pub request: Option<String>,
    /// USD per input image.
    #[serde(default)]
    pub image: Option<String>,
    /// USD per cached prompt token read.
    #[serde(default)]
    pub input_cache_read: Option<String>,
    /// USD per prompt token written to the cache.
    #[serde(default)]
    pub input_cache_write: Option<String>,
    /// USD per reasoning token, when it differs from `completion`.
    #[serde(default)]
    pub internal_reasoning: Option<String>,
    /// Defaults to the model's.
    #[serde(default)]
    pub context_length: Option<u64>,
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    /// Request parameters this endpoint honours; defaults by protocol.
    #[serde(default)]
    pub supported_parameters: Option<Vec<String>>,
    #[serde(default)]
    pub quantization: Option<String>,
    /// Slug that `provider.order` / `only` / `ignore` match; defaults to the provider's slug.
    /// A suffixed tag (`together/turbo`) is also matched by its base slug (`together`).
    #[serde(default)]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl CatalogConfig {
    pub fn from_toml(text: &str) -> Result<CatalogConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// This catalogue over `base`: entries here come first and keep their positions (so an
    /// error names the same `models[i]` as the file it came from); entries of `base` follow,
    /// except those replaced here (same model id or provider slug).
    pub fn over(mut self, base: CatalogConfig) -> CatalogConfig {
        let providers: Vec<_> = base
            .providers
            .into_iter()
            .filter(|p| !self.providers.iter().any(|x| x.slug == p.slug))
            .collect();
        let models: Vec<_> = base
            .models
            .into_iter()
            .filter(|m| !self.models.iter().any(|x| x.id == m.id))
            .collect();
        self.providers.extend(providers);
        self.models.extend(models);
        self
    }
}
