//! Secrets stay secret in what the operator keeps: the real binary at `RUST_LOG=debug`, its
//! log captured to a file, answers good requests, failing and key-echoing providers, wrong
//! keys and provisioning calls; then neither its log nor any file of its data directory holds
//! a gateway key's plaintext, the admin key or the provider's key.

mod common;

use common::{scratch, serve_logged};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchyard_testkit::scan::{contains, files};
use switchyard_testkit::{FakeUpstream, API_KEY};

/// The three provider families and `count` models on each (`fake/<family>-<i>`), each its own
/// endpoint, so that one scripted failure cannot open the circuit another case needs.
fn config(dir: &Path, upstream: &FakeUpstream, count: usize) -> PathBuf {
    let mut toml = String::from("default_catalog = false\n");
    for family in ["openai", "anthropic", "gemini"] {
        toml += &format!(
            "[[providers]]\nslug = \"{family}\"\nname = \"Fake {family}\"\nprotocol = \"{family}\"\nbase_url = \"{}\"\napi_key_env = \"FAKE_KEY\"\n",
            upstream.base_url(family)
        );
        for i in 0..count {
            toml += &format!(
                "[[models]]\nid = \"fake/{family}-{i}\"\nname = \"Fake\"\ncontext_length = 100000\n\
                 endpoints = [{{ provider = \"{family}\", upstream_id = \"m-{i}\", prompt = \"0.000001\", completion = \"0.000001\" }}]\n"
            );
        }
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, toml).expect("config");
    path
}

