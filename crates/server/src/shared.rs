//! What several replicas must agree on in real time, kept in Redis: money reserved for
//! requests in flight (per account and per key) and rate-limit windows (per key). Balances
//! and keys themselves live in the database; each replica re-reads them every 500 ms.
//!
//! Amounts in Redis are nano-USD (reservations rounded up), so Lua's doubles stay exact up
//! to about $9M reserved at once.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Every Redis call is bounded by this: Redis answers in well under a millisecond on a
/// healthy network, and a request must not wait on a Redis that has gone away.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(300);
/// After a failure, Redis is not asked again for this long: every request in an outage fails
/// fast instead of each waiting out its own timeout.
pub const DOWN_FOR: Duration = Duration::from_millis(1000);

/// What a replica does about money while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Refuse requests that spend from a balance or a key limit (503); unlimited callers go on.
    Refuse,
    /// Reserve locally against 1/n of the balance and of each key limit, n being the number of
    /// replicas: together they can never hold more than the whole.
    Share(u32),
}

#[derive(Clone)]
pub struct Shared {
    conn: ConnectionManager,
    prefix: String,
    fallback: Fallback,
    outage: Arc<Mutex<Option<(Instant, String)>>>,
}

/// The outcome of a shared reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Reserved,
    /// It would not fit: what is left, nano-USD.
    Short(i64),
    /// Redis lost its counters since this replica read the balance (a restart): re-read the
    /// balance and its base, then ask again.
    Stale,
}

/// Redis could not be used for this call (unreachable, slow, or in its fail-fast window).
#[derive(Debug, Clone, thiserror::Error)]
#[error("Redis is unavailable: {0}")]
pub struct Unavailable(pub String);

/// Reserves atomically on both the account and the key, each against its own cap (-1: none).
/// The account's cap is the balance a replica read from the database, less what every
/// replica has charged since (the `spent` counter, read before that database read).
const RESERVE: &str = r"
-- A counter below zero means releases outran holds (Redis lost its data and came back):
-- it is read as zero, so it never makes room that is not there.
local a = math.max(0, tonumber(redis.call('GET', KEYS[1]) or '0'))
local k = math.max(0, tonumber(redis.call('GET', KEYS[2]) or '0'))
local amt = tonumber(ARGV[1])
local acap = tonumber(ARGV[2])
local kcap = tonumber(ARGV[3])
-- Charges committed since this replica read the balance from the database. A counter
-- below the base this replica read means Redis lost its data: the replica must re-read
-- its balance and base before anything is admitted on them.
if acap >= 0 then
  local spent = tonumber(redis.call('GET', KEYS[3]) or '0')
  local base = tonumber(ARGV[4])
  if spent < base then return {2, 0} end
  acap = math.max(0, acap - (spent - base))
end
-- `capped` is separate from `left`: once holds exceed a cap, `left` is negative, and a
-- negative `left` must refuse, not read as 'no cap'.
local capped = false
local left = 0
if acap >= 0 then
  capped = true
  left = acap - a
end
if kcap >= 0 and ((not capped) or kcap - k < left) then
  capped = true
  left = kcap - k
end
if capped and amt > left then return {0, math.max(0, left)} end
redis.call('INCRBY', KEYS[1], amt)
redis.call('INCRBY', KEYS[2], amt)
redis.call('EXPIRE', KEYS[1], 3600)
redis.call('EXPIRE', KEYS[2], 3600)
return {1, 0}
";

/// Releases a hold, never below zero (a hold taken before Redis restarted empty would
/// otherwise leave the counter negative, and the room it seemed to make would be spent).
const RELEASE: &str = r"
for i = 1, 2 do
  local v = redis.call('DECRBY', KEYS[i], ARGV[1])
  if v < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
end
return 1
";

/// Counts a request in the key's current minute unless it is full; returns the count and
/// the tokens used so far, or -1 when refused.
const ADMIT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local t = tonumber(redis.call('GET', KEYS[2]) or '0')
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
if (rpm >= 0 and n >= rpm) or (tpm >= 0 and t >= tpm) then return {-1, n, t} end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 120)
return {n + 1, n + 1, t}
";

pub fn to_nano_up(pico: i128) -> i64 {
    i64::try_from((pico.max(0) + 999) / 1000).unwrap_or(i64::MAX)
}

