//! Durable state: accounts, API keys (hashes only), the append-only credits ledger, and one
//! record per generation. SQLite (one file in the data directory, WAL) is the default;
//! PostgreSQL serves many replicas. Both run the same SQL (written with `$n` placeholders)
//! and their own versioned migrations, applied on open.
//!
//! Money is integer pico-USD (`i64`, so at most ~$9.2M per entry or per running sum).
//! A generation's record and its charge are written in one transaction, and the ledger has
//! one charge per generation id at most: no charge without a record, no record without a
//! charge, no double charge.

pub mod time;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// Metered but never refused for lack of credits (the operator's own account).
    pub unlimited: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyRecord {
    pub hash: String,
    pub account_id: String,
    pub name: String,
    /// A recognisable, non-secret form of the key (`sk-sy-v1-abc…xyz`).
    pub label: String,
    pub management: bool,
    pub disabled: bool,
    pub deleted: bool,
    /// Spending limit in pico-USD, per `limit_reset` window (or for ever).
    pub limit_pico: Option<i64>,
    /// `daily`, `weekly` or `monthly`.
    pub limit_reset: Option<String>,
    pub expires_at: Option<i64>,
    /// Requests and tokens per minute, set by the operator.
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub seq: i64,
    pub account_id: String,
    pub amount_pico: i64,
    /// `grant` (credits added or removed by the operator) or `charge` (a generation).
    pub kind: String,
    pub generation_id: Option<String>,
    pub key_hash: Option<String>,
    pub note: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenerationRecord {
    pub id: String,
    pub account_id: String,
    pub key_hash: String,
    pub model: String,
    pub provider_name: String,
    pub upstream_id: Option<String>,
    pub tokens_prompt: i64,
    pub tokens_completion: i64,
    pub tokens_cached: i64,
    pub tokens_reasoning: i64,
    pub cost_pico: i64,
    pub latency_ms: i64,
    pub generation_ms: i64,
    pub streamed: bool,
    pub cancelled: bool,
    pub usage_estimated: bool,
    pub finish_reason: Option<String>,
    pub native_finish_reason: Option<String>,
    pub http_referer: Option<String>,
    pub app_title: Option<String>,
    /// JSON array: one entry per attempt.
    pub provider_responses: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub date: String,
    pub model: String,
    pub provider_name: String,
    pub requests: i64,
    pub usage_pico: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    /// Prompt tokens read from a provider's cache.
    pub cached_tokens: i64,
}

/// What one key has spent, in pico-USD, all told and in the current day / week / month.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KeyUsage {
    pub total: i128,
    pub daily: i128,
    pub weekly: i128,
    pub monthly: i128,
}

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool backs the store.
macro_rules! on {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// SQLite takes numbered parameters as `?N`; PostgreSQL as `$N`. Queries are written with `$N`.
fn q<'a>(store: &Store, sql: &'a str) -> std::borrow::Cow<'a, str> {
    match store {
        Store::Postgres(_) => sql.into(),
        Store::Sqlite(_) => sql.replace('$', "?").into(),
    }
}

/// Multi-row statements in power-of-two sizes up to 64: one statement per chunk instead of
/// two per generation (statement overhead was most of the ledger writer's time), and at most
/// seven shapes each, so the prepared-statement cache holds them all.
fn chunk_len(n: usize) -> usize {
    1 << n.min(64).ilog2()
}

