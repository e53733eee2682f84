//! From a request to the ordered list of endpoints to try, with OpenRouter's semantics:
//!
//! 1. Models: `model`, then each of `models` (a `:variant` suffix changes routing only).
//! 2. Filters that exclude: `only`, `ignore`, `quantizations`, `data_collection: "deny"`,
//!    `zdr`, `max_price`, `:free`, a `max_tokens` beyond the endpoint's limit, image input
//!    the model cannot take, and — with `require_parameters` — any parameter the endpoint
//!    does not support. Endpoints whose circuit breaker is open are left out too.
//! 3. Order within each model (or across all models with `sort.partition: "none"`):
//!    - `order`: the listed providers first, in that order; others after them unless
//!      `allow_fallbacks: false`;
//!    - `sort` (`:nitro` = throughput, `:floor` = price): by that measure;
//!    - otherwise load balancing: among healthy endpoints, the first is drawn at random
//!      weighted by the inverse square of its price, the rest follow cheapest first;
//!    - always: endpoints that support the request's tools / response format before those
//!      that do not, those meeting `preferred_min_throughput` / `preferred_max_latency`
//!      before those that do not, endpoints with a recent outage last;
//!    - a conversation stays on the endpoint that served it (prompt caching) unless
//!      `order` or a sort is given.

use crate::catalog::{Catalog, Endpoint, ModelEntry};
use crate::health::{Availability, HealthBook, Stats};
use crate::sticky::StickyTable;
use rand::{Rng, RngCore};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;
use switchyard_api::chat::{ChatRequest, Content, ToolChoice};
use switchyard_api::embeddings::EmbeddingsRequest;
use switchyard_api::routing::{
    DataCollection, Partition, Percentiles, ProviderPreferences, SortBy,
};
use switchyard_api::Money;

#[derive(Debug, Clone)]
pub struct Plan {
    /// What the client asked for (first of `model` / `models`).
    pub requested: String,
    pub endpoints: Vec<Arc<Endpoint>>,
    /// Endpoints that passed every filter, before ordering and truncation.
    pub available: usize,
    /// Whether the first endpoint was chosen by conversation stickiness.
    pub sticky: bool,
    pub strategy: &'static str,
    /// Ids of `model` / `models` that exist nowhere, left out so that a fallback list still
    /// serves what it can.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub model: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    UnknownModel,
}

impl SkipReason {
    /// OpenRouter's availability code for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnknownModel => "model_not_found",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("`model` is required (or a non-empty `models` list)")]
    MissingModel,
    #[error("`{0}` is not a valid model ID")]
    UnknownModel(String),
    #[error("no provider is available for model `{0}`: set the API key of one of its providers")]
    NoProvider(String),
    /// 404 in OpenRouter's words, naming what no endpoint offers.
    #[error("{message}")]
    NoEndpoints {
        message: String,
        missing: Vec<String>,
    },
    /// A chat request naming an embedding model.
    #[error("`{0}` is an embedding model: send it to /api/v1/embeddings, not /chat/completions")]
    NotForChat(String),
    /// An embeddings request naming a chat model.
    #[error("`{0}` is not an embedding model: /api/v1/embeddings takes the models listed at /api/v1/embeddings/models")]
    NotForEmbeddings(String),
    /// Every candidate's breaker is open.
    #[error("every provider of `{model}` is failing; retry in {retry_after_secs} s")]
    AllDown {
        model: String,
        retry_after_secs: u64,
    },
}

pub struct PlanContext<'a> {
    pub catalog: &'a Catalog,
    pub health: &'a HealthBook,
    pub sticky: &'a StickyTable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    None,
    Nitro,
    Floor,
    Free,
}

fn split_variant(id: &str) -> (&str, Variant) {
    match id.split_once(':') {
        None => (id, Variant::None),
        Some((base, v)) => (
            base,
            match v {
                "nitro" => Variant::Nitro,
                "floor" => Variant::Floor,
                "free" => Variant::Free,
                // :thinking, :extended, :online, :exacto … are accepted and route normally.
                _ => Variant::None,
            },
        ),
    }
}

/// What the request needs from an endpoint.
#[derive(Debug, Default)]
pub struct Needs {
    /// Parameters that must be supported with `require_parameters` (all the request uses).
    pub params: Vec<&'static str>,
    /// Parameters endpoints are preferred for even without it (OpenRouter's defaults).
    pub preferred: Vec<&'static str>,
    pub image_input: bool,
    pub file_input: bool,
    pub max_tokens: Option<u32>,
}

