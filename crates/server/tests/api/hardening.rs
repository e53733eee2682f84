//! What one client must not be able to do to the gateway: make it buffer or wait for a body
//! before its key is checked, trickle a body or a header, hold idle connections, take every
//! connection or stream slot, or keep the process from shutting down. Raw sockets where the
//! behaviour is below what an HTTP client shows.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const CHAT: &str = "/api/v1/chat/completions";

fn server(extra: &str) -> String {
    format!("{SERVER}\n{extra}")
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.expect("connects")
}

fn head(method: &str, path: &str, key: Option<&str>, content_length: usize) -> Vec<u8> {
    let auth = key
        .map(|k| format!("authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n{auth}content-length: {content_length}\r\n\r\n"
    )
    .into_bytes()
}

struct Answer {
    status: u16,
    head: String,
    body: Value,
}

/// One HTTP/1.1 response (its body by `Content-Length`), or `None` if none came in time.
async fn answer<R: AsyncRead + Unpin>(s: &mut R, within: Duration) -> Option<Answer> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let len = head
            .lines()
            .find_map(|l| {
                let l = l.to_ascii_lowercase();
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            })
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body =
            serde_json::from_slice(buf.get(end + 4..).unwrap_or_default()).unwrap_or(Value::Null);
        Some(Answer { status, head, body })
    };
    timeout(within, read).await.ok().flatten()
}

/// Whether the server closes the connection (end of file or reset) within `within`.
async fn closed_within<R: AsyncRead + Unpin>(s: &mut R, within: Duration) -> bool {
    let eof = async {
        let mut b = [0u8; 1024];
        while let Ok(n) = s.read(&mut b).await {
            if n == 0 {
                break;
            }
        }
    };
    timeout(within, eof).await.is_ok()
}

fn assert_envelope(a: &Answer, code: u16) {
    assert_eq!(a.status, code, "{}\n{}", a.head, a.body);
    assert_eq!(a.body["error"]["code"], code, "{}", a.body);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        a.body
    );
}

/// A request answered before its body was read leaves that body on the connection, which is
/// then closed: the answer says `Connection: close`, so no client sends its next request down
/// a connection about to close. An answer whose body was read keeps the connection open.
#[tokio::test]
async fn an_answer_that_leaves_the_body_unread_says_connection_close() {
    let app = spawn_app().await;
    let body = br#"{"model":"fake/gpt","messages":[{"role":"user","content":"hi"}]}"#;
    for (path, key) in [
        (CHAT, Some("sk-sy-v1-wrong")),
        ("/api/v1/messages", None),
        ("/api/v1/no-such-route", Some(KEY)),
    ] {
        let mut s = connect(&app).await;
        s.write_all(&head("POST", path, key, body.len()))
            .await
            .expect("sent");
        s.write_all(body).await.expect("sent");
        let a = answer(&mut s, Duration::from_secs(2))
            .await
            .unwrap_or_else(|| panic!("{path}: no answer"));
        assert!(a.status >= 400, "{path}: {}", a.head);
        assert!(
            a.head.to_ascii_lowercase().contains("connection: close"),
            "{path}: {}",
            a.head
        );
    }
    // Served (the body read): the same connection takes a second request.
    let mut s = connect(&app).await;
    for _ in 0..2 {
        s.write_all(&head("POST", CHAT, Some(KEY), body.len()))
            .await
            .expect("sent");
        s.write_all(body).await.expect("sent");
        let a = answer(&mut s, Duration::from_secs(5))
            .await
            .expect("an answer on the kept-alive connection");
        assert_eq!(a.status, 200, "{}", a.head);
        assert!(!a.head.to_ascii_lowercase().contains("connection: close"));
    }
}

#[tokio::test]
async fn a_huge_declared_body_is_answered_at_once_without_being_read() {
    let app = spawn_app().await;
    // Anonymous: 401 from the headers alone. A valid key: 413 from Content-Length alone.
    for (key, code) in [(None, 401), (Some(KEY), 413)] {
        let mut s = connect(&app).await;
        s.write_all(&head("POST", CHAT, key, 1 << 30))
            .await
            .expect("sent");
        let a = answer(&mut s, Duration::from_secs(2))
            .await
            .unwrap_or_else(|| panic!("no answer to a 1 GiB Content-Length (key: {key:?})"));
        assert_envelope(&a, code);
        assert!(
            closed_within(&mut s, Duration::from_secs(2)).await,
            "the connection, its body unread, is closed"
        );
    }
}

