//! Who is calling and what they may spend, answered from memory: keys (by SHA-256), account
//! balances, key spending, reservations and rate-limit windows. The database is read only by
//! the background refresher (every 500 ms, so a key disabled or deleted anywhere stops working
//! within a second) and at start; it is written by settlement and the management API.

use crate::auth::hash_key;
use crate::error::GatewayError;
use crate::shared::Shared;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use switchyard_api::Money;
use switchyard_store::{Account, KeyRecord, KeyUsage, Store};

/// Keys are re-read every tick; balances and key spending every tenth (5 s).
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);
const REFRESH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Spend {
    /// Committed spending (pico-USD) in the windows of `usage_at`.
    usage: KeyUsage,
    /// Window starts the usage was computed for (day, week, month).
    windows: (i64, i64, i64),
    reserved: i128,
    /// Rate-limit window: (minute, requests, tokens).
    minute: (i64, i64, i64),
}

#[derive(Debug)]
pub struct KeyEntry {
    pub record: KeyRecord,
    spend: Mutex<Spend>,
}

#[derive(Debug, Default)]
struct Funds {
    balance: i128,
    reserved: i128,
    /// The shared `spent` counter as read just before `balance` was read from the database.
    spent_base: i64,
    /// When a refusal last re-read this balance from the database (credits granted on another
    /// replica count at once, not at the next 5-second refresh).
    reread_at: Option<tokio::time::Instant>,
}

/// Why a reservation was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// What could be afforded, pico-USD.
    Funds(i128),
    /// Redis is down and the fallback is to refuse spending callers.
    Unavailable(String),
    /// Redis lost its counters; never leaves `Accounts::reserve`.
    Stale,
}

/// A refused request may re-read its account's balance at most this often.
const REREAD_EVERY: Duration = Duration::from_millis(250);
const REREAD_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct AccountEntry {
    pub account: Account,
    funds: Mutex<Funds>,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Arc<KeyEntry>,
    pub account: Arc<AccountEntry>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Poisoning only means another request panicked mid-update; the numbers stay usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl KeyEntry {
    fn new(record: KeyRecord, usage: KeyUsage, at: i64) -> KeyEntry {
        KeyEntry {
            record,
            spend: Mutex::new(Spend {
                usage,
                windows: switchyard_store::time::window_starts(at),
                ..Default::default()
            }),
        }
    }

    /// Spending in the key's limit window (or all told), committed.
    pub fn usage(&self) -> KeyUsage {
        let mut s = lock(&self.spend);
        roll(&mut s, switchyard_store::now());
        s.usage
    }

    fn window_usage(&self, u: &KeyUsage) -> i128 {
        match self.record.limit_reset.as_deref() {
            Some("daily") => u.daily,
            Some("weekly") => u.weekly,
            Some("monthly") => u.monthly,
            _ => u.total,
        }
    }

    /// What is left of the key's limit, committed spending and reservations deducted.
    pub fn remaining(&self) -> Option<i128> {
        let limit = i128::from(self.record.limit_pico?);
        let mut s = lock(&self.spend);
        roll(&mut s, switchyard_store::now());
        Some(limit - self.window_usage(&s.usage) - s.reserved)
    }
}

/// Zeroes the windows that have ended.
fn roll(s: &mut Spend, now: i64) {
    let w = switchyard_store::time::window_starts(now);
    if w.0 != s.windows.0 {
        s.usage.daily = 0;
    }
    if w.1 != s.windows.1 {
        s.usage.weekly = 0;
    }
    if w.2 != s.windows.2 {
        s.usage.monthly = 0;
    }
    s.windows = w;
}

impl AccountEntry {
    /// Balance minus reservations; `None` when the account is unlimited.
    pub fn available(&self) -> Option<i128> {
        if self.account.unlimited {
            return None;
        }
        let f = lock(&self.funds);
        Some(f.balance - f.reserved)
    }

    pub fn balance(&self) -> i128 {
        lock(&self.funds).balance
    }
}

/// Money held for one request until it settles; released if dropped unsettled.
pub struct Reservation {
    caller: Caller,
    amount: i128,
    /// The completion tokens the worst case allows: a stream is not relayed far beyond them.
    pub max_tokens: u64,
    /// Also held in Redis (nano-USD), shared with the other replicas.
    shared: Option<(Shared, i64)>,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("amount", &self.amount)
            .finish()
    }
}

