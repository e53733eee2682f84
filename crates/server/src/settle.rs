//! Settlement: every finished generation — streamed or not, completed, failed mid-way or
//! cancelled — is priced at its endpoints' prices and written as one generation record and
//! one ledger charge, in one transaction, batched with others (group commit), before the
//! client sees the end of its response. Then the caches learn the charge and the
//! reservation is released.

use crate::accounts::{Caller, Refusal, Reservation};
use crate::attempt::{Attempt, RequestInfo};
use crate::background::{Background, Beat};
use crate::error::GatewayError;
use crate::state::BillingState;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_api::chat::{
    ChatRequest, CompletionTokensDetails, CostDetails, FinishReason, PromptTokensDetails, Usage,
};
use switchyard_api::embeddings::EmbeddingInput;
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

/// A record waiting to be committed, and whether its waiter has given up on it.
struct Job {
    record: GenerationRecord,
    done: oneshot::Sender<()>,
    state: Arc<AtomicU8>,
}

/// `Job::state`: a waiter may withdraw a record only while it is pending; once the writer has
/// claimed it for a commit, the outcome of that commit decides.
const PENDING: u8 = 0;
const COMMITTING: u8 = 1;
const WITHDRAWN: u8 = 2;

/// Whether the ledger can take writes, for admission and `/health`.
#[derive(Default)]
pub struct LedgerHealth {
    failing: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl LedgerHealth {
    /// `Some(reason)` while commits fail.
    pub fn failure(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .or_else(|| Some("the ledger cannot be written".into()))
    }

    fn set(&self, failure: Option<String>) {
        let failing = failure.is_some();
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = failure;
        self.failing.store(failing, Ordering::Release);
    }
}

/// The group-commit writer: one task, one transaction per batch of whatever is waiting. A
/// batch that fails is kept and retried (on a fresh connection, with backoff) until it
/// commits, so an answer already given is never left unbilled; meanwhile `health` says the
/// ledger is failing and admission refuses new billable requests.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Job>,
    health: Arc<LedgerHealth>,
    /// How long a request waits for its record to become durable.
    wait: Duration,
}

const MAX_BATCH: usize = 512;
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl Ledger {
    pub fn spawn(store: Store, background: &Background, wait: Duration) -> Ledger {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        // Shared with every incarnation of the writer: a restarted writer picks up the queue.
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let health = Arc::new(LedgerHealth::default());
        let h = health.clone();
        background.spawn("ledger writer", move |beat| {
            Box::pin(write_loop(store.clone(), rx.clone(), h.clone(), beat))
        });
        Ledger { tx, health, wait }
    }

    pub fn health(&self) -> &LedgerHealth {
        &self.health
    }

    /// Returns once the record and its charge are durable. Past the wait, a `withdrawable`
    /// record (nothing has been delivered for it yet) is taken back, so it is neither recorded
    /// nor charged; one that is not (a stream already delivered) stays queued until it commits.
    pub async fn record(
        &self,
        g: GenerationRecord,
        withdrawable: bool,
    ) -> Result<(), GatewayError> {
        let state = Arc::new(AtomicU8::new(PENDING));
        let (done, mut rx) = oneshot::channel();
        let job = Job {
            record: g,
            done,
            state: state.clone(),
        };
        let unavailable = || {
            GatewayError::BillingUnavailable(
                self.health
                    .failure()
                    .unwrap_or_else(|| "the ledger did not confirm the write in time".into()),
            )
        };
        match tokio::time::timeout(self.wait, self.tx.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                return Err(GatewayError::Internal(
                    "the ledger writer has stopped".into(),
                ))
            }
            Err(_) => return Err(unavailable()),
        }
        // A commit in progress is waited for a while longer: its outcome decides.
        for _ in 0..3 {
            match tokio::time::timeout(self.wait, &mut rx).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(_)) => {
                    return Err(GatewayError::Internal(
                        "the ledger writer has stopped".into(),
                    ))
                }
                Err(_) if !withdrawable => return Err(unavailable()),
                Err(_) => {
                    if state
                        .compare_exchange(PENDING, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return Err(unavailable());
                    }
                }
            }
        }
        tracing::error!("a ledger commit has been in progress for too long");
        Err(unavailable())
    }
}

