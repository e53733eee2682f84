//! The validated catalogue the hot path reads: built once from configuration, then shared.

use crate::config::{CatalogConfig, ConfigError, EndpointConfig};
use crate::pricing::Prices;
use std::collections::HashMap;
use std::sync::Arc;
use switchyard_api::models::{
    Architecture, EndpointsResponse, Model, ModelEndpoints, ModelLinks, PublicEndpoint,
    ToolChoiceSupport, TopProvider,
};
use switchyard_api::routing::DataCollection;
use switchyard_api::Money;
use switchyard_providers::simulated::SimulationConfig;
use switchyard_providers::{Protocol, Target};

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("*****")
    }
}

#[derive(Debug)]
pub struct Provider {
    pub slug: String,
    pub name: String,
    pub protocol: Protocol,
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub headers: Vec<(String, String)>,
    pub simulation: SimulationConfig,
    pub data_collection: DataCollection,
    pub zdr: bool,
}

#[derive(Debug)]
pub struct Endpoint {
    /// Position among all endpoints of the catalogue (health and stats are kept by it).
    pub index: usize,
    /// What routing preferences match: the provider slug, or a suffixed tag.
    pub tag: String,
    pub model_id: String,
    pub model_name: String,
    pub provider: Arc<Provider>,
    pub upstream_id: String,
    pub prices: Prices,
    pub context_length: u64,
    pub max_completion_tokens: Option<u64>,
    pub supported_parameters: Vec<String>,
    pub quantization: Option<String>,
}

impl Endpoint {
    /// OpenRouter's slug matching: `together` matches `together` and `together/turbo`;
    /// `together/turbo` matches only that; display names match too. Case-insensitive.
    pub fn matches(&self, slug: &str) -> bool {
        let s = slug.trim();
        let tag = self.tag.as_str();
        tag.eq_ignore_ascii_case(s)
            // `get`: a client's slug may end inside a multi-byte character of the tag.
            || (tag
                .get(..s.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(s))
                && tag.as_bytes().get(s.len()) == Some(&b'/'))
            || self.provider.slug.eq_ignore_ascii_case(s)
            || self.provider.name.eq_ignore_ascii_case(s)
    }

    /// Prompt + completion price per token: what "cheapest" means.
    pub fn unit_price(&self) -> Money {
        self.prices.prompt.saturating_add(self.prices.completion)
    }

    pub fn is_free(&self) -> bool {
        self.prices.prompt.is_zero()
            && self.prices.completion.is_zero()
            && self.prices.request.is_zero()
    }

    pub fn supports(&self, param: &str) -> bool {
        self.supported_parameters.iter().any(|p| p == param)
    }

    pub fn target(&self) -> Target<'_> {
        Target {
            protocol: self.provider.protocol,
            base_url: &self.provider.base_url,
            api_key: self.provider.api_key.as_ref().map(Secret::expose),
            upstream_model: &self.upstream_id,
            headers: &self.provider.headers,
            simulation: &self.provider.simulation,
        }
    }
}

#[derive(Debug)]
pub struct ModelEntry {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created: u64,
    pub context_length: u64,
    pub input_modalities: Vec<String>,
    pub output_modalities: Vec<String>,
    pub tokenizer: String,
    /// Active endpoints only, in configuration order.
    pub endpoints: Vec<Arc<Endpoint>>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    models: Vec<Arc<ModelEntry>>,
    endpoint_count: usize,
    /// Declared models none of whose providers is active (no key set): 503, not 404.
    inactive: std::collections::HashSet<String>,
    by_id: HashMap<String, usize>,
    /// Provider-native names of the models (`claude-sonnet-4-5`, `gpt-4o`), for clients that
    /// send them as they would to the provider itself (Claude Code, the Anthropic and OpenAI
    /// SDKs with only the base URL changed). `None`: the name is ambiguous.
    aliases: HashMap<String, Option<usize>>,
    providers: Vec<Arc<Provider>>,
}

const OPENAI_PARAMS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "structured_outputs",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
];
const ANTHROPIC_PARAMS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "response_format",
    "structured_outputs",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "include_reasoning",
];
const GEMINI_PARAMS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
    "structured_outputs",
    "tools",
    "tool_choice",
    "reasoning",
    "include_reasoning",
];

