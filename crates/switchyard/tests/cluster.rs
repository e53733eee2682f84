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

/// A scratch directory, a Redis key prefix and a PostgreSQL schema of the test's own, and the
/// storage arguments that point at them.
fn scratch_cluster(name: &str) -> (std::path::PathBuf, String, String, Vec<String>) {
    let dir = scratch(name);
    let tag = dir
        .file_name()
        .map(|n| n.to_string_lossy().replace('-', "_"))
        .unwrap_or_default();
    let schema = format!("sy_{}", &tag[tag.len().saturating_sub(20)..]);
    let db = vec![
        "--database-url".to_string(),
        pg_url(),
        "--database-schema".to_string(),
        schema.clone(),
    ];
    (dir, tag, schema, db)
}

/// Two `switchyard serve` processes on the same database and Redis.
fn start_replicas(
    config: &std::path::Path,
    db: &[String],
    dir: &std::path::Path,
    redis: &str,
    tag: &str,
    env: &[(&str, &str)],
) -> Vec<(std::process::Child, String)> {
    let mut env = env.to_vec();
    env.push(("FAKE_KEY", API_KEY));
    (0..2)
        .map(|i| {
            let mut args = db.to_vec();
            args.extend([
                "--data-dir".to_string(),
                dir.join(format!("replica{i}")).display().to_string(),
                "--redis-url".to_string(),
                redis.to_string(),
                "--redis-prefix".to_string(),
                tag.to_string(),
            ]);
            serve(config, &args, &env)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_balance_and_rate_limits() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let (dir, tag, schema, db) = scratch_cluster("cluster");
    // $0.00001 a token and 5 output tokens: each request reserves about what it costs
    // (~$0.0002), so the $0.002 balance covers about ten of the forty requests fired at once,
    // and a replica that counted only its own reservations would admit about ten more.
    let config = fake_config(&dir, &upstream.base_url("openai"), "0.00001", 5);
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

    let replicas = start_replicas(&config, &db, &dir, &redis_url(), &tag, &[]);
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

    let store = bounded(&schema, "small", max_cost, "forty overlapping requests").await;
    assert_eq!(
        store.generation_count().await.expect("count") as usize,
        ok + served
    );
    drop_schema(store, &schema).await;
}

const ADMIN: &str = "cluster-admin-key";

/// A Redis of the test's own on a free port, so it can be stopped and restarted mid-run.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut r = OwnRedis { port, child: None };
        r.restart();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts it empty, as a Redis without persistence comes back after a crash.
    fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is on PATH (Debian package redis-server; .ci/run installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends one request; (status, cost shown, seconds taken).
async fn ask(
    http: &reqwest::Client,
    addr: &str,
    key: &str,
    text: &str,
) -> (u16, Option<Money>, f64) {
    let started = std::time::Instant::now();
    let body = serde_json::json!({"model": "fake/gpt", "max_tokens": 5,
        "messages": [{"role": "user", "content": text}]});
    let r = http
        .post(format!("http://{addr}/api/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let Ok(r) = r else {
        return (0, None, started.elapsed().as_secs_f64());
    };
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, cost_in(&text), started.elapsed().as_secs_f64())
}

/// Staggered load (charges landing while other holds are still open), a credit removal, and
/// Redis dying and coming back empty mid-run: two replicas never spend more than the balance
/// plus one request. While Redis is down, spending requests fail fast with 503 and `/health`
/// says why; credits granted through one replica count on the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_never_overspend_through_staggered_load_credit_removal_and_a_redis_restart() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let mut redis = OwnRedis::start();
    let (dir, tag, schema, db) = scratch_cluster("cluster-faults");
    let config = fake_config(&dir, &upstream.base_url("openai"), "0.00001", 5);
    cli(&["accounts", "create", "--name", "tight"], &db);
    cli(
        &[
            "credits",
            "grant",
            "--account",
            "tight",
            "--amount",
            "0.0005",
        ],
        &db,
    );
    let key = cli(&["keys", "create", "--account", "tight"], &db);
    cli(&["accounts", "create", "--name", "probe"], &db);
    cli(
        &["credits", "grant", "--account", "probe", "--amount", "10"],
        &db,
    );
    let probe = cli(&["keys", "create", "--account", "probe"], &db);
    let replicas = start_replicas(
        &config,
        &db,
        &dir,
        &redis.url(),
        &tag,
        &[("SWITCHYARD_ADMIN_KEY", ADMIN)],
    );
    let addrs: Vec<String> = replicas.iter().map(|(_, a)| a.clone()).collect();
    let http = reqwest::Client::new();

    // Phase 1: staggered, so some requests settle while others still hold their reservation.
    let wave = |n: usize, tag: &'static str| {
        let mut tasks = Vec::new();
        for i in 0..n {
            let (http, key, addr) = (http.clone(), key.clone(), addrs[i % 2].clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(25 * i as u64)).await;
                ask(&http, &addr, &key, &format!("{tag} {i:02} #delay:150")).await
            }));
        }
        tasks
    };
    let mut served = 0;
    let mut max_cost = Money::ZERO;
    served += tally(wave(20, "first"), &mut max_cost, "staggered load").await;
    assert!(served >= 1, "the balance covers a couple of requests");
    bounded(&schema, "tight", max_cost, "staggered load").await;

    // Credits granted through the CLI (another process, straight to the database) count on
    // both replicas within a re-read interval (250 ms), not at the next 5-second refresh.
    cli(
        &[
            "credits",
            "grant",
            "--account",
            "tight",
            "--amount",
            "0.001",
        ],
        &db,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for addr in &addrs {
        let (s, c, _) = ask(&http, addr, &key, "freshly funded").await;
        assert_eq!(s, 200, "a just-funded account is refused on {addr}");
        served += 1;
        if let Some(c) = c {
            max_cost = max_cost.max(c);
        }
    }
    // Credits removed through one replica's admin API count on every replica at once. (A
    // removal of money already held for requests in flight cannot take it back from them: it
    // can overspend by what was held, which operations.md states.)
    let r = http
        .post(format!("http://{}/api/v1/admin/credits", addrs[0]))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"account": "tight", "amount": "-0.0004"}))
        .send()
        .await
        .expect("removal sent");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    let tasks = wave(20, "second");
    served += tally(tasks, &mut max_cost, "a credit removal").await;

    bounded(&schema, "tight", max_cost, "a credit removal").await;
    // Redis dies: spending requests fail fast with 503 (the default fallback), never hang.
    redis.stop();
    for (i, addr) in addrs.iter().enumerate() {
        let (s, _, secs) = ask(&http, addr, &key, &format!("during the outage {i}")).await;
        assert_eq!(s, 503, "with Redis down a spending request is refused");
        assert!(
            secs < 5.0,
            "refused after {secs:.1} s: Redis calls must fail fast"
        );
        let h = reqwest::get(format!("http://{addr}/health"))
            .await
            .expect("health");
        let v: serde_json::Value = h.json().await.unwrap_or_default();
        assert_eq!(v["status"], "degraded", "{v}");
        assert_eq!(v["checks"]["redis"]["ok"], false, "{v}");
    }
    // ... and comes back empty; more credits, more load, once both replicas reach it again
    // (a well-funded probe account shows when).
    redis.restart();
    cli(
        &[
            "credits",
            "grant",
            "--account",
            "tight",
            "--amount",
            "0.0005",
        ],
        &db,
    );
    let mut back = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        back = 0;
        for addr in &addrs {
            if ask(&http, addr, &probe, "is Redis back").await.0 == 200 {
                back += 1;
                served += 1;
            }
        }
        if back == addrs.len() {
            break;
        }
    }
    assert_eq!(
        back,
        addrs.len(),
        "the replicas did not use Redis again after it came back"
    );
    let third = tally(wave(20, "third"), &mut max_cost, "Redis came back").await;
    served += third;
    assert!(
        third >= 1,
        "Redis came back and the new credits serve nothing"
    );

    bounded(&schema, "tight", max_cost, "a Redis restart").await;
    for (mut child, _) in replicas {
        let _ = child.kill();
        let _ = child.wait();
    }
    let store = bounded(&schema, "tight", max_cost, "the whole run").await;
    assert_eq!(
        store.generation_count().await.expect("count") as usize,
        served,
        "every served request is recorded once"
    );
    drop_schema(store, &schema).await;
}

