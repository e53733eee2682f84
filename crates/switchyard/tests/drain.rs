//! SIGTERM on the real binary (what systemd, Docker and Kubernetes send): streams in flight
//! finish within `drain_timeout_ms`, those still open at the deadline end with an error
//! chunk and are billed, nothing new is served, and the process exits 0 in bounded time. A
//! second signal exits at once.

mod common;

use common::{scratch, serve};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};
use switchyard_store::Store;
use switchyard_testkit::{FakeUpstream, API_KEY};

const KEY: &str = "sk-sy-v1-drain-test";

fn config(dir: &Path, upstream: &FakeUpstream, drain_ms: u64) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "default_catalog = false\n[server]\ndrain_timeout_ms = {drain_ms}\n\
             [[providers]]\nslug = \"fake\"\nname = \"Fake\"\nprotocol = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"FAKE_KEY\"\n\
             [[models]]\nid = \"fake/gpt\"\nname = \"Fake\"\ncontext_length = 100000\n\
             endpoints = [{{ provider = \"fake\", upstream_id = \"gpt-fake\", prompt = \"0.000001\", completion = \"0.000001\" }}]\n",
            upstream.base_url("openai")
        ),
    )
    .expect("config");
    path
}

/// The server process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -TERM {} failed", self.0.id());
    }

    /// Its exit status, if it exits within `within`.
    async fn exited_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

/// A streamed request whose first `data:` line has arrived; reading the rest is a task
/// that returns the whole text.
async fn open_stream(
    http: &reqwest::Client,
    addr: &str,
    text: &str,
) -> (String, tokio::task::JoinHandle<String>) {
    let mut r = http
        .post(format!("http://{addr}/api/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "fake/gpt", "stream": true,
            "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let id = r
        .headers()
        .get("x-generation-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut seen = String::new();
    while !seen.contains("data: ") {
        let chunk = tokio::time::timeout(Duration::from_secs(3), r.chunk())
            .await
            .expect("the stream starts")
            .expect("reads")
            .expect("not ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let rest = tokio::spawn(async move {
        let read = async {
            while let Ok(Some(chunk)) = r.chunk().await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
        seen
    });
    (id, rest)
}

fn last_chunk(text: &str) -> Value {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .next_back()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_streams_then_ends_the_rest_billed_and_exits_zero() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let dir = scratch("drain");
    let data = dir.join("data");
    let config = config(&dir, &upstream, 1500);
    let storage = vec!["--data-dir".to_string(), data.display().to_string()];
    let env = [("FAKE_KEY", API_KEY), ("SWITCHYARD_API_KEYS", KEY)];
    let (child, addr) = serve(&config, &storage, &env);
    let mut server = Running(child);
    let http = reqwest::Client::new();

    // One stream that finishes in about half a second, one that never would.
    let (short_id, short) = open_stream(
        &http,
        &addr,
        "#tokdelay:50 one two three four five six seven eight",
    )
    .await;
    let (endless_id, endless) = open_stream(&http, &addr, "#endless").await;
    server.terminate();
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Nothing new is served once the drain has begun.
    let late = http
        .post(format!("http://{addr}/api/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "fake/gpt", "messages": [{"role": "user", "content": "late"}]}))
        .timeout(Duration::from_secs(3))
        .send()
        .await;
    if let Ok(r) = &late {
        assert_ne!(r.status(), 200, "a new request was served during the drain");
    }

    let status = server
        .exited_within(Duration::from_secs(6))
        .await
        .expect("the process exits within the drain timeout and a margin");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert!(
        took >= Duration::from_millis(1300) && took < Duration::from_millis(4500),
        "the open stream gets the drain timeout (1.5 s), and no more: {took:?}"
    );

    let short = short.await.expect("short stream read");
    assert!(
        short.trim_end().ends_with("data: [DONE]"),
        "the short stream finished normally during the drain: {short}"
    );
    let endless = endless.await.expect("endless stream read");
    let last = last_chunk(&endless);
    assert_eq!(
        last["choices"][0]["finish_reason"], "error",
        "the endless stream ends with an error chunk at the deadline: {last}"
    );

    // Both are on the books.
    let store = Store::open_sqlite(&data).await.expect("store");
    let s = store
        .generation(&short_id)
        .await
        .expect("read")
        .expect("the drained stream is recorded");
    assert!(!s.cancelled && s.cost_pico > 0, "{s:?}");
    let e = store
        .generation(&endless_id)
        .await
        .expect("read")
        .expect("the stream cut at the deadline is recorded");
    assert_eq!(e.finish_reason.as_deref(), Some("error"), "{e:?}");
    assert!(e.tokens_completion > 0 && e.cost_pico > 0, "{e:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_at_once() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let dir = scratch("drain-twice");
    let config = config(&dir, &upstream, 30_000);
    let storage = vec![
        "--data-dir".to_string(),
        dir.join("data").display().to_string(),
    ];
    let env = [("FAKE_KEY", API_KEY), ("SWITCHYARD_API_KEYS", KEY)];
    let (child, addr) = serve(&config, &storage, &env);
    let mut server = Running(child);
    let http = reqwest::Client::new();
    let (_, endless) = open_stream(&http, &addr, "#endless").await;
    server.terminate();
    assert!(
        server
            .exited_within(Duration::from_millis(500))
            .await
            .is_none(),
        "the first signal drains (30 s allowed) rather than exiting"
    );
    server.terminate();
    let started = Instant::now();
    server
        .exited_within(Duration::from_secs(2))
        .await
        .expect("the second signal exits at once");
    assert!(started.elapsed() < Duration::from_secs(2));
    endless.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
