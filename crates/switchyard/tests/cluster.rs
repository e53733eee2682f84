//! Two gateway processes sharing one PostgreSQL and one Redis (both on 127.0.0.1, as in CI):
//! concurrent requests through both against one small balance never overspend it by more
//! than one request's worth, and a key's rate limit holds across the pair.

mod common;

use common::{cli, cost_in, fake_config, scratch, serve};
use std::time::Duration;
use switchyard_api::Money;
use switchyard_store::Store;
use switchyard_testkit::{FakeUpstream, API_KEY};

fn pg_url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn redis_url() -> String {
    std::env::var("SWITCHYARD_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_balance_and_rate_limits() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let dir = scratch("cluster");
    let tag = dir
        .file_name()
        .map(|n| n.to_string_lossy().replace('-', "_"))
        .unwrap_or_default();
    let schema = format!("sy_{}", &tag[tag.len().saturating_sub(20)..]);
    // $0.00001 a token and 5 output tokens: each request reserves about what it costs
    // (~$0.0002), so the $0.002 balance covers about ten of the forty requests fired at once,
    // and a replica that counted only its own reservations would admit about ten more.
    let config = fake_config(&dir, &upstream.base_url("openai"), "0.00001", 5);
    let db = vec![
        "--database-url".to_string(),
        pg_url(),
        "--database-schema".to_string(),
        schema.clone(),
    ];
    cli(&["accounts", "create", "--name", "small"], &db);
    cli(
        &[
            "credits",
            "grant",
            "--account",
            "small",
            "--amount",
            "0.002",
        ],
        &db,
    );
    let key = cli(&["keys", "create", "--account", "small"], &db);
    cli(&["accounts", "create", "--name", "limited"], &db);
    cli(
        &["credits", "grant", "--account", "limited", "--amount", "10"],
        &db,
    );
    let rl_key = cli(
        &["keys", "create", "--account", "limited", "--rpm", "6"],
        &db,
    );

    let mut replicas = Vec::new();
    for i in 0..2 {
        let mut args = db.clone();
        args.extend([
            "--data-dir".to_string(),
            dir.join(format!("replica{i}")).display().to_string(),
            "--redis-url".to_string(),
            redis_url(),
            "--redis-prefix".to_string(),
            tag.clone(),
        ]);
        replicas.push(serve(&config, &args, &[("FAKE_KEY", API_KEY)]));
    }
    let addrs: Vec<String> = replicas.iter().map(|(_, a)| a.clone()).collect();
    let http = reqwest::Client::new();

    // One small balance, 40 overlapping requests spread over both replicas.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (http, key, addr) = (http.clone(), key.clone(), addrs[i % 2].clone());
        tasks.push(tokio::spawn(async move {
            let body = serde_json::json!({"model": "fake/gpt", "max_tokens": 5,
                "messages": [{"role": "user", "content": format!("request number {i:02} #delay:500")}]});
            let r = http
                .post(format!("http://{addr}/api/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .ok()?;
            let status = r.status().as_u16();
            let text = r.text().await.ok()?;
            Some((status, cost_in(&text)))
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    let mut max_cost = Money::ZERO;
    for t in tasks {
        match t.await.ok().flatten() {
            Some((200, Some(c))) => {
                ok += 1;
                max_cost = max_cost.max(c);
            }
            Some((402, _)) => refused += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert!(
        ok > 0 && refused > 0,
        "{ok} served, {refused} refused: the balance must bind"
    );

    // Rate limit: 6 a minute for the key, whichever replica is asked.
    let started_minute = switchyard_store::now() / 60;
    let mut served = 0;
    let mut limited = 0;
    for i in 0..12 {
        let r = http
            .post(format!("http://{}/api/v1/chat/completions", addrs[i % 2]))
            .bearer_auth(&rl_key)
            .json(&serde_json::json!({"model": "fake/gpt", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("sent");
        match r.status().as_u16() {
            200 => served += 1,
            429 => {
                assert!(r.headers().contains_key("retry-after"));
                limited += 1;
            }
            s => panic!("status {s}"),
        }
    }
    let minutes = (switchyard_store::now() / 60 - started_minute + 1) as usize;
    assert!(
        served <= 6 * minutes,
        "{served} served in {minutes} minute(s)"
    );
    assert!(limited >= 12 - 6 * minutes, "{limited} limited");

    for (mut child, _) in replicas {
        let _ = child.kill();
        let _ = child.wait();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let store = Store::open_postgres_schema(&pg_url(), &schema)
        .await
        .expect("store");
    let small = store
        .account("small")
        .await
        .expect("read")
        .expect("account");
    let balance: i128 = store
        .ledger(&small.id)
        .await
        .expect("ledger")
        .iter()
        .map(|e| i128::from(e.amount_pico))
        .sum();
    assert!(
        balance >= -max_cost.pico(),
        "overspent by {} (one request costs at most {max_cost})",
        Money::from_pico(-balance)
    );
    assert_eq!(
        store.generation_count().await.expect("count") as usize,
        ok + served
    );
    if let Store::Postgres(pool) = store {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await;
    }
}