/// How many of a wave were served (each 200 shows a cost, the dearest kept in `max_cost`);
/// anything but 200 or 402 fails the test.
async fn tally(
    wave: Vec<tokio::task::JoinHandle<(u16, Option<Money>, f64)>>,
    max_cost: &mut Money,
    phase: &str,
) -> usize {
    let mut served = 0;
    for t in wave {
        match t.await.expect("task") {
            (200, Some(c), _) => {
                served += 1;
                *max_cost = (*max_cost).max(c);
            }
            (402, _, _) => {}
            other => panic!("unexpected outcome in {phase}: {other:?}"),
        }
    }
    served
}

/// The account's ledger balance never goes below minus one request's cost.
async fn bounded(schema: &str, account: &str, max_cost: Money, after: &str) -> Store {
    let store = Store::open_postgres_schema(&pg_url(), schema)
        .await
        .expect("store");
    let a = store
        .account(account)
        .await
        .expect("read")
        .expect("account");
    let balance: i128 = store
        .ledger(&a.id)
        .await
        .expect("ledger")
        .iter()
        .map(|e| i128::from(e.amount_pico))
        .sum();
    assert!(
        balance >= -max_cost.pico(),
        "after {after}: overspent by {} (one request costs at most {max_cost})",
        Money::from_pico(-balance)
    );
    store
}

async fn drop_schema(store: Store, schema: &str) {
    if let Store::Postgres(pool) = store {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await;
    }
}