impl Shared {
    pub async fn connect(
        url: &str,
        prefix: &str,
        fallback: Fallback,
    ) -> Result<Shared, RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CALL_TIMEOUT)
            .set_response_timeout(CALL_TIMEOUT)
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Shared {
            conn,
            prefix: prefix.to_string(),
            fallback,
            outage: Arc::new(Mutex::new(None)),
        })
    }

    pub fn fallback(&self) -> Fallback {
        self.fallback
    }

    /// `Some(reason)` while Redis is considered down.
    pub fn failure(&self) -> Option<String> {
        let o = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        o.as_ref()
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, why)| why.clone())
    }

    /// Runs one Redis call with a deadline; a failure opens the fail-fast window. A refused
    /// connection is tried once more at once: the connection manager reconnects only after
    /// a call has failed, so the first call after Redis comes back would fail otherwise.
    async fn call<T, F, Fut>(&self, make: F) -> Result<T, Unavailable>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if let Some(why) = self.failure() {
            return Err(Unavailable(why));
        }
        let mut retried = false;
        let why = loop {
            match tokio::time::timeout(CALL_TIMEOUT, make(self.conn.clone())).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e))
                    if !retried && (e.is_connection_refusal() || e.is_connection_dropped()) =>
                {
                    retried = true;
                }
                Ok(Err(e)) => break e.to_string(),
                Err(_) => break format!("no answer within {} ms", CALL_TIMEOUT.as_millis()),
            }
        };
        tracing::warn!(reason = %why, "Redis call failed; not asking again for {} ms", DOWN_FOR.as_millis());
        *self.outage.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now() + DOWN_FOR, why.clone()));
        Err(Unavailable(why))
    }

    fn key(&self, parts: &[&str]) -> String {
        format!("{}:{}", self.prefix, parts.join(":"))
    }

    /// Whether a hold was taken.
    pub async fn reserve(
        &self,
        account: &str,
        key_hash: &str,
        nano: i64,
        account_cap: Option<(i64, i64)>,
        key_cap: Option<i64>,
    ) -> Result<Hold, Unavailable> {
        let script = Script::new(RESERVE);
        let mut inv = script.prepare_invoke();
        inv.key(self.key(&["reserved", "account", account]))
            .key(self.key(&["reserved", "key", key_hash]))
            .key(self.key(&["spent", account]))
            .arg(nano)
            .arg(account_cap.map(|c| c.0).unwrap_or(-1))
            .arg(key_cap.unwrap_or(-1))
            .arg(account_cap.map(|c| c.1).unwrap_or(0));
        let (ok, left): (i64, i64) = self
            .call(|mut c| {
                let x = &inv;
                async move { x.invoke_async(&mut c).await }
            })
            .await?;
        Ok(match ok {
            1 => Hold::Reserved,
            2 => Hold::Stale,
            _ => Hold::Short(left.max(0)),
        })
    }

    /// Every replica's charges to an account so far (nano-USD).
    pub async fn spent(&self, account: &str) -> Result<i64, Unavailable> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(&["spent", account]));
        let v: Option<i64> = self
            .call(|mut c| {
                let x = &cmd;
                async move { x.query_async(&mut c).await }
            })
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Adds a committed charge to the shared counter.
    pub async fn add_spent(&self, account: &str, nano: i64) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("INCRBY");
        cmd.arg(self.key(&["spent", account])).arg(nano);
        self.call(|mut c| {
            let x = &cmd;
            async move { x.query_async::<()>(&mut c).await }
        })
        .await
    }

    pub async fn release(
        &self,
        account: &str,
        key_hash: &str,
        nano: i64,
    ) -> Result<(), Unavailable> {
        let script = Script::new(RELEASE);
        let mut inv = script.prepare_invoke();
        inv.key(self.key(&["reserved", "account", account]))
            .key(self.key(&["reserved", "key", key_hash]))
            .arg(nano);
        self.call(|mut c| {
            let x = &inv;
            async move { x.invoke_async::<i64>(&mut c).await }
        })
        .await?;
        Ok(())
    }

    /// `Ok(true)` when admitted in this minute.
    pub async fn admit(
        &self,
        key_hash: &str,
        minute: i64,
        rpm: Option<i64>,
        tpm: Option<i64>,
    ) -> Result<bool, Unavailable> {
        let m = minute.to_string();
        let script = Script::new(ADMIT);
        let mut inv = script.prepare_invoke();
        inv.key(self.key(&["rl", "req", key_hash, &m]))
            .key(self.key(&["rl", "tok", key_hash, &m]))
            .arg(rpm.unwrap_or(-1))
            .arg(tpm.unwrap_or(-1));
        let (n, _, _): (i64, i64, i64) = self
            .call(|mut c| {
                let x = &inv;
                async move { x.invoke_async(&mut c).await }
            })
            .await?;
        Ok(n >= 0)
    }

    pub async fn add_tokens(
        &self,
        key_hash: &str,
        minute: i64,
        tokens: i64,
    ) -> Result<(), Unavailable> {
        let k = self.key(&["rl", "tok", key_hash, &minute.to_string()]);
        let mut pipe = redis::pipe();
        pipe.incr(&k, tokens).expire(&k, 120);
        self.call(|mut c| {
            let x = &pipe;
            async move { x.query_async::<()>(&mut c).await }
        })
        .await
    }
}