/// Plain `?` for SQLite: a numbered `?N` makes every bind look its name up in a list,
/// quadratic in a 1,408-parameter statement (8% of the gateway's CPU when it was `?N`).
fn placeholders(store: &Store, first: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 4);
    for i in first..first + n {
        if i > first {
            out.push_str(", ");
        }
        match store {
            Store::Sqlite(_) => out.push('?'),
            Store::Postgres(_) => {
                out.push('$');
                out.push_str(&i.to_string());
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Batch {
    Generations,
    Charges,
}

/// The text of a batch statement, built once per back end, kind and chunk size: a 64-row
/// insert is ~15 KB of SQL, and the writer used to format it again for every batch.
fn batch_sql(store: &Store, kind: Batch, rows: usize) -> &'static str {
    static CACHE: [[[OnceLock<String>; 7]; 2]; 2] =
        [const { [const { [const { OnceLock::new() }; 7] }; 2] }; 2];
    let backend = usize::from(matches!(store, Store::Postgres(_)));
    let slot = &CACHE[kind as usize][backend][rows.ilog2() as usize];
    slot.get_or_init(|| match kind {
        Batch::Generations => insert_generations_sql(store, rows),
        Batch::Charges => charge_sql(store, rows),
    })
}

fn insert_generations_sql(store: &Store, rows: usize) -> String {
    let cols = GEN_COLUMNS.split(',').count();
    let values: Vec<String> = (0..rows)
        .map(|r| format!("({})", placeholders(store, 1 + r * cols, cols)))
        .collect();
    format!(
        "INSERT INTO generations ({GEN_COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING",
        values.join(", ")
    )
}

fn charge_sql(store: &Store, rows: usize) -> String {
    format!(
        "INSERT INTO ledger (account_id, amount_pico, kind, generation_id, key_hash, created_at) \
         SELECT account_id, -cost_pico, 'charge', id, key_hash, created_at FROM generations \
         WHERE id IN ({}) ON CONFLICT (generation_id) DO NOTHING",
        placeholders(store, 1, rows)
    )
}

const KEY_COLUMNS: &str = "hash, account_id, name, label, management, disabled, deleted, limit_pico, limit_reset, expires_at, rpm, tpm, created_at, updated_at";
const GEN_COLUMNS: &str = "id, account_id, key_hash, model, provider_name, upstream_id, tokens_prompt, tokens_completion, tokens_cached, tokens_reasoning, cost_pico, latency_ms, generation_ms, streamed, cancelled, usage_estimated, finish_reason, native_finish_reason, http_referer, app_title, provider_responses, created_at";

fn key_from<R: Row>(r: &R) -> Result<KeyRecord>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(KeyRecord {
        hash: r.try_get("hash")?,
        account_id: r.try_get("account_id")?,
        name: r.try_get("name")?,
        label: r.try_get("label")?,
        management: r.try_get("management")?,
        disabled: r.try_get("disabled")?,
        deleted: r.try_get("deleted")?,
        limit_pico: r.try_get("limit_pico")?,
        limit_reset: r.try_get("limit_reset")?,
        expires_at: r.try_get("expires_at")?,
        rpm: r.try_get("rpm")?,
        tpm: r.try_get("tpm")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn gen_from<R: Row>(r: &R) -> Result<GenerationRecord>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(GenerationRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        key_hash: r.try_get("key_hash")?,
        model: r.try_get("model")?,
        provider_name: r.try_get("provider_name")?,
        upstream_id: r.try_get("upstream_id")?,
        tokens_prompt: r.try_get("tokens_prompt")?,
        tokens_completion: r.try_get("tokens_completion")?,
        tokens_cached: r.try_get("tokens_cached")?,
        tokens_reasoning: r.try_get("tokens_reasoning")?,
        cost_pico: r.try_get("cost_pico")?,
        latency_ms: r.try_get("latency_ms")?,
        generation_ms: r.try_get("generation_ms")?,
        streamed: r.try_get("streamed")?,
        cancelled: r.try_get("cancelled")?,
        usage_estimated: r.try_get("usage_estimated")?,
        finish_reason: r.try_get("finish_reason")?,
        native_finish_reason: r.try_get("native_finish_reason")?,
        http_referer: r.try_get("http_referer")?,
        app_title: r.try_get("app_title")?,
        provider_responses: r.try_get("provider_responses")?,
        created_at: r.try_get("created_at")?,
    })
}

fn parse_sum(s: Option<String>) -> i128 {
    s.and_then(|v| v.split('.').next().and_then(|i| i.parse::<i128>().ok()))
        .unwrap_or(0)
}

/// The PostgreSQL advisory lock migrations (and schema creation) run under: any constant
/// unlikely to be another application's, the same in every replica.
const MIGRATION_LOCK: i64 = 0x5357_5944_4d49_4752; // "SWYDMIGR"

/// Every PostgreSQL statement is bounded: a database that stops answering fails the call
/// (and the ledger writer's commit, which then pauses admission) instead of hanging it.
const STATEMENT_TIMEOUT_MS: &str = "30000";

/// The most an account can be granted, and have taken, over its life (pico-USD, ≈ $4.6M each).
pub const MAX_LEDGER_SIDE: i64 = i64::MAX / 2;

/// v2: grants by sequence, so replicas notice a grant or removal within one refresh tick.
const GRANT_INDEX: &str = "CREATE INDEX IF NOT EXISTS ledger_kind_seq ON ledger (kind, seq)";
const MIGRATIONS_SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite.sql")),
    (2, GRANT_INDEX),
];
const MIGRATIONS_POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres.sql")),
    (2, GRANT_INDEX),
];