/// What an embedding endpoint takes: every one gets both encodings (the gateway converts);
/// `input_type` means something to Gemini only, and `user` to OpenAI-style servers.
fn default_embedding_params(p: Protocol) -> Vec<String> {
    let list: &[&str] = match p {
        Protocol::Gemini => &["dimensions", "encoding_format", "input_type"],
        Protocol::Simulated => &["dimensions", "encoding_format"],
        Protocol::Openai | Protocol::Anthropic => &["dimensions", "encoding_format", "user"],
    };
    list.iter().map(|s| s.to_string()).collect()
}

fn default_params(p: Protocol) -> Vec<String> {
    let list = match p {
        Protocol::Openai => OPENAI_PARAMS,
        Protocol::Anthropic => ANTHROPIC_PARAMS,
        Protocol::Gemini => GEMINI_PARAMS,
        Protocol::Simulated => OPENAI_PARAMS,
    };
    list.iter().map(|s| s.to_string()).collect()
}

fn price(field: String, value: &str) -> Result<Money, ConfigError> {
    let m = Money::parse(value).map_err(|e| ConfigError::invalid(&field, e.to_string()))?;
    if m < Money::ZERO {
        return Err(ConfigError::invalid(field, "prices cannot be negative"));
    }
    Ok(m)
}

fn opt_price(field: String, value: Option<&String>) -> Result<Option<Money>, ConfigError> {
    value.map(|v| price(field, v)).transpose()
}

fn prices(at: &str, e: &EndpointConfig) -> Result<Prices, ConfigError> {
    Ok(Prices {
        prompt: price(format!("{at}.prompt"), &e.prompt)?,
        completion: price(format!("{at}.completion"), &e.completion)?,
        request: opt_price(format!("{at}.request"), e.request.as_ref())?.unwrap_or_default(),
        image: opt_price(format!("{at}.image"), e.image.as_ref())?.unwrap_or_default(),
        input_cache_read: opt_price(
            format!("{at}.input_cache_read"),
            e.input_cache_read.as_ref(),
        )?,
        input_cache_write: opt_price(
            format!("{at}.input_cache_write"),
            e.input_cache_write.as_ref(),
        )?,
        internal_reasoning: opt_price(
            format!("{at}.internal_reasoning"),
            e.internal_reasoning.as_ref(),
        )?,
    })
}

