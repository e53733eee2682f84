//! The abuse half of the fault matrix, as a client or a nosy tenant would try it: malformed
//! and deeply nested JSON, revoked keys, another account's keys, generations and usage, and
//! secrets that must never reach the data directory. Every wait is bounded; 127.0.0.1 only.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchyard_testkit::scan::{contains, files};
use tokio::time::timeout;

const CHAT: &str = "/api/v1/chat/completions";

/// Longest any single answer may take here: a malformed request is refused, not pondered.
const PROMPT: Duration = Duration::from_secs(5);

/// Posts raw bytes (any method) with `key`; (status, JSON body or Null), or a panic naming
/// the case if no answer comes within [`PROMPT`].
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: reqwest::Body,
    case: &str,
) -> (u16, Value) {
    let sent = app
        .http
        .request(method, app.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body)
        .send();
    let answered = timeout(PROMPT, async {
        let r = sent.await.expect("request sent");
        let status = r.status().as_u16();
        let text = r.bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&text).unwrap_or(Value::Null))
    })
    .await;
    answered.unwrap_or_else(|_| panic!("{case}: no answer within {PROMPT:?}"))
}

/// What is wrong with an answer that should be OpenRouter's error envelope with `code`.
fn envelope_problem(status: u16, v: &Value, code: u16) -> Option<String> {
    let message = v["error"]["message"].as_str().unwrap_or_default();
    (status != code || v["error"]["code"] != code || message.trim().is_empty())
        .then(|| format!("{status} (expected {code}) {v}"))
}

/// OpenRouter's error envelope with `code`, and a message that says something.
fn assert_envelope(case: &str, status: u16, v: &Value, code: u16) {
    assert_eq!(status, code, "{case}: {v}");
    assert_eq!(v["error"]["code"], code, "{case}: not the envelope: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{case}: an empty message: {v}"
    );
}

/// A normal request still gets a normal answer.
async fn still_serving(app: &TestApp, after: &str) {
    let answered = timeout(
        PROMPT,
        app.chat_json(json!({"model": "fake/gpt", "messages": user("still there?")})),
    )
    .await;
    let (s, v) = answered.unwrap_or_else(|_| panic!("after {after}: a normal request hangs"));
    assert_eq!(s, 200, "after {after}: a normal request fails: {v}");
    assert_eq!(
        v["choices"][0]["message"]["content"], "Echo: still there?",
        "{v}"
    );
}

fn bytes(b: &[u8]) -> reqwest::Body {
    reqwest::Body::from(b.to_vec())
}

