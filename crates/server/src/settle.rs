//! Settlement: the one function every finished generation passes through, streamed or not,
//! completed, failed mid-way or cancelled. It prices the tokens at the serving endpoint's
//! prices and records the generation. (Charging credits and the durable generation record
//! attach here.)

use crate::attempt::Attempt;
use switchyard_api::chat::{
    CompletionTokensDetails, CostDetails, FinishReason, PromptTokensDetails, Usage,
};
use switchyard_api::Money;
use switchyard_providers::TokenUsage;
use switchyard_router::Endpoint;

pub struct Settlement<'a> {
    pub generation_id: &'a str,
    pub endpoint: &'a Endpoint,
    pub usage: TokenUsage,
    /// True when the upstream never reported usage and it was estimated from the text.
    pub usage_estimated: bool,
    pub streamed: bool,
    pub cancelled: bool,
    pub finish_reason: Option<FinishReason>,
    pub attempts: &'a [Attempt],
    pub latency_ms: u64,
}

/// Prices and records a generation; returns the `usage` object the client is shown.
pub fn settle(s: &Settlement<'_>) -> Usage {
    let cost = s.endpoint.prices.cost(&s.usage);
    let u = &s.usage;
    tracing::info!(
        target: "switchyard::generation",
        id = s.generation_id,
        model = %s.endpoint.model_id,
        provider = %s.endpoint.provider.name,
        prompt_tokens = u.prompt,
        completion_tokens = u.completion,
        cached_tokens = u.cached_read,
        reasoning_tokens = u.reasoning,
        cost = %cost.total(),
        estimated = s.usage_estimated,
        streamed = s.streamed,
        cancelled = s.cancelled,
        finish_reason = ?s.finish_reason,
        attempts = s.attempts.len(),
        latency_ms = s.latency_ms,
        "generation settled"
    );
    Usage {
        prompt_tokens: u.prompt,
        completion_tokens: u.completion,
        total_tokens: u.prompt + u.completion,
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: u.cached_read,
            cache_write_tokens: u.cache_write,
        }),
        completion_tokens_details: Some(CompletionTokensDetails {
            reasoning_tokens: u.reasoning,
        }),
        cost: Some(cost.total()),
        is_byok: Some(false),
        cost_details: Some(CostDetails {
            upstream_inference_cost: None,
            upstream_inference_prompt_cost: cost.prompt,
            upstream_inference_completions_cost: cost.completion,
        }),
    }
}

/// Two shares of one generation (mid-stream failover), shown to the client as one usage.
pub fn combine(a: Usage, b: Usage) -> Usage {
    let add = |x: Option<Money>, y: Option<Money>| match (x, y) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or_default() + y.unwrap_or_default()),
    };
    let pd = |u: &Usage| u.prompt_tokens_details.clone().unwrap_or_default();
    let cd = |u: &Usage| u.completion_tokens_details.clone().unwrap_or_default();
    let costs = |u: &Usage| u.cost_details.clone().unwrap_or_default();
    Usage {
        prompt_tokens: a.prompt_tokens + b.prompt_tokens,
        completion_tokens: a.completion_tokens + b.completion_tokens,
        total_tokens: a.total_tokens + b.total_tokens,
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: pd(&a).cached_tokens + pd(&b).cached_tokens,
            cache_write_tokens: pd(&a).cache_write_tokens + pd(&b).cache_write_tokens,
        }),
        completion_tokens_details: Some(CompletionTokensDetails {
            reasoning_tokens: cd(&a).reasoning_tokens + cd(&b).reasoning_tokens,
        }),
        cost: add(a.cost, b.cost),
        is_byok: a.is_byok,
        cost_details: Some(CostDetails {
            upstream_inference_cost: None,
            upstream_inference_prompt_cost: costs(&a).upstream_inference_prompt_cost
                + costs(&b).upstream_inference_prompt_cost,
            upstream_inference_completions_cost: costs(&a).upstream_inference_completions_cost
                + costs(&b).upstream_inference_completions_cost,
        }),
    }
}
