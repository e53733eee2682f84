//! One store test suite, run against both back ends: SQLite in a scratch directory and the
//! PostgreSQL on 127.0.0.1 (override with SWITCHYARD_TEST_POSTGRES), each in a fresh schema.

use switchyard_store::{GenerationRecord, KeyRecord, Store, StoreError};

fn pg_url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

fn gen(id: &str, account: &str, key: &str, cost: i64, created_at: i64) -> GenerationRecord {
    GenerationRecord {
        id: id.into(),
        account_id: account.into(),
        key_hash: key.into(),
        model: "x/m".into(),
        provider_name: "P".into(),
        tokens_prompt: 10,
        tokens_completion: 5,
        tokens_reasoning: 1,
        cost_pico: cost,
        provider_responses: "[]".into(),
        created_at,
        ..Default::default()
    }
}

async fn suite(store: Store) {
    // Accounts.
    let a = store
        .create_account("acct_a", "alice", false)
        .await
        .expect("account");
    store
        .create_account("acct_op", "operator", true)
        .await
        .expect("account");
    assert!(
        matches!(
            store.create_account("acct_b", "alice", false).await,
            Err(StoreError::Db(_))
        ),
        "names are unique"
    );
    assert_eq!(
        store.account("alice").await.expect("read").map(|x| x.id),
        Some("acct_a".into())
    );
    assert_eq!(
        store
            .account("acct_op")
            .await
            .expect("read")
            .map(|x| x.unlimited),
        Some(true)
    );

    // Keys: inserted once, updated in place, deleted ones still listed (they must keep failing).
    let mut k = KeyRecord {
        hash: "h1".into(),
        account_id: a.id.clone(),
        name: "ci".into(),
        label: "sk-sy-v1-abc...xyz".into(),
        limit_pico: Some(5_000_000_000_000),
        limit_reset: Some("daily".into()),
        created_at: 1,
        updated_at: 1,
        ..Default::default()
    };
    store.insert_key(&k).await.expect("insert");
    store.insert_key(&k).await.expect("insert is idempotent");
    k.disabled = true;
    k.rpm = Some(60);
    k.updated_at = 2;
    store.update_key(&k).await.expect("update");
    k.deleted = true;
    store.update_key(&k).await.expect("delete");
    let keys = store.keys().await.expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0], k);
    let missing = KeyRecord {
        hash: "nope".into(),
        ..k.clone()
    };
    assert!(matches!(
        store.update_key(&missing).await,
        Err(StoreError::NotFound)
    ));

    // Ledger: grants and charges; the balance is the ledger's sum.
    store
        .grant(&a.id, 10_000_000_000_000, Some("welcome"))
        .await
        .expect("grant");
    store
        .grant(&a.id, -1_000_000_000_000, Some("correction"))
        .await
        .expect("grant");
    let now = switchyard_store::now();
    let batch = vec![
        gen("gen-1", &a.id, "h1", 300_000_000, now),
        gen("gen-2", &a.id, "h1", 200_000_000, now - 3 * 86_400),
        gen("gen-3", &a.id, "h2", 0, now),
    ];
    assert_eq!(store.commit(&batch).await.expect("commit"), 3);
    // The same batch again (a retry after an unknown outcome) charges nothing twice.
    assert_eq!(store.commit(&batch).await.expect("recommit"), 0);
    // A larger batch (several multi-row statements) that overlaps what is already recorded.
    let b = store
        .create_account("acct_b", "bob", false)
        .await
        .expect("account b");
    let mut big: Vec<_> = (0..70)
        .map(|i| gen(&format!("gen-b{i}"), &b.id, "hb", 1_000, now))
        .collect();
    big.push(batch[0].clone());
    assert_eq!(store.commit(&big).await.expect("big batch"), 70);
    assert_eq!(store.commit(&big[60..]).await.expect("overlap"), 0);
    let charges = store.ledger(&b.id).await.expect("ledger b");
    assert_eq!(charges.len(), 70, "one charge per new generation");
    assert_eq!(charges.iter().map(|e| e.amount_pico).sum::<i64>(), -70_000);
    let ledger = store.ledger(&a.id).await.expect("ledger");
    assert_eq!(ledger.len(), 5, "two grants and one charge per generation");
    let from_ledger: i128 = ledger.iter().map(|e| i128::from(e.amount_pico)).sum();
    let mut balances = store.balances().await.expect("balances");
    balances.sort();
    assert_eq!(
        balances,
        vec![
            ("acct_a".to_string(), from_ledger),
            ("acct_b".to_string(), -70_000)
        ]
    );
    assert_eq!(from_ledger, 9_000_000_000_000 - 500_000_000);
    assert_eq!(store.generation_count().await.expect("count"), 73);

    // A generation reads back field for field.
    let mut full = gen("gen-full", &a.id, "h1", 7, now);
    full.upstream_id = Some("chatcmpl-1".into());
    full.streamed = true;
    full.cancelled = true;
    full.usage_estimated = true;
    full.finish_reason = Some("stop".into());
    full.http_referer = Some("https://app.example".into());
    full.app_title = Some("My App".into());
    full.provider_responses = r#"[{"provider":"P","status":200}]"#.into();
    store
        .commit(std::slice::from_ref(&full))
        .await
        .expect("commit");
    assert_eq!(
        store.generation("gen-full").await.expect("read"),
        Some(full)
    );
    assert_eq!(store.generation("gen-none").await.expect("read"), None);

    // Activity: per day, model and provider.
    let act = store
        .activity(&a.id, now - 30 * 86_400)
        .await
        .expect("activity");
    assert_eq!(act.len(), 2, "{act:?}");
    assert_eq!(act.iter().map(|r| r.requests).sum::<i64>(), 4);
    assert_eq!(act.last().map(|r| r.usage_pico), Some(300_000_007));

    // Per-key usage windows.
    let usage = store.key_usage(now).await.expect("usage");
    let h1 = usage
        .iter()
        .find(|(h, _)| h == "h1")
        .map(|(_, u)| *u)
        .unwrap_or_default();
    assert_eq!(h1.total, 500_000_007);
    assert_eq!(h1.daily, 300_000_007);
    assert!(h1.monthly >= h1.weekly && h1.weekly >= h1.daily);
}