async fn write_loop(
    store: Store,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    health: Arc<LedgerHealth>,
    beat: Beat,
) {
    let mut rx = rx.lock().await;
    let mut writer = single_writer(&store).await;
    let mut batch: Vec<Job> = Vec::new();
    let mut backoff = FIRST_BACKOFF;
    loop {
        if batch.is_empty() {
            if health.failure().is_some() {
                // Nothing waiting, yet the last commit failed: probe until the database takes
                // writes again, so admission reopens without needing a request to try.
                tokio::select! {
                    job = rx.recv() => match job {
                        Some(j) => batch.push(j),
                        None => return,
                    },
                    _ = tokio::time::sleep(backoff) => {
                        let probe = tokio::time::timeout(COMMIT_TIMEOUT, writer.probe_write());
                        match probe.await.unwrap_or_else(|_| {
                            Err(switchyard_store::StoreError::Invalid("probe write timed out".into()))
                        }) {
                            Ok(()) => {
                                tracing::info!("the ledger takes writes again");
                                health.set(None);
                                beat.ok();
                                backoff = FIRST_BACKOFF;
                            }
                            Err(e) => {
                                backoff = (backoff * 2).min(MAX_BACKOFF);
                                beat.failed(&e);
                                writer = single_writer(&store).await;
                            }
                        }
                        continue;
                    }
                }
            } else {
                match rx.recv().await {
                    Some(j) => batch.push(j),
                    None => return,
                }
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // Claim what is still wanted; a withdrawn record was answered with an error and must
        // not be charged.
        batch.retain(|j| {
            j.state
                .compare_exchange(PENDING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
                || j.state.load(Ordering::Acquire) == COMMITTING
        });
        if batch.is_empty() {
            continue;
        }
        let records: Vec<GenerationRecord> = batch.iter().map(|j| j.record.clone()).collect();
        // Retrying is safe: a generation already recorded is skipped, charge and all.
        // Bounded: a database that stops answering is a failed commit (admission pauses and
        // the batch is retried), not a writer stuck with every request waiting on it. A commit
        // that landed after all is skipped on the retry, charge and all.
        let committed = match tokio::time::timeout(COMMIT_TIMEOUT, writer.commit(&records)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "no answer from the database within {} s",
                COMMIT_TIMEOUT.as_secs()
            )),
        };
        match committed {
            Ok(_) => {
                if health.failure().is_some() {
                    tracing::info!("the ledger takes writes again");
                }
                health.set(None);
                beat.ok();
                backoff = FIRST_BACKOFF;
                for j in batch.drain(..) {
                    let _ = j.done.send(());
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = records.len(), "committing generations failed; admission paused until the ledger takes writes");
                health.set(Some(format!("the ledger cannot be written: {e}")));
                beat.failed(&e);
                for j in &batch {
                    j.state.store(PENDING, Ordering::Release);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                writer = single_writer(&store).await;
            }
        }
    }
}

/// SQLite's writer gets a connection of its own (its page cache stays warm); a fresh one after
/// every failure, so nothing a failed transaction left behind is reused.
async fn single_writer(store: &Store) -> Store {
    let opened = tokio::time::timeout(COMMIT_TIMEOUT, store.for_single_writer()).await;
    match opened.unwrap_or_else(|_| {
        Err(switchyard_store::StoreError::Invalid(
            "opening a connection timed out".into(),
        ))
    }) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "no dedicated ledger connection; sharing the pool");
            store.clone()
        }
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
    st: &BillingState,
    s: Settlement<'_>,
    reservation: Reservation,
) -> Result<Usage, GatewayError> {
    let mut total = TokenUsage::default();
    let (mut prompt_cost, mut completion_cost) = (Money::ZERO, Money::ZERO);
    for share in &s.shares {
        let c = share.endpoint.prices.cost(&share.usage);
        prompt_cost = prompt_cost + c.prompt + c.request;
        completion_cost = completion_cost + c.completion;
        total.prompt = total.prompt.saturating_add(share.usage.prompt);
        total.completion = total.completion.saturating_add(share.usage.completion);
        total.cached_read = total.cached_read.saturating_add(share.usage.cached_read);
        total.cache_write = total.cache_write.saturating_add(share.usage.cache_write);
        total.reasoning = total.reasoning.saturating_add(share.usage.reasoning);
    }
    // The reservation is the cap: the caller agreed to at most the worst case it held. A
    // provider reporting more is an anomaly to look into, not money to take.
    let cap = reservation.amount();
    if prompt_cost + completion_cost > cap {
        tracing::warn!(
            id = %s.info.generation_id,
            reported = %(prompt_cost + completion_cost),
            reserved = %cap,
            prompt_tokens = total.prompt,
            completion_tokens = total.completion,
            "usage beyond the reserved worst case; charging the reservation"
        );
        prompt_cost = prompt_cost.min(cap);
        completion_cost = cap.saturating_sub(prompt_cost);
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
    // A stream has been delivered: its record stays queued until it commits. A complete
    // answer not yet sent is withdrawn if the ledger cannot take it, and the client gets 503.
    st.ledger.record(record, !s.streamed).await?;
    st.accounts
        .used_tokens(caller, total.prompt + total.completion);
    st.accounts.charged(reservation, cost).await;
    Ok(wire_usage(&total, prompt_cost, completion_cost))
}

/// Tokens an image, file or audio part may count for: above what the providers' vision
/// models charge for one full-size image (≈1,600 for Claude, ≈1,100 for GPT-4o high detail).
const PART_TOKENS: u64 = 2_000;

/// An upper bound of the prompt's tokens, since the reservation caps the charge: two bytes of
/// UTF-8 a token (prose runs about four, CJK about three a character, so even dense scripts
/// stay under), tool definitions and tool-call arguments included, a flat allowance per
/// non-text part (their bytes, base64 mostly, say little of their tokens).
pub fn prompt_upper_bound(req: &ChatRequest) -> u64 {
    use switchyard_api::chat::Content;
    let mut bytes: u64 = 0;
    let mut parts: u64 = 0;
    let len = |s: &str| u64::try_from(s.len()).unwrap_or(u64::MAX);
    for m in &req.messages {
        bytes = bytes.saturating_add(16);
        match &m.content {
            None => {}
            Some(Content::Text(t)) => bytes = bytes.saturating_add(len(t)),
            Some(Content::Parts(ps)) => {
                for p in ps {
                    match &p.text {
                        Some(t) => bytes = bytes.saturating_add(len(t)),
                        None => parts = parts.saturating_add(1),
                    }
                }
            }
        }
        for c in m.tool_calls.iter().flatten() {
            bytes = bytes
                .saturating_add(len(&c.function.name))
                .saturating_add(len(&c.function.arguments));
        }
        if let Some(r) = &m.reasoning {
            bytes = bytes.saturating_add(len(r));
        }
    }
    if let Some(tools) = &req.tools {
        let json = serde_json::to_vec(tools).map(|v| v.len()).unwrap_or(0);
        bytes = bytes.saturating_add(u64::try_from(json).unwrap_or(u64::MAX));
    }
    bytes
        .div_ceil(2)
        .saturating_add(parts.saturating_mul(PART_TOKENS))
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
    let prompt = prompt_upper_bound(req);
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
    st: &BillingState,
    caller: &Caller,
    req: &ChatRequest,
    plan: &Plan,
) -> Result<Reservation, GatewayError> {
    let w = worst_case(req, plan);
    let mut r = reserve_cost(st, caller, w.cost, |left| {
        let affordable = if w.completion_price.is_zero() {
            0
        } else {
            (left.saturating_sub(w.prompt_cost).pico().max(0) / w.completion_price.pico().max(1))
                as u64
        };
        format!(
            "This request requires more credits, or fewer max_tokens. You requested up to {} tokens, but can only afford {affordable}. Add credits (switchyard credits grant) or lower max_tokens.",
            w.max_tokens
        )
    })
    .await?;
    r.max_tokens = w.max_tokens;
    Ok(r)
}

/// The most an embeddings request can cost on any endpoint of its plan: its input's upper
/// bound of tokens at that endpoint's prompt price (there is no output to price).
pub fn embeddings_worst_case(input: &EmbeddingInput, plan: &Plan) -> Money {
    let tokens = input.prompt_upper_bound();
    plan.endpoints
        .iter()
        .map(|ep| ep.prices.prompt.times(tokens) + ep.prices.request)
        .max()
        .unwrap_or(Money::ZERO)
}

/// Reserves an embeddings request's worst case, or answers 402.
pub async fn reserve_embeddings(
    st: &BillingState,
    caller: &Caller,
    input: &EmbeddingInput,
    plan: &Plan,
) -> Result<Reservation, GatewayError> {
    let cost = embeddings_worst_case(input, plan);
    let tokens = input.prompt_upper_bound();
    reserve_cost(st, caller, cost, |left| {
        format!(
            "This request requires more credits: embedding up to {tokens} input tokens can cost up to ${cost}, and ${left} is left. Add credits (switchyard credits grant) or send less input."
        )
    })
    .await
}

/// Holds `cost` of the caller's balance until settlement; `refused` words the 402 from what
/// is left. Nothing is held while the ledger cannot record a charge.
async fn reserve_cost(
    st: &BillingState,
    caller: &Caller,
    cost: Money,
    refused: impl FnOnce(Money) -> String,
) -> Result<Reservation, GatewayError> {
    if let Some(reason) = st.ledger.health().failure() {
        return Err(GatewayError::BillingUnavailable(reason));
    }
    st.accounts
        .reserve(caller, cost)
        .await
        .map_err(|refusal| match refusal {
            Refusal::Unavailable(why) => GatewayError::AdmissionUnavailable(why),
            Refusal::Stale => GatewayError::AdmissionUnavailable("stale shared counters".into()),
            Refusal::Funds(left) => {
                GatewayError::PaymentRequired(refused(Money::from_pico(left).max(Money::ZERO)))
            }
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::state::BillingState;
    use switchyard_store::KeyRecord;

    pub(crate) const KEY: &str = "sk-sy-v1-settle-unit";
    /// One model, priced at $1 / M prompt tokens and $2 / M completion tokens.
    const CATALOG: &str = r#"
default_catalog = false

[[providers]]
slug = "sim"
name = "Simulated"
protocol = "simulated"

[[models]]
id = "t/model"
name = "Test model"
context_length = 1000
endpoints = [{ provider = "sim", upstream_id = "m", prompt = "0.000001", completion = "0.000002" }]
"#;

    fn plan() -> Plan {
        let cfg = crate::config::ConfigFile::from_toml(CATALOG)
            .expect("catalogue parses")
            .load(false, &|_| None)
            .expect("catalogue is valid");
        let model = cfg.catalog.model("t/model").expect("the model is listed");
        Plan {
            requested: "t/model".into(),
            endpoints: model.endpoints.clone(),
            available: model.endpoints.len(),
            sticky: false,
            strategy: "price",
            skipped: vec![],
        }
    }

    fn request(max_tokens: u32) -> ChatRequest {
        serde_json::from_value(serde_json::json!({
            "model": "t/model",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": max_tokens,
        }))
        .expect("request parses")
    }

    /// A fresh SQLite store in its own temporary directory, with one limited account holding
    /// `pico` of credit and one key on it.
    pub(crate) async fn store_with_credit(pico: i64) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "switchyard-settle-{}-{}",
            std::process::id(),
            crate::routes::random_alnum(8)
        ));
        let store = Store::open_sqlite(&dir).await.expect("store opens");
        let account = store
            .create_account("acct_unit", "unit", false)
            .await
            .expect("account");
        store
            .grant(&account.id, pico, Some("unit test"))
            .await
            .expect("grant");
        let now = switchyard_store::now();
        store
            .insert_key(&KeyRecord {
                hash: crate::auth::hash_hex(KEY),
                account_id: account.id.clone(),
                name: "unit".into(),
                label: crate::auth::label(KEY),
                created_at: now,
                updated_at: now,
                ..Default::default()
            })
            .await
            .expect("key");
        (store, dir)
    }

    /// Reservation and settlement against a `BillingState` alone: no router, no HTTP app.
    /// The worst case is held, the actual cost is recorded and charged durably, and the
    /// charge is what a later reservation is measured against.
    #[tokio::test]
    async fn reserve_and_settle_against_billing_state_alone() {
        // $0.0001 of credit.
        let (store, dir) = store_with_credit(100_000_000).await;
        let background = Background::default();
        let billing = BillingState::load(store.clone(), None, &background, Duration::from_secs(10))
            .await
            .expect("billing loads");
        let caller = billing
            .accounts
            .authenticate(KEY)
            .expect("the key is known");
        let plan = plan();

        // "hi" in one message: (16 + 2) bytes, 9 tokens at most; 20 completion tokens.
        let small = request(20);
        let w = worst_case(&small, &plan);
        assert_eq!(w.max_tokens, 20);
        assert_eq!(w.cost, Money::from_pico(9 * 1_000_000 + 20 * 2_000_000));
        let reservation = reserve(&billing, &caller, &small, &plan)
            .await
            .expect("the worst case is affordable");
        assert_eq!(reservation.amount(), w.cost);
        assert_eq!(reservation.max_tokens, 20);

        let info = RequestInfo {
            generation_id: "gen-settle-unit".into(),
            conversation: None,
            metadata: false,
            auto: None,
            caller: caller.clone(),
            referer: None,
            title: None,
        };
        let usage = settle(
            &billing,
            Settlement {
                info: &info,
                shares: vec![Share {
                    endpoint: &plan.endpoints[0],
                    usage: TokenUsage {
                        prompt: 5,
                        completion: 10,
                        ..TokenUsage::default()
                    },
                    estimated: false,
                }],
                streamed: false,
                cancelled: false,
                finish_reason: Some(FinishReason::Stop),
                native_finish_reason: None,
                attempts: &[],
                latency_ms: 12,
                generation_ms: 10,
                upstream_id: None,
            },
            reservation,
        )
        .await
        .expect("settles");
        let cost = 5 * 1_000_000 + 10 * 2_000_000;
        assert_eq!(usage.cost, Some(Money::from_pico(cost)));
        assert_eq!(usage.total_tokens, 15);

        // Durable: the generation record and its charge are in the store.
        let record = store
            .generation("gen-settle-unit")
            .await
            .expect("reads")
            .expect("recorded");
        assert_eq!(record.cost_pico, cost as i64);
        assert_eq!(record.model, "t/model");
        assert_eq!(record.finish_reason.as_deref(), Some("stop"));
        let ledger = store.ledger("acct_unit").await.expect("ledger reads");
        assert!(
            ledger.iter().any(|e| e.kind == "charge"
                && e.amount_pico == -(cost as i64)
                && e.generation_id.as_deref() == Some("gen-settle-unit")),
            "{ledger:?}"
        );

        // 75,000,000 pico are left: a worst case of 209,000,000 is refused with a 402.
        let refused = reserve(&billing, &caller, &request(100), &plan).await;
        assert!(
            matches!(refused, Err(GatewayError::PaymentRequired(_))),
            "{refused:?}"
        );
        drop(billing);
        let _ = std::fs::remove_dir_all(dir);
    }
}