/// Malformed bodies a client library, a proxy or an attacker might send to chat completions.
fn bad_chat_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let msg = r#"[{"role":"user","content":"hi"}]"#;
    let mut invalid_utf8 =
        br#"{"model":"fake/gpt","messages":[{"role":"user","content":"caf"#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid_utf8.extend_from_slice(br#""}]}"#);
    let mut invalid_utf8_key = br#"{"model":"fake/gpt","messages":[{"role":"user","#.to_vec();
    invalid_utf8_key.extend_from_slice(&[b'"', 0x80, 0x81, b'"', b':', b'1']);
    invalid_utf8_key.extend_from_slice(br#","content":"hi"}]}"#);
    vec![
        ("an empty body", vec![]),
        ("whitespace only", b"  \n\t ".to_vec()),
        (
            "truncated mid-string",
            br#"{"model":"fake/gpt","messages":[{"role":"user","content":"hel"#.to_vec(),
        ),
        (
            "truncated after a comma",
            br#"{"model":"fake/gpt","messages":[{"role":"user","content":"hi"},"#.to_vec(),
        ),
        ("an array, not an object", b"[]".to_vec()),
        ("a string, not an object", br#""hello""#.to_vec()),
        ("a number, not an object", b"42".to_vec()),
        ("null, not an object", b"null".to_vec()),
        ("NUL bytes", vec![0u8; 64]),
        (
            "a model that is a number",
            format!(r#"{{"model":7,"messages":{msg}}}"#).into_bytes(),
        ),
        (
            "messages that are a string",
            br#"{"model":"fake/gpt","messages":"hi"}"#.to_vec(),
        ),
        (
            "messages that are an object",
            br#"{"model":"fake/gpt","messages":{"role":"user","content":"hi"}}"#.to_vec(),
        ),
        (
            "a message that is a number",
            br#"{"model":"fake/gpt","messages":[5]}"#.to_vec(),
        ),
        (
            "no messages at all",
            br#"{"model":"fake/gpt","messages":[]}"#.to_vec(),
        ),
        (
            "negative max_tokens",
            format!(r#"{{"model":"fake/gpt","messages":{msg},"max_tokens":-5}}"#).into_bytes(),
        ),
        (
            "max_tokens beyond any integer",
            format!(
                r#"{{"model":"fake/gpt","messages":{msg},"max_tokens":99999999999999999999999}}"#
            )
            .into_bytes(),
        ),
        (
            "max_tokens as text",
            format!(r#"{{"model":"fake/gpt","messages":{msg},"max_tokens":"lots"}}"#).into_bytes(),
        ),
        (
            "a number out of f64's range",
            format!(r#"{{"model":"fake/gpt","messages":{msg},"temperature":1e999}}"#).into_bytes(),
        ),
        (
            "stream as text",
            format!(r#"{{"model":"fake/gpt","messages":{msg},"stream":"yes"}}"#).into_bytes(),
        ),
        ("invalid UTF-8 in a string", invalid_utf8),
        ("invalid UTF-8 in a key", invalid_utf8_key),
        (
            "a lone surrogate escape",
            br#"{"model":"fake/gpt","messages":[{"role":"user","content":"\ud800"}]}"#.to_vec(),
        ),
        (
            "a bad escape",
            br#"{"model":"fake/gpt","messages":[{"role":"user","content":"\q"}]}"#.to_vec(),
        ),
        (
            "a raw control character in a string",
            b"{\"model\":\"fake/gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"a\x01b\"}]}"
                .to_vec(),
        ),
    ]
}

#[tokio::test]
async fn malformed_chat_bodies_are_400_in_the_envelope_never_500_or_a_hang() {
    let app = spawn_app().await;
    let mut failures = vec![];
    for (case, body) in bad_chat_bodies() {
        for stream_header in [false, true] {
            let mut rb = app
                .http
                .post(app.url(CHAT))
                .bearer_auth(KEY)
                .header("content-type", "application/json")
                .body(body.clone());
            if stream_header {
                rb = rb.header("accept", "text/event-stream");
            }
            let answered = timeout(PROMPT, async {
                let r = rb.send().await.expect("sent");
                let status = r.status().as_u16();
                let ctype = r
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let text = r.bytes().await.unwrap_or_default();
                (
                    status,
                    ctype,
                    serde_json::from_slice(&text).unwrap_or(Value::Null),
                )
            })
            .await;
            let (s, ctype, v) =
                answered.unwrap_or_else(|_| panic!("{case}: no answer within {PROMPT:?}"));
            if let Some(p) = envelope_problem(s, &v, 400) {
                failures.push(format!("{case} (accept SSE: {stream_header}): {p}"));
            } else if !ctype.starts_with("application/json") {
                failures.push(format!("{case}: the error is not JSON but {ctype:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        app.upstream.requests().is_empty(),
        "a malformed request reached a provider: {:?}",
        app.upstream_models()
    );
    assert_eq!(
        app.store.generation_count().await.expect("count"),
        0,
        "a malformed request left a generation record"
    );
    still_serving(&app, "malformed bodies").await;
}

#[tokio::test]
async fn malformed_management_and_admin_bodies_are_400_never_500() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("tidy", "1", json!({"name": "k"})).await;
    let hash = switchyard_server::auth::hash_hex(&key);
    let mut failures = vec![];
    let mut bad_utf8 = br#"{"name":"ab"#.to_vec();
    bad_utf8.extend_from_slice(&[0xc3, 0x28, 0xa0]);
    bad_utf8.extend_from_slice(br#""}"#);
    let common: Vec<(&str, Vec<u8>)> = vec![
        ("an empty body", vec![]),
        ("truncated", br#"{"name":"ha"#.to_vec()),
        ("an array", b"[1,2,3]".to_vec()),
        ("a string", br#""name""#.to_vec()),
        ("null", b"null".to_vec()),
        ("invalid UTF-8", bad_utf8),
        ("NUL bytes", vec![0u8; 16]),
    ];
    let create: Vec<(&str, Vec<u8>)> = vec![
        ("no name", b"{}".to_vec()),
        ("a name that is a number", br#"{"name":5}"#.to_vec()),
        (
            "a limit that is text",
            br#"{"name":"x","limit":"lots"}"#.to_vec(),
        ),
        ("a negative limit", br#"{"name":"x","limit":-1}"#.to_vec()),
        (
            "a limit beyond any balance",
            br#"{"name":"x","limit":"99999999999999999999999999999999"}"#.to_vec(),
        ),
        (
            "a limit beyond f64",
            br#"{"name":"x","limit":1e999}"#.to_vec(),
        ),
        (
            "an expiry that is a number",
            br#"{"name":"x","expires_at":12}"#.to_vec(),
        ),
        (
            "an expiry that is not a date",
            br#"{"name":"x","expires_at":"next tuesday"}"#.to_vec(),
        ),
        ("an unknown field", br#"{"name":"x","admin":true}"#.to_vec()),
    ];
    for (case, body) in common.iter().chain(create.iter()) {
        let (s, v) = send_raw(&app, Method::POST, "/api/v1/keys", &mgmt, bytes(body), case).await;
        if let Some(p) = envelope_problem(s, &v, 400) {
            failures.push(format!("POST /keys, {case}: {p}"));
        }
    }
    // The same with the bootstrap management key of the default account.
    let (s, v) = send_raw(
        &app,
        Method::POST,
        "/api/v1/keys",
        MANAGEMENT_KEY,
        bytes(br#"{"name":"#),
        "truncated (default account)",
    )
    .await;
    assert_envelope("POST /keys with MANAGEMENT_KEY", s, &v, 400);

    let patch: Vec<(&str, Vec<u8>)> = vec![
        ("disabled as text", br#"{"disabled":"yes"}"#.to_vec()),
        ("a name that is an object", br#"{"name":{}}"#.to_vec()),
        ("an unknown field", br#"{"deleted":false}"#.to_vec()),
        ("a bad limit_reset", br#"{"limit_reset":"hourly"}"#.to_vec()),
    ];
    for (case, body) in common.iter().chain(patch.iter()) {
        let (s, v) = send_raw(
            &app,
            Method::PATCH,
            &format!("/api/v1/keys/{hash}"),
            &mgmt,
            bytes(body),
            case,
        )
        .await;
        if let Some(p) = envelope_problem(s, &v, 400) {
            failures.push(format!("PATCH /keys/{{hash}}, {case}: {p}"));
        }
    }
    // None of that changed the key.
    let (s, v) = app
        .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    assert_eq!(s, 200, "the key survived malformed PATCHes: {v}");

    let grants: Vec<(&str, Vec<u8>)> = vec![
        ("no account", br#"{"amount":"1"}"#.to_vec()),
        (
            "an amount that is not a number",
            br#"{"account":"tidy","amount":"a lot"}"#.to_vec(),
        ),
        (
            "a boolean amount",
            br#"{"account":"tidy","amount":true}"#.to_vec(),
        ),
        (
            "an amount beyond i128",
            br#"{"account":"tidy","amount":"999999999999999999999999999999999999999999"}"#.to_vec(),
        ),
        (
            "an amount beyond the ledger's i64",
            br#"{"account":"tidy","amount":"10000000"}"#.to_vec(),
        ),
        (
            "an amount finer than a picodollar",
            br#"{"account":"tidy","amount":"0.0000000000001"}"#.to_vec(),
        ),
        (
            "an amount beyond f64",
            br#"{"account":"tidy","amount":1e999}"#.to_vec(),
        ),
    ];
    for (case, body) in common.iter().chain(grants.iter()) {
        let (s, v) = send_raw(
            &app,
            Method::POST,
            "/api/v1/admin/credits",
            ADMIN_KEY,
            bytes(body),
            case,
        )
        .await;
        if let Some(p) = envelope_problem(s, &v, 400) {
            failures.push(format!("POST /admin/credits, {case}: {p}"));
        }
    }
    for (case, body) in common.iter().chain(
        [
            ("a name that is a number", br#"{"name":1}"#.to_vec()),
            (
                "management_key as text",
                br#"{"name":"n","management_key":"yes"}"#.to_vec(),
            ),
        ]
        .iter(),
    ) {
        let (s, v) = send_raw(
            &app,
            Method::POST,
            "/api/v1/admin/accounts",
            ADMIN_KEY,
            bytes(body),
            case,
        )
        .await;
        if let Some(p) = envelope_problem(s, &v, 400) {
            failures.push(format!("POST /admin/accounts, {case}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The balance is what it was: no malformed grant was booked.
    let (_, c, _) = app.call(Method::GET, "/api/v1/credits", &mgmt, None).await;
    assert_eq!(c["data"]["total_credits"], json!(1), "{c}");
    still_serving(&app, "malformed management bodies").await;
}

/// `depth` arrays opened and closed: `[[[…]]]`.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `depth` objects: `{"a":{"a":…1…}}`.
fn nested_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

fn chat_with_content(content: &str) -> String {
    format!(r#"{{"model":"fake/gpt","messages":[{{"role":"user","content":{content}}}]}}"#)
}

#[tokio::test]
async fn deeply_nested_json_under_the_body_limit_is_refused_quickly() {
    let app = spawn_app().await;
    // Every one fits in max_body_bytes (100,000), so only the nesting can be the reason.
    let unclosed = "[".repeat(99_000);
    let cases: Vec<(&str, String)> = vec![
        (
            "40,000 arrays in a content",
            chat_with_content(&nested_arrays(40_000)),
        ),
        (
            "99,000 unclosed arrays in a content",
            chat_with_content(&unclosed),
        ),
        (
            "15,000 objects in a content",
            chat_with_content(&nested_objects(15_000)),
        ),
        (
            "15,000 objects in an extra field",
            format!(
                r#"{{"model":"fake/gpt","messages":[{{"role":"user","content":"hi"}}],"x_extra":{}}}"#,
                nested_objects(15_000)
            ),
        ),
        (
            "15,000 objects in a tool's parameters",
            format!(
                r#"{{"model":"fake/gpt","messages":[{{"role":"user","content":"hi"}}],"tools":[{{"type":"function","function":{{"name":"f","parameters":{}}}}}]}}"#,
                nested_objects(15_000)
            ),
        ),
        (
            "15,000 objects in a response schema",
            format!(
                r#"{{"model":"fake/gpt","messages":[{{"role":"user","content":"hi"}}],"response_format":{{"type":"json_schema","json_schema":{{"name":"s","schema":{}}}}}}}"#,
                nested_objects(15_000)
            ),
        ),
        ("49,000 arrays as the whole body", nested_arrays(49_000)),
    ];
    for (case, body) in cases {
        assert!(body.len() < 100_000, "{case}: {} bytes", body.len());
        let started = Instant::now();
        let (s, v) = send_raw(&app, Method::POST, CHAT, KEY, body.into(), case).await;
        assert_envelope(case, s, &v, 400);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{case}: refused after {:?}",
            started.elapsed()
        );
    }
    // The management API parses with the same limits.
    for (case, body) in [
        (
            "POST /keys, 15,000 objects as the name",
            format!(r#"{{"name":{}}}"#, nested_objects(15_000)),
        ),
        ("POST /keys, 49,000 arrays", nested_arrays(49_000)),
    ] {
        let (s, v) = send_raw(
            &app,
            Method::POST,
            "/api/v1/keys",
            MANAGEMENT_KEY,
            body.into(),
            case,
        )
        .await;
        assert_envelope(case, s, &v, 400);
    }
    assert!(app.upstream.requests().is_empty());
    still_serving(&app, "deep nesting").await;
}

/// A value `depth` levels deep, built without a parser (and so without its limit).
fn deep_value(depth: usize, wrap: impl Fn(Value) -> Value) -> Value {
    (0..depth).fold(json!(1), |v, _| wrap(v))
}

#[tokio::test]
async fn nesting_the_parser_accepts_is_served_or_refused_never_a_crash() {
    // Deep, but around what a JSON parser is expected to take (serde_json stops at 128
    // levels): served, or refused in the gateway's own words, by it or by the provider.
    let app = spawn_app().await;
    for depth in [20, 100, 120, 123, 126, 127] {
        for (case, body) in [
            (
                "arrays in an extra field",
                json!({"model": "fake/gpt", "messages": user("hi"), "x_extra": deep_value(depth, |v| json!([v]))}),
            ),
            (
                "objects in a tool's parameters",
                json!({"model": "fake/gpt", "messages": user("hi"),
                    "tools": [{"type": "function", "function": {"name": "f", "parameters": deep_value(depth / 2, |v| json!({"type": "object", "properties": {"a": v}}))}}]}),
            ),
        ] {
            for model in MODELS {
                let mut body = body.clone();
                body["model"] = json!(model);
                let case = format!("{model}: {depth} {case}");
                let (s, v) = send_raw(
                    &app,
                    Method::POST,
                    CHAT,
                    KEY,
                    body.to_string().into(),
                    &case,
                )
                .await;
                assert!(
                    s == 200 || (400..500).contains(&s) || s == 502,
                    "{case}: {s} {v}"
                );
                if depth <= 100 {
                    assert_eq!(s, 200, "{case}: ordinary depth is served: {v}");
                }
                if s != 200 {
                    assert_envelope(&case, s, &v, s);
                }
            }
        }
    }
    still_serving(&app, "parseable deep nesting").await;
}

#[tokio::test]
async fn deeply_nested_json_over_the_body_limit_is_413_whether_declared_or_chunked() {
    let app = spawn_app().await;
    let million = chat_with_content(&"[".repeat(1_000_000));
    // Declared: refused from Content-Length alone.
    let started = Instant::now();
    let (s, v) = send_raw(
        &app,
        Method::POST,
        CHAT,
        KEY,
        million.clone().into(),
        "1,000,000 arrays, Content-Length",
    )
    .await;
    assert_envelope("1,000,000 arrays, Content-Length", s, &v, 413);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Chunked, no length: refused once the limit is crossed, without waiting for the rest.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = million
        .as_bytes()
        .chunks(16 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let started = Instant::now();
    let (s, v) = send_raw(
        &app,
        Method::POST,
        CHAT,
        KEY,
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
        "1,000,000 arrays, chunked",
    )
    .await;
    assert_envelope("1,000,000 arrays, chunked", s, &v, 413);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Nested objects past the limit on the management API.
    let objects = format!(r#"{{"name":{}}}"#, nested_objects(300_000));
    let (s, v) = send_raw(
        &app,
        Method::POST,
        "/api/v1/keys",
        MANAGEMENT_KEY,
        objects.into(),
        "300,000 objects, POST /keys",
    )
    .await;
    assert_envelope("300,000 objects, POST /keys", s, &v, 413);
    assert!(app.upstream.requests().is_empty());
    still_serving(&app, "nesting past the body limit").await;
}

/// Polls `f` until it returns true, every 25 ms, for at most `within`.
async fn within<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if f().await {
            return true;
        }
        if started.elapsed() >= within {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Where a revoked key is still let in (anything but 401): chat, streamed chat, key info,
/// usage and generations, under both prefixes.
async fn refused_everywhere(app: &TestApp, key: &str) -> Vec<String> {
    let mut accepted = vec![];
    let (s, _) = app
        .chat_as(key, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    if s != 401 {
        accepted.push(format!("chat: {s}"));
    }
    let r = app
        .http
        .post(app.url(CHAT))
        .bearer_auth(key)
        .json(&json!({"model": "fake/gpt", "stream": true, "messages": user("hi")}))
        .send()
        .await
        .expect("sent");
    if r.status() != 401 {
        accepted.push(format!("streamed chat: {}", r.status()));
    }
    for path in [
        "/api/v1/key",
        "/api/v1/activity",
        "/api/v1/generation?id=gen-anything",
        "/v1/key",
    ] {
        let (s, _, _) = app.call(Method::GET, path, key, None).await;
        if s != 401 {
            accepted.push(format!("{path}: {s}"));
        }
    }
    accepted
}

/// billing.rs covers a key disabled through PATCH (here at once, on a replica within a
/// second); this covers DELETE of a key that was working, which must not be undone by PATCH.
#[tokio::test]
async fn a_deleted_key_stops_at_once_here_within_a_second_on_a_replica_and_stays_deleted() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("leaver", "1", json!({"name": "k"})).await;
    let replica = spawn_replica(&app).await;
    for (who, a) in [("first", &app), ("replica", &replica)] {
        let (s, v) = a
            .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
            .await;
        assert_eq!(s, 200, "{who} serves the key before: {v}");
    }
    let hash = switchyard_server::auth::hash_hex(&key);
    let (s, v, _) = app
        .call(Method::DELETE, &format!("/api/v1/keys/{hash}"), &mgmt, None)
        .await;
    assert_eq!((s, v), (200, json!({"deleted": true})));
    let accepted = refused_everywhere(&app, &key).await;
    assert!(accepted.is_empty(), "accepted after DELETE: {accepted:?}");
    let gone = timeout(
        Duration::from_secs(3),
        within(Duration::from_secs(1), || async {
            replica
                .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
                .await
                .0
                == 401
        }),
    )
    .await
    .unwrap_or(false);
    assert!(
        gone,
        "the replica still serves a deleted key after a second"
    );
    let accepted = refused_everywhere(&replica, &key).await;
    assert!(
        accepted.is_empty(),
        "the replica accepted after DELETE: {accepted:?}"
    );
    // A deleted key is gone for its own manager too: no re-enabling it, no second delete.
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"disabled": false}))),
        (Method::DELETE, None),
    ] {
        for a in [&app, &replica] {
            let (s, v, _) = a
                .call(
                    method.clone(),
                    &format!("/api/v1/keys/{hash}"),
                    &mgmt,
                    body.clone(),
                )
                .await;
            assert_eq!(s, 404, "{method} of a deleted key: {v}");
        }
    }
    let (_, list, _) = app
        .call(
            Method::GET,
            "/api/v1/keys?include_disabled=true",
            &mgmt,
            None,
        )
        .await;
    assert!(
        !list.to_string().contains(&hash),
        "a deleted key is still listed: {list}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    for a in [&app, &replica] {
        let accepted = refused_everywhere(a, &key).await;
        assert!(
            accepted.is_empty(),
            "accepted after a PATCH tried to revive it: {accepted:?}"
        );
    }
}

#[tokio::test]
async fn a_disabled_key_is_refused_on_every_endpoint_and_comes_back_when_enabled() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("paused", "1", json!({"name": "k"})).await;
    let hash = switchyard_server::auth::hash_hex(&key);
    let path = format!("/api/v1/keys/{hash}");
    let patch = |disabled: bool| {
        app.call(
            Method::PATCH,
            &path,
            &mgmt,
            Some(json!({ "disabled": disabled })),
        )
    };
    let (s, _, _) = patch(true).await;
    assert_eq!(s, 200);
    let accepted = refused_everywhere(&app, &key).await;
    assert!(accepted.is_empty(), "accepted while disabled: {accepted:?}");
    let (s, _, _) = patch(false).await;
    assert_eq!(s, 200);
    let (s, v) = app
        .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    assert_eq!(s, 200, "re-enabled at once: {v}");
}

/// Two tenants, each with a management key, an API key and one generation.
struct Tenant {
    key: String,
    mgmt: String,
    hash: String,
    generation: String,
    cost: Value,
}

async fn tenant(app: &TestApp, name: &str, credits: &str, model: &str) -> Tenant {
    let (key, mgmt) = app.prepaid(name, credits, json!({"name": name})).await;
    let (s, v) = app
        .chat_as(&key, json!({"model": model, "messages": user("hello")}))
        .await;
    assert_eq!(s, 200, "{v}");
    Tenant {
        hash: switchyard_server::auth::hash_hex(&key),
        generation: v["id"].as_str().unwrap_or_default().to_string(),
        cost: v["usage"]["cost"].clone(),
        key,
        mgmt,
    }
}

#[tokio::test]
async fn one_account_cannot_read_or_change_anothers_keys_generations_or_usage() {
    let app = spawn_app().await;
    let a = tenant(&app, "alpha", "1", "fake/gpt").await;
    let b = tenant(&app, "beta", "2", "fake/claude").await;
    // Generation records are written by the ledger writer shortly after the answer.
    let recorded = within(Duration::from_secs(3), || async {
        app.store.generation_count().await.unwrap_or(0) >= 2
    })
    .await;
    assert!(recorded, "both generations recorded");

    // Activity and credits: each account its own, whichever of its keys asks.
    for (t, model, credits) in [(&a, "fake/gpt", 1), (&b, "fake/claude", 2)] {
        for k in [&t.key, &t.mgmt] {
            let (s, act, _) = app.call(Method::GET, "/api/v1/activity", k, None).await;
            assert_eq!(s, 200, "{act}");
            let rows = act["data"].as_array().cloned().unwrap_or_default();
            assert_eq!(rows.len(), 1, "one model, one day: {act}");
            assert_eq!(rows[0]["model"], model, "{act}");
            assert_eq!(rows[0]["requests"], 1, "{act}");
            assert_eq!(rows[0]["usage"], t.cost, "{act}");
        }
        let (s, c, _) = app
            .call(Method::GET, "/api/v1/credits", &t.mgmt, None)
            .await;
        assert_eq!(s, 200, "{c}");
        assert_eq!(c["data"]["total_credits"], json!(credits), "{c}");
        assert_eq!(c["data"]["total_usage"], t.cost, "its one request: {c}");
    }

    // A's management key on B's key: as if it did not exist, and nothing changes.
    let b_path = format!("/api/v1/keys/{}", b.hash);
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"disabled": true}))),
        (Method::PATCH, Some(json!({"limit": 0, "name": "pwned"}))),
        (Method::DELETE, None),
    ] {
        let (s, v, _) = app.call(method.clone(), &b_path, &a.mgmt, body).await;
        assert_eq!(s, 404, "{method} of another account's key: {v}");
        assert!(
            !v.to_string().contains("beta"),
            "the refusal says nothing of B's key: {v}"
        );
    }
    let (s, v) = app
        .chat_as(
            &b.key,
            json!({"model": "fake/gpt", "messages": user("still mine")}),
        )
        .await;
    assert_eq!(s, 200, "B's key still works: {v}");
    let (_, mine, _) = app.call(Method::GET, &b_path, &b.mgmt, None).await;
    assert_eq!(mine["data"]["name"], "beta", "{mine}");
    assert_eq!(mine["data"]["disabled"], false, "{mine}");
    assert_eq!(mine["data"]["limit"], Value::Null, "{mine}");
    // Lists are the caller's own.
    let (_, list, _) = app
        .call(
            Method::GET,
            "/api/v1/keys?include_disabled=true",
            &a.mgmt,
            None,
        )
        .await;
    let hashes: Vec<&str> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["hash"].as_str())
        .collect();
    assert_eq!(hashes, vec![a.hash.as_str()], "{list}");
    // The default account's management key sees neither.
    let (_, list, _) = app
        .call(
            Method::GET,
            "/api/v1/keys?include_disabled=true",
            MANAGEMENT_KEY,
            None,
        )
        .await;
    let text = list.to_string();
    assert!(!text.contains(&a.hash) && !text.contains(&b.hash), "{text}");

    // Generations: only the owner's keys read them.
    for (who, k) in [
        ("A's API key", &a.key),
        ("A's management key", &a.mgmt),
        ("the default key", &KEY.to_string()),
    ] {
        let (s, v, _) = app
            .call(
                Method::GET,
                &format!("/api/v1/generation?id={}", b.generation),
                k,
                None,
            )
            .await;
        assert_eq!(s, 404, "{who} read B's generation: {v}");
        assert!(!v.to_string().contains("claude"), "{v}");
    }
    let (s, g, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/generation?id={}", b.generation),
            &b.key,
            None,
        )
        .await;
    assert_eq!((s, g["data"]["model"].clone()), (200, json!("fake/claude")));

    // An API key is not a management key.
    let a_path = format!("/api/v1/keys/{}", a.hash);
    for (method, path, body) in [
        (Method::GET, "/api/v1/keys", None),
        (
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "mine now"})),
        ),
        (Method::GET, a_path.as_str(), None),
        (Method::PATCH, a_path.as_str(), Some(json!({"limit": 1000}))),
        (Method::DELETE, a_path.as_str(), None),
        (Method::GET, b_path.as_str(), None),
        (Method::DELETE, b_path.as_str(), None),
        (Method::GET, "/api/v1/credits", None),
    ] {
        let (s, v, _) = app.call(method.clone(), path, &a.key, body).await;
        assert!(
            s == 401 || s == 403,
            "an API key on {method} {path}: {s} {v}"
        );
        assert_eq!(v["error"]["code"], s, "{v}");
    }
    // Nor is either the operator.
    for k in [&a.key, &a.mgmt] {
        for (path, body) in [
            (
                "/api/v1/admin/credits",
                json!({"account": "alpha", "amount": "1000"}),
            ),
            ("/api/v1/admin/accounts", json!({"name": "mine"})),
        ] {
            let (s, v, _) = app.call(Method::POST, path, k, Some(body)).await;
            assert_eq!(s, 401, "{path}: {v}");
        }
    }
    let (_, c, _) = app
        .call(Method::GET, "/api/v1/credits", &a.mgmt, None)
        .await;
    assert_eq!(
        c["data"]["total_credits"],
        json!(1),
        "no credits were granted: {c}"
    );
    let (s, k, _) = app.call(Method::GET, "/api/v1/key", &a.key, None).await;
    assert_eq!(s, 200);
    assert_eq!(k["data"]["limit"], Value::Null, "no limit was changed: {k}");
}

#[tokio::test]
async fn no_key_plaintext_nor_provider_key_reaches_the_data_directory() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("careful", "5", json!({"name": "k"})).await;
    let (s, created, _) = app
        .call(
            Method::POST,
            "/api/v1/keys",
            &mgmt,
            Some(json!({"name": "second"})),
        )
        .await;
    assert_eq!(s, 201);
    let second = created["key"].as_str().unwrap_or_default().to_string();
    let wrong = format!("sk-sy-v1-{}", "f00d".repeat(16));
    let send = |k: String, model: &'static str, text: &'static str, stream: bool| {
        let rb = app
            .http
            .post(app.url(CHAT))
            .bearer_auth(k)
            .header("x-title", "data-dir test")
            .json(&json!({"model": model, "stream": stream, "messages": user(text)}));
        async move {
            let r = rb.send().await.expect("sent");
            let status = r.status().as_u16();
            let body = timeout(PROMPT, r.text()).await.ok().and_then(Result::ok);
            (status, body.unwrap_or_default())
        }
    };
    // Successes first (failures below may open a model's circuit), with every kind of key.
    let mut served = 0;
    for k in [KEY, key.as_str(), second.as_str()] {
        for (model, text, stream) in [
            ("fake/gpt", "plain", false),
            ("fake/claude", "streamed", true),
            ("fake/gemini", "plain", false),
            ("fake/fallback", "after a dead endpoint", false),
        ] {
            let (s, body) = send(k.to_string(), model, text, stream).await;
            assert_eq!(s, 200, "{model} {text}: {body}");
            served += 1;
        }
    }
    // Then providers failing, some of them quoting our credential back.
    for (i, (model, text, stream)) in [
        ("fake/gpt", "fails #fail:500", false),
        ("fake/gpt", "echoes #echo-key:500", false),
        ("fake/claude", "echoes #echo-key:401", false),
        ("fake/gemini", "echoes #echo-key:503", true),
        ("fake/gpt", "echoes #echo-key:200", false),
        ("fake/gpt", "echoes #echo-key:200", true),
        ("fake/gemini", "echoes #echo-key:200", true),
        ("fake/claude", "echoes #echo-key:200", true),
        ("fake/claude", "mid-stream #midstream-error", true),
    ]
    .into_iter()
    .enumerate()
    {
        let k = if i % 2 == 0 { KEY } else { key.as_str() };
        let (_, body) = send(k.to_string(), model, text, stream).await;
        assert!(
            !body.contains(switchyard_testkit::API_KEY),
            "{model} {text}: the provider key reached the client: {body}"
        );
    }
    let (s, _) = app
        .chat_as(&wrong, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    assert_eq!(s, 401);
    let (s, _, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/credits",
            "not-the-admin-key",
            Some(json!({"account": "careful", "amount": "1"})),
        )
        .await;
    assert_eq!(s, 401);
    // Everything served is recorded (so its rows are in the files) before looking.
    let recorded = within(Duration::from_secs(5), || async {
        app.store.generation_count().await.unwrap_or(0) >= served
    })
    .await;
    assert!(recorded, "{served} generations recorded");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let all = files(&app.data_dir);
    let names: Vec<String> = all
        .iter()
        .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("-wal")),
        "the live WAL is among the files scanned: {names:?}"
    );
    // The scan sees the keys table: every key's hash is there, so its absence means something.
    let everything: Vec<u8> = all.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    for k in [KEY, key.as_str(), second.as_str()] {
        assert!(
            contains(&everything, switchyard_server::auth::hash_hex(k).as_bytes()),
            "the scan does not see the stored key hashes: {names:?}"
        );
    }
    let secrets = [
        ("the bootstrap API key", KEY.to_string()),
        ("the bootstrap management key", MANAGEMENT_KEY.to_string()),
        ("a provisioned API key", key.clone()),
        ("its secret part", key["sk-sy-v1-".len()..].to_string()),
        ("a provisioned management key", mgmt.clone()),
        ("its secret part", mgmt["sk-sy-v1-".len()..].to_string()),
        ("a key created later", second.clone()),
        ("the admin key", ADMIN_KEY.to_string()),
        ("a wrong key presented", wrong.clone()),
        (
            "the provider's key",
            switchyard_testkit::API_KEY.to_string(),
        ),
    ];
    for (path, b) in &all {
        for (what, s) in &secrets {
            assert!(
                !contains(b, s.as_bytes()),
                "{what} is in {} ({} bytes)",
                path.display(),
                b.len()
            );
        }
    }
}

/// Each grant used to be checked against i64 on its own, but an account's balance is the
/// SQL `SUM` of its ledger in i64. Two grants of $5,000,000 (5e18 picodollars each, 1e19 together, past
/// i64::MAX ≈ 9.22e18) are both written, the second answered 500, and from then on the
/// store's `balances()` fails with SQLite's "integer overflow": every refresh fails for every
/// account (new accounts and other accounts' grants answer 500 though they are written), and
/// a restart or a new replica cannot build its state at all. /health still says "ok".
#[tokio::test]
async fn credits_past_the_ledgers_range_are_refused_and_never_break_the_books() {
    let app = spawn_app().await;
    let (_, rich) = app.prepaid("rich", "1", json!({"name": "k"})).await;
    let (_, bystander) = app.prepaid("bystander", "1", json!({"name": "k"})).await;
    let grant = |account: &'static str, amount: &'static str| {
        app.call(
            Method::POST,
            "/api/v1/admin/credits",
            ADMIN_KEY,
            Some(json!({"account": account, "amount": amount})),
        )
    };
    let (s, v, _) = grant("rich", "4000000").await;
    assert_eq!(s, 200, "a grant that fits: {v}");
    let (s, v, _) = grant("rich", "4000000").await;
    assert_eq!(
        s, 400,
        "a grant past what the ledger can sum is the caller's error: {v}"
    );
    let (s, v, _) = app.call(Method::GET, "/api/v1/credits", &rich, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["total_credits"], json!(4000001), "{v}");
    // Nobody else is affected.
    let (s, v, _) = grant("bystander", "1").await;
    assert_eq!(s, 200, "another account's grant: {v}");
    let (s, v, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/accounts",
            ADMIN_KEY,
            Some(json!({"name": "newcomer"})),
        )
        .await;
    assert_eq!(s, 201, "a new account: {v}");
    let (s, v, _) = app
        .call(Method::GET, "/api/v1/credits", &bystander, None)
        .await;
    assert_eq!(
        (s, v["data"]["total_credits"].clone()),
        (200, json!(2)),
        "{v}"
    );
    // And the gateway still starts on these books (a restart, a new replica).
    let file = switchyard_server::ConfigFile::from_toml(&config(&app.upstream, SERVER, ""))
        .expect("parses");
    let cfg = file
        .load(false, &|v| {
            (v == "FAKE_KEY").then(|| switchyard_testkit::API_KEY.to_string())
        })
        .expect("valid");
    let store = switchyard_store::Store::open_sqlite(&app.data_dir)
        .await
        .expect("opens");
    let restarted = switchyard_server::AppState::new(cfg, store, Some(ADMIN_KEY)).await;
    assert!(
        restarted.is_ok(),
        "a restart cannot build its state: {:?}",
        restarted.err().map(|e| e.to_string())
    );
}

/// a body that is one JSON value followed by anything else
/// is not JSON, yet chat completions serves (and bills) it and the management and admin APIs
/// act on it. `parse_chat_request` (crates/api/src/chat.rs) and `parse_body`
/// (crates/server/src/routes/manage.rs) deserialize from a `serde_json::Deserializer` without
/// calling `Deserializer::end()`, so whatever follows the first value is never looked at.
#[tokio::test]
async fn a_json_value_followed_by_more_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("strict", "1", json!({"name": "k"})).await;
    let hash = switchyard_server::auth::hash_hex(&key);
    let msg = r#"[{"role":"user","content":"hi"}]"#;
    let mut failures = vec![];
    for (case, method, path, k, body) in [
        (
            "chat, trailing words",
            Method::POST,
            CHAT.to_string(),
            KEY.to_string(),
            format!(r#"{{"model":"fake/gpt","messages":{msg}}} and then some"#),
        ),
        (
            "chat, a second object",
            Method::POST,
            CHAT.to_string(),
            KEY.to_string(),
            format!(r#"{{"model":"fake/gpt","messages":{msg}}}{{"model":"fake/claude"}}"#),
        ),
        (
            "POST /keys, trailing words",
            Method::POST,
            "/api/v1/keys".to_string(),
            mgmt.clone(),
            r#"{"name":"smuggled"} x"#.to_string(),
        ),
        (
            "PATCH /keys/{hash}, a second object",
            Method::PATCH,
            format!("/api/v1/keys/{hash}"),
            mgmt.clone(),
            r#"{"disabled":true}{"disabled":false}"#.to_string(),
        ),
        (
            "POST /admin/accounts, trailing words",
            Method::POST,
            "/api/v1/admin/accounts".to_string(),
            ADMIN_KEY.to_string(),
            r#"{"name":"smuggled"} x"#.to_string(),
        ),
        (
            "POST /admin/credits, trailing words",
            Method::POST,
            "/api/v1/admin/credits".to_string(),
            ADMIN_KEY.to_string(),
            r#"{"account":"strict","amount":"1"} x"#.to_string(),
        ),
    ] {
        let (s, v) = send_raw(&app, method, &path, &k, body.into(), case).await;
        if let Some(p) = envelope_problem(s, &v, 400) {
            failures.push(format!("{case}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(app.upstream.requests().is_empty(), "served anyway");
}

/// requests refused by axum's own extractors or router
/// (a bad query string, a path segment that is not UTF-8, a method the route does not take)
/// are answered with axum's plain-text rejection (or an empty 405), not OpenRouter's
/// `{"error":{"code","message"}}` envelope that every other error uses.
#[tokio::test]
async fn malformed_queries_paths_and_methods_are_answered_in_the_envelope() {
    let app = spawn_app().await;
    let mut failures = vec![];
    for (method, path, key, code) in [
        (Method::GET, "/api/v1/generation", KEY, 400),
        (Method::GET, "/api/v1/keys?offset=abc", MANAGEMENT_KEY, 400),
        (Method::GET, "/api/v1/keys?offset=-1", MANAGEMENT_KEY, 400),
        (
            Method::GET,
            "/api/v1/keys?include_disabled=maybe",
            MANAGEMENT_KEY,
            400,
        ),
        (Method::GET, "/api/v1/keys/%ff", MANAGEMENT_KEY, 400),
        (Method::GET, "/api/v1/models/%ff/%fe/endpoints", KEY, 400),
        (Method::GET, CHAT, KEY, 405),
        (Method::PUT, "/api/v1/keys", MANAGEMENT_KEY, 405),
    ] {
        let case = format!("{method} {path}");
        let (s, v) = send_raw(&app, method, path, key, reqwest::Body::from(""), &case).await;
        if let Some(p) = envelope_problem(s, &v, code) {
            failures.push(format!("{case}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
