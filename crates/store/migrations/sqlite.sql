-- v1 (SQLite). Amounts are integer pico-USD (1e-12 USD); times are unix seconds.
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    unlimited BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    management BOOLEAN NOT NULL,
    disabled BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL,
    limit_pico BIGINT,
    limit_reset TEXT,
    expires_at BIGINT,
    rpm BIGINT,
    tpm BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    amount_pico BIGINT NOT NULL,
    kind TEXT NOT NULL,
    generation_id TEXT UNIQUE,
    key_hash TEXT,
    note TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger(account_id);
CREATE TABLE IF NOT EXISTS generations (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    upstream_id TEXT,
    tokens_prompt BIGINT NOT NULL,
    tokens_completion BIGINT NOT NULL,
    tokens_cached BIGINT NOT NULL,
    tokens_reasoning BIGINT NOT NULL,
    cost_pico BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    generation_ms BIGINT NOT NULL,
    streamed BOOLEAN NOT NULL,
    cancelled BOOLEAN NOT NULL,
    usage_estimated BOOLEAN NOT NULL,
    finish_reason TEXT,
    native_finish_reason TEXT,
    http_referer TEXT,
    app_title TEXT,
    provider_responses TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS generations_account_time ON generations(account_id, created_at);
