use crate::helpers::*;
use serde_json::{json, Value};

fn final_usage(chunks: &[Value]) -> Value {
    // The last JSON chunk before [DONE] carries usage and no choices.
    let n = chunks.len();
    assert!(n >= 2, "{chunks:?}");
    assert_eq!(chunks[n - 1], Value::String("[DONE]".into()));
    let last = &chunks[n - 2];
    assert_eq!(last["choices"], json!([]), "{last}");
    last["usage"].clone()
}

#[tokio::test]
async fn streams_text_then_usage_then_done_on_every_family() {
    let app = spawn_app().await;
    for model in MODELS {
        let (status, chunks, _) = app
            .chat_stream(json!({"model": model, "messages": user("hello streaming world")}))
            .await;
        assert_eq!(status, 200, "{model}");
        assert_eq!(
            streamed_text(&chunks),
            "Echo: hello streaming world",
            "{model}"
        );
        let objs: Vec<_> = chunks.iter().filter(|c| c.is_object()).collect();
        assert!(objs
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == model));
        let id = objs[0]["id"].as_str().unwrap_or_default();
        assert!(
            id.starts_with("gen-") && objs.iter().all(|c| c["id"] == id),
            "one id per stream"
        );
        let finishes: Vec<_> = objs
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
            .collect();
        assert_eq!(finishes, vec!["stop"], "{model}");
        let usage = final_usage(&chunks);
        assert!(
            usage["completion_tokens"].as_u64() > Some(0),
            "{model}: {usage}"
        );
        assert_eq!(
            usage["cost"].as_f64(),
            expected_cost(model, &usage).parse::<f64>().ok(),
            "{model}"
        );
    }
    // Streams read to the end are not counted as abandoned (the instrument the
    // cancellation test relies on).
    assert_eq!(app.upstream.abandoned(), 0);
}

#[tokio::test]
async fn streamed_tool_calls_reassemble_on_every_family() {
    let app = spawn_app().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    for model in MODELS {
        let (status, chunks, _) = app
            .chat_stream(json!({"model": model, "messages": user("Weather?"), "tools": tools}))
            .await;
        assert_eq!(status, 200);
        let deltas: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
            .flatten()
            .collect();
        assert!(
            deltas.iter().all(|d| d["index"] == 0),
            "{model}: one call, index 0"
        );
        assert!(
            deltas[0]["id"].is_string() && deltas[0]["function"]["name"] == "get_weather",
            "{model}"
        );
        let args: String = deltas
            .iter()
            .filter_map(|d| d["function"]["arguments"].as_str())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&args).ok(),
            Some(json!({"city": "Paris"})),
            "{model}: {args}"
        );
        let finish: Vec<_> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
            .collect();
        assert_eq!(finish, vec!["tool_calls"], "{model}");
        final_usage(&chunks);
    }
}

#[tokio::test]
async fn failure_after_first_token_ends_with_an_error_chunk() {
    let app = spawn_app().await;
    for model in MODELS {
        for script in ["#midstream-error", "#cut:5"] {
            let (status, chunks, _) = app
                .chat_stream(json!({"model": model, "messages": user(&format!("one two three four five {script}"))}))
                .await;
            assert_eq!(status, 200, "{model} {script}");
            let last = chunks.last().cloned().unwrap_or(Value::Null);
            assert_eq!(
                last["choices"][0]["finish_reason"], "error",
                "{model} {script}: {chunks:?}"
            );
            assert!(
                last["error"]["code"].as_u64().is_some() && last["error"]["message"].is_string(),
                "{last}"
            );
            assert!(
                !chunks.contains(&Value::String("[DONE]".into())),
                "a failed stream does not claim completion"
            );
            assert!(
                !streamed_text(&chunks).is_empty(),
                "the text before the failure was delivered"
            );
        }
    }
}

#[tokio::test]
async fn stalled_stream_times_out_with_an_error_chunk() {
    let app = spawn_app().await;
    let (status, chunks, comments) = app
        .chat_stream(json!({"model": "fake/gpt", "messages": user("one two three #stall:3")}))
        .await;
    assert_eq!(status, 200);
    let last = chunks.last().cloned().unwrap_or(Value::Null);
    assert_eq!(last["choices"][0]["finish_reason"], "error", "{chunks:?}");
    assert_eq!(last["error"]["code"], 504);
    assert!(
        comments.iter().any(|c| c == ": OPENROUTER PROCESSING"),
        "keep-alives while stalled"
    );
}

#[tokio::test]
async fn keepalive_comments_while_waiting_for_the_first_token() {
    let app = spawn_app().await;
    let (status, chunks, comments) = app
        .chat_stream(json!({"model": "fake/claude", "messages": user("slow one #delay:900")}))
        .await;
    assert_eq!(status, 200);
    assert!(
        comments.iter().any(|c| c == ": OPENROUTER PROCESSING"),
        "{comments:?}"
    );
    assert_eq!(streamed_text(&chunks), "Echo: slow one #delay:900");
    final_usage(&chunks);
}

