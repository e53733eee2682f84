use crate::helpers::*;
use serde_json::{json, Value};

async fn post_raw(
    app: &TestApp,
    auth: Option<&str>,
    body: String,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut rb = app
        .http
        .post(app.url("/api/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    let r = rb.send().await.expect("sent");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

fn envelope(v: &Value, code: u16) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

#[tokio::test]
async fn auth_failures_are_401_in_the_envelope() {
    let app = spawn_app().await;
    let body = json!({"model": "fake/gpt", "messages": user("hi")}).to_string();
    let (s, v, _) = post_raw(&app, None, body.clone()).await;
    assert_eq!(s, 401);
    envelope(&v, 401);
    let (s, v, _) = post_raw(&app, Some("Bearer sk-sy-v1-wrong"), body).await;
    assert_eq!(s, 401);
    envelope(&v, 401);
    assert!(
        app.upstream.requests().is_empty(),
        "nothing reaches a provider without a valid key"
    );
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let app = spawn_app().await;
    let auth = Some("Bearer sk-sy-v1-test");
    let (s, v, _) = post_raw(&app, auth, "{not json".into()).await;
    assert_eq!(s, 400);
    envelope(&v, 400);
    let (s, v, _) = post_raw(
        &app,
        auth,
        json!({"model": "fake/gpt", "messages": user("x"), "temperature": "warm"}).to_string(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("temperature"),
        "{v}"
    );
    let (s, v, _) = post_raw(
        &app,
        auth,
        json!({"model": "fake/gpt", "messages": [{"role": "robot", "content": "x"}]}).to_string(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("messages[0].role"),
        "{v}"
    );
    let (s, v, _) = post_raw(&app, auth, json!({"messages": user("x")}).to_string()).await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("model"),
        "{v}"
    );
    // A tool result that answers no call cannot be translated for Gemini: the client's fault.
    let (s, v, _) = post_raw(&app, auth, json!({"model": "fake/gemini", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}).to_string()).await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test]
async fn unknown_model_is_404_and_unconfigured_provider_503() {
    let app = spawn_app().await;
    let (s, v) = app
        .chat_json(json!({"model": "nobody/nothing", "messages": user("x")}))
        .await;
    assert_eq!(s, 404);
    envelope(&v, 404);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("nobody/nothing"));
    let (s, v) = app
        .chat_json(json!({"model": "fake/keyless", "messages": user("x")}))
        .await;
    assert_eq!(s, 503);
    envelope(&v, 503);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app().await;
    let big = "x".repeat(200_000);
    let (s, v, _) = post_raw(
        &app,
        Some("Bearer sk-sy-v1-test"),
        json!({"model": "fake/gpt", "messages": user(&big)}).to_string(),
    )
    .await;
    assert_eq!(s, 413);
    envelope(&v, 413);
}

#[tokio::test]
async fn provider_errors_are_502_with_provider_and_raw() {
    let app = spawn_app().await;
    for model in MODELS {
        let (s, v) = app
            .chat_json(json!({"model": model, "messages": user("hi #fail:500")}))
            .await;
        assert_eq!(s, 502, "{model}: {v}");
        envelope(&v, 502);
        assert!(v["error"]["metadata"]["provider_name"]
            .as_str()
            .is_some_and(|p| p.starts_with("Fake")));
        assert!(
            v["error"]["metadata"]["raw"]
                .as_str()
                .is_some_and(|r| r.contains("scripted failure 500")),
            "{v}"
        );
    }
}

#[tokio::test]
async fn rate_limits_pass_through_with_retry_after() {
    let app = spawn_app().await;
    let r = app
        .chat(json!({"model": "fake/claude", "messages": user("hi #fail:429")}))
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let v: Value = r.json().await.unwrap_or(Value::Null);
    envelope(&v, 429);
}

#[tokio::test]
async fn upstream_timeout_is_504() {
    let app = spawn_app().await;
    let (s, v) = app
        .chat_json(json!({"model": "fake/gpt", "messages": user("hi #hang")}))
        .await;
    assert_eq!(s, 504, "{v}");
    envelope(&v, 504);
}

#[tokio::test]
async fn unknown_routes_are_404_in_the_envelope() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 404);
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.unwrap_or(Value::Null);
    envelope(&v, 404);
}

#[tokio::test]
async fn only_responses_that_create_a_generation_carry_its_id() {
    let app = spawn_app().await;
    let body = json!({"model": "fake/gpt", "messages": user("hi")}).to_string();
    let refused = [
        (None, body.clone(), 401),
        (Some("Bearer sk-sy-v1-wrong"), body.clone(), 401),
        (Some("Bearer sk-sy-v1-test"), "{not json".to_string(), 400),
        (
            Some("Bearer sk-sy-v1-test"),
            json!({"model": "nobody/nothing", "messages": user("x")}).to_string(),
            404,
        ),
        (
            Some("Bearer sk-sy-v1-test"),
            json!({"model": "fake/gpt", "messages": user("x #fail:503")}).to_string(),
            502,
        ),
    ];
    for (auth, body, status) in refused {
        let (s, v, h) = post_raw(&app, auth, body).await;
        assert_eq!(s, status, "{v}");
        assert!(
            h.get("x-generation-id").is_none(),
            "{status}: no generation exists, so no id: {h:?}"
        );
    }
    let (s, v, h) = post_raw(&app, Some("Bearer sk-sy-v1-test"), body).await;
    assert_eq!(s, 200, "{v}");
    let id = h.get("x-generation-id").and_then(|v| v.to_str().ok());
    assert_eq!(
        id,
        v["id"].as_str(),
        "the served answer names its generation"
    );
}

#[tokio::test]
async fn availability_failures_say_why_in_error_availability() {
    let app = spawn_app().await;
    let availability = |v: &Value| v["error"]["availability"].clone();

    // No id in the list exists.
    let (s, v) = app
        .chat_json(
            json!({"model": "nobody/nothing", "models": ["nope/too"], "messages": user("x")}),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let a = availability(&v);
    assert_eq!(a["code"], "model_not_found", "{v}");
    assert_eq!(a["retryable"], false);
    assert_eq!(a["requested_models"], json!(["nobody/nothing", "nope/too"]));
    assert!(a["docs_url"].is_string());

    // No endpoint offers what the request needs.
    let tools =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let (s, v) = app
        .chat_json(
            json!({"model": "route/notools", "messages": user("hi"), "tools": tools,
            "provider": {"require_parameters": true}}),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let a = availability(&v);
    assert_eq!(a["code"], "no_endpoints", "{v}");
    assert_eq!(a["excluded_by"], json!(["tools"]));
    assert_eq!(a["constraint"]["field"], "tools");
    assert_eq!(a["requested_models"], json!(["route/notools"]));
    let (s, v) = app
        .chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"only": ["nobody"]}}))
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(availability(&v)["code"], "constraint_filtered", "{v}");

    // Every provider failing.
    let (s, v) = app
        .chat_json(json!({"model": "fake/gpt", "messages": user("x #fail:503")}))
        .await;
    assert_eq!(s, 502, "{v}");
    let a = availability(&v);
    assert_eq!(a["code"], "temporarily_unavailable", "{v}");
    assert_eq!(a["retryable"], true);
    assert_eq!(a["affected_providers"], json!(["Fake OpenAI"]));
    assert_eq!(a["requested_models"], json!(["fake/gpt"]));
    let (s, v) = app
        .chat_json(json!({"model": "fake/claude", "messages": user("x #fail:429")}))
        .await;
    assert_eq!(s, 429, "{v}");
    let a = availability(&v);
    assert_eq!(a["code"], "capacity_exhausted", "{v}");
    assert_eq!(a["retry_after"], 1, "the provider's Retry-After: {v}");

    // Every circuit open: the model's only provider failed until its breaker opened.
    for _ in 0..3 {
        app.chat_json(json!({"model": "fake/gemini", "messages": user("x #fail:503")}))
            .await;
    }
    let (s, v) = app
        .chat_json(json!({"model": "fake/gemini", "messages": user("x")}))
        .await;
    assert_eq!(s, 503, "{v}");
    let a = availability(&v);
    assert_eq!(a["code"], "temporarily_unavailable", "{v}");
    assert_eq!(a["retryable"], true);
    assert!(a["retry_after"].as_u64().is_some_and(|r| r >= 1), "{v}");
    assert_eq!(a["affected_providers"], json!(["Fake Gemini"]));

    // A request a provider refused as malformed is not an availability failure.
    let (s, v) = app
        .chat_json(json!({"model": "fake/gpt", "messages": user("x #fail:400")}))
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"].get("availability").is_none(), "{v}");
}
