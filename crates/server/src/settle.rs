//! Settlement: every finished generation — streamed or not, completed, failed mid-way or
//! cancelled — is priced at its endpoints' prices and written as one generation record and
//! one ledger charge, in one transaction, batched with others (group commit), before the
//! client sees the end of its response. Then the caches learn the charge and the
//! reservation is released.

use crate::accounts::{Caller, Reservation};
use crate::app::AppState;
use crate::attempt::{Attempt, RequestInfo};
use crate::error::GatewayError;
use switchyard_api::chat::{
    ChatRequest, CompletionTokensDetails, CostDetails, FinishReason, PromptTokensDetails, Usage,
};
use switchyard_api::Money;
use switchyard_providers::TokenUsage;
use switchyard_router::{Endpoint, Plan};
use switchyard_store::{GenerationRecord, Store};
use tokio::sync::{mpsc, oneshot};

/// What one endpoint produced (more than one after a mid-stream failover).
pub struct Share<'a> {
    pub endpoint: &'a Endpoint,
    pub usage: TokenUsage,
    /// The upstream never reported usage; it was estimated from the text.
    pub estimated: bool,
}

pub struct Settlement<'a> {
    pub info: &'a RequestInfo,
    pub shares: Vec<Share<'a>>,
    pub streamed: bool,
    pub cancelled: bool,
    pub finish_reason: Option<FinishReason>,
    pub native_finish_reason: Option<String>,
    pub attempts: &'a [Attempt],
    pub latency_ms: u64,
    pub generation_ms: u64,
    pub upstream_id: Option<String>,
}

type Job = (GenerationRecord, oneshot::Sender<Result<(), String>>);

/// The group-commit writer: one task, one transaction per batch of whatever is waiting.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Job>,
}

const MAX_BATCH: usize = 512;

impl Ledger {
    pub fn spawn(store: Store) -> Ledger {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(async move {
            let store = match store.for_single_writer().await {
                Ok(writer) => writer,
                Err(e) => {
                    tracing::warn!(error = %e, "no dedicated ledger connection; sharing the pool");
                    store
                }
            };
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let (records, waiters): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
                // Retrying is safe: a generation already recorded is skipped, charge and all.
                let mut result = Err(String::new());
                for attempt in 0..3 {
                    match store.commit(&records).await {
                        Ok(_) => {
                            result = Ok(());
                            break;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, attempt, "committing generations failed");
                            result = Err(e.to_string());
                            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt))
                                .await;
                        }
                    }
                }
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
        });
        Ledger { tx }
    }

    /// Returns once the record and its charge are durable.
    pub async fn record(&self, g: GenerationRecord) -> Result<(), GatewayError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((g, tx))
            .await
            .map_err(|_| GatewayError::Internal("the ledger writer has stopped".into()))?;
        rx.await
            .map_err(|_| GatewayError::Internal("the ledger writer has stopped".into()))?
            .map_err(GatewayError::Internal)
    }
}