#[tokio::test]
async fn sqlite_passes_the_suite() {
    let dir = std::env::temp_dir().join(unique("switchyard-store"));
    suite(Store::open_sqlite(&dir).await.expect("sqlite opens")).await;
    // Re-opening runs no migration twice.
    let again = Store::open_sqlite(&dir).await.expect("re-open");
    assert_eq!(again.generation_count().await.expect("count"), 74);
}

#[tokio::test]
async fn postgres_passes_the_suite() {
    let schema = unique("sy_test");
    let store = Store::open_postgres_schema(&pg_url(), &schema)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (database `test`) is required for this test");
    suite(store).await;
    let again = Store::open_postgres_schema(&pg_url(), &schema)
        .await
        .expect("re-open");
    assert_eq!(again.generation_count().await.expect("count"), 74);
    if let Store::Postgres(pool) = again {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await;
    }
}

/// Replicas started at once on a fresh database (a Kubernetes deployment's first day): every
/// one opens, and the schema is migrated once.
#[tokio::test]
async fn postgres_replicas_starting_together_all_open() {
    let schema = unique("sy_race");
    // Joined on one task, not spawned: the opens still run at once on six connections
    // (PostgreSQL does the racing), and sqlx's futures need not be `Send` for any lifetime.
    let url = pg_url();
    let (a, b, c, d) = tokio::join!(
        Store::open_postgres_schema(&url, &schema),
        Store::open_postgres_schema(&url, &schema),
        Store::open_postgres_schema(&url, &schema),
        Store::open_postgres_schema(&url, &schema),
    );
    let mut stores = vec![];
    for store in [a, b, c, d] {
        stores.push(store.expect("every replica opens while the others migrate"));
    }
    for s in &stores {
        assert_eq!(s.generation_count().await.expect("migrated"), 0);
    }
    if let Some(Store::Postgres(pool)) = stores.first() {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(pool)
            .await;
    }
}