/// The log as text without its colour codes.
fn plain(log: &[u8]) -> String {
    let text = String::from_utf8_lossy(log);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The server process, killed when the test ends however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Client {
    http: reqwest::Client,
    addr: String,
}

impl Client {
    /// (status, body text); a request that gets no answer in 10 s fails the test.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: &str,
        body: Option<String>,
    ) -> (u16, String) {
        let mut rb = self
            .http
            .request(method, format!("http://{}{path}", self.addr))
            .header("authorization", auth)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(10));
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let r = rb.send().await.expect("an answer within 10 s");
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    async fn chat(&self, key: &str, model: &str, text: &str, stream: bool) -> (u16, String) {
        let body = json!({"model": model, "stream": stream,
            "messages": [{"role": "user", "content": text}]});
        self.send(
            reqwest::Method::POST,
            "/api/v1/chat/completions",
            &format!("Bearer {key}"),
            Some(body.to_string()),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_debug_log_or_the_data_directory() {
    let upstream = FakeUpstream::start().await.expect("fake upstream");
    let dir = scratch("secrets");
    let data = dir.join("data");
    let log = dir.join("serve.log");
    let config = config(&dir, &upstream, 4);
    let tag = dir
        .file_name()
        .map(|n| n.to_string_lossy().replace('-', ""))
        .unwrap_or_default();
    let api = format!("sk-sy-v1-logapi{tag}");
    let mgmt = format!("sk-sy-v1-logmgmt{tag}");
    let admin = format!("logadmin{tag}");
    let wrong = format!("sk-sy-v1-logwrong{tag}");
    let storage = vec!["--data-dir".to_string(), data.display().to_string()];
    let env = [
        ("FAKE_KEY", API_KEY),
        ("SWITCHYARD_API_KEYS", api.as_str()),
        ("SWITCHYARD_MANAGEMENT_KEY", mgmt.as_str()),
        ("SWITCHYARD_ADMIN_KEY", admin.as_str()),
        ("RUST_LOG", "debug"),
        ("NO_COLOR", "1"),
    ];
    let (server, addr) = serve_logged(&config, &storage, &env, &log);
    let server = Running(server);
    let c = Client {
        http: reqwest::Client::new(),
        addr,
    };

    // Good requests on every family, streamed or not.
    for family in ["openai", "anthropic", "gemini"] {
        for stream in [false, true] {
            let (s, body) = c
                .chat(&api, &format!("fake/{family}-0"), "hello", stream)
                .await;
            assert_eq!(s, 200, "{family}: {body}");
        }
    }
    // Keys that are wrong, or presented the wrong way.
    for auth in [
        format!("Bearer {wrong}"),
        format!("Basic {wrong}"),
        format!("Bearer {api} extra"),
        wrong.clone(),
    ] {
        let (s, body) = c
            .send(
                reqwest::Method::POST,
                "/api/v1/chat/completions",
                &auth,
                Some(
                    json!({"model": "fake/openai-0", "messages": [{"role": "user", "content": "hi"}]})
                        .to_string(),
                ),
            )
            .await;
        assert_eq!(s, 401, "{auth}: {body}");
    }
    let (s, _) = c
        .send(
            reqwest::Method::POST,
            "/api/v1/admin/credits",
            &format!("Bearer {wrong}"),
            Some(json!({"account": "default", "amount": "1"}).to_string()),
        )
        .await;
    assert_eq!(s, 401);
    // Provisioning: the secrets it hands out are shown once, to the caller, never logged.
    let (s, body) = c
        .send(
            reqwest::Method::POST,
            "/api/v1/admin/accounts",
            &format!("Bearer {admin}"),
            Some(json!({"name": "logged", "management_key": true}).to_string()),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let made: Value = serde_json::from_str(&body).unwrap_or_default();
    let new_mgmt = made["management_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (s, body) = c
        .send(
            reqwest::Method::POST,
            "/api/v1/admin/credits",
            &format!("Bearer {admin}"),
            Some(json!({"account": "logged", "amount": "1"}).to_string()),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c
        .send(
            reqwest::Method::POST,
            "/api/v1/keys",
            &format!("Bearer {new_mgmt}"),
            Some(json!({"name": "provisioned"}).to_string()),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap_or_default();
    let provisioned = created["key"].as_str().unwrap_or_default().to_string();
    let (s, body) = c
        .chat(&provisioned, "fake/openai-0", "hello from a new key", false)
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = c
        .send(
            reqwest::Method::POST,
            "/api/v1/chat/completions",
            &format!("Bearer {provisioned}"),
            Some("{not json".into()),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = c
        .send(
            reqwest::Method::GET,
            "/api/v1/keys",
            &format!("Bearer {mgmt}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    // Providers failing, and failing while quoting our credential back: each case on a model
    // of its own, on every family, so every one of them reaches its provider.
    let mut failed = 0;
    for family in ["openai", "anthropic", "gemini"] {
        for (i, (text, stream)) in [
            ("fails #fail:500", false),
            ("echoes #echo-key:500", false),
            ("echoes #echo-key:401", true),
            ("echoes #echo-key:200", false),
            ("echoes #echo-key:200", true),
            ("breaks #midstream-error", true),
        ]
        .into_iter()
        .enumerate()
        {
            // Two cases per model: below any circuit's threshold.
            let model = format!("fake/{family}-{}", 1 + i / 2);
            let (s, body) = c.chat(&api, &model, text, stream).await;
            assert!(
                !body.contains(API_KEY),
                "{model} {text}: the provider's key reached the client: {body}"
            );
            assert_ne!(
                s, 503,
                "{model} {text}: the circuit opened, the case is lost: {body}"
            );
            failed += 1;
        }
    }
    let reached = upstream.requests().len();
    assert!(
        reached >= 6 + 1 + failed,
        "only {reached} requests reached the fake providers"
    );
    // Let the ledger writer commit what was served, then stop without warning.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server);

    let printed = plain(&std::fs::read(&log).expect("the log was written"));
    // The log is a real debug log that saw the failures, so an absence below means something.
    assert!(
        printed.contains("DEBUG") && printed.contains("attempt failed"),
        "the debug log does not show the failed attempts:\n{printed}"
    );
    assert!(
        printed.contains("[REDACTED]"),
        "the echoed credentials reached the log only as [REDACTED]:\n{printed}"
    );
    let secrets = [
        ("the API key (SWITCHYARD_API_KEYS)", api.clone()),
        ("the management key", mgmt.clone()),
        ("the admin key", admin.clone()),
        ("a wrong key presented", wrong.clone()),
        (
            "a management key created by the admin API",
            new_mgmt.clone(),
        ),
        (
            "an API key created by the provisioning API",
            provisioned.clone(),
        ),
        ("the provider's key", API_KEY.to_string()),
    ];
    for (what, secret) in &secrets {
        assert!(!secret.is_empty(), "{what} is known to the test");
        let found: Vec<&str> = printed.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            found.is_empty(),
            "{what} is in the log:\n{}",
            found.join("\n")
        );
    }
    let stored = files(&data);
    assert!(
        stored.iter().any(|(_, b)| contains(
            b,
            switchyard_server::auth::hash_hex(&provisioned).as_bytes()
        )),
        "the scan sees the keys table"
    );
    for (path, bytes) in &stored {
        for (what, secret) in &secrets {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "{what} is in {}",
                path.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