impl Reservation {
    /// The worst case held for the request: the most it may be charged.
    pub fn amount(&self) -> Money {
        Money::from_pico(self.amount)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        lock(&self.caller.account.funds).reserved -= self.amount;
        lock(&self.caller.key.spend).reserved -= self.amount;
        if let Some((shared, nano)) = self.shared.take() {
            let account = self.caller.account.account.id.clone();
            let key = self.caller.key.record.hash.clone();
            // A hold left in Redis keeps its room taken until it expires (an hour), so a
            // release that fails during a blip is retried for a while before giving up.
            tokio::spawn(async move {
                let mut pause = Duration::from_millis(500);
                for attempt in 0..6 {
                    match shared.release(&account, &key, nano).await {
                        Ok(()) => return,
                        Err(e) if attempt == 5 => {
                            tracing::warn!(error = %e, "releasing a shared reservation failed; it expires within an hour");
                        }
                        Err(_) => {
                            tokio::time::sleep(pause).await;
                            pause = pause.saturating_mul(2);
                        }
                    }
                }
            });
        }
    }
}

pub struct Accounts {
    pub store: Store,
    /// Redis, when several replicas share reservations and rate limits.
    pub shared: Option<Shared>,
    keys: RwLock<HashMap<[u8; 32], Arc<KeyEntry>>>,
    accounts: RwLock<HashMap<String, Arc<AccountEntry>>>,
    /// Bumped by every local commit, so a refresh that raced one is discarded.
    commits: AtomicU64,
    /// One refresh at a time: a slow one begun before a change must not land after a fresh one.
    refreshing: tokio::sync::Mutex<()>,
    /// The newest grant seen: when the database's moves (credits added or removed anywhere,
    /// the CLI included), balances are re-read at the next tick instead of within 5 s.
    grant_seq: std::sync::atomic::AtomicI64,
}

pub struct RateCheck {
    pub limit: i64,
    pub remaining: i64,
    /// Unix milliseconds when the window resets.
    pub reset_ms: i64,
}

fn hex_to_hash(h: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(h).ok()?;
    bytes.try_into().ok()
}

impl Accounts {
    /// Loads every key and balance.
    pub async fn load(store: Store, shared: Option<Shared>) -> Result<Accounts, GatewayError> {
        let a = Accounts {
            store,
            shared,
            keys: RwLock::new(HashMap::new()),
            accounts: RwLock::new(HashMap::new()),
            commits: AtomicU64::new(0),
            refreshing: tokio::sync::Mutex::new(()),
            grant_seq: std::sync::atomic::AtomicI64::new(0),
        };
        a.refresh().await?;
        Ok(a)
    }

    /// Re-reads keys and balances. Key records are replaced (disabled / deleted / changed
    /// limits take effect); spending and reservations in memory are kept.
    pub async fn refresh(&self) -> Result<(), GatewayError> {
        self.refresh_with(true).await
    }

