//! OpenRouter's account API: the calling key (`GET /key`), credits, generation stats,
//! activity, and key provisioning with management keys (`/keys`). Plus the operator's
//! admin calls (accounts and credits), guarded by `SWITCHYARD_ADMIN_KEY`.

use crate::accounts::{Caller, KeyEntry};
use crate::auth::{bearer, generate_key, hash_hex, hash_key, label};
use crate::error::GatewayError;
use crate::routes::chat::caller;
use crate::routes::{ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use switchyard_api::Money;
use switchyard_store::time::{iso8601, parse_iso8601};
use switchyard_store::KeyRecord;

fn usd(pico: i128) -> Money {
    Money::from_pico(pico)
}

fn internal(e: switchyard_store::StoreError) -> GatewayError {
    GatewayError::Internal(e.to_string())
}

/// A JSON object whose money fields are written as exact decimals: `serde_json::Value` would
/// turn them into floats, so they are serialised beside it, straight to the response bytes.
#[derive(Serialize)]
pub struct Exact {
    #[serde(flatten)]
    fields: Value,
    #[serde(flatten)]
    money: BTreeMap<&'static str, Option<Money>>,
}

fn exact(fields: Value, money: &[(&'static str, Option<Money>)]) -> Exact {
    Exact {
        fields,
        money: money.iter().copied().collect(),
    }
}

#[derive(Serialize)]
pub struct Data<T: Serialize> {
    data: T,
}

#[derive(Serialize)]
pub struct Created {
    data: Exact,
    key: String,
}

fn management(st: &AppState, headers: &HeaderMap) -> Result<Caller, GatewayError> {
    let c = caller(st, headers)?;
    // 401, not 403: the spec documents 401 for every management operation and 403 for only
    // some of them, and an inference key is not a credential for any.
    if !c.key.record.management {
        return Err(GatewayError::NeedsManagementKey);
    }
    Ok(c)
}

fn key_info(k: &KeyEntry, extra: Value) -> Exact {
    let r = &k.record;
    let u = k.usage();
    let mut fields = json!({
        "hash": r.hash,
        "name": r.name,
        "label": r.label,
        "disabled": r.disabled,
        "limit_reset": r.limit_reset,
        "include_byok_in_limit": false,
        "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
        "created_at": iso8601(r.created_at),
        "updated_at": iso8601(r.updated_at),
        "expires_at": r.expires_at.map(iso8601),
        "creator_user_id": null,
        // A string in the spec, never null: the gateway has no workspaces.
        "workspace_id": "",
        // Not in the spec fixture, required (nullable) by the official SDKs 1.3.x: no end
        // users are attached to keys, and last use is not tracked.
        "external_user": null,
        "last_used_at": null,
    });
    if let (Value::Object(f), Value::Object(e)) = (&mut fields, extra) {
        f.extend(e);
    }
    exact(
        fields,
        &[
            ("limit", r.limit_pico.map(|l| usd(i128::from(l)))),
            ("limit_remaining", k.remaining().map(usd)),
            ("usage", Some(usd(u.total))),
            ("usage_daily", Some(usd(u.daily))),
            ("usage_weekly", Some(usd(u.weekly))),
            ("usage_monthly", Some(usd(u.monthly))),
        ],
    )
}

/// `GET /key`: the calling key.
pub async fn current_key(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Data<Exact>>, GatewayError> {
    let c = caller(&st, &headers)?;
    let r = &c.key.record;
    let extra = json!({
        "is_free_tier": false,
        "is_management_key": r.management,
        "is_provisioning_key": r.management,
        "rate_limit": {"requests": r.rpm.unwrap_or(-1), "interval": "1m", "note": "requests per minute for this key; -1: no limit"},
        // Not in the spec fixture (2026-08-22), required by the official SDKs 1.3.x
        // (`GetCurrentKeyData`). The gateway has no organisations, workspaces, budgets, data
        // regions or free-model quota, so each is its neutral value: no region restriction
        // listed, no budget, and a quota of zeros that nothing enforces.
        "allowed_data_regions": [],
        "budgets": [],
        "effective_budget": null,
        "free_model_daily_requests": {"limit": 0, "remaining": 0, "used": 0},
        "organization_id": null,
        "workspace_id": null,
    });
    Ok(Json(Data {
        data: key_info(&c.key, extra),
    }))
}

/// `GET /credits`: credits granted and used by the account.
pub async fn credits(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Data<Exact>>, GatewayError> {
    let c = management(&st, &headers)?;
    let (granted, used) = st
        .billing
        .accounts
        .store
        .credit_totals(&c.account.account.id)
        .await
        .map_err(internal)?;
    Ok(Json(Data {
        data: exact(
            json!({}),
            &[
                ("total_credits", Some(usd(granted))),
                ("total_usage", Some(usd(used))),
            ],
        ),
    }))
}

#[derive(Deserialize)]
pub struct GenerationQuery {
    id: String,
}

/// `GET /generation?id=gen-…`: the stats of one generation of the caller's account.
pub async fn generation(
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<GenerationQuery>,
) -> Result<Json<Data<Exact>>, GatewayError> {
    let c = caller(&st, &headers)?;
    let g = st
        .billing
        .accounts
        .store
        .generation(&q.id)
        .await
        .map_err(internal)?
        .filter(|g| g.account_id == c.account.account.id)
        .ok_or_else(|| GatewayError::NotFoundMsg(format!("Generation {} not found", q.id)))?;
    let responses: Vec<Value> = serde_json::from_str(&g.provider_responses).unwrap_or_default();
    // The spec's `ProviderResponse`; `error` is the gateway's own addition.
    let responses: Vec<Value> = responses
        .iter()
        .map(|a| {
            let mut r = json!({
                "provider_name": a["provider"],
                "model_permaslug": a["model"],
                "status": a["status"].as_u64().filter(|s| *s != 0),
                "latency": a["latency_ms"],
                "is_byok": false,
            });
            if let Some(e) = a.get("error").filter(|e| !e.is_null()) {
                r["error"] = e.clone();
            }
            r
        })
        .collect();
    let cost = Some(usd(i128::from(g.cost_pico)));
    let mut fields = json!({
        "id": g.id,
        "upstream_id": g.upstream_id,
        "created_at": iso8601(g.created_at),
        "model": g.model,
        "api_type": api_type(&st, &g.model),
        "provider_name": g.provider_name,
        "provider_responses": responses,
        "tokens_prompt": g.tokens_prompt,
        "tokens_completion": g.tokens_completion,
        "native_tokens_prompt": g.tokens_prompt,
        "native_tokens_completion": g.tokens_completion,
        "native_tokens_reasoning": g.tokens_reasoning,
        "native_tokens_cached": g.tokens_cached,
        "upstream_inference_cost": null,
        "is_byok": false,
        "latency": g.latency_ms,
        "generation_time": g.generation_ms,
        "finish_reason": g.finish_reason,
        "native_finish_reason": g.native_finish_reason,
        "streamed": g.streamed,
        "cancelled": g.cancelled,
        "usage_estimated": g.usage_estimated,
        "http_referer": g.http_referer,
        "app_title": g.app_title,
    });
    // Required by the spec. What the gateway does not record, or never does (moderation, web
    // search, presets, workspaces, apps, service tiers), has its neutral value: `null` where
    // the spec allows it, a zero count for what cannot have happened, `global` for a request
    // no region was pinned to, and an empty `origin` (a string, never null) without a referer.
    let neutral = json!({
        "origin": g.http_referer.as_deref().unwrap_or_default(),
        "app_id": null,
        "cache_discount": null,
        "moderation_latency": null,
        "service_tier": null,
        "native_tokens_completion_images": 0,
        "num_media_prompt": null,
        "num_input_audio_prompt": null,
        "num_media_completion": 0,
        "num_search_results": 0,
        "num_fetches": 0,
        "web_search_engine": null,
        "external_user": null,
        "preset_id": null,
        "router": null,
        "user_agent": null,
        "workspace_id": null,
        "data_region": "global",
    });
    if let (Value::Object(f), Value::Object(n)) = (&mut fields, neutral) {
        f.extend(n);
    }
    Ok(Json(Data {
        data: exact(fields, &[("total_cost", cost), ("usage", cost)]),
    }))
}

/// OpenRouter's `api_type` of a generation. The record keeps no such column; the model says
/// it, since a catalogue model serves one API only.
fn api_type(st: &AppState, model: &str) -> &'static str {
    if st
        .routing
        .catalog
        .model(model)
        .is_some_and(|m| m.is_embedding())
    {
        "embeddings"
    } else {
        "completions"
    }
}

/// `GET /activity`: daily usage per model and provider over the last 30 days.
pub async fn activity(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Data<Vec<Exact>>>, GatewayError> {
    let c = caller(&st, &headers)?;
    let since = (switchyard_store::now() / 86_400 - 30) * 86_400;
    let rows = st
        .billing
        .accounts
        .store
        .activity(&c.account.account.id, since)
        .await
        .map_err(internal)?;
    let data = rows
        .into_iter()
        .map(|r| {
            let fields = json!({
                "date": r.date,
                "model": r.model,
                "model_permaslug": r.model,
                "endpoint_id": format!("{}|{}", r.model, r.provider_name),
                "provider_name": r.provider_name,
                "byok_usage_inference": 0,
                "requests": r.requests,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "reasoning_tokens": r.reasoning_tokens,
                // Not in the spec fixture (2026-08-22), required by the official SDKs since
                // (openrouter 1.3.x on PyPI: `ActivityItem.cached_tokens: int`).
                "cached_tokens": r.cached_tokens,
            });
            exact(fields, &[("usage", Some(usd(i128::from(r.usage_pico))))])
        })
        .collect();
    Ok(Json(Data { data }))
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    include_disabled: Option<bool>,
    #[serde(default)]
    offset: Option<usize>,
}

/// `GET /keys`
pub async fn list_keys(
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Data<Vec<Exact>>>, GatewayError> {
    let c = management(&st, &headers)?;
    let keys: Vec<Exact> = st
        .billing
        .accounts
        .keys_of(&c.account.account.id)
        .iter()
        .filter(|k| !k.record.management)
        .filter(|k| q.include_disabled.unwrap_or(false) || !k.record.disabled)
        .skip(q.offset.unwrap_or(0))
        .map(|k| key_info(k, json!({})))
        .collect();
    Ok(Json(Data { data: keys }))
}

fn limit_reset(v: &Option<Option<String>>) -> Result<Option<Option<String>>, GatewayError> {
    match v {
        Some(Some(r)) if !matches!(r.as_str(), "daily" | "weekly" | "monthly") => {
            Err(GatewayError::BadRequest(
                "`limit_reset` must be \"daily\", \"weekly\", \"monthly\" or null".into(),
            ))
        }
        other => Ok(other.clone()),
    }
}

fn limit_pico(v: Option<Money>) -> Result<Option<i64>, GatewayError> {
    v.map(|m| {
        if m < Money::ZERO {
            return Err(GatewayError::BadRequest(
                "`limit` cannot be negative".into(),
            ));
        }
        i64::try_from(m.pico()).map_err(|_| GatewayError::BadRequest("`limit` is too large".into()))
    })
    .transpose()
}

/// Distinguishes an absent field from an explicit `null`.
fn double_option<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    #[serde(default)]
    limit: Option<Money>,
    #[serde(default, deserialize_with = "double_option")]
    limit_reset: Option<Option<String>>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    include_byok_in_limit: Option<bool>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    creator_user_id: Option<String>,
}

/// Called after the caller's key is checked, never before.
async fn read_body(st: &AppState, body: axum::body::Body) -> Result<bytes::Bytes, GatewayError> {
    crate::body::read_limited(body, &crate::body::BodyLimits::of(&st.settings)).await
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, GatewayError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        GatewayError::BadRequest(format!("invalid value for `{path}`: {}", e.into_inner()))
    })?;
    // One JSON value and nothing after it: a second object must not slip past.
    de.end()
        .map_err(|e| GatewayError::BadRequest(format!("invalid request body: {e}")))?;
    Ok(value)
}

/// Creates and stores an API key; the secret is returned here only.
pub async fn new_key(
    st: &AppState,
    account_id: &str,
    name: &str,
    management: bool,
    limit: Option<i64>,
    reset: Option<String>,
    expires_at: Option<i64>,
) -> Result<(String, Arc<KeyEntry>), GatewayError> {
    let secret = generate_key();
    let now = switchyard_store::now();
    let rec = KeyRecord {
        hash: hash_hex(&secret),
        account_id: account_id.to_string(),
        name: name.to_string(),
        label: label(&secret),
        management,
        limit_pico: limit,
        limit_reset: reset,
        expires_at,
        created_at: now,
        updated_at: now,
        ..Default::default()
    };
    st.billing
        .accounts
        .store
        .insert_key(&rec)
        .await
        .map_err(internal)?;
    st.billing.accounts.put_key(rec.clone());
    let entry = st
        .billing
        .accounts
        .key_by_hash(&rec.hash)
        .ok_or_else(|| GatewayError::Internal("key vanished".into()))?;
    Ok((secret, entry))
}

/// `POST /keys`
pub async fn create_key(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, GatewayError> {
    let c = management(&st, &headers)?;
    let b: CreateKey = parse_body(&read_body(&st, body).await?)?;
    let _ = (b.include_byok_in_limit, b.workspace_id, b.creator_user_id);
    let expires_at = match b.expires_at.as_deref() {
        None => None,
        Some(s) => Some(parse_iso8601(s).ok_or_else(|| {
            GatewayError::BadRequest("`expires_at` must be an ISO 8601 date-time".into())
        })?),
    };
    let reset = limit_reset(&b.limit_reset)?.flatten();
    let (secret, entry) = new_key(
        &st,
        &c.account.account.id,
        &b.name,
        false,
        limit_pico(b.limit)?,
        reset,
        expires_at,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            data: key_info(&entry, json!({})),
            key: secret,
        }),
    )
        .into_response())
}

fn owned(st: &AppState, c: &Caller, hash: &str) -> Result<Arc<KeyEntry>, GatewayError> {
    st.billing
        .accounts
        .key_by_hash(hash)
        .filter(|k| k.record.account_id == c.account.account.id && !k.record.deleted)
        .ok_or_else(|| GatewayError::NotFoundMsg(format!("No key with hash {hash}")))
}

/// `GET /keys/{hash}`
pub async fn get_key(
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Data<Exact>>, GatewayError> {
    let c = management(&st, &headers)?;
    Ok(Json(Data {
        data: key_info(owned(&st, &c, &hash)?.as_ref(), json!({})),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    limit: Option<Option<Money>>,
    #[serde(default, deserialize_with = "double_option")]
    limit_reset: Option<Option<String>>,
    #[serde(default)]
    include_byok_in_limit: Option<bool>,
}

async fn save(st: &AppState, rec: KeyRecord) -> Result<Arc<KeyEntry>, GatewayError> {
    st.billing
        .accounts
        .store
        .update_key(&rec)
        .await
        .map_err(internal)?;
    let hash = rec.hash.clone();
    st.billing.accounts.put_key(rec);
    st.billing
        .accounts
        .key_by_hash(&hash)
        .ok_or_else(|| GatewayError::Internal("key vanished".into()))
}

/// `PATCH /keys/{hash}`
pub async fn update_key(
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiPath(hash): ApiPath<String>,
    body: axum::body::Body,
) -> Result<Json<Data<Exact>>, GatewayError> {
    let c = management(&st, &headers)?;
    let b: UpdateKey = parse_body(&read_body(&st, body).await?)?;
    let _ = b.include_byok_in_limit;
    let mut rec = owned(&st, &c, &hash)?.record.clone();
    if let Some(n) = b.name {
        rec.name = n;
    }
    if let Some(d) = b.disabled {
        rec.disabled = d;
    }
    if let Some(l) = b.limit {
        rec.limit_pico = limit_pico(l)?;
    }
    if let Some(r) = limit_reset(&b.limit_reset)? {
        rec.limit_reset = r;
    }
    rec.updated_at = switchyard_store::now();
    Ok(Json(Data {
        data: key_info(save(&st, rec).await?.as_ref(), json!({})),
    }))
}

/// `DELETE /keys/{hash}`: the key stops working at once (and within a second elsewhere).
pub async fn delete_key(
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<Value>, GatewayError> {
    let c = management(&st, &headers)?;
    let mut rec = owned(&st, &c, &hash)?.record.clone();
    rec.deleted = true;
    rec.updated_at = switchyard_store::now();
    save(&st, rec).await?;
    Ok(Json(json!({"deleted": true})))
}

fn admin(st: &AppState, headers: &HeaderMap) -> Result<(), GatewayError> {
    let presented = bearer(headers.get("authorization").and_then(|v| v.to_str().ok()))
        .ok_or(GatewayError::MissingKey)?;
    // Constant time: the admin key's digest is one secret compared on every admin call.
    match &st.admin_key {
        Some(h)
            if bool::from(subtle::ConstantTimeEq::ct_eq(
                &h[..],
                &hash_key(presented)[..],
            )) =>
        {
            Ok(())
        }
        _ => Err(GatewayError::InvalidKey),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    account: String,
    amount: Money,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /admin/credits {"account", "amount", "note"}`: one ledger entry (negative removes).
pub async fn admin_credits(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Json<Data<Exact>>, GatewayError> {
    admin(&st, &headers)?;
    let g: Grant = parse_body(&read_body(&st, body).await?)?;
    let account = st
        .billing
        .accounts
        .store
        .account(&g.account)
        .await
        .map_err(internal)?
        .ok_or_else(|| GatewayError::NotFoundMsg(format!("No account `{}`", g.account)))?;
    let pico = i64::try_from(g.amount.pico())
        .map_err(|_| GatewayError::BadRequest("`amount` is too large".into()))?;
    let entry = st
        .billing
        .accounts
        .store
        .grant(&account.id, pico, g.note.as_deref())
        .await
        .map_err(|e| match e {
            switchyard_store::StoreError::Invalid(m) => GatewayError::BadRequest(m),
            other => internal(other),
        })?;
    st.billing.accounts.granted(&account.id, pico).await;
    st.billing.accounts.refresh().await?;
    let balance = st
        .billing
        .accounts
        .account(&account.id)
        .map(|a| a.balance())
        .unwrap_or_default();
    Ok(Json(Data {
        data: exact(
            json!({"account": account.name, "entry": entry.seq}),
            &[("amount", Some(g.amount)), ("balance", Some(usd(balance)))],
        ),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    name: String,
    #[serde(default)]
    management_key: bool,
}

/// `POST /admin/accounts {"name", "management_key"}`: a prepaid account, optionally with a
/// management key (returned once).
pub async fn admin_accounts(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, GatewayError> {
    admin(&st, &headers)?;
    let b: NewAccount = parse_body(&read_body(&st, body).await?)?;
    let id = format!("acct_{}", crate::routes::random_alnum(16));
    let account = st
        .billing
        .accounts
        .store
        .create_account(&id, &b.name, false)
        .await
        .map_err(|e| {
            GatewayError::BadRequest(format!("cannot create account `{}`: {e}", b.name))
        })?;
    st.billing.accounts.refresh().await?;
    let mut out = json!({"data": {"id": account.id, "name": account.name}});
    if b.management_key {
        let (secret, _) = new_key(&st, &account.id, "management", true, None, None, None).await?;
        out["management_key"] = json!(secret);
    }
    Ok((StatusCode::CREATED, Json(out)).into_response())
}