impl Store {
    /// The embedded default: `<dir>/switchyard.db`, created if missing, in WAL mode. A commit
    /// survives the process being killed; with `fsync_every_commit` it also survives power
    /// loss, at the price of a disk flush per (grouped) commit.
    pub async fn open_sqlite(dir: &Path) -> Result<Store> {
        Self::open_sqlite_with(dir, false).await
    }

    pub async fn open_sqlite_with(dir: &Path, fsync_every_commit: bool) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
        let opts = SqliteConnectOptions::from_str(&format!(
            "sqlite://{}",
            dir.join("switchyard.db").display()
        ))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if fsync_every_commit {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        let store = Store::Sqlite(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// The store for the one task that writes generations. SQLite gets its own connection:
    /// from the shared pool each commit landed on whichever connection was free, whose page
    /// cache another connection's last write had just invalidated, so every commit re-read
    /// its index pages from the WAL.
    pub async fn for_single_writer(&self) -> Result<Store> {
        match self {
            Store::Sqlite(pool) => {
                let opts = (*pool.connect_options()).clone();
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await?;
                Ok(Store::Sqlite(writer))
            }
            Store::Postgres(_) => Ok(self.clone()),
        }
    }

    pub async fn open_postgres(url: &str) -> Result<Store> {
        let opts = sqlx::postgres::PgConnectOptions::from_str(url)?
            .options([("statement_timeout", STATEMENT_TIMEOUT_MS)]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        let store = Store::Postgres(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// PostgreSQL with every table in `schema` (created if missing): isolated databases for
    /// tests, or several gateways sharing one server.
    pub async fn open_postgres_schema(url: &str, schema: &str) -> Result<Store> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::Invalid(format!("bad schema name `{schema}`")));
        }
        // One plain connection, closed explicitly: the lock is released before the pool
        // below asks for it (a pooled connection handed back lazily kept holding it).
        let mut admin = tokio::time::timeout(
            Duration::from_secs(10),
            <sqlx::PgConnection as sqlx::Connection>::connect(url),
        )
        .await
        .map_err(|_| StoreError::Invalid("no answer from PostgreSQL within 10 s".to_string()))??;
        // Replicas creating the schema at once would race on `pg_namespace`'s unique index.
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut admin)
            .await?;
        let created = sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&mut admin)
            .await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut admin)
            .await;
        let _ = sqlx::Connection::close(admin).await;
        created?;
        unlocked?;
        let opts = sqlx::postgres::PgConnectOptions::from_str(url)?.options([
            ("search_path", schema),
            ("statement_timeout", STATEMENT_TIMEOUT_MS),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        let store = Store::Postgres(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the versioned migrations not applied yet, each in its own transaction.
    /// Replicas starting together on PostgreSQL take turns under an advisory lock: without
    /// it, two `CREATE TABLE IF NOT EXISTS` race and one fails on `pg_type`'s unique index.
    async fn migrate(&self) -> Result<()> {
        let list = match self {
            Store::Sqlite(_) => MIGRATIONS_SQLITE,
            Store::Postgres(_) => MIGRATIONS_POSTGRES,
        };
        on!(self, pool => {
            let mut conn = pool.acquire().await?;
            // A failed migration leaves no half-open transaction behind: the connection goes.
            // (The advisory lock is the session's, so closing it releases the lock too, but
            // the close is asynchronous: the lock is released explicitly below.)
            conn.close_on_drop();
            if let Store::Postgres(_) = self {
                sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
            }
            sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
                .execute(&mut *conn)
                .await?;
            for (version, sql) in list {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let done = sqlx::query(&q(self, "SELECT version FROM schema_migrations WHERE version = $1"))
                    .bind(*version)
                    .fetch_optional(&mut *tx)
                    .await?;
                if done.is_none() {
                    sqlx::raw_sql(sql).execute(&mut *tx).await?;
                    sqlx::query(&q(self, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)"))
                        .bind(*version)
                        .bind(now())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            if let Store::Postgres(_) = self {
                sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await?;
            }
            Ok(())
        })
    }

    pub async fn create_account(&self, id: &str, name: &str, unlimited: bool) -> Result<Account> {
        let created_at = now();
        on!(self, pool => {
            sqlx::query(&q(self, "INSERT INTO accounts (id, name, unlimited, created_at) VALUES ($1, $2, $3, $4)"))
                .bind(id)
                .bind(name)
                .bind(unlimited)
                .bind(created_at)
                .execute(pool)
                .await?;
        });
        Ok(Account {
            id: id.to_string(),
            name: name.to_string(),
            unlimited,
            created_at,
        })
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        on!(self, pool => {
            let rows = sqlx::query("SELECT id, name, unlimited, created_at FROM accounts ORDER BY created_at, id")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(Account {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        unlimited: r.try_get("unlimited")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }

    /// An account by id or by name.
    pub async fn account(&self, id_or_name: &str) -> Result<Option<Account>> {
        Ok(self
            .accounts()
            .await?
            .into_iter()
            .find(|a| a.id == id_or_name || a.name == id_or_name))
    }

    pub async fn insert_key(&self, k: &KeyRecord) -> Result<()> {
        on!(self, pool => {
            sqlx::query(&q(self, "INSERT INTO api_keys (hash, account_id, name, label, management, disabled, deleted, limit_pico, limit_reset, expires_at, rpm, tpm, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (hash) DO NOTHING"))
                .bind(&k.hash).bind(&k.account_id).bind(&k.name).bind(&k.label).bind(k.management).bind(k.disabled)
                .bind(k.deleted).bind(k.limit_pico).bind(&k.limit_reset).bind(k.expires_at).bind(k.rpm).bind(k.tpm)
                .bind(k.created_at).bind(k.updated_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Writes every mutable field of a key.
    pub async fn update_key(&self, k: &KeyRecord) -> Result<()> {
        let n = on!(self, pool => {
            sqlx::query(&q(self, "UPDATE api_keys SET name = $1, disabled = $2, deleted = $3, limit_pico = $4, limit_reset = $5, expires_at = $6, rpm = $7, tpm = $8, updated_at = $9 WHERE hash = $10"))
                .bind(&k.name).bind(k.disabled).bind(k.deleted).bind(k.limit_pico).bind(&k.limit_reset)
                .bind(k.expires_at).bind(k.rpm).bind(k.tpm).bind(k.updated_at).bind(&k.hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Every key, deleted ones included (they must keep failing).
    pub async fn keys(&self) -> Result<Vec<KeyRecord>> {
        on!(self, pool => {
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, hash");
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(key_from).collect()
        })
    }

    /// Adds (or, negative, removes) credits: one ledger entry.
    pub async fn grant(
        &self,
        account_id: &str,
        amount_pico: i64,
        note: Option<&str>,
    ) -> Result<LedgerEntry> {
        let created_at = now();
        // One statement, so the check and the insert cannot be split by another grant: the
        // credits an account was ever granted, and everything ever taken from it, each stay
        // within half of i64's range, so no running sum of its ledger can overflow (SQLite's
        // SUM fails outright on overflow, and every balance read with it).
        let seq: Option<i64> = on!(self, pool => {
            let row = sqlx::query(&q(self, "INSERT INTO ledger (account_id, amount_pico, kind, note, created_at) \
                SELECT $1, $2, 'grant', $3, $4 \
                WHERE (SELECT COALESCE(SUM(CASE WHEN amount_pico > 0 THEN amount_pico ELSE 0 END), 0) FROM ledger WHERE account_id = $1) <= $5 \
                  AND (SELECT COALESCE(SUM(CASE WHEN amount_pico < 0 THEN amount_pico ELSE 0 END), 0) FROM ledger WHERE account_id = $1) >= $6 \
                RETURNING seq"))
                .bind(account_id)
                .bind(amount_pico)
                .bind(note)
                .bind(created_at)
                .bind(MAX_LEDGER_SIDE - amount_pico.max(0))
                .bind(-MAX_LEDGER_SIDE - amount_pico.min(0))
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.try_get("seq")).transpose()?
        });
        let seq = seq.ok_or_else(|| {
            StoreError::Invalid(format!(
                "this grant would take the account's credits past what the ledger can hold ({} USD granted or removed in all)",
                MAX_LEDGER_SIDE / 1_000_000_000_000
            ))
        })?;
        Ok(LedgerEntry {
            seq,
            account_id: account_id.to_string(),
            amount_pico,
            kind: "grant".into(),
            generation_id: None,
            key_hash: None,
            note: note.map(str::to_string),
            created_at,
        })
    }

    /// The sequence number of the newest grant (or removal) of credits, 0 when none: cheap
    /// (an index lookup), so every replica can poll it and re-read balances when it moves.
    pub async fn last_grant_seq(&self) -> Result<i64> {
        on!(self, pool => {
            let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM ledger WHERE kind = 'grant'")
                .fetch_one(pool)
                .await?;
            Ok(row.try_get::<i64, _>("seq")?)
        })
    }

    /// Each account's balance: the sum of its ledger.
    pub async fn balances(&self) -> Result<Vec<(String, i128)>> {
        on!(self, pool => {
            let rows = sqlx::query("SELECT account_id, CAST(SUM(amount_pico) AS TEXT) AS total FROM ledger GROUP BY account_id")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("account_id")?, parse_sum(r.try_get("total")?))))
                .collect()
        })
    }

    pub async fn ledger(&self, account_id: &str) -> Result<Vec<LedgerEntry>> {
        on!(self, pool => {
            let rows = sqlx::query(&q(self, "SELECT seq, account_id, amount_pico, kind, generation_id, key_hash, note, created_at FROM ledger WHERE account_id = $1 ORDER BY seq"))
                .bind(account_id)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(LedgerEntry {
                        seq: r.try_get("seq")?,
                        account_id: r.try_get("account_id")?,
                        amount_pico: r.try_get("amount_pico")?,
                        kind: r.try_get("kind")?,
                        generation_id: r.try_get("generation_id")?,
                        key_hash: r.try_get("key_hash")?,
                        note: r.try_get("note")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }

    /// Records generations and charges them, all in one transaction (a group commit).
    /// A generation already recorded is skipped, record and charge alike, so a retried batch
    /// never charges twice. Returns how many were new.
    pub async fn commit(&self, batch: &[GenerationRecord]) -> Result<usize> {
        on!(self, pool => {
            let mut conn = pool.acquire().await?;
            // SQLite may roll a failed transaction back by itself (SQLITE_FULL does); the
            // driver's own ROLLBACK then fails and it still counts the transaction open, so
            // every later "commit" on that connection would only release a savepoint of a
            // transaction that never ends. A connection that failed mid-transaction is
            // closed, never returned to the pool. (No inner async block: spawned callers
            // would trip rustc's "Executor is not general enough".)
            macro_rules! attempt {
                ($block:lifetime, $e:expr) => {
                    match $e {
                        Ok(v) => v,
                        Err(e) => break $block Err(StoreError::from(e)),
                    }
                };
            }
            let result: Result<usize> = 'tx: {
                let mut tx = attempt!('tx, sqlx::Connection::begin(&mut *conn).await);
                let mut new = 0;
                let mut rest = batch;
                while !rest.is_empty() {
                    let (chunk, tail) = rest.split_at(chunk_len(rest.len()));
                    rest = tail;
                    let mut query = sqlx::query(batch_sql(self, Batch::Generations, chunk.len()));
                    for g in chunk {
                        query = query
                            .bind(&g.id).bind(&g.account_id).bind(&g.key_hash).bind(&g.model).bind(&g.provider_name)
                            .bind(&g.upstream_id).bind(g.tokens_prompt).bind(g.tokens_completion).bind(g.tokens_cached)
                            .bind(g.tokens_reasoning).bind(g.cost_pico).bind(g.latency_ms).bind(g.generation_ms)
                            .bind(g.streamed).bind(g.cancelled).bind(g.usage_estimated).bind(&g.finish_reason)
                            .bind(&g.native_finish_reason).bind(&g.http_referer).bind(&g.app_title)
                            .bind(&g.provider_responses).bind(g.created_at);
                    }
                    let inserted = attempt!('tx, query.execute(&mut *tx).await).rows_affected();
                    if inserted == 0 {
                        continue;
                    }
                    new += inserted as usize;
                    // The charge comes from the recorded row; `generation_id` is unique in the
                    // ledger, so a generation is charged once however often its batch is retried.
                    let mut query = sqlx::query(batch_sql(self, Batch::Charges, chunk.len()));
                    for g in chunk {
                        query = query.bind(&g.id);
                    }
                    attempt!('tx, query.execute(&mut *tx).await);
                }
                attempt!('tx, tx.commit().await);
                Ok(new)
            };
            if result.is_err() {
                conn.close_on_drop();
            }
            result
        })
    }

    /// A small write that succeeds only when the database can take writes again (after a
    /// full disk, say): how the ledger writer knows it may resume.
    pub async fn probe_write(&self) -> Result<()> {
        on!(self, pool => {
            let mut conn = pool.acquire().await?;
            let result = sqlx::query(&q(self, "UPDATE schema_migrations SET applied_at = $1 WHERE version = (SELECT MAX(version) FROM schema_migrations)"))
                .bind(now())
                .execute(&mut *conn)
                .await;
            if result.is_err() {
                conn.close_on_drop();
            }
            result?;
            Ok(())
        })
    }

    /// (credits granted, usage charged) for an account, pico-USD.
    pub async fn credit_totals(&self, account_id: &str) -> Result<(i128, i128)> {
        on!(self, pool => {
            let row = sqlx::query(&q(self, "SELECT CAST(SUM(CASE WHEN kind = 'grant' THEN amount_pico ELSE 0 END) AS TEXT) AS granted, CAST(SUM(CASE WHEN kind = 'charge' THEN -amount_pico ELSE 0 END) AS TEXT) AS used FROM ledger WHERE account_id = $1"))
                .bind(account_id)
                .fetch_one(pool)
                .await?;
            Ok((parse_sum(row.try_get("granted")?), parse_sum(row.try_get("used")?)))
        })
    }

    pub async fn generation(&self, id: &str) -> Result<Option<GenerationRecord>> {
        on!(self, pool => {
            let sql = format!("SELECT {GEN_COLUMNS} FROM generations WHERE id = {}", match self { Store::Sqlite(_) => "?1", Store::Postgres(_) => "$1" });
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(gen_from).transpose()
        })
    }

    pub async fn generation_count(&self) -> Result<i64> {
        on!(self, pool => {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM generations").fetch_one(pool).await?;
            Ok(row.try_get("n")?)
        })
    }

    /// Daily usage per model and provider since `since` (unix seconds).
    pub async fn activity(&self, account_id: &str, since: i64) -> Result<Vec<ActivityRow>> {
        on!(self, pool => {
            let rows = sqlx::query(&q(self, "SELECT created_at / 86400 AS day, model, provider_name, COUNT(*) AS requests, CAST(SUM(cost_pico) AS TEXT) AS usage_pico, CAST(SUM(tokens_prompt) AS TEXT) AS p, CAST(SUM(tokens_completion) AS TEXT) AS c, CAST(SUM(tokens_reasoning) AS TEXT) AS r, CAST(SUM(tokens_cached) AS TEXT) AS cached FROM generations WHERE account_id = $1 AND created_at >= $2 GROUP BY created_at / 86400, model, provider_name ORDER BY day, model, provider_name"))
                .bind(account_id)
                .bind(since)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let day: i64 = r.try_get("day")?;
                    Ok(ActivityRow {
                        date: time::date_string(day * time::DAY),
                        model: r.try_get("model")?,
                        provider_name: r.try_get("provider_name")?,
                        requests: r.try_get("requests")?,
                        usage_pico: parse_sum(r.try_get("usage_pico")?) as i64,
                        prompt_tokens: parse_sum(r.try_get("p")?) as i64,
                        completion_tokens: parse_sum(r.try_get("c")?) as i64,
                        reasoning_tokens: parse_sum(r.try_get("r")?) as i64,
                        cached_tokens: i64::try_from(parse_sum(r.try_get("cached")?))
                            .unwrap_or(i64::MAX),
                    })
                })
                .collect()
        })
    }

    /// Spending per key, all told and in the current UTC day / ISO week / month.
    pub async fn key_usage(&self, at: i64) -> Result<Vec<(String, KeyUsage)>> {
        let (day, week, month) = time::window_starts(at);
        on!(self, pool => {
            let rows = sqlx::query(&q(self, "SELECT key_hash, CAST(SUM(-amount_pico) AS TEXT) AS total, CAST(SUM(CASE WHEN created_at >= $1 THEN -amount_pico ELSE 0 END) AS TEXT) AS daily, CAST(SUM(CASE WHEN created_at >= $2 THEN -amount_pico ELSE 0 END) AS TEXT) AS weekly, CAST(SUM(CASE WHEN created_at >= $3 THEN -amount_pico ELSE 0 END) AS TEXT) AS monthly FROM ledger WHERE kind = 'charge' AND key_hash IS NOT NULL GROUP BY key_hash"))
                .bind(day)
                .bind(week)
                .bind(month)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("key_hash")?,
                        KeyUsage {
                            total: parse_sum(r.try_get("total")?),
                            daily: parse_sum(r.try_get("daily")?),
                            weekly: parse_sum(r.try_get("weekly")?),
                            monthly: parse_sum(r.try_get("monthly")?),
                        },
                    ))
                })
                .collect()
        })
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::chunk_len;

    #[test]
    fn batches_split_into_few_statement_shapes() {
        let split = |mut n: usize| {
            let mut out = vec![];
            while n > 0 {
                out.push(chunk_len(n));
                n -= chunk_len(n);
            }
            out
        };
        assert_eq!(split(1), [1]);
        assert_eq!(split(37), [32, 4, 1]);
        assert_eq!(split(200), [64, 64, 64, 8]);
    }
}