impl Needs {
    pub fn of(req: &ChatRequest) -> Needs {
        let mut n = Needs {
            max_tokens: req.max_output_tokens(),
            ..Default::default()
        };
        let used = |on: bool, p: &'static str, preferred: bool, n: &mut Needs| {
            if on {
                n.params.push(p);
                if preferred {
                    n.preferred.push(p);
                }
            }
        };
        used(
            req.tools.as_ref().is_some_and(|t| !t.is_empty()),
            "tools",
            true,
            &mut n,
        );
        used(
            matches!(&req.tool_choice, Some(ToolChoice::Named(_)))
                || matches!(&req.tool_choice, Some(ToolChoice::Mode(m)) if m == "required"),
            "tool_choice",
            true,
            &mut n,
        );
        used(
            req.response_format.is_some(),
            "response_format",
            true,
            &mut n,
        );
        used(
            req.response_format
                .as_ref()
                .is_some_and(|r| r.kind == "json_schema"),
            "structured_outputs",
            true,
            &mut n,
        );
        used(req.temperature.is_some(), "temperature", false, &mut n);
        used(req.top_p.is_some(), "top_p", false, &mut n);
        used(req.top_k.is_some(), "top_k", false, &mut n);
        used(
            req.frequency_penalty.is_some(),
            "frequency_penalty",
            false,
            &mut n,
        );
        used(
            req.presence_penalty.is_some(),
            "presence_penalty",
            false,
            &mut n,
        );
        used(
            req.repetition_penalty.is_some(),
            "repetition_penalty",
            false,
            &mut n,
        );
        used(req.seed.is_some(), "seed", false, &mut n);
        used(req.stop.is_some(), "stop", false, &mut n);
        used(req.logprobs == Some(true), "logprobs", false, &mut n);
        used(req.top_logprobs.is_some(), "top_logprobs", false, &mut n);
        used(req.reasoning.is_some(), "reasoning", false, &mut n);
        used(
            req.parallel_tool_calls.is_some(),
            "parallel_tool_calls",
            false,
            &mut n,
        );
        for m in &req.messages {
            if let Some(Content::Parts(parts)) = &m.content {
                for p in parts {
                    n.image_input |= p.kind == "image_url";
                    n.file_input |= p.kind == "file";
                }
            }
        }
        n
    }
}

fn supports(ep: &Endpoint, param: &str) -> bool {
    match param {
        "response_format" | "structured_outputs" => {
            ep.supports("response_format") || ep.supports("structured_outputs")
        }
        p => ep.supports(p),
    }
}

fn describe(param: &str) -> &str {
    match param {
        "tools" => "tool use",
        "tool_choice" => "the provided 'tool_choice' value",
        "response_format" | "structured_outputs" => "the requested response format",
        "max_tokens" => "the requested max_tokens",
        "image" => "image input",
        "file" => "file input",
        other => other,
    }
}

struct Candidate {
    ep: Arc<Endpoint>,
    availability: Availability,
    /// Supports the request's preferred parameters (tools, response format).
    preferred: bool,
    /// Meets `preferred_min_throughput` / `preferred_max_latency` (or nothing is known).
    fast_enough: bool,
    stats: Stats,
}

impl Candidate {
    /// Lower is better: unstable endpoints last, then ones lacking preferred parameters,
    /// then ones below the performance preferences.
    fn tier(&self) -> (bool, bool, bool) {
        (
            self.availability == Availability::Unstable,
            !self.preferred,
            !self.fast_enough,
        )
    }
}

fn max_price_ok(ep: &Endpoint, prefs: &ProviderPreferences) -> bool {
    let Some(mp) = prefs.max_price else {
        return true;
    };
    let per_million = |price: Money| price.times(1_000_000);
    mp.prompt.is_none_or(|m| per_million(ep.prices.prompt) <= m)
        && mp
            .completion
            .is_none_or(|m| per_million(ep.prices.completion) <= m)
        && mp.request.is_none_or(|m| ep.prices.request <= m)
        && mp.image.is_none_or(|m| ep.prices.image <= m)
}

fn allowed_by_prefs(ep: &Endpoint, prefs: &ProviderPreferences, variant: Variant) -> bool {
    if let Some(only) = &prefs.only {
        if !only.iter().any(|s| ep.matches(s)) {
            return false;
        }
    }
    if prefs
        .ignore
        .as_ref()
        .is_some_and(|ig| ig.iter().any(|s| ep.matches(s)))
    {
        return false;
    }
    if let Some(qs) = &prefs.quantizations {
        let q = ep.quantization.as_deref().unwrap_or("unknown");
        if !qs.iter().any(|x| x.eq_ignore_ascii_case(q)) {
            return false;
        }
    }
    if prefs.data_collection == Some(DataCollection::Deny)
        && ep.provider.data_collection != DataCollection::Deny
    {
        return false;
    }
    if prefs.zdr == Some(true) && !ep.provider.zdr {
        return false;
    }
    if variant == Variant::Free && !ep.is_free() {
        return false;
    }
    max_price_ok(ep, prefs)
}

