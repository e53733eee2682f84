//! Money under faults: what happens to billing when the ledger cannot commit.

use crate::helpers::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A 4 MiB tmpfs, unmounted when dropped. Mounting needs root, which CI and the development
/// machines have; the test says so plainly rather than passing without checking anything.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = std::env::temp_dir().join(format!(
            "switchyard-full-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "mounting a 4 MiB tmpfs at {} failed: the disk-full test needs root (mount -t tmpfs)",
            dir.display()
        );
        SmallDisk { dir }
    }

    /// Fills the filesystem to the last byte.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.filler()).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.write_all(&[0u8]);
        let _ = f.sync_all();
    }

    fn free(&self) {
        let _ = std::fs::remove_file(self.filler());
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

async fn recorded(app: &TestApp, id: &str) -> bool {
    app.store.generation(id).await.ok().flatten().is_some()
}

fn exists(p: &Path) -> bool {
    p.exists()
}

/// A full disk must never mean "served but not billed": while the ledger cannot commit, the
/// gateway refuses billable requests with a 503 (and `/health` says why); once space is back
/// it recovers by itself and every answer it gave is recorded.
#[tokio::test]
async fn a_full_disk_refuses_instead_of_serving_unbilled_and_recovers() {
    let disk = SmallDisk::mount();
    let app = spawn_app_in(&format!("{SERVER}\nledger_wait_ms = 1500"), disk.data()).await;
    assert!(exists(&disk.data()));
    let ask = |stream: bool| json!({"model": "fake/gpt", "messages": user("hello there"), "stream": stream});
    let (s, v) = app.chat_json(ask(false)).await;
    assert_eq!(s, 200, "{v}");
    assert!(recorded(&app, v["id"].as_str().unwrap_or_default()).await);

    disk.fill();
    let mut health_seen_unhealthy = false;
    let mut served_unrecorded = vec![];
    let mut refused = 0;
    for i in 0..12 {
        let (s, v) = if i % 2 == 0 {
            app.chat_json(ask(false)).await
        } else {
            let (s, chunks, _) = app.chat_stream(ask(true)).await;
            let last = chunks
                .iter()
                .rev()
                .find(|c| c.is_object())
                .cloned()
                .unwrap_or_default();
            (s, last)
        };
        let id = v["id"].as_str().unwrap_or_default().to_string();
        let shown_cost = v["usage"]["cost"].is_string() || v["usage"]["cost"].is_number();
        if s == 200 && shown_cost {
            served_unrecorded.push(id);
        } else {
            refused += 1;
            let r = app.http.get(app.url("/api/v1/health")).send().await;
            if let Ok(r) = r {
                let code = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                if code == 503 && v["status"] == "unhealthy" {
                    assert!(
                        v["checks"]["ledger"]["error"]
                            .as_str()
                            .is_some_and(|e| e.contains("full")),
                        "{v}"
                    );
                    health_seen_unhealthy = true;
                }
            }
        }
    }
    assert!(
        health_seen_unhealthy,
        "/health never reported the failing ledger"
    );
    // Embeddings are billed through the same ledger: refused alike while it cannot commit.
    let mut embeddings_refused = false;
    for _ in 0..10 {
        let (s, v) = app
            .embed(json!({"model": "fake/embed", "input": "hello there"}))
            .await;
        if s == 503 {
            embeddings_refused = true;
            break;
        }
        assert_eq!(s, 200, "{v}");
        served_unrecorded.push(v["id"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        embeddings_refused,
        "embeddings were served while the ledger could not commit"
    );
    // Whatever was shown a cost while the disk was full must be on record once it is not.
    disk.free();
    let mut recovered = false;
    for _ in 0..100 {
        let (s, v) = app.chat_json(ask(false)).await;
        if s == 200 {
            assert!(
                recorded(&app, v["id"].as_str().unwrap_or_default()).await,
                "served after recovery but not recorded: {v}"
            );
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the gateway did not recover once the disk had space"
    );
    for id in &served_unrecorded {
        assert!(
            recorded(&app, id).await,
            "{id} was served with a cost while the disk was full and never recorded"
        );
    }
    assert!(refused > 0, "a full disk refused nothing");
    let health = app.get_json("/health").await;
    assert_eq!(health["status"], "ok", "{health}");
    // Recovered for good: the next ones are served and recorded too.
    for _ in 0..5 {
        let (s, v) = app.chat_json(ask(false)).await;
        assert_eq!(s, 200, "{v}");
        assert!(recorded(&app, v["id"].as_str().unwrap_or_default()).await);
    }
}

fn usd(v: &serde_json::Value) -> switchyard_api::Money {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    switchyard_api::Money::parse(&text).unwrap_or_default()
}

/// A provider that reports absurd usage (50M tokens, $100 at list price) cannot take more
/// than the request's reservation from a $1 account, streamed or not, on every family; the
/// record, the charge and what the client is shown agree.
#[tokio::test]
async fn a_charge_never_exceeds_the_reservation() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("capped", "1", json!({"name": "k"})).await;
    let mut shown = switchyard_api::Money::ZERO;
    for model in MODELS {
        for stream in [false, true] {
            let body = json!({"model": model, "max_tokens": 5, "stream": stream,
                "messages": user("hi #usage:50000000")});
            let r = app.send_chat(&key, &body, false).await;
            assert_eq!(r.status(), 200, "{model} stream={stream}");
            let text = r.text().await.unwrap_or_default();
            let last = if stream {
                text.split("\n\n")
                    .filter_map(|f| f.strip_prefix("data: "))
                    .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    .filter(|c| c["usage"].is_object())
                    .last()
                    .unwrap_or_default()
            } else {
                serde_json::from_str(&text).unwrap_or_default()
            };
            let cost = usd(&last["usage"]["cost"]);
            assert!(
                cost > switchyard_api::Money::ZERO
                    && cost < switchyard_api::Money::parse("0.01").unwrap_or_default(),
                "{model} stream={stream}: charged {cost} for a 5-token request"
            );
            let id = last["id"].as_str().unwrap_or_default();
            let g = app
                .store
                .generation(id)
                .await
                .ok()
                .flatten()
                .expect("recorded");
            assert_eq!(
                switchyard_api::Money::from_pico(i128::from(g.cost_pico)),
                cost,
                "record and response agree"
            );
            shown = shown + cost;
        }
    }
    let (_, credits, _) = app
        .call(reqwest::Method::GET, "/api/v1/credits", &mgmt, None)
        .await;
    assert_eq!(usd(&credits["data"]["total_usage"]), shown, "{credits}");
}

/// A 200 stream that never ends is relayed only a little past `max_tokens`, then closed with
/// `finish_reason: "length"` and billed like any other stream.
#[tokio::test]
async fn an_endless_stream_stops_a_little_past_max_tokens() {
    let app = spawn_app().await;
    for model in MODELS {
        let body = json!({"model": model, "max_tokens": 5, "messages": user("go on #endless")});
        let (status, chunks, _) =
            tokio::time::timeout(std::time::Duration::from_secs(10), app.chat_stream(body))
                .await
                .unwrap_or_else(|_| panic!("{model}: the endless stream was relayed without end"));
        assert_eq!(status, 200);
        let text = streamed_text(&chunks);
        // 5 tokens and the tolerance (16), at four bytes a token, plus the chunk that crossed it.
        assert!(
            text.len() <= (5 + 16) * 4 + 64,
            "{model}: {} bytes relayed for max_tokens 5",
            text.len()
        );
        let finish = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
            .next_back();
        assert_eq!(finish, Some("length"), "{model}");
        let last = chunks
            .iter()
            .rfind(|c| c["usage"].is_object())
            .cloned()
            .unwrap_or_default();
        assert!(last["usage"]["cost"].is_number() || last["usage"]["cost"].is_string());
        assert_eq!(chunks.last(), Some(&json!("[DONE]")));
        let id = last["id"].as_str().unwrap_or_default();
        assert!(
            recorded(&app, id).await,
            "{model}: the cut stream is billed"
        );
    }
}