#[tokio::test]
async fn an_invalid_key_is_refused_before_the_body_is_read() {
    // A limit above the declared size: only the key can be the reason for the refusal.
    let app = spawn_app_with(&SERVER.replace("100000", "20000000"), false).await;
    for (path, key) in [
        (CHAT, "sk-sy-v1-wrong"),
        ("/api/v1/keys", "sk-sy-v1-wrong"),
        ("/api/v1/admin/credits", "not-the-admin-key"),
    ] {
        let mut s = connect(&app).await;
        s.write_all(&head("POST", path, Some(key), 10_000_000))
            .await
            .expect("sent");
        s.write_all(br#"{"model": "fake/gpt", "#)
            .await
            .expect("sent");
        let a = answer(&mut s, Duration::from_secs(2))
            .await
            .unwrap_or_else(|| panic!("{path}: no answer while the 10 MB body is pending"));
        assert_envelope(&a, 401);
    }
    assert!(app.upstream.requests().is_empty());
}

#[tokio::test]
async fn a_body_trickled_below_the_minimum_rate_is_408_and_closed() {
    // 300 ms plus 10 ms per byte: one byte per 100 ms falls behind at once.
    let app = spawn_app_with(
        &server("body_timeout_ms = 300\nbody_min_bytes_per_sec = 100"),
        false,
    )
    .await;
    let s = connect(&app).await;
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(&head("POST", CHAT, Some(KEY), 1000))
        .await
        .expect("sent");
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if wr.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let a = answer(&mut rd, Duration::from_secs(3))
        .await
        .expect("a trickled body is answered");
    assert_envelope(&a, 408);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(closed_within(&mut rd, Duration::from_secs(2)).await);
    trickle.abort();
}

#[tokio::test]
async fn a_slowloris_header_is_cut_at_the_header_timeout() {
    let app = spawn_app_with(
        &server("header_read_timeout_ms = 300\nidle_timeout_ms = 10000"),
        false,
    )
    .await;
    let s = connect(&app).await;
    let (mut rd, mut wr) = s.into_split();
    let started = Instant::now();
    // Busy, not silent: a byte of header every 50 ms, never the blank line.
    let trickle = tokio::spawn(async move {
        if wr
            .write_all(b"POST /api/v1/chat/completions HTTP/1.1\r\nx-slow: ")
            .await
            .is_err()
        {
            return;
        }
        for _ in 0..100 {
            if wr.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert!(
        closed_within(&mut rd, Duration::from_secs(3)).await,
        "a header still arriving after 3 s keeps its connection"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    trickle.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let app = spawn_app_with(
        &server("header_read_timeout_ms = 10000\nidle_timeout_ms = 400"),
        false,
    )
    .await;
    let mut s = connect(&app).await;
    let get = b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n";
    s.write_all(get).await.expect("sent");
    let a = answer(&mut s, Duration::from_secs(2))
        .await
        .expect("health");
    assert_eq!(a.status, 200);
    // Within the idle timeout the connection is reused, and the timer starts again.
    tokio::time::sleep(Duration::from_millis(250)).await;
    s.write_all(get).await.expect("sent");
    let a = answer(&mut s, Duration::from_secs(2))
        .await
        .expect("kept alive");
    assert_eq!(a.status, 200);
    let idle = Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(3)).await,
        "an idle connection is kept past 3 s"
    );
    let took = idle.elapsed();
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_get_503_and_service_resumes() {
    let app = spawn_app_with(&server("max_connections = 3"), false).await;
    let mut held = vec![];
    for _ in 0..3 {
        held.push(connect(&app).await);
    }
    // One of them, busy with a request, still works.
    held[0]
        .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("sent");
    let a = answer(&mut held[0], Duration::from_secs(2))
        .await
        .expect("a connection within the cap is served");
    assert_eq!(a.status, 200);
    for send_first in [false, true] {
        let mut extra = connect(&app).await;
        if send_first {
            extra
                .write_all(b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n")
                .await
                .expect("sent");
        }
        let a = answer(&mut extra, Duration::from_secs(2))
            .await
            .expect("the connection beyond the cap is answered");
        assert_envelope(&a, 503);
        assert!(
            a.head.to_ascii_lowercase().contains("retry-after: 1"),
            "{}",
            a.head
        );
        assert!(closed_within(&mut extra, Duration::from_secs(2)).await);
    }
    drop(held);
    let resumed = async {
        loop {
            let http = reqwest::Client::new();
            if let Ok(r) = http.get(app.url("/health")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(Duration::from_secs(3), resumed)
        .await
        .expect("service resumes once connections close");
}

/// A streamed chat request, its first chunk read: the stream is open.
async fn open_stream(app: &TestApp, text: &str) -> (reqwest::Response, String) {
    let mut r = app
        .http
        .post(app.url(CHAT))
        .bearer_auth(KEY)
        .json(&json!({"model": "fake/gpt", "stream": true, "messages": user(text)}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let mut seen = String::new();
    while !seen.contains("data: ") {
        let chunk = timeout(Duration::from_secs(3), r.chunk())
            .await
            .expect("the stream starts")
            .expect("reads")
            .expect("not ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    (r, seen)
}

const LONG: &str = "#tokdelay:100 one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";

#[tokio::test]
async fn streams_beyond_the_cap_get_503_before_any_provider_call() {
    let app = spawn_app_with(&server("max_open_streams = 1"), false).await;
    let (first, _) = open_stream(&app, LONG).await;
    let calls = app.upstream.requests().len();
    let r = app
        .http
        .post(app.url(CHAT))
        .bearer_auth(KEY)
        .json(&json!({"model": "fake/gpt", "stream": true, "messages": user("hi")}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], 503, "{v}");
    assert_eq!(
        app.upstream.requests().len(),
        calls,
        "no provider was called"
    );
    // The cap is on streams: a plain completion still goes through.
    let (s, v) = app
        .chat_json(json!({"model": "fake/gpt", "messages": user("plain")}))
        .await;
    assert_eq!(s, 200, "{v}");
    // The slot comes back when the stream ends (here: its client goes away).
    drop(first);
    let again = async {
        loop {
            let (s, _, _) = app
                .chat_stream(json!({"model": "fake/gpt", "messages": user("again")}))
                .await;
            if s == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    timeout(Duration::from_secs(3), again)
        .await
        .expect("a stream opens again once the first has ended");
}

#[tokio::test]
async fn shutdown_drains_then_ends_open_streams_with_an_error_chunk_and_bills_them() {
    let mut app = spawn_app_with(&server("drain_timeout_ms = 500"), false).await;
    let (mut stream, mut text) = open_stream(&app, LONG).await;
    // A half-sent request and an idle connection must not hold the drain up either.
    let mut half = connect(&app).await;
    half.write_all(b"POST /api/v1/chat/completions HTTP/1.1\r\nhost: te")
        .await
        .expect("sent");
    let mut idle = connect(&app).await;
    let served = app.shut_down();
    let started = Instant::now();
    let rest = async {
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    timeout(Duration::from_secs(5), rest)
        .await
        .expect("the stream ends after the drain timeout");
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"][0]["finish_reason"], "error", "{text}");
    assert_eq!(last["error"]["code"], 503, "{last}");
    assert!(
        streamed_text(&chunks).contains(" one "),
        "tokens were sent before the deadline: {text}"
    );
    let result = timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returns within a bounded time");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(2000),
        "requests in flight get the drain timeout, and no more: {took:?}"
    );
    for s in [&mut half, &mut idle] {
        assert!(closed_within(s, Duration::from_millis(500)).await);
    }
    let id = last["id"].as_str().expect("id");
    let g = app
        .store
        .generation(id)
        .await
        .expect("read")
        .expect("the cut stream was recorded");
    assert!(g.streamed && !g.cancelled, "{g:?}");
    assert_eq!(g.finish_reason.as_deref(), Some("error"));
    assert!(g.tokens_completion > 0 && g.cost_pico > 0, "{g:?}");
}
