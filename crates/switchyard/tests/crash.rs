//! The books survive `kill -9` under load: after a restart, the ledger, the balance and the
//! generation records agree, every charge has its record and every record its one charge,
//! and every response a client saw complete is recorded at the cost the client was shown.

mod common;

use common::{cli, cost_in, fake_config, scratch, serve};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_api::Money;
use switchyard_store::Store;
use switchyard_testkit::{FakeUpstream, API_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_agree_after_sigkill_under_load() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let dir = scratch("crash");
    let data = dir.join("data");
    let config = fake_config(&dir, &upstream.base_url("openai"), "0.0000011", 1000);
    let storage = vec!["--data-dir".to_string(), data.display().to_string()];
    cli(&["accounts", "create", "--name", "load"], &storage);
    cli(
        &["credits", "grant", "--account", "load", "--amount", "100"],
        &storage,
    );
    let key = cli(&["keys", "create", "--account", "load"], &storage);
    let env = [("FAKE_KEY", API_KEY)];

    let (mut server, addr) = serve(&config, &storage, &env);
    let seen: Arc<Mutex<HashMap<String, Money>>> = Arc::default();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut tasks = Vec::new();
    for t in 0..24 {
        let (http, key, addr, seen) = (http.clone(), key.clone(), addr.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                if Instant::now() > deadline {
                    break;
                }
                let stream = (t + i) % 2 == 0;
                let body = serde_json::json!({"model": "fake/gpt", "stream": stream,
                    "messages": [{"role": "user", "content": format!("request {t}-{i} with some words #delay:15 #tokdelay:2")}]});
                let sent = http
                    .post(format!("http://{addr}/api/v1/chat/completions"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await;
                let Ok(r) = sent else { break };
                let id = r.headers().get("x-generation-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let ok = r.status().is_success();
                let Ok(text) = r.text().await else { break };
                // Complete as the client sees it: a whole JSON answer, or a stream that ended
                // with its usage and [DONE].
                let complete = ok && if stream { text.trim_end().ends_with("data: [DONE]") } else { text.ends_with('}') };
                if complete {
                    let usage_part = if stream {
                        text.lines().rfind(|l| l.contains("\"usage\"")).unwrap_or_default().to_string()
                    } else {
                        text.clone()
                    };
                    if let Some(c) = cost_in(&usage_part) {
                        if let Ok(mut m) = seen.lock() {
                            m.insert(id, c);
                        }
                    }
                }
            }
        }));
    }
    // Let load build up, then kill the gateway without warning.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("SIGKILL");
    let _ = server.wait();
    for t in tasks {
        let _ = t.await;
    }
    let seen = seen.lock().map(|m| m.clone()).unwrap_or_default();
    assert!(
        seen.len() > 20,
        "load reached the gateway before the kill ({} completed)",
        seen.len()
    );

    // It starts again on the same data, and the books agree.
    let (mut again, addr) = serve(&config, &storage, &env);
    let r = http
        .get(format!("http://{addr}/api/v1/key"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("restarted");
    assert_eq!(r.status(), 200);
    let _ = again.kill();
    let _ = again.wait();

    let store = Store::open_sqlite(&data).await.expect("store");
    let account = store.account("load").await.expect("read").expect("account");
    let ledger = store.ledger(&account.id).await.expect("ledger");
    let balance: i128 = ledger.iter().map(|e| i128::from(e.amount_pico)).sum();
    let balances: HashMap<String, i128> = store
        .balances()
        .await
        .expect("balances")
        .into_iter()
        .collect();
    assert_eq!(
        balances.get(&account.id).copied(),
        Some(balance),
        "balance is the ledger's sum"
    );
    let charges: Vec<_> = ledger.iter().filter(|e| e.kind == "charge").collect();
    let mut total = 0i128;
    for c in &charges {
        let id = c.generation_id.clone().unwrap_or_default();
        let g = store
            .generation(&id)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("charge {id} has no record"));
        assert_eq!(
            g.cost_pico, -c.amount_pico,
            "{id}: charge equals the recorded cost"
        );
        total += i128::from(g.cost_pico);
    }
    assert_eq!(
        store.generation_count().await.expect("count") as usize,
        charges.len(),
        "one record per charge, one charge per record"
    );
    assert_eq!(balance, 100_000_000_000_000 - total);
    for (id, cost) in &seen {
        let g = store
            .generation(id)
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{id} completed for the client but is not recorded"));
        assert_eq!(
            Money::from_pico(i128::from(g.cost_pico)),
            *cost,
            "{id}: billed what the client was shown"
        );
    }
}
