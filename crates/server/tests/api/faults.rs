//! Faults an upstream can inject: absurd headers, echoed credentials, streams that never say
//! anything, bodies too large to hold. Each must end in a clean error or a failover, never a
//! panic, a hang or a leak.

use crate::helpers::*;
use serde_json::{json, Value};

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