    /// `money`: also re-read balances and key spending (a scan of the ledger); keys alone are
    /// cheap and are what must change within a second everywhere.
    pub async fn refresh_with(&self, money: bool) -> Result<(), GatewayError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let before = self.commits.load(Ordering::SeqCst);
        let now = switchyard_store::now();
        let internal = |e: switchyard_store::StoreError| GatewayError::Internal(e.to_string());
        let accounts = self.store.accounts().await.map_err(internal)?;
        // Read the shared counters first: the balances read after them include at least the
        // charges they count, so balance − (spent now − spent then) never overstates money.
        // With Redis down the old base is kept: the database's balance already includes the
        // charges counted since, so they are deducted twice — money understated, never over.
        let mut spent_base = HashMap::new();
        if let Some(sh) = &self.shared {
            for a in &accounts {
                match sh.spent(&a.id).await {
                    Ok(v) => {
                        spent_base.insert(a.id.clone(), v);
                    }
                    Err(_) => break,
                }
            }
        }
        let balances: Option<HashMap<String, i128>> = if money {
            Some(
                self.store
                    .balances()
                    .await
                    .map_err(internal)?
                    .into_iter()
                    .collect(),
            )
        } else {
            None
        };
        let records = self.store.keys().await.map_err(internal)?;
        let usage: Option<HashMap<String, KeyUsage>> = if money {
            Some(
                self.store
                    .key_usage(now)
                    .await
                    .map_err(internal)?
                    .into_iter()
                    .collect(),
            )
        } else {
            None
        };
        // A local commit landed while we read: our sums may predate it. Try next time.
        // (A keys-only refresh leaves money alone, as a raced one does.)
        let raced = self.commits.load(Ordering::SeqCst) != before || !money;
        {
            let mut map = self.accounts.write().unwrap_or_else(|p| p.into_inner());
            for acc in accounts {
                let bal = balances
                    .as_ref()
                    .and_then(|b| b.get(&acc.id))
                    .copied()
                    .unwrap_or(0);
                let base = spent_base.get(&acc.id).copied();
                match map.get(&acc.id) {
                    Some(entry) if !raced => {
                        let mut f = lock(&entry.funds);
                        f.balance = bal;
                        if let Some(base) = base {
                            f.spent_base = base;
                        }
                    }
                    Some(_) => {}
                    None => {
                        map.insert(
                            acc.id.clone(),
                            Arc::new(AccountEntry {
                                account: acc,
                                funds: Mutex::new(Funds {
                                    balance: bal,
                                    spent_base: base.unwrap_or(0),
                                    ..Default::default()
                                }),
                            }),
                        );
                    }
                }
            }
        }
        let mut map = self.keys.write().unwrap_or_else(|p| p.into_inner());
        for rec in records {
            let Some(h) = hex_to_hash(&rec.hash) else {
                continue;
            };
            let u = usage
                .as_ref()
                .and_then(|m| m.get(&rec.hash))
                .copied()
                .unwrap_or_default();
            match map.get(&h) {
                Some(old) if old.record == rec => {
                    if !raced {
                        let mut s = lock(&old.spend);
                        s.usage = u;
                        s.windows = switchyard_store::time::window_starts(now);
                    }
                }
                old => {
                    let entry = KeyEntry::new(rec, u, now);
                    if let Some(old) = old {
                        let s = lock(&old.spend);
                        let mut n = lock(&entry.spend);
                        n.reserved = s.reserved;
                        n.minute = s.minute;
                    }
                    map.insert(h, Arc::new(entry));
                }
            }
        }
        Ok(())
    }

    /// Keeps the caches current until the process ends.
    pub fn spawn_refresher(self: &Arc<Self>, background: &crate::background::Background) {
        let me = Arc::downgrade(self);
        background.spawn("key and balance refresher", move |beat| {
            let me = me.clone();
            Box::pin(async move {
                let mut tick = tokio::time::interval(REFRESH_EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut n: u64 = 0;
                loop {
                    tick.tick().await;
                    n = n.wrapping_add(1);
                    let Some(a) = me.upgrade() else { return };
                    // Bounded: a database that stops answering must show up as a failure
                    // here, not as a refresher silently stuck on one query.
                    let refresh = tokio::time::timeout(REFRESH_TIMEOUT, async {
                        let granted = a.grants_moved().await;
                        a.refresh_with(granted || n.is_multiple_of(10)).await
                    });
                    match refresh.await {
                        Ok(Ok(())) => beat.ok(),
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "refreshing keys and balances failed");
                            beat.failed(e);
                        }
                        Err(_) => {
                            tracing::warn!("refreshing keys and balances timed out");
                            beat.failed("timed out");
                        }
                    }
                }
            })
        });
    }

    pub fn account(&self, id: &str) -> Option<Arc<AccountEntry>> {
        self.accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub fn key_by_hash(&self, hash_hex: &str) -> Option<Arc<KeyEntry>> {
        let h = hex_to_hash(hash_hex)?;
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&h)
            .cloned()
    }

    /// Keys of an account (deleted ones left out).
    pub fn keys_of(&self, account_id: &str) -> Vec<Arc<KeyEntry>> {
        let mut v: Vec<_> = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|k| k.record.account_id == account_id && !k.record.deleted)
            .cloned()
            .collect();
        v.sort_by(|a, b| {
            (a.record.created_at, &a.record.hash).cmp(&(b.record.created_at, &b.record.hash))
        });
        v
    }

    /// Makes a key change visible at once in this process (other replicas see it within a
    /// refresh).
    pub fn put_key(&self, rec: KeyRecord) {
        let Some(h) = hex_to_hash(&rec.hash) else {
            return;
        };
        let mut map = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let entry = KeyEntry::new(rec, KeyUsage::default(), switchyard_store::now());
        if let Some(old) = map.get(&h) {
            let s = lock(&old.spend);
            let mut n = lock(&entry.spend);
            n.usage = s.usage;
            n.reserved = s.reserved;
            n.minute = s.minute;
        }
        map.insert(h, Arc::new(entry));
    }

    /// The caller behind a presented key: unknown, deleted, disabled and expired keys fail.
    pub fn authenticate(&self, presented: &str) -> Result<Caller, GatewayError> {
        let h = hash_key(presented);
        let key = self
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&h)
            .cloned()
            .ok_or(GatewayError::InvalidKey)?;
        let r = &key.record;
        if r.deleted || r.disabled || r.expires_at.is_some_and(|t| t <= switchyard_store::now()) {
            return Err(GatewayError::InvalidKey);
        }
        let account = self
            .account(&r.account_id)
            .ok_or(GatewayError::InvalidKey)?;
        Ok(Caller { key, account })
    }

    /// Whether credits were granted or removed since the last look.
    async fn grants_moved(&self) -> bool {
        let Ok(seq) = self.store.last_grant_seq().await else {
            return false;
        };
        self.grant_seq.swap(seq, Ordering::SeqCst) != seq
    }

    /// After an operator's grant through this replica: a removal is counted with the charges
    /// in Redis, so every replica's view of the balance drops at once, not at its next read.
    pub async fn granted(&self, account_id: &str, pico: i64) {
        if let (Some(sh), true) = (&self.shared, pico < 0) {
            let nano = crate::shared::to_nano_up(i128::from(pico).saturating_neg());
            if let Err(e) = sh.add_spent(account_id, nano).await {
                tracing::warn!(error = %e, "counting a credit removal in Redis failed; replicas see it at their next refresh");
            }
        }
    }

    /// `Some(reason)` while the Redis shared by replicas is unreachable.
    pub fn shared_failure(&self) -> Option<String> {
        self.shared.as_ref().and_then(Shared::failure)
    }

    /// Holds `amount` against the account's balance and the key's limit, or says why not.
    /// With Redis the hold is shared by every replica. A refusal for lack of funds re-reads
    /// the balance once (rate-limited), so credits just granted elsewhere count at once.
    pub async fn reserve(&self, caller: &Caller, amount: Money) -> Result<Reservation, Refusal> {
        match self.try_reserve(caller, amount).await {
            Err(Refusal::Stale) => {
                self.reread_now(&caller.account).await;
                match self.try_reserve(caller, amount).await {
                    // Still inconsistent (another replica's reads race ours): refuse this one.
                    Err(Refusal::Stale) => Err(Refusal::Funds(0)),
                    other => other,
                }
            }
            Err(Refusal::Funds(left)) if self.reread(&caller.account).await => {
                match self.try_reserve(caller, amount).await {
                    Err(Refusal::Funds(now)) => Err(Refusal::Funds(now.max(left))),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Re-reads one account's balance from the database; `false` when it was re-read too
    /// recently, is unlimited, or the read failed.
    async fn reread(&self, account: &AccountEntry) -> bool {
        if account.account.unlimited {
            return false;
        }
        {
            let mut f = lock(&account.funds);
            let now = tokio::time::Instant::now();
            if f.reread_at
                .is_some_and(|t| now.duration_since(t) < REREAD_EVERY)
            {
                return false;
            }
            f.reread_at = Some(now);
        }
        self.reread_now(account).await
    }

    async fn reread_now(&self, account: &AccountEntry) -> bool {
        let before = self.commits.load(Ordering::SeqCst);
        let id = &account.account.id;
        let read = async {
            // The shared counter first, as in `refresh_with`.
            let base = match &self.shared {
                Some(sh) => Some(sh.spent(id).await.ok()?),
                None => None,
            };
            let (granted, used) = self.store.credit_totals(id).await.ok()?;
            Some((granted - used, base))
        };
        let Ok(Some((balance, base))) = tokio::time::timeout(REREAD_TIMEOUT, read).await else {
            return false;
        };
        if self.commits.load(Ordering::SeqCst) != before {
            return false;
        }
        let mut f = lock(&account.funds);
        f.balance = balance;
        if let Some(b) = base {
            f.spent_base = b;
        }
        true
    }

    async fn try_reserve(&self, caller: &Caller, amount: Money) -> Result<Reservation, Refusal> {
        let amount = amount.pico().max(0);
        let (account_left, key_left) = {
            let funds = lock(&caller.account.funds);
            let mut spend = lock(&caller.key.spend);
            roll(&mut spend, switchyard_store::now());
            (
                (!caller.account.account.unlimited).then_some((funds.balance, funds.spent_base)),
                caller.key.record.limit_pico.map(|l| {
                    (
                        i128::from(l) - caller.key.window_usage(&spend.usage),
                        spend.reserved,
                    )
                }),
            )
        };
        let capped = account_left.is_some() || key_left.is_some();
        let mut shared_hold = None;
        // How much of the local caps this replica may hold on its own: all of them without
        // Redis, none of them when Redis vouched for the hold, 1/n when Redis is down.
        let mut share: Option<u32> = Some(1);
        if let (Some(sh), true) = (&self.shared, capped) {
            let nano = crate::shared::to_nano_up(amount);
            let cap = |committed: i128| i64::try_from(committed.max(0) / 1000).unwrap_or(i64::MAX);
            match sh
                .reserve(
                    &caller.account.account.id,
                    &caller.key.record.hash,
                    nano,
                    account_left.map(|(bal, base)| (cap(bal), base)),
                    key_left.map(|(left, _)| cap(left)),
                )
                .await
            {
                Ok(crate::shared::Hold::Reserved) => {
                    shared_hold = Some((sh.clone(), nano));
                    share = None;
                }
                Ok(crate::shared::Hold::Short(left_nano)) => {
                    return Err(Refusal::Funds(i128::from(left_nano).saturating_mul(1000)))
                }
                Ok(crate::shared::Hold::Stale) => return Err(Refusal::Stale),
                Err(e) => match sh.fallback() {
                    crate::shared::Fallback::Refuse => {
                        return Err(Refusal::Unavailable(e.to_string()))
                    }
                    crate::shared::Fallback::Share(n) => share = Some(n.max(1)),
                },
            }
        }
        let mut funds = lock(&caller.account.funds);
        let mut spend = lock(&caller.key.spend);
        if let Some(n) = share {
            let n = i128::from(n);
            let left = [
                account_left.map(|_| funds.balance / n - funds.reserved),
                key_left.map(|(l, _)| l / n - spend.reserved),
            ]
            .into_iter()
            .flatten()
            .min();
            if let Some(left) = left {
                if amount > left {
                    return Err(Refusal::Funds(left.max(0)));
                }
            }
        }
        funds.reserved += amount;
        spend.reserved += amount;
        drop(spend);
        drop(funds);
        Ok(Reservation {
            caller: caller.clone(),
            amount,
            max_tokens: u64::MAX,
            shared: shared_hold,
        })
    }

    /// After a durable commit: the charge lands in the caches (and, shared, in Redis) before
    /// the reservation goes, so no replica ever sees the money both free and unspent.
    pub async fn charged(&self, reservation: Reservation, cost: Money) {
        self.commits.fetch_add(1, Ordering::SeqCst);
        let c = &reservation.caller;
        if let (Some(sh), false) = (&self.shared, cost.is_zero()) {
            if let Err(e) = sh
                .add_spent(
                    &c.account.account.id,
                    crate::shared::to_nano_up(cost.pico()),
                )
                .await
            {
                tracing::warn!(error = %e, "recording a charge in Redis failed");
            }
        }
        lock(&c.account.funds).balance -= cost.pico();
        let mut s = lock(&c.key.spend);
        roll(&mut s, switchyard_store::now());
        s.usage.total += cost.pico();
        s.usage.daily += cost.pico();
        s.usage.weekly += cost.pico();
        s.usage.monthly += cost.pico();
        drop(s);
        drop(reservation);
    }

    /// Counts a request against the key's requests-per-minute and checks its tokens per
    /// minute; `Err` carries what the 429 must say.
    pub async fn admit(&self, caller: &Caller) -> Result<(), (RateCheck, u64)> {
        let r = &caller.key.record;
        if r.rpm.is_none() && r.tpm.is_none() {
            return Ok(());
        }
        let now = switchyard_store::now();
        let minute = now / 60;
        let reset_ms = (minute + 1) * 60_000;
        let retry = ((minute + 1) * 60 - now).max(1) as u64;
        if let Some(sh) = &self.shared {
            match sh.admit(&r.hash, minute, r.rpm, r.tpm).await {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    let limit = r.rpm.or(r.tpm).unwrap_or(0);
                    return Err((
                        RateCheck {
                            limit,
                            remaining: 0,
                            reset_ms,
                        },
                        retry,
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate limit unavailable; limiting locally")
                }
            }
        }
        let mut s = lock(&caller.key.spend);
        if s.minute.0 != minute {
            s.minute = (minute, 0, 0);
        }
        if let Some(rpm) = r.rpm {
            if s.minute.1 >= rpm {
                return Err((
                    RateCheck {
                        limit: rpm,
                        remaining: 0,
                        reset_ms,
                    },
                    retry,
                ));
            }
        }
        if let Some(tpm) = r.tpm {
            if s.minute.2 >= tpm {
                return Err((
                    RateCheck {
                        limit: tpm,
                        remaining: 0,
                        reset_ms,
                    },
                    retry,
                ));
            }
        }
        s.minute.1 += 1;
        Ok(())
    }

    /// Tokens used, for tokens-per-minute.
    pub fn used_tokens(&self, caller: &Caller, tokens: u64) {
        let minute = switchyard_store::now() / 60;
        if let (Some(sh), Some(_)) = (&self.shared, caller.key.record.tpm) {
            let (sh, hash) = (sh.clone(), caller.key.record.hash.clone());
            tokio::spawn(async move {
                let _ = sh.add_tokens(&hash, minute, tokens as i64).await;
            });
        }
        let mut s = lock(&caller.key.spend);
        if s.minute.0 == minute {
            s.minute.2 += tokens as i64;
        }
    }
}

/// First start (and every start): the operator's own account, `default`, unlimited, holding
/// the keys given in the environment or generated into the data directory. Idempotent.
pub async fn bootstrap(store: &Store, keys: &[(String, bool)]) -> Result<Account, GatewayError> {
    let internal = |e: switchyard_store::StoreError| GatewayError::Internal(e.to_string());
    let account = match store.account("default").await.map_err(internal)? {
        Some(a) => a,
        None => store
            .create_account("acct_default", "default", true)
            .await
            .map_err(internal)?,
    };
    let now = switchyard_store::now();
    for (secret, management) in keys {
        store
            .insert_key(&KeyRecord {
                hash: crate::auth::hash_hex(secret),
                account_id: account.id.clone(),
                name: if *management {
                    "management (environment)"
                } else {
                    "default"
                }
                .into(),
                label: crate::auth::label(secret),
                management: *management,
                created_at: now,
                updated_at: now,
                ..Default::default()
            })
            .await
            .map_err(internal)?;
    }
    Ok(account)
}