fn wire_usage(u: &TokenUsage, prompt_cost: Money, completion_cost: Money) -> Usage {
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
        cost: Some(prompt_cost + completion_cost),
        is_byok: Some(false),
        cost_details: Some(CostDetails {
            upstream_inference_cost: None,
            upstream_inference_prompt_cost: prompt_cost,
            upstream_inference_completions_cost: completion_cost,
        }),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Prices, records durably and charges a generation; returns the `usage` the client is shown.
pub async fn settle(
    st: &AppState,
    s: Settlement<'_>,
    reservation: Reservation,
) -> Result<Usage, GatewayError> {
    let mut total = TokenUsage::default();
    let (mut prompt_cost, mut completion_cost) = (Money::ZERO, Money::ZERO);
    for share in &s.shares {
        let c = share.endpoint.prices.cost(&share.usage);
        prompt_cost = prompt_cost + c.prompt + c.request;
        completion_cost = completion_cost + c.completion;
        total.prompt += share.usage.prompt;
        total.completion += share.usage.completion;
        total.cached_read += share.usage.cached_read;
        total.cache_write += share.usage.cache_write;
        total.reasoning += share.usage.reasoning;
    }
    let cost = prompt_cost + completion_cost;
    let served = s.shares.last().map(|sh| sh.endpoint);
    let caller = &s.info.caller;
    let record = GenerationRecord {
        id: s.info.generation_id.clone(),
        account_id: caller.account.account.id.clone(),
        key_hash: caller.key.record.hash.clone(),
        model: served.map(|e| e.model_id.clone()).unwrap_or_default(),
        provider_name: served.map(|e| e.provider.name.clone()).unwrap_or_default(),
        upstream_id: s.upstream_id.clone(),
        tokens_prompt: to_i64(total.prompt),
        tokens_completion: to_i64(total.completion),
        tokens_cached: to_i64(total.cached_read),
        tokens_reasoning: to_i64(total.reasoning),
        cost_pico: i64::try_from(cost.pico()).unwrap_or(i64::MAX),
        latency_ms: to_i64(s.latency_ms),
        generation_ms: to_i64(s.generation_ms),
        streamed: s.streamed,
        cancelled: s.cancelled,
        usage_estimated: s.shares.iter().any(|sh| sh.estimated),
        finish_reason: s
            .finish_reason
            .and_then(|f| serde_json::to_value(f).ok())
            .and_then(|v| v.as_str().map(str::to_string)),
        native_finish_reason: s.native_finish_reason.clone(),
        http_referer: s.info.referer.clone(),
        app_title: s.info.title.clone(),
        provider_responses: serde_json::to_string(s.attempts).unwrap_or_else(|_| "[]".into()),
        created_at: switchyard_store::now(),
    };
    tracing::info!(
        target: "switchyard::generation",
        id = %record.id,
        model = %record.model,
        provider = %record.provider_name,
        prompt_tokens = total.prompt,
        completion_tokens = total.completion,
        cost = %cost,
        streamed = s.streamed,
        cancelled = s.cancelled,
        attempts = s.attempts.len(),
        "generation settled"
    );
    st.ledger.record(record).await?;
    st.accounts
        .used_tokens(caller, total.prompt + total.completion);
    st.accounts.charged(reservation, cost).await;
    Ok(wire_usage(&total, prompt_cost, completion_cost))
}

/// The most a request can cost on any endpoint of its plan: the estimated prompt at that
/// endpoint's prompt price plus `max_tokens` (or the endpoint's own output limit, or the
/// limit its adapter sends, or what its context leaves) at its completion price.
pub struct WorstCase {
    pub cost: Money,
    pub max_tokens: u64,
    pub prompt_cost: Money,
    pub completion_price: Money,
}

pub fn worst_case(req: &ChatRequest, plan: &Plan) -> WorstCase {
    let text: String = req.messages.iter().map(|m| m.text_content()).collect();
    // Three characters a token: on the high side for prose, so a reservation rarely falls
    // short of what the provider then counts.
    let prompt = (text.chars().count() as u64).div_ceil(3) + 4 * req.messages.len() as u64;
    let mut w = WorstCase {
        cost: Money::ZERO,
        max_tokens: 0,
        prompt_cost: Money::ZERO,
        completion_price: Money::ZERO,
    };
    for ep in &plan.endpoints {
        let room = ep.context_length.saturating_sub(prompt).max(1);
        let out = req
            .max_output_tokens()
            .map(u64::from)
            .or(ep.max_completion_tokens)
            // What the adapter itself asks for when the client sets no limit.
            .or_else(|| ep.provider.protocol.default_max_tokens().map(u64::from))
            .unwrap_or(room)
            .min(room.max(1));
        let prompt_cost = ep.prices.prompt.times(prompt) + ep.prices.request;
        let cost = prompt_cost + ep.prices.completion.times(out);
        if cost > w.cost || w.max_tokens == 0 {
            w = WorstCase {
                cost,
                max_tokens: out,
                prompt_cost,
                completion_price: ep.prices.completion,
            };
        }
    }
    w
}

/// Reserves the worst case, or answers 402 in OpenRouter's words.
pub async fn reserve(
    st: &AppState,
    caller: &Caller,
    req: &ChatRequest,
    plan: &Plan,
) -> Result<Reservation, GatewayError> {
    let w = worst_case(req, plan);
    st.accounts.reserve(caller, w.cost).await.map_err(|left| {
        let left = Money::from_pico(left);
        let affordable = if w.completion_price.is_zero() {
            0
        } else {
            (left.saturating_sub(w.prompt_cost).pico().max(0) / w.completion_price.pico().max(1)) as u64
        };
        GatewayError::PaymentRequired(format!(
            "This request requires more credits, or fewer max_tokens. You requested up to {} tokens, but can only afford {affordable}. Add credits (switchyard credits grant) or lower max_tokens.",
            w.max_tokens
        ))
    })
}