/// `name` without a trailing `-YYYYMMDD` or `-latest`.
fn strip_version_suffix(name: &str) -> &str {
    if let Some(base) = name.strip_suffix("-latest") {
        return base;
    }
    match name.rsplit_once('-') {
        Some((base, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

/// Every provider-native name of every model, mapped to it; a name two models share maps to
/// nothing, and a name that is itself a model id is never an alias.
fn aliases(
    models: &[Arc<ModelEntry>],
    by_id: &HashMap<String, usize>,
) -> HashMap<String, Option<usize>> {
    let mut out: HashMap<String, Option<usize>> = HashMap::new();
    for (i, m) in models.iter().enumerate() {
        let short = m.id.split_once('/').map_or(m.id.as_str(), |(_, s)| s);
        let mut names = vec![short.to_string(), short.replace('.', "-")];
        for e in &m.endpoints {
            if !e.upstream_id.contains('/') {
                names.push(e.upstream_id.clone());
                names.push(strip_version_suffix(&e.upstream_id).to_string());
            }
        }
        names.sort();
        names.dedup();
        for n in names {
            if n.is_empty() || by_id.contains_key(&n) {
                continue;
            }
            out.entry(n)
                .and_modify(|v| {
                    if *v != Some(i) {
                        *v = None;
                    }
                })
                .or_insert(Some(i));
        }
    }
    out
}

impl Catalog {
    /// Validates a catalogue. `env` looks up environment variables (API keys); a provider whose
    /// `api_key_env` is unset is inactive, and its endpoints are left out.
    pub fn build(
        cfg: &CatalogConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Catalog, ConfigError> {
        let mut providers: HashMap<&str, Option<Arc<Provider>>> = HashMap::new();
        let mut active = Vec::new();
        for (i, p) in cfg.providers.iter().enumerate() {
            let at = format!("providers[{i}]");
            if p.slug.is_empty()
                || !p
                    .slug
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/.".contains(c))
            {
                return Err(ConfigError::invalid(
                    format!("{at}.slug"),
                    "use letters, digits, '-', '_' or '.'",
                ));
            }
            if providers.contains_key(p.slug.as_str()) {
                return Err(ConfigError::invalid(
                    format!("{at}.slug"),
                    format!("`{}` is declared twice", p.slug),
                ));
            }
            if p.protocol != Protocol::Simulated
                && !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://"))
            {
                return Err(ConfigError::invalid(
                    format!("{at}.base_url"),
                    "must be an http:// or https:// URL",
                ));
            }
            if p.simulation.is_some() && p.protocol != Protocol::Simulated {
                return Err(ConfigError::invalid(
                    format!("{at}.simulation"),
                    "only for protocol = \"simulated\"",
                ));
            }
            let api_key = match &p.api_key_env {
                Some(var) => match env(var).filter(|v| !v.trim().is_empty()) {
                    Some(v) => Some(Secret(v.trim().to_string())),
                    None => {
                        providers.insert(&p.slug, None);
                        continue;
                    }
                },
                None => None,
            };
            let provider = Arc::new(Provider {
                slug: p.slug.clone(),
                name: p.name.clone(),
                protocol: p.protocol,
                base_url: p.base_url.clone(),
                api_key,
                headers: p
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                simulation: p.simulation.clone().unwrap_or_default(),
                data_collection: p.data_collection.unwrap_or(DataCollection::Allow),
                zdr: p.zdr,
            });
            active.push(provider.clone());
            providers.insert(&p.slug, Some(provider));
        }

        let mut models = Vec::new();
        let mut by_id = HashMap::new();
        let mut inactive = std::collections::HashSet::new();
        let mut endpoint_count = 0;
        for (i, m) in cfg.models.iter().enumerate() {
            let at = format!("models[{i}]");
            let valid_id =
                m.id.split_once('/')
                    .is_some_and(|(a, s)| !a.is_empty() && !s.is_empty())
                    && !m.id.contains(char::is_whitespace)
                    && !m.id.contains(':');
            if !valid_id {
                return Err(ConfigError::invalid(
                    format!("{at}.id"),
                    format!("`{}` must look like `author/slug`", m.id),
                ));
            }
            if by_id.contains_key(&m.id) {
                return Err(ConfigError::invalid(
                    format!("{at}.id"),
                    format!("`{}` is declared twice", m.id),
                ));
            }
            if m.context_length == 0 {
                return Err(ConfigError::invalid(
                    format!("{at}.context_length"),
                    "must be positive",
                ));
            }
            let embedding = m.output_modalities.iter().any(|o| o == EMBEDDINGS);
            if embedding && m.output_modalities.len() > 1 {
                return Err(ConfigError::invalid(
                    format!("{at}.output_modalities"),
                    "an embedding model outputs `embeddings` only",
                ));
            }
            let mut endpoints = Vec::new();
            for (j, e) in m.endpoints.iter().enumerate() {
                let eat = format!("{at}.endpoints[{j}]");
                let provider = match providers.get(e.provider.as_str()) {
                    Some(Some(p)) if embedding && p.protocol == Protocol::Anthropic => {
                        return Err(ConfigError::invalid(
                            format!("{eat}.provider"),
                            format!(
                                "`{}` speaks the Anthropic protocol, which has no embeddings",
                                p.slug
                            ),
                        ))
                    }
                    None => {
                        return Err(ConfigError::invalid(
                            format!("{eat}.provider"),
                            format!("no provider with slug `{}` is declared", e.provider),
                        ))
                    }
                    Some(None) => {
                        // Validate prices even for inactive providers, so a typo shows at once.
                        prices(&eat, e)?;
                        continue;
                    }
                    Some(Some(p)) => p.clone(),
                };
                if e.upstream_id.is_empty() {
                    return Err(ConfigError::invalid(
                        format!("{eat}.upstream_id"),
                        "must not be empty",
                    ));
                }
                endpoint_count += 1;
                endpoints.push(Arc::new(Endpoint {
                    index: endpoint_count - 1,
                    tag: e.tag.clone().unwrap_or_else(|| provider.slug.clone()),
                    model_id: m.id.clone(),
                    model_name: m.name.clone(),
                    prices: prices(&eat, e)?,
                    context_length: e.context_length.unwrap_or(m.context_length),
                    max_completion_tokens: e.max_completion_tokens,
                    supported_parameters: e.supported_parameters.clone().unwrap_or_else(|| {
                        if embedding {
                            default_embedding_params(provider.protocol)
                        } else {
                            default_params(provider.protocol)
                        }
                    }),
                    quantization: e.quantization.clone(),
                    upstream_id: e.upstream_id.clone(),
                    provider,
                }));
            }
            if endpoints.is_empty() {
                inactive.insert(m.id.clone());
                continue;
            }
            by_id.insert(m.id.clone(), models.len());
            models.push(Arc::new(ModelEntry {
                id: m.id.clone(),
                name: m.name.clone(),
                description: m.description.clone(),
                created: m.created,
                context_length: m.context_length,
                input_modalities: m.input_modalities.clone(),
                output_modalities: m.output_modalities.clone(),
                tokenizer: m.tokenizer.clone(),
                endpoints,
            }));
        }
        let aliases = aliases(&models, &by_id);
        Ok(Catalog {
            models,
            endpoint_count,
            inactive,
            by_id,
            aliases,
            providers: active,
        })
    }

    pub fn model(&self, id: &str) -> Option<&Arc<ModelEntry>> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    /// The catalogue id a client means by `name`: the id itself, or the model whose
    /// provider-native name it is — an endpoint's upstream id, or the id's part after the
    /// author with `-` for `.` (`claude-sonnet-4-5` for `anthropic/claude-sonnet-4.5`), with
    /// or without a trailing date (`-20250929`) or `-latest`. `None` when unknown or ambiguous.
    pub fn resolve<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        if self.by_id.contains_key(name) {
            return Some(name);
        }
        let undated = strip_version_suffix(name);
        [name, undated]
            .into_iter()
            .find_map(|n| self.aliases.get(n).copied().flatten())
            .and_then(|i| self.models.get(i))
            .map(|m| m.id.as_str())
    }

    /// Whether the model is declared but has no active provider.
    pub fn is_inactive(&self, id: &str) -> bool {
        self.inactive.contains(id)
    }

    pub fn models(&self) -> &[Arc<ModelEntry>] {
        &self.models
    }

    /// How many active endpoints there are (indices run from 0 to this).
    pub fn endpoint_count(&self) -> usize {
        self.endpoint_count
    }

    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// Every credential the catalogue sends upstream, for the client to scrub from what comes
    /// back: each provider's key, and the values of extra headers whose names say they carry
    /// one (`Authorization`, `api-key`, `X-Auth-Token`, …), also without their scheme
    /// (`Bearer `, `Basic `), since an upstream may quote only the credential.
    pub fn secrets(&self) -> switchyard_providers::Secrets {
        let credential = |name: &str| {
            let name = name.to_ascii_lowercase();
            ["auth", "key", "token", "secret"]
                .iter()
                .any(|w| name.contains(w))
        };
        let mut out = Vec::new();
        for p in &self.providers {
            if let Some(k) = &p.api_key {
                out.push(k.expose().to_string());
            }
            for (_, value) in p.headers.iter().filter(|(n, _)| credential(n)) {
                out.push(value.clone());
                if let Some((_, bare)) = value.trim().split_once(' ') {
                    out.push(bare.to_string());
                }
            }
        }
        switchyard_providers::Secrets::new(out)
    }
}

/// The output modality that makes a model an embedding model (OpenRouter's word for it).
pub const EMBEDDINGS: &str = "embeddings";

impl ModelEntry {
    /// Served by `POST /embeddings` and never by chat (and the reverse for every other model).
    pub fn is_embedding(&self) -> bool {
        self.output_modalities.iter().any(|o| o == EMBEDDINGS)
    }

    pub fn is_simulated(&self) -> bool {
        self.endpoints
            .iter()
            .all(|e| e.provider.protocol == Protocol::Simulated)
    }

    fn architecture(&self) -> Architecture {
        Architecture {
            modality: format!(
                "{}->{}",
                self.input_modalities.join("+"),
                self.output_modalities.join("+")
            ),
            input_modalities: self.input_modalities.clone(),
            output_modalities: self.output_modalities.clone(),
            tokenizer: self.tokenizer.clone(),
            instruct_type: None,
        }
    }

    /// The cheapest active endpoint stands for the model in `GET /models`.
    fn top(&self) -> Option<&Arc<Endpoint>> {
        self.endpoints
            .iter()
            .min_by_key(|e| e.prices.prompt.saturating_add(e.prices.completion))
    }

    pub fn to_api(&self) -> Model {
        let top = self.top();
        let mut params: Vec<String> = Vec::new();
        // The spec's `supported_parameters` enum names chat parameters only: an embedding
        // model's (`dimensions`, `encoding_format`…) would fail every SDK's validation.
        for e in self.endpoints.iter().filter(|_| !self.is_embedding()) {
            for p in &e.supported_parameters {
                if !params.contains(p) {
                    params.push(p.clone());
                }
            }
        }
        Model {
            id: self.id.clone(),
            canonical_slug: self.id.clone(),
            name: self.name.clone(),
            created: self.created,
            description: self.description.clone(),
            context_length: Some(self.context_length),
            architecture: self.architecture(),
            pricing: top.map(|e| e.prices.to_api()).unwrap_or_default(),
            top_provider: TopProvider {
                context_length: top.map(|e| e.context_length),
                max_completion_tokens: top.and_then(|e| e.max_completion_tokens),
                is_moderated: false,
            },
            per_request_limits: None,
            default_parameters: None,
            supported_voices: None,
            supported_parameters: params,
            links: ModelLinks {
                details: format!("/api/v1/models/{}/endpoints", self.id),
            },
        }
    }

    /// One of this model's endpoints as `GET /models/{author}/{slug}/endpoints` and
    /// `GET /endpoints/zdr` show it.
    pub fn public_endpoint(&self, e: &Endpoint, st: &crate::health::Stats) -> PublicEndpoint {
        PublicEndpoint {
            name: format!("{} | {}", e.provider.name, e.upstream_id),
            model_id: self.id.clone(),
            model_name: self.name.clone(),
            context_length: e.context_length,
            pricing: e.prices.to_api(),
            provider_name: e.provider.name.clone(),
            tag: e.provider.slug.clone(),
            quantization: e.quantization.clone(),
            max_completion_tokens: e.max_completion_tokens,
            max_prompt_tokens: Some(e.context_length),
            supported_parameters: if self.is_embedding() {
                vec![]
            } else {
                e.supported_parameters.clone()
            },
            status: 0,
            uptime_last_5m: st.uptime_5m,
            uptime_last_30m: st.uptime_30m,
            uptime_last_1d: st.uptime_1d,
            supports_implicit_caching: e.prices.input_cache_read.is_some(),
            latency_last_30m: st.latency_30m.clone(),
            throughput_last_30m: st.throughput_30m.clone(),
            // Every adapter maps each `tool_choice` value (`auto`, `none`, `required`, a named
            // function) to its protocol, so an endpoint that takes the parameter takes them all.
            supports_tool_choice: {
                let all = e.supports("tool_choice");
                ToolChoiceSupport {
                    auto: all,
                    function: all,
                    none: all,
                    required: all,
                }
            },
            native_tools: serde_json::Map::new(),
            service_tier: None,
            supports_diarization: false,
        }
    }

    /// `stats` gives the live statistics of an endpoint by its index.
    pub fn endpoints_api(
        &self,
        stats: &dyn Fn(usize) -> crate::health::Stats,
    ) -> EndpointsResponse {
        EndpointsResponse {
            data: ModelEndpoints {
                id: self.id.clone(),
                name: self.name.clone(),
                created: self.created,
                description: self.description.clone(),
                architecture: self.architecture(),
                endpoints: self
                    .endpoints
                    .iter()
                    .map(|e| self.public_endpoint(e, &stats(e.index)))
                    .collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DEFAULT_CATALOG, DEMO_CATALOG};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn all_keys(_: &str) -> Option<String> {
        Some("k".into())
    }

    #[test]
    fn shipped_catalogues_are_valid_and_large_enough() {
        let cfg = CatalogConfig::from_toml(DEFAULT_CATALOG).expect("default catalogue parses");
        assert!(cfg.models.len() >= 30, "{} models", cfg.models.len());
        assert!(cfg.providers.len() >= 8);
        let with_keys = Catalog::build(&cfg, &all_keys).expect("valid");
        assert_eq!(with_keys.models().len(), cfg.models.len());
        // Without keys, nothing is active: the default catalogue never calls out unasked.
        assert!(Catalog::build(&cfg, &no_env)
            .expect("valid")
            .models()
            .is_empty());
        let demo = Catalog::build(
            &CatalogConfig::from_toml(DEMO_CATALOG).expect("parses"),
            &no_env,
        )
        .expect("valid");
        assert!(demo.models().len() >= 2);
        assert!(demo
            .models()
            .iter()
            .all(|m| m.is_simulated() && m.name.contains("simulated")));
    }

    #[test]
    fn provider_native_names_resolve_to_their_models() {
        let cfg = CatalogConfig::from_toml(DEFAULT_CATALOG).expect("parses");
        let cat = Catalog::build(&cfg, &all_keys).expect("valid");
        // As Claude Code, the Anthropic SDK and the OpenAI SDK send them.
        for (name, id) in [
            ("anthropic/claude-sonnet-4.5", "anthropic/claude-sonnet-4.5"),
            ("claude-sonnet-4-5", "anthropic/claude-sonnet-4.5"),
            ("claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5"),
            ("claude-sonnet-4.5", "anthropic/claude-sonnet-4.5"),
            ("claude-haiku-4-5-20251001", "anthropic/claude-haiku-4.5"),
            ("claude-sonnet-4-20250514", "anthropic/claude-sonnet-4"),
            ("claude-sonnet-4", "anthropic/claude-sonnet-4"),
            ("gpt-5", "openai/gpt-5"),
            ("gpt-5-mini", "openai/gpt-5-mini"),
        ] {
            assert_eq!(cat.resolve(name), Some(id), "{name}");
        }
        assert_eq!(cat.resolve("claude-nonexistent-9"), None);
        assert_eq!(cat.resolve("nope/nope"), None);
    }

    #[test]
    fn an_ambiguous_native_name_resolves_to_nothing() {
        let toml = r#"
[[providers]]
slug = "o"
name = "O"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
id = "a/m"
name = "A"
context_length = 8192
endpoints = [{ provider = "o", upstream_id = "shared", prompt = "0", completion = "0" }]
[[models]]
id = "b/m"
name = "B"
context_length = 8192
endpoints = [{ provider = "o", upstream_id = "shared", prompt = "0", completion = "0" }]
"#;
        let cat = Catalog::build(&CatalogConfig::from_toml(toml).expect("parses"), &no_env)
            .expect("valid");
        assert_eq!(cat.resolve("shared"), None);
        assert_eq!(cat.resolve("m"), None);
        assert_eq!(cat.resolve("a/m"), Some("a/m"));
    }

    #[test]
    fn only_providers_with_keys_are_active() {
        let cfg = CatalogConfig::from_toml(DEFAULT_CATALOG).expect("parses");
        let only_groq = |v: &str| (v == "GROQ_API_KEY").then(|| "gsk".to_string());
        let cat = Catalog::build(&cfg, &only_groq).expect("valid");
        assert!(!cat.models().is_empty());
        assert!(cat
            .models()
            .iter()
            .flat_map(|m| &m.endpoints)
            .all(|e| e.provider.slug == "groq"));
        assert_eq!(format!("{:?}", cat.providers()[0].api_key), "Some(*****)");
    }

    #[test]
    fn embedding_models_get_embedding_parameters_and_no_anthropic() {
        let toml = r#"
[[providers]]
slug = "o"
name = "O"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"
[[providers]]
slug = "g"
name = "G"
protocol = "gemini"
base_url = "http://127.0.0.1:9/v1beta"
[[providers]]
slug = "a"
name = "A"
protocol = "anthropic"
base_url = "http://127.0.0.1:9/v1"

[[models]]
id = "x/embed"
name = "E"
context_length = 8192
output_modalities = ["embeddings"]
endpoints = [
  { provider = "o", upstream_id = "e", prompt = "0.00000002", completion = "0" },
  { provider = "g", upstream_id = "e", prompt = "0.00000015", completion = "0" },
]
"#;
        let cat = Catalog::build(&CatalogConfig::from_toml(toml).expect("parses"), &no_env)
            .expect("valid");
        let m = cat.model("x/embed").expect("declared");
        assert!(m.is_embedding());
        assert_eq!(m.to_api().architecture.modality, "text->embeddings");
        assert_eq!(
            m.endpoints[0].supported_parameters,
            ["dimensions", "encoding_format", "user"]
        );
        assert!(m.endpoints[1].supports("input_type"));
        let anthropic = toml.replace("provider = \"g\"", "provider = \"a\"");
        let err = Catalog::build(
            &CatalogConfig::from_toml(&anthropic).expect("parses"),
            &no_env,
        )
        .expect_err("no embeddings there");
        assert!(err.to_string().contains("endpoints[1].provider"), "{err}");
        let mixed = toml.replace(r#"["embeddings"]"#, r#"["text", "embeddings"]"#);
        assert!(
            Catalog::build(&CatalogConfig::from_toml(&mixed).expect("parses"), &no_env)
                .is_err_and(|e| e.to_string().contains("output_modalities"))
        );
    }

    #[test]
    fn slug_matching_never_splits_a_character() {
        let toml = r#"
[[providers]]
slug = "p"
name = "P"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"

[[models]]
id = "a/m"
name = "M"
context_length = 100
endpoints = [{ provider = "p", upstream_id = "m", prompt = "0", completion = "0", tag = "pé/turbo" }]
"#;
        let cfg = CatalogConfig::from_toml(toml).expect("parses");
        let cat = Catalog::build(&cfg, &|_: &str| None).expect("valid");
        let ep = &cat.models()[0].endpoints[0];
        // "px" is two bytes; the tag's second character is two bytes wide: no slicing inside it.
        assert!(!ep.matches("px"));
        assert!(ep.matches("pé"));
        assert!(ep.matches("PÉ/TURBO") || ep.matches("pé/turbo"));
        assert!(ep.matches("p"));
    }

    #[test]
    fn secrets_are_every_key_and_credential_header() {
        let cfg = r#"
            [[providers]]
            slug = "a"
            name = "A"
            protocol = "openai"
            base_url = "http://localhost:1"
            api_key_env = "A_KEY"
            headers = { "anthropic-beta" = "tools-2024", "X-Auth-Token" = "Bearer tok-123456789" }
            [[providers]]
            slug = "b"
            name = "B"
            protocol = "anthropic"
            base_url = "http://localhost:2"
            api_key_env = "B_KEY"
            [[providers]]
            slug = "c"
            name = "C"
            protocol = "gemini"
            base_url = "http://localhost:3"
            api_key_env = "UNSET"
        "#;
        let env = |v: &str| match v {
            "A_KEY" => Some("key-of-a".to_string()),
            "B_KEY" => Some(" key-of-b ".to_string()),
            _ => None,
        };
        let cat =
            Catalog::build(&CatalogConfig::from_toml(cfg).expect("parses"), &env).expect("valid");
        let s = cat.secrets();
        assert_eq!(s.len(), 4, "{s:?}");
        assert_eq!(
            s.redact("key-of-a key-of-b tok-123456789 tools-2024"),
            "[REDACTED] [REDACTED] [REDACTED] tools-2024"
        );
    }

    #[test]
    fn errors_name_the_exact_field() {
        let bad_price = r#"
            [[providers]]
            slug = "p"
            name = "P"
            protocol = "openai"
            base_url = "http://localhost:1"
            [[models]]
            id = "a/b"
            name = "B"
            context_length = 1000
            [[models.endpoints]]
            provider = "p"
            upstream_id = "b"
            prompt = "0.000001"
            completion = "cheap"
        "#;
        let err = Catalog::build(
            &CatalogConfig::from_toml(bad_price).expect("parses"),
            &no_env,
        )
        .expect_err("bad price");
        assert!(
            err.to_string()
                .contains("models[0].endpoints[0].completion"),
            "{err}"
        );

        let unknown_provider = bad_price
            .replace("provider = \"p\"", "provider = \"q\"")
            .replace("cheap", "0.1");
        let err = Catalog::build(
            &CatalogConfig::from_toml(&unknown_provider).expect("parses"),
            &no_env,
        )
        .expect_err("unknown provider");
        assert!(
            err.to_string().contains("models[0].endpoints[0].provider"),
            "{err}"
        );

        let typo = bad_price.replace("upstream_id", "upstream_model");
        let err = CatalogConfig::from_toml(&typo).expect_err("unknown field");
        assert!(err.to_string().contains("upstream_model"), "{err}");

        let bad_url = bad_price
            .replace("http://localhost:1", "localhost:1")
            .replace("cheap", "0.1");
        let err = Catalog::build(
            &CatalogConfig::from_toml(&bad_url).expect("parses"),
            &no_env,
        )
        .expect_err("url");
        assert!(err.to_string().contains("providers[0].base_url"), "{err}");
    }
}
