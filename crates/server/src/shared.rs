//! What several replicas must agree on in real time, kept in Redis: money reserved for
//! requests in flight (per account and per key) and rate-limit windows (per key). Balances
//! and keys themselves live in the database; each replica re-reads them every 500 ms.
//!
//! Amounts in Redis are nano-USD (reservations rounded up), so Lua's doubles stay exact up
//! to about $9M reserved at once.

use redis::aio::ConnectionManager;
use redis::Script;

#[derive(Clone)]
pub struct Shared {
    conn: ConnectionManager,
    prefix: String,
}

/// Reserves atomically on both the account and the key, each against its own cap (-1: none).
/// The account's cap is the balance a replica read from the database, less what every
/// replica has charged since (the `spent` counter, read before that database read).
const RESERVE: &str = r"
local a = tonumber(redis.call('GET', KEYS[1]) or '0')
local k = tonumber(redis.call('GET', KEYS[2]) or '0')
local amt = tonumber(ARGV[1])
local acap = tonumber(ARGV[2])
local kcap = tonumber(ARGV[3])
-- Charges committed since this replica read the balance from the database.
if acap >= 0 then
  acap = acap - (tonumber(redis.call('GET', KEYS[3]) or '0') - tonumber(ARGV[4]))
  if acap < 0 then acap = 0 end
end
local left = -1
if acap >= 0 then left = acap - a end
if kcap >= 0 and (left < 0 or kcap - k < left) then left = kcap - k end
if left >= 0 and amt > left then return {0, left} end
redis.call('INCRBY', KEYS[1], amt)
redis.call('INCRBY', KEYS[2], amt)
redis.call('EXPIRE', KEYS[1], 3600)
redis.call('EXPIRE', KEYS[2], 3600)
return {1, 0}
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
    pub async fn connect(url: &str, prefix: &str) -> Result<Shared, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client).await?;
        Ok(Shared {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        format!("{}:{}", self.prefix, parts.join(":"))
    }

    /// `Ok(None)` when reserved; `Ok(Some(left))` (nano-USD) when it would not fit.
    pub async fn reserve(
        &self,
        account: &str,
        key_hash: &str,
        nano: i64,
        account_cap: Option<(i64, i64)>,
        key_cap: Option<i64>,
    ) -> Result<Option<i64>, redis::RedisError> {
        let mut conn = self.conn.clone();
        let (ok, left): (i64, i64) = Script::new(RESERVE)
            .key(self.key(&["reserved", "account", account]))
            .key(self.key(&["reserved", "key", key_hash]))
            .key(self.key(&["spent", account]))
            .arg(nano)
            .arg(account_cap.map(|c| c.0).unwrap_or(-1))
            .arg(key_cap.unwrap_or(-1))
            .arg(account_cap.map(|c| c.1).unwrap_or(0))
            .invoke_async(&mut conn)
            .await?;
        Ok((ok == 0).then_some(left.max(0)))
    }

    /// Every replica's charges to an account so far (nano-USD).
    pub async fn spent(&self, account: &str) -> Result<i64, redis::RedisError> {
        let mut conn = self.conn.clone();
        let v: Option<i64> = redis::cmd("GET")
            .arg(self.key(&["spent", account]))
            .query_async(&mut conn)
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// Adds a committed charge to the shared counter.
    pub async fn add_spent(&self, account: &str, nano: i64) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        redis::cmd("INCRBY")
            .arg(self.key(&["spent", account]))
            .arg(nano)
            .query_async::<()>(&mut conn)
            .await
    }

    pub async fn release(
        &self,
        account: &str,
        key_hash: &str,
        nano: i64,
    ) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .decr(self.key(&["reserved", "account", account]), nano)
            .decr(self.key(&["reserved", "key", key_hash]), nano)
            .query_async::<()>(&mut conn)
            .await
    }

    /// `Ok(true)` when admitted in this minute.
    pub async fn admit(
        &self,
        key_hash: &str,
        minute: i64,
        rpm: Option<i64>,
        tpm: Option<i64>,
    ) -> Result<bool, redis::RedisError> {
        let mut conn = self.conn.clone();
        let m = minute.to_string();
        let (n, _, _): (i64, i64, i64) = Script::new(ADMIT)
            .key(self.key(&["rl", "req", key_hash, &m]))
            .key(self.key(&["rl", "tok", key_hash, &m]))
            .arg(rpm.unwrap_or(-1))
            .arg(tpm.unwrap_or(-1))
            .invoke_async(&mut conn)
            .await?;
        Ok(n >= 0)
    }

    pub async fn add_tokens(
        &self,
        key_hash: &str,
        minute: i64,
        tokens: i64,
    ) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        let k = self.key(&["rl", "tok", key_hash, &minute.to_string()]);
        redis::pipe()
            .incr(&k, tokens)
            .expire(&k, 120)
            .query_async::<()>(&mut conn)
            .await
    }
}