#[tokio::test]
async fn stream_that_fails_everywhere_before_starting_gets_a_real_status() {
    let app = spawn_app().await;
    let r = app
        .chat(json!({"model": "fake/gemini", "stream": true, "messages": user("x #fail:503")}))
        .await;
    assert_eq!(r.status(), 502);
    assert!(
        !r.headers().contains_key("x-generation-id"),
        "nothing was generated, so there is no id to look up"
    );
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(v["error"]["code"], 502, "{v}");
    assert_eq!(v["error"]["metadata"]["provider_name"], "Fake Gemini");
}

#[tokio::test]
async fn streaming_falls_back_before_the_first_token() {
    let app = spawn_app().await;
    let (status, chunks, _) = app
        .chat_stream(json!({"model": "fake/fallback", "messages": user("hi")}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(chunks[0]["provider"], "Fake Anthropic");
    assert_eq!(streamed_text(&chunks), "Echo: hi");
}

#[tokio::test]
async fn slow_failure_after_keepalives_is_an_error_chunk() {
    let app = spawn_app().await;
    let (status, chunks, comments) = app
        .chat_stream(json!({"model": "fake/gpt", "messages": user("x #delay:700 #fail:500")}))
        .await;
    assert_eq!(status, 200, "committed once keep-alives started");
    assert!(!comments.is_empty());
    assert_eq!(
        chunks
            .last()
            .map(|c| c["choices"][0]["finish_reason"].clone()),
        Some(json!("error"))
    );
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let app = spawn_app().await;
    // Streamed: read the first chunk, then hang up.
    let long = "word ".repeat(40);
    let mut r = app
        .chat(json!({"model": "fake/claude", "stream": true, "messages": user(&format!("{long} #tokdelay:50"))}))
        .await;
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.expect("body readable");
    assert!(first.is_some());
    drop(r);
    // Non-streamed: give up while the provider is still thinking.
    let slow = app.chat(json!({"model": "fake/gpt", "messages": user("think long #delay:3000")}));
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), slow)
            .await
            .is_err()
    );
    let mut waited = 0;
    while app.upstream.abandoned() < 2 && waited < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(
        app.upstream.abandoned(),
        2,
        "both upstream requests were cancelled"
    );
}

/// The chunks of a stream, without `[DONE]`.
fn objects(chunks: &[Value]) -> Vec<&Value> {
    chunks.iter().filter(|c| c.is_object()).collect()
}

#[tokio::test]
async fn chunks_relay_the_upstream_fingerprint_and_never_send_null() {
    let app = spawn_app().await;
    let (s, chunks, _) = app
        .chat_stream(json!({"model": "fake/gpt", "messages": user("hello there")}))
        .await;
    assert_eq!(s, 200);
    let chunks = objects(&chunks);
    assert!(chunks.len() > 2, "{chunks:?}");
    for c in &chunks {
        assert_eq!(c["system_fingerprint"], "fp_fake", "{c}");
    }
    // Anthropic and Gemini have no fingerprint: the field is left out, not null (which
    // @openrouter/sdk's chunk schema rejects).
    for model in ["fake/claude", "fake/gemini"] {
        let (s, chunks, _) = app
            .chat_stream(json!({"model": model, "messages": user("hello there")}))
            .await;
        assert_eq!(s, 200);
        for c in objects(&chunks) {
            assert!(c.get("system_fingerprint").is_none(), "{model}: {c}");
        }
    }
}

#[tokio::test]
async fn after_a_mid_stream_failover_chunks_name_the_provider_that_sent_them() {
    let app = spawn_app().await;
    let (s, chunks, _) = app
        .chat_stream(json!({"model": "route/multi",
            "provider": {"order": ["fake-openai", "fake-anthropic"]},
            "messages": user("one two three four five six #cut@m-a:4")}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.upstream_models(), vec!["m-a", "m-c"]);
    let chunks = objects(&chunks);
    let first = chunks.first().copied().cloned().unwrap_or_default();
    let last = chunks.last().copied().cloned().unwrap_or_default();
    assert_eq!(first["provider"], "Fake OpenAI", "{first}");
    assert_eq!(last["provider"], "Fake Anthropic", "{last}");
    assert_eq!(first["system_fingerprint"], "fp_fake");
    assert!(
        last.get("system_fingerprint").is_none(),
        "the first upstream's fingerprint is not the second's: {last}"
    );
    let id = last["id"].as_str().unwrap_or_default();
    let (s, g, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/generation?id={id}"),
            KEY,
            None,
        )
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["data"]["provider_name"], last["provider"]);
}
