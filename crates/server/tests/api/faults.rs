//! Faults an upstream can inject: absurd headers, echoed credentials, streams that never say
//! anything, bodies too large to hold. Each must end in a clean error or a failover, never a
//! panic, a hang or a leak.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard_testkit::API_KEY;

/// A short between-chunks timeout, so that silence is found out quickly.
const QUICK_SILENCE: &str = "keepalive_ms = 300\nfirst_byte_timeout_ms = 2000\nbetween_chunks_timeout_ms = 300\nmax_body_bytes = 100000";

/// Small response limits: 100 kB bodies, 50 kB stream lines.
const LIMITED: &str = "keepalive_ms = 300\nfirst_byte_timeout_ms = 2000\nbetween_chunks_timeout_ms = 1000\nmax_body_bytes = 100000\nmax_upstream_body_bytes = 100000\nmax_upstream_event_bytes = 50000";

/// Waits (briefly) for the fake to see `n` answers abandoned by the gateway.
async fn abandoned(app: &TestApp, n: usize) -> bool {
    for _ in 0..100 {
        if app.upstream.abandoned() >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A stream that must end on its own: a hang fails the test instead of stalling it.
async fn stream_within(app: &TestApp, body: Value) -> (u16, Vec<Value>, Vec<String>) {
    tokio::time::timeout(Duration::from_secs(10), app.chat_stream(body))
        .await
        .expect("the stream ends instead of hanging")
}

/// `route/multi` tried in the order m-a, m-b, m-c.
fn a_then_b() -> Value {
    json!({"order": ["fake-openai", "fake-openai-2", "fake-anthropic"]})
}

#[tokio::test]
async fn a_huge_retry_after_fails_over_to_the_next_endpoint() {
    for ra in ["1e20", "1e19", "99999999999999999999"] {
        for stream in [false, true] {
            let app = spawn_app().await;
            let body = json!({"model": "route/multi", "provider": a_then_b(),
                "messages": user(&format!("hi #fail@m-a:429 #retry-after@m-a:{ra}"))});
            let (provider, text) = if stream {
                let (s, chunks, _) = app.chat_stream(body).await;
                assert_eq!(s, 200, "Retry-After {ra}, streamed");
                (chunks[0]["provider"].clone(), streamed_text(&chunks))
            } else {
                let (s, v) = app.chat_json(body).await;
                assert_eq!(s, 200, "Retry-After {ra}: {v}");
                (
                    v["provider"].clone(),
                    v["choices"][0]["message"]["content"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            };
            assert_eq!(
                provider, "Fake OpenAI Two",
                "Retry-After {ra}, stream {stream}"
            );
            assert!(text.starts_with("Echo: hi"), "{text}");
            assert_eq!(app.upstream_models(), vec!["m-a", "m-b"]);
            // The endpoint is cooling down now, not broken: the next request is served too.
            let (s, v) = app
                .chat_json(json!({"model": "route/multi", "provider": a_then_b(), "messages": user("again")}))
                .await;
            assert_eq!(s, 200, "{v}");
        }
    }
}

#[tokio::test]
async fn a_huge_retry_after_reaches_the_client_clamped() {
    let app = spawn_app().await;
    for family in MODELS {
        let r = app
            .chat(json!({"model": family, "messages": user("hi #fail:429 #retry-after:1e20")}))
            .await;
        assert_eq!(r.status(), 429, "{family}");
        let ra = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        assert_eq!(ra.as_deref(), Some("3600"), "{family}");
    }
}

/// Everything the client receives, headers included, as one string to search.
async fn everything(app: &TestApp, body: Value) -> (u16, String) {
    let r = app.send_chat(KEY, &body, true).await;
    let status = r.status().as_u16();
    let mut all: String = r
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    all.push_str(&r.text().await.unwrap_or_default());
    (status, all)
}

#[tokio::test]
async fn a_provider_echoing_our_key_never_shows_it_to_the_client() {
    for model in MODELS {
        for code in [400, 401, 429, 500, 200] {
            for stream in [false, true] {
                // A fresh gateway each time: failures would open the breaker.
                let app = spawn_app().await;
                let (s, all) = everything(
                    &app,
                    json!({"model": model, "stream": stream,
                        "messages": user(&format!("hi #echo-key:{code}"))}),
                )
                .await;
                let case = format!("{model}, echo-key {code}, stream {stream}");
                assert!(!all.contains(API_KEY), "{case}: {all}");
                assert!(s >= 400 || stream, "{case}: {s} {all}");
                if code != 200 {
                    // The provider's words still arrive, minus the key.
                    assert!(all.contains("[REDACTED]"), "{case}: {all}");
                }
            }
        }
    }
}

#[tokio::test]
async fn an_echoed_key_is_scrubbed_from_attempts_and_the_generation_record() {
    for code in [401, 200] {
        for stream in [false, true] {
            let app = spawn_app().await;
            let (s, all) = everything(
                &app,
                json!({"model": "route/multi", "provider": a_then_b(), "stream": stream,
                    "messages": user(&format!("hi #echo-key@m-a:{code}"))}),
            )
            .await;
            let case = format!("echo-key {code}, stream {stream}");
            assert_eq!(s, 200, "{case}: {all}");
            assert!(!all.contains(API_KEY), "{case}: {all}");
            if code == 200 && !stream {
                // The decoding error quotes the body; its text is in the attempts.
                assert!(all.contains("Bearer [REDACTED]"), "{case}: {all}");
            }
            let id = all
                .split("\"id\":\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_string();
            let (s, g, _) = app
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/generation?id={id}"),
                    KEY,
                    None,
                )
                .await;
            assert_eq!(s, 200, "{case}: {g}");
            assert!(!g.to_string().contains(API_KEY), "{case}: {g}");
        }
    }
}

#[tokio::test]
async fn a_stream_of_only_comments_fails_over_before_the_first_event() {
    let app = spawn_app_with(QUICK_SILENCE, false).await;
    let (s, chunks, _) = stream_within(
        &app,
        json!({"model": "route/multi", "provider": a_then_b(), "messages": user("hi #comments-only@m-a")}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(chunks[0]["provider"], "Fake OpenAI Two", "{chunks:?}");
    assert_eq!(streamed_text(&chunks), "Echo: hi #comments-only@m-a");
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
    assert_eq!(app.upstream_models(), vec!["m-a", "m-b"]);
}

#[tokio::test]
async fn comments_alone_end_every_family_s_stream_with_an_error() {
    let app = spawn_app_with(QUICK_SILENCE, false).await;
    for model in MODELS {
        for directive in ["#comments-only", "#comments-after:3"] {
            let (s, chunks, _) = stream_within(
                &app,
                json!({"model": model, "messages": user(&format!("hi {directive}"))}),
            )
            .await;
            let case = format!("{model} {directive}");
            // Refused with a status before anything was sent, or ended with an error chunk.
            let errored = chunks
                .last()
                .is_some_and(|c| c["choices"][0]["finish_reason"] == "error");
            assert!(s == 504 || (s == 200 && errored), "{case}: {s} {chunks:?}");
        }
    }
}

#[tokio::test]
async fn comments_after_some_chunks_continue_on_the_next_endpoint() {
    let app = spawn_app_with(QUICK_SILENCE, false).await;
    let (s, chunks, _) = stream_within(
        &app,
        json!({"model": "route/multi", "provider": a_then_b(), "messages": user("hi there #comments-after@m-a:2")}),
    )
    .await;
    assert_eq!(s, 200);
    let text = streamed_text(&chunks);
    assert!(text.starts_with("Echo: "), "{text}");
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "stop"),
        "the continuation finished the answer: {chunks:?}"
    );
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
    assert_eq!(app.upstream_models(), vec!["m-a", "m-b"]);
}

#[tokio::test]
async fn a_body_over_the_limit_fails_over_without_being_read_whole() {
    let app = spawn_app_with(LIMITED, false).await;
    // Under the limit, the padding is just an unknown field.
    let (s, v) = app
        .chat_json(json!({"model": "fake/gpt", "messages": user("hi #bigbody:50000")}))
        .await;
    assert_eq!(s, 200, "{v}");
    // Far over it: the next endpoint serves, and the gateway hung up on the first.
    let (s, v) = app
        .chat_json(json!({"model": "route/multi", "provider": a_then_b(),
            "messages": user("hi #bigbody@m-a:20000000")}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["provider"], "Fake OpenAI Two", "{v}");
    assert_eq!(app.upstream_models(), vec!["gpt-fake", "m-a", "m-b"]);
    assert!(
        abandoned(&app, 1).await,
        "the oversized body was not read to its end"
    );
    for model in MODELS {
        let (s, v) = app
            .chat_json(json!({"model": model, "messages": user("hi #bigbody:200000")}))
            .await;
        assert_eq!(s, 502, "{model}: {v}");
        assert_eq!(
            v["error"]["message"], "Provider returned error",
            "{model}: {v}"
        );
    }
}

#[tokio::test]
async fn only_the_start_of_a_huge_error_body_is_read() {
    let app = spawn_app_with(LIMITED, false).await;
    let (s, v) = app
        .chat_json(json!({"model": "route/multi", "provider": a_then_b(),
            "messages": user("hi #fail@m-a:500 #bigbody@m-a:20000000")}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["provider"], "Fake OpenAI Two", "{v}");
    assert!(
        abandoned(&app, 1).await,
        "the error body was not read to its end"
    );
    let (s, v) = app
        .chat_json(
            json!({"model": "fake/claude", "messages": user("hi #fail:503 #bigbody:20000000")}),
        )
        .await;
    assert_eq!(s, 502, "{v}");
    let raw = v["error"]["metadata"]["raw"].as_str().unwrap_or_default();
    assert!(raw.starts_with("{\"error\"") && raw.len() <= 1024, "{raw}");
}

#[tokio::test]
async fn a_stream_line_over_the_limit_fails_over_or_ends_cleanly() {
    let app = spawn_app_with(LIMITED, false).await;
    let (s, chunks, _) = stream_within(
        &app,
        json!({"model": "fake/gpt", "messages": user("hi #longline:20000")}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(streamed_text(&chunks), "Echo: hi #longline:20000");
    let (s, chunks, _) = stream_within(
        &app,
        json!({"model": "route/multi", "provider": a_then_b(), "messages": user("hi #longline@m-a:10000000")}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(chunks[0]["provider"], "Fake OpenAI Two", "{chunks:?}");
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
    for model in MODELS {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            app.chat(
                json!({"model": model, "stream": true, "messages": user("hi #longline:100000")}),
            ),
        )
        .await
        .expect("answers");
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 502, "{model}: {v}");
        assert_eq!(v["error"]["code"], 502, "{model}: {v}");
    }
}

// The testkit's `#usage` and `#endless`, as the gateway sees them.

#[tokio::test]
async fn the_fake_reports_scripted_usage_on_every_family() {
    let app = spawn_app().await;
    for model in MODELS {
        for stream in [false, true] {
            let body = json!({"model": model, "messages": user("hi #usage:1234")});
            let usage = if stream {
                let (s, chunks, _) = app.chat_stream(body).await;
                assert_eq!(s, 200);
                chunks
                    .iter()
                    .rev()
                    .find(|c| c["usage"].is_object())
                    .map(|c| c["usage"].clone())
                    .unwrap_or_default()
            } else {
                let (s, v) = app.chat_json(body).await;
                assert_eq!(s, 200, "{v}");
                v["usage"].clone()
            };
            assert_eq!(usage["prompt_tokens"], 1234, "{model} {stream}: {usage}");
            assert_eq!(
                usage["completion_tokens"], 1234,
                "{model} {stream}: {usage}"
            );
        }
    }
}

#[tokio::test]
async fn an_endless_stream_runs_until_the_client_hangs_up() {
    use futures_util::StreamExt;
    let app = spawn_app().await;
    for (i, model) in MODELS.into_iter().enumerate() {
        let r = app
            .chat(json!({"model": model, "stream": true, "messages": user("hi #endless")}))
            .await;
        assert_eq!(r.status(), 200);
        let mut body = r.bytes_stream();
        let mut text = String::new();
        while text.matches("tick").count() < 20 {
            let piece = tokio::time::timeout(Duration::from_secs(5), body.next())
                .await
                .expect("ticks keep coming");
            match piece {
                Some(Ok(b)) => text.push_str(&String::from_utf8_lossy(&b)),
                other => panic!("{model}: the stream ended: {other:?} after {text}"),
            }
        }
        drop(body);
        assert!(
            abandoned(&app, i + 1).await,
            "{model}: the upstream stream is dropped with the client"
        );
    }
}