fn meets(stats: &Stats, min_tput: Option<Percentiles>, max_lat: Option<Percentiles>) -> bool {
    let tput_ok = match (min_tput, &stats.throughput_5m) {
        (Some(want), Some(have)) => {
            want.p50.is_none_or(|w| have.p50 >= w)
                && want.p75.is_none_or(|w| have.p75 >= w)
                && want.p90.is_none_or(|w| have.p90 >= w)
                && want.p99.is_none_or(|w| have.p99 >= w)
        }
        _ => true,
    };
    let lat_ok = match (max_lat, &stats.latency_5m) {
        (Some(want), Some(have)) => {
            want.p50.is_none_or(|w| have.p50 <= w)
                && want.p75.is_none_or(|w| have.p75 <= w)
                && want.p90.is_none_or(|w| have.p90 <= w)
                && want.p99.is_none_or(|w| have.p99 <= w)
        }
        _ => true,
    };
    tput_ok && lat_ok
}

fn by_metric(a: &Candidate, b: &Candidate, by: SortBy) -> Ordering {
    // Unknown measurements sort after known ones.
    let opt = |x: Option<f64>, y: Option<f64>, desc: bool| match (x, y) {
        (Some(x), Some(y)) => {
            if desc {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    match by {
        SortBy::Price => a.ep.unit_price().cmp(&b.ep.unit_price()),
        SortBy::Throughput | SortBy::Exacto => opt(
            a.stats.throughput_5m.as_ref().map(|s| s.p50),
            b.stats.throughput_5m.as_ref().map(|s| s.p50),
            true,
        )
        .then_with(|| a.ep.unit_price().cmp(&b.ep.unit_price())),
        SortBy::Latency => opt(
            a.stats.latency_5m.as_ref().map(|s| s.p50),
            b.stats.latency_5m.as_ref().map(|s| s.p50),
            false,
        )
        .then_with(|| a.ep.unit_price().cmp(&b.ep.unit_price())),
    }
}

/// Inverse-square-of-price weighted draw of the first endpoint (OpenRouter's default load
/// balancing); free endpoints weigh as if they cost one pico-dollar.
fn draw(cands: &[Candidate], rng: &mut dyn RngCore) -> usize {
    let weights: Vec<f64> = cands
        .iter()
        .map(|c| {
            let p = c.ep.unit_price().pico().max(1) as f64;
            1.0 / (p * p)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut x = rng.gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    cands.len() - 1
}

fn order_group(
    mut cands: Vec<Candidate>,
    prefs: &ProviderPreferences,
    sort: Option<SortBy>,
    sticky: Option<usize>,
    rng: &mut dyn RngCore,
) -> (Vec<Candidate>, bool) {
    if let Some(order) = prefs.order.as_ref().filter(|o| !o.is_empty()) {
        let pos = |c: &Candidate| {
            order
                .iter()
                .position(|s| c.ep.matches(s))
                .unwrap_or(usize::MAX)
        };
        cands.sort_by(|a, b| {
            pos(a)
                .cmp(&pos(b))
                .then_with(|| a.tier().cmp(&b.tier()))
                .then_with(|| a.ep.unit_price().cmp(&b.ep.unit_price()))
        });
        if prefs.allow_fallbacks == Some(false) {
            cands.retain(|c| pos(c) != usize::MAX);
        }
        return (cands, false);
    }
    match sort {
        Some(by) => cands.sort_by(|a, b| a.tier().cmp(&b.tier()).then_with(|| by_metric(a, b, by))),
        None => {
            cands.sort_by(|a, b| {
                a.tier()
                    .cmp(&b.tier())
                    .then_with(|| a.ep.unit_price().cmp(&b.ep.unit_price()))
            });
            let best = cands.first().map(|c| c.tier());
            let n = cands.iter().take_while(|c| Some(c.tier()) == best).count();
            if n > 1 {
                let i = draw(&cands[..n], rng);
                let chosen = cands.remove(i);
                cands.insert(0, chosen);
            }
        }
    }
    let mut stuck = false;
    // An explicit sort is the caller's own order; stickiness only refines load balancing.
    if let (Some(idx), None) = (sticky, sort) {
        if let Some(i) = cands
            .iter()
            .position(|c| c.ep.index == idx && c.availability != Availability::Unstable)
        {
            let c = cands.remove(i);
            cands.insert(0, c);
            stuck = true;
        }
    }
    (cands, stuck)
}

/// What the planner needs of a request, whatever its API.
struct Ask<'a> {
    /// Model ids in order of preference, trimmed, without duplicates.
    wanted: Vec<&'a str>,
    prefs: &'a ProviderPreferences,
    needs: Needs,
    /// Embedding models for an embeddings request, chat models otherwise.
    embeddings: bool,
}

fn wanted<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut wanted: Vec<&str> = Vec::new();
    for id in ids {
        let id = id.trim();
        if !id.is_empty() && !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    wanted
}

pub fn plan(
    ctx: &PlanContext<'_>,
    req: &ChatRequest,
    conversation: Option<&str>,
    rng: &mut dyn RngCore,
) -> Result<Plan, PlanError> {
    let default_prefs = ProviderPreferences::default();
    let ids = req.model.iter().chain(req.models.iter().flatten());
    let ask = Ask {
        wanted: wanted(ids.map(String::as_str)),
        prefs: req.provider.as_ref().unwrap_or(&default_prefs),
        needs: Needs::of(req),
        embeddings: false,
    };
    plan_ask(ctx, ask, conversation, rng)
}

/// The endpoints for an embeddings request: its model, with the same provider preferences
/// (`order`, `only`, `ignore`, `allow_fallbacks`, sorting, policy filters) and fallback
/// across endpoints as chat. `dimensions` is its one parameter that matters for routing:
/// endpoints listing it come first (only they remain with `require_parameters`). Encodings
/// need nothing: the gateway encodes whatever comes back as asked.
pub fn plan_embeddings(
    ctx: &PlanContext<'_>,
    req: &EmbeddingsRequest,
    rng: &mut dyn RngCore,
) -> Result<Plan, PlanError> {
    let default_prefs = ProviderPreferences::default();
    let mut needs = Needs::default();
    if req.dimensions.is_some() {
        needs.params.push("dimensions");
        needs.preferred.push("dimensions");
    }
    let ask = Ask {
        wanted: wanted(std::iter::once(req.model.as_str())),
        prefs: req.provider.as_ref().unwrap_or(&default_prefs),
        needs,
        embeddings: true,
    };
    plan_ask(ctx, ask, None, rng)
}

fn plan_ask(
    ctx: &PlanContext<'_>,
    ask: Ask<'_>,
    conversation: Option<&str>,
    rng: &mut dyn RngCore,
) -> Result<Plan, PlanError> {
    let Ask {
        wanted,
        prefs,
        needs,
        embeddings,
    } = ask;
    let requested = split_variant(wanted.first().ok_or(PlanError::MissingModel)?)
        .0
        .to_string();
    let require = prefs.require_parameters == Some(true);

    let needs_stats = prefs.preferred_min_throughput.is_some()
        || prefs.preferred_max_latency.is_some()
        || prefs
            .sort
            .and_then(|s| s.by())
            .is_some_and(|b| b != SortBy::Price)
        || wanted
            .iter()
            .any(|id| split_variant(id).1 == Variant::Nitro);
    let mut missing: BTreeSet<String> = BTreeSet::new();
    let mut excluded_by_prefs = 0usize;
    let mut down = 0usize;
    let mut groups: Vec<(Vec<Candidate>, Variant, &Arc<ModelEntry>)> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for id in &wanted {
        let (base, variant) = split_variant(id);
        // A declared model without an active provider is the operator's to fix, and the caller
        // hears of it at once; an id that exists nowhere is skipped for the rest of the list.
        if ctx.catalog.is_inactive(base) {
            return Err(PlanError::NoProvider(base.to_string()));
        }
        let Some(model) = ctx.catalog.model(base) else {
            skipped.push(Skipped {
                model: base.to_string(),
                reason: SkipReason::UnknownModel,
            });
            continue;
        };
        match (embeddings, model.is_embedding()) {
            (false, true) => return Err(PlanError::NotForChat(base.to_string())),
            (true, false) => return Err(PlanError::NotForEmbeddings(base.to_string())),
            _ => {}
        }
        if needs.image_input && !model.input_modalities.iter().any(|m| m == "image") {
            missing.insert("image".into());
            continue;
        }
        if needs.file_input && !model.input_modalities.iter().any(|m| m == "file") {
            missing.insert("file".into());
            continue;
        }
        let mut cands = Vec::new();
        for ep in &model.endpoints {
            if !allowed_by_prefs(ep, prefs, variant) {
                excluded_by_prefs += 1;
                continue;
            }
            if let Some(mt) = needs.max_tokens {
                if ep.max_completion_tokens.is_some_and(|m| u64::from(mt) > m)
                    || u64::from(mt) > ep.context_length
                {
                    missing.insert("max_tokens".into());
                    continue;
                }
            }
            if require {
                let lacking: Vec<_> = needs.params.iter().filter(|p| !supports(ep, p)).collect();
                if !lacking.is_empty() {
                    missing.extend(lacking.into_iter().map(|p| p.to_string()));
                    continue;
                }
            }
            let health = ctx.health.get(ep.index);
            let availability = health.map(|h| h.admit()).unwrap_or(Availability::Healthy);
            if availability == Availability::Open {
                down += 1;
                continue;
            }
            // Percentiles cost a sort of recent samples: only when something reads them.
            let stats = if needs_stats {
                health.map(|h| h.stats()).unwrap_or_default()
            } else {
                Stats::default()
            };
            cands.push(Candidate {
                preferred: needs.preferred.iter().all(|p| supports(ep, p)),
                fast_enough: meets(
                    &stats,
                    prefs.preferred_min_throughput,
                    prefs.preferred_max_latency,
                ),
                ep: ep.clone(),
                availability,
                stats,
            });
        }
        groups.push((cands, variant, model));
    }

    // Nothing in the list exists: the first id's own error, as for a single model.
    if skipped.len() == wanted.len() {
        return Err(match skipped.first() {
            Some(k) => PlanError::UnknownModel(k.model.clone()),
            None => PlanError::MissingModel,
        });
    }
    let available: usize = groups.iter().map(|(c, _, _)| c.len()).sum();
    if available == 0 {
        return Err(if !missing.is_empty() {
            let what: Vec<&str> = missing.iter().map(|m| describe(m)).collect();
            PlanError::NoEndpoints {
                message: format!("No endpoints found that support {}.", what.join(", ")),
                missing: missing.into_iter().collect(),
            }
        } else if excluded_by_prefs > 0 {
            PlanError::NoEndpoints {
                message: "No endpoints found matching your provider preferences (only / ignore / data policy / quantizations / max_price).".into(),
                missing: vec!["provider_preferences".into()],
            }
        } else if down > 0 {
            PlanError::AllDown {
                model: requested.clone(),
                retry_after_secs: crate::health::DEFAULT_PROBE_INTERVAL.as_secs(),
            }
        } else {
            PlanError::NoProvider(requested.clone())
        });
    }

    let explicit_sort = prefs.sort.and_then(|s| s.by());
    let global =
        prefs.sort.is_some_and(|s| s.partition() == Partition::None) && explicit_sort.is_some();
    let sort_for = |variant: Variant| {
        explicit_sort.or(match variant {
            Variant::Nitro => Some(SortBy::Throughput),
            Variant::Floor => Some(SortBy::Price),
            _ => None,
        })
    };
    let sticky_for = |model: &str| {
        if prefs.order.is_some() {
            return None;
        }
        conversation.and_then(|k| ctx.sticky.get(model, k))
    };

    let mut endpoints = Vec::with_capacity(available);
    let mut sticky = false;
    if global {
        let all: Vec<Candidate> = groups.into_iter().flat_map(|(c, _, _)| c).collect();
        let (ordered, _) = order_group(all, prefs, explicit_sort, None, rng);
        endpoints.extend(ordered.into_iter().map(|c| c.ep));
    } else {
        for (i, (cands, variant, model)) in groups.into_iter().enumerate() {
            let (ordered, stuck) =
                order_group(cands, prefs, sort_for(variant), sticky_for(&model.id), rng);
            sticky |= stuck && i == 0;
            endpoints.extend(ordered.into_iter().map(|c| c.ep));
        }
    }
    if prefs.allow_fallbacks == Some(false) && prefs.order.is_none() {
        // Pinned: the primary endpoint of each model only.
        let mut seen = BTreeSet::new();
        endpoints.retain(|e| seen.insert(e.model_id.clone()));
    }
    let strategy = if wanted.len() > 1 {
        "fallback"
    } else {
        "direct"
    };
    Ok(Plan {
        requested,
        endpoints,
        available,
        sticky,
        strategy,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CatalogConfig;
    use crate::health::BREAKER_FAILURES;
    use rand::SeedableRng;
    use std::time::Duration;
    use switchyard_api::chat::parse_chat_request;

    const CAT: &str = r#"
        [[providers]]
        slug = "a"
        name = "Alpha"
        protocol = "simulated"
        data_collection = "deny"
        zdr = true
        [[providers]]
        slug = "b"
        name = "Beta"
        protocol = "simulated"
        [[providers]]
        slug = "c"
        name = "Gamma"
        protocol = "simulated"
        data_collection = "deny"
        [[models]]
        id = "x/one"
        name = "One"
        context_length = 100000
        input_modalities = ["text", "image"]
        endpoints = [
          { provider = "a", upstream_id = "one-a", prompt = "0.000001", completion = "0", max_completion_tokens = 1000, quantization = "fp8" },
          { provider = "b", upstream_id = "one-b", prompt = "0.000003", completion = "0", supported_parameters = ["max_tokens", "temperature"] },
          { provider = "c", upstream_id = "one-c", prompt = "0.000002", completion = "0", tag = "c/turbo", quantization = "fp16" },
        ]
        [[models]]
        id = "x/two"
        name = "Two"
        context_length = 1000
        endpoints = [{ provider = "b", upstream_id = "two-b", prompt = "0", completion = "0" }]
    "#;

    struct World {
        catalog: Catalog,
        health: HealthBook,
        sticky: StickyTable,
    }

    fn world() -> World {
        world_of(CAT)
    }

    fn world_of(toml: &str) -> World {
        let catalog = Catalog::build(&CatalogConfig::from_toml(toml).expect("parses"), &|_| None)
            .expect("valid");
        let health = HealthBook::new(catalog.endpoint_count(), Duration::from_secs(30));
        World {
            catalog,
            health,
            sticky: StickyTable::default(),
        }
    }

    impl World {
        fn plan_with(&self, body: &str, seed: u64) -> Result<Vec<String>, PlanError> {
            let req = parse_chat_request(body.as_bytes()).expect("valid");
            let ctx = PlanContext {
                catalog: &self.catalog,
                health: &self.health,
                sticky: &self.sticky,
            };
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            plan(&ctx, &req, Some("conv"), &mut rng)
                .map(|p| p.endpoints.iter().map(|e| e.upstream_id.clone()).collect())
        }

        fn plan(&self, extra: &str) -> Result<Vec<String>, PlanError> {
            self.plan_with(
                &format!(
                    r#"{{"model":"x/one","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#
                ),
                7,
            )
        }

        fn fail(&self, upstream: &str, times: u32) {
            let ep = self
                .catalog
                .models()
                .iter()
                .flat_map(|m| &m.endpoints)
                .find(|e| e.upstream_id == upstream);
            if let Some(h) = ep.and_then(|e| self.health.get(e.index)) {
                for _ in 0..times {
                    h.record_failure(None);
                }
            }
        }
    }

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_balancing_splits_by_inverse_square_of_price() {
        // $1 vs $3 per token-unit: weights 1 and 1/9, so 90% / 10% of first picks.
        let cat = r#"
            [[providers]]
            slug = "cheap"
            name = "Cheap"
            protocol = "simulated"
            [[providers]]
            slug = "dear"
            name = "Dear"
            protocol = "simulated"
            [[models]]
            id = "x/m"
            name = "M"
            context_length = 1000
            endpoints = [
              { provider = "dear", upstream_id = "dear", prompt = "0.000003", completion = "0" },
              { provider = "cheap", upstream_id = "cheap", prompt = "0.000001", completion = "0" },
            ]
        "#;
        let w = world_of(cat);
        let ctx = PlanContext {
            catalog: &w.catalog,
            health: &w.health,
            sticky: &w.sticky,
        };
        let req =
            parse_chat_request(br#"{"model":"x/m","messages":[{"role":"user","content":"hi"}]}"#)
                .expect("valid");
        let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
        let n = 10_000;
        let mut cheap_first = 0;
        for _ in 0..n {
            let p = plan(&ctx, &req, None, &mut rng).expect("plans");
            assert_eq!(p.endpoints.len(), 2, "the other is the fallback");
            if p.endpoints[0].upstream_id == "cheap" {
                cheap_first += 1;
            }
        }
        let share = cheap_first as f64 / n as f64;
        assert!(
            (share - 0.9).abs() <= 0.02,
            "cheap endpoint first in {share:.4} of requests"
        );
    }

    #[test]
    fn embeddings_plan_with_preferences_and_never_cross_apis() {
        let cat = r#"
            [[providers]]
            slug = "a"
            name = "Alpha"
            protocol = "simulated"
            [[providers]]
            slug = "b"
            name = "Beta"
            protocol = "simulated"
            [[models]]
            id = "x/chat"
            name = "Chat"
            context_length = 1000
            endpoints = [{ provider = "a", upstream_id = "chat-a", prompt = "0.000001", completion = "0.000001" }]
            [[models]]
            id = "x/embed"
            name = "Embed"
            context_length = 8192
            output_modalities = ["embeddings"]
            endpoints = [
              { provider = "a", upstream_id = "embed-a", prompt = "0.0000001", completion = "0", supported_parameters = [] },
              { provider = "b", upstream_id = "embed-b", prompt = "0.0000002", completion = "0" },
            ]
        "#;
        let w = world_of(cat);
        let ctx = PlanContext {
            catalog: &w.catalog,
            health: &w.health,
            sticky: &w.sticky,
        };
        let embed = |model: &str, prefs: &str| {
            let req = switchyard_api::embeddings::parse_embeddings_request(
                format!(r#"{{"model":"{model}","input":"x","provider":{prefs}}}"#).as_bytes(),
            )
            .expect("valid");
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            plan_embeddings(&ctx, &req, &mut rng).map(|p| {
                p.endpoints
                    .iter()
                    .map(|e| e.upstream_id.clone())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            embed("x/embed", r#"{"sort":"price"}"#),
            Ok(v(&["embed-a", "embed-b"])),
            "the other endpoint is the fallback"
        );
        assert_eq!(
            embed("x/embed", r#"{"order":["b"]}"#),
            Ok(v(&["embed-b", "embed-a"]))
        );
        assert_eq!(
            embed("x/embed", r#"{"order":["b"],"allow_fallbacks":false}"#),
            Ok(v(&["embed-b"]))
        );
        assert_eq!(embed("x/embed", r#"{"only":["a"]}"#), Ok(v(&["embed-a"])));
        let dims = |prefs: &str| {
            let body =
                format!(r#"{{"model":"x/embed","input":"x","dimensions":8,"provider":{prefs}}}"#);
            let req = switchyard_api::embeddings::parse_embeddings_request(body.as_bytes())
                .expect("valid");
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            plan_embeddings(&ctx, &req, &mut rng).map(|p| {
                p.endpoints
                    .iter()
                    .map(|e| e.upstream_id.clone())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            dims(r#"{"sort":"price"}"#),
            Ok(v(&["embed-b", "embed-a"])),
            "the endpoint taking `dimensions` first, though dearer"
        );
        assert_eq!(dims(r#"{"require_parameters":true}"#), Ok(v(&["embed-b"])));
        assert_eq!(embed("x/embed", r#"{"ignore":["a"]}"#), Ok(v(&["embed-b"])));
        assert_eq!(
            embed("x/chat", "null"),
            Err(PlanError::NotForEmbeddings("x/chat".into()))
        );
        assert_eq!(
            embed("x/nope", "null"),
            Err(PlanError::UnknownModel("x/nope".into()))
        );
        let chat = parse_chat_request(
            br#"{"model":"x/embed","messages":[{"role":"user","content":"hi"}]}"#,
        )
        .expect("valid");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(
            plan(&ctx, &chat, None, &mut rng).map(|_| ()),
            Err(PlanError::NotForChat("x/embed".into()))
        );
        let auto = crate::auto::choose(&w.catalog, &chat, &crate::auto::AutoPolicy::default())
            .expect("a chat model is left");
        assert_eq!(
            auto.model.id, "x/chat",
            "the auto router never picks an embedding model"
        );
    }

    #[test]
    fn order_only_ignore_and_allow_fallbacks() {
        let w = world();
        assert_eq!(
            w.plan(r#","provider":{"order":["b","a"]}"#),
            Ok(v(&["one-b", "one-a", "one-c"]))
        );
        assert_eq!(
            w.plan(r#","provider":{"order":["Beta"],"allow_fallbacks":false}"#),
            Ok(v(&["one-b"]))
        );
        assert_eq!(
            w.plan(r#","provider":{"only":["c"]}"#),
            Ok(v(&["one-c"])),
            "base slug matches a suffixed tag"
        );
        assert_eq!(
            w.plan(r#","provider":{"only":["c/turbo","a"],"sort":"price"}"#),
            Ok(v(&["one-a", "one-c"]))
        );
        assert_eq!(
            w.plan(r#","provider":{"ignore":["a","b"]}"#),
            Ok(v(&["one-c"]))
        );
        assert_eq!(
            w.plan(r#","provider":{"sort":"price","allow_fallbacks":false}"#),
            Ok(v(&["one-a"]))
        );
        let err = w
            .plan(r#","provider":{"only":["nobody"]}"#)
            .expect_err("nothing left");
        assert!(matches!(err, PlanError::NoEndpoints { .. }), "{err:?}");
    }

    #[test]
    fn policy_filters_exclude() {
        let w = world();
        assert_eq!(
            w.plan(r#","provider":{"data_collection":"deny","sort":"price"}"#),
            Ok(v(&["one-a", "one-c"]))
        );
        assert_eq!(w.plan(r#","provider":{"zdr":true}"#), Ok(v(&["one-a"])));
        assert_eq!(
            w.plan(r#","provider":{"quantizations":["fp16","unknown"],"sort":"price"}"#),
            Ok(v(&["one-c", "one-b"]))
        );
        // $2 per million prompt tokens at most: excludes the $3 endpoint.
        assert_eq!(
            w.plan(r#","provider":{"max_price":{"prompt":2},"sort":"price"}"#),
            Ok(v(&["one-a", "one-c"]))
        );
        assert_eq!(
            w.plan_with(
                r#"{"model":"x/two:free","messages":[{"role":"user","content":"hi"}]}"#,
                1
            ),
            Ok(v(&["two-b"]))
        );
        assert!(w
            .plan_with(
                r#"{"model":"x/one:free","messages":[{"role":"user","content":"hi"}]}"#,
                1
            )
            .is_err());
    }

    #[test]
    fn capabilities_filter_with_require_parameters_and_prefer_without() {
        let w = world();
        let tools = r#","tools":[{"type":"function","function":{"name":"f"}}]"#;
        // Without require_parameters, tool-capable endpoints come first; the other stays as a fallback.
        let p = w
            .plan(&format!("{tools},\"provider\":{{\"sort\":\"price\"}}"))
            .expect("plans");
        assert_eq!(p, v(&["one-a", "one-c", "one-b"]));
        let w2 = world();
        let p = w2
            .plan(&format!(
                "{tools},\"provider\":{{\"order\":[\"b\"],\"require_parameters\":true}}"
            ))
            .expect("plans");
        assert_eq!(
            p,
            v(&["one-a", "one-c"]),
            "b lacks tools: excluded, not just last"
        );
        let err = w
            .plan_with(
                &format!(r#"{{"model":"x/two","messages":[{{"role":"user","content":"hi"}}]{tools},"provider":{{"require_parameters":true}}}}"#),
                1,
            )
            .map(|_| ());
        assert!(
            err.is_ok(),
            "x/two's endpoint has the default (tool-capable) parameters"
        );
        // max_tokens beyond an endpoint's limit excludes it.
        assert_eq!(
            w.plan(r#","max_tokens":5000,"provider":{"sort":"price"}"#),
            Ok(v(&["one-c", "one-b"]))
        );
        // Images need a model that takes them.
        let img = r#"{"model":"x/two","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#;
        match w.plan_with(img, 1) {
            Err(PlanError::NoEndpoints { message, missing }) => {
                assert_eq!(message, "No endpoints found that support image input.");
                assert_eq!(missing, vec!["image".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        match w.plan(&format!(
            "{tools},\"provider\":{{\"only\":[\"b\"],\"require_parameters\":true}}"
        )) {
            Err(PlanError::NoEndpoints { message, .. }) => {
                assert!(message.contains("tool use"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn variants_and_fallback_models() {
        let w = world();
        assert_eq!(
            w.plan_with(r#"{"model":"x/one:floor","models":["x/two"],"messages":[{"role":"user","content":"hi"}]}"#, 3),
            Ok(v(&["one-a", "one-c", "one-b", "two-b"]))
        );
        // partition none: one global price order across models.
        assert_eq!(
            w.plan_with(
                r#"{"model":"x/one","models":["x/two"],"provider":{"sort":{"by":"price","partition":"none"}},"messages":[{"role":"user","content":"hi"}]}"#,
                3
            ),
            Ok(v(&["two-b", "one-a", "one-c", "one-b"]))
        );
    }

    #[test]
    fn unknown_ids_in_the_list_are_skipped_unless_nothing_is_left() {
        let w = world();
        let req = parse_chat_request(
            br#"{"models":["nope/x","x/two"],"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .expect("valid");
        let ctx = PlanContext {
            catalog: &w.catalog,
            health: &w.health,
            sticky: &w.sticky,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let p = plan(&ctx, &req, None, &mut rng).expect("the valid id is served");
        assert_eq!(p.requested, "nope/x");
        assert_eq!(
            p.endpoints
                .iter()
                .map(|e| e.upstream_id.as_str())
                .collect::<Vec<_>>(),
            vec!["two-b"]
        );
        assert_eq!(
            p.skipped,
            vec![Skipped {
                model: "nope/x".into(),
                reason: SkipReason::UnknownModel
            }]
        );
        assert_eq!(
            w.plan_with(
                r#"{"model":"nope/x","models":["nope/y"],"messages":[{"role":"user","content":"hi"}]}"#,
                1
            ),
            Err(PlanError::UnknownModel("nope/x".into()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unstable_last_open_breakers_out_all_down_503() {
        let w = world();
        w.fail("one-a", 2);
        assert_eq!(
            w.plan(r#","provider":{"sort":"price"}"#),
            Ok(v(&["one-c", "one-b", "one-a"])),
            "outage: last"
        );
        w.fail("one-a", BREAKER_FAILURES);
        assert_eq!(
            w.plan(r#","provider":{"sort":"price"}"#),
            Ok(v(&["one-c", "one-b"])),
            "open: out"
        );
        w.fail("one-b", BREAKER_FAILURES);
        w.fail("one-c", BREAKER_FAILURES);
        assert!(matches!(w.plan(""), Err(PlanError::AllDown { .. })));
        tokio::time::advance(Duration::from_secs(31)).await;
        let probes = w
            .plan(r#","provider":{"sort":"price"}"#)
            .expect("probes allowed");
        assert_eq!(
            probes,
            v(&["one-a", "one-c", "one-b"]),
            "one probe each after the interval"
        );
        assert!(
            matches!(w.plan(""), Err(PlanError::AllDown { .. })),
            "and no second probe"
        );
    }

    #[test]
    fn sticky_conversation_unless_order() {
        let w = world();
        let c = w
            .catalog
            .model("x/one")
            .map(|m| m.endpoints[2].index)
            .unwrap_or(0);
        w.sticky.put("x/one", "conv", c);
        assert_eq!(w.plan("").map(|p| p[0].clone()), Ok("one-c".into()));
        assert_eq!(
            w.plan(r#","provider":{"sort":"price"}"#)
                .map(|p| p[0].clone()),
            Ok("one-a".into()),
            "an explicit sort wins"
        );
        assert_eq!(
            w.plan(r#","provider":{"order":["a"]}"#)
                .map(|p| p[0].clone()),
            Ok("one-a".into())
        );
    }
}
