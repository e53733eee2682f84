use crate::helpers::*;
use serde_json::{json, Value};

fn cost_matches(model: &str, usage: &Value) {
    let expected = expected_cost(model, usage);
    assert_eq!(
        usage["cost"].as_f64(),
        expected.parse::<f64>().ok(),
        "{model}: cost {} vs {expected}",
        usage["cost"]
    );
}

#[tokio::test]
async fn plain_completion_from_every_provider_family() {
    let app = spawn_app().await;
    for (model, provider) in MODELS
        .iter()
        .zip(["Fake OpenAI", "Fake Anthropic", "Fake Gemini"])
    {
        let r = app
            .chat(json!({"model": model, "messages": user("hello there")}))
            .await;
        assert_eq!(r.status(), 200, "{model}");
        let gen_header = r
            .headers()
            .get("x-generation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let raw = r.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
        assert_eq!(
            v["choices"][0]["message"]["content"], "Echo: hello there",
            "{model}"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert!(v["choices"][0]["native_finish_reason"].is_string());
        assert_eq!(v["model"], *model);
        assert_eq!(v["provider"], provider);
        assert_eq!(v["object"], "chat.completion");
        let id = v["id"].as_str().unwrap_or_default();
        assert!(id.starts_with("gen-"), "{id}");
        assert_eq!(gen_header.as_deref(), Some(id));
        let usage = &v["usage"];
        assert!(
            usage["prompt_tokens"].as_u64() > Some(0)
                && usage["completion_tokens"].as_u64() > Some(0)
        );
        assert_eq!(
            usage["total_tokens"].as_u64(),
            Some(
                usage["prompt_tokens"].as_u64().unwrap_or(0)
                    + usage["completion_tokens"].as_u64().unwrap_or(0)
            )
        );
        cost_matches(model, usage);
        // The cost is written as an exact decimal, not a float's approximation.
        assert!(
            raw.contains(&format!("\"cost\":{}", expected_cost(model, usage))),
            "{raw}"
        );
    }
}

#[tokio::test]
async fn cached_and_reasoning_tokens_are_reported_and_priced() {
    let app = spawn_app().await;
    let (_, v) = app
        .chat_json(json!({"model": "fake/gpt", "messages": user("hi #cached:5 #think")}))
        .await;
    let u = &v["usage"];
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 5);
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 7);
    // 5 of the prompt tokens at the cache-read price, the rest at the prompt price.
    let prompt = u["prompt_tokens"].as_u64().unwrap_or(0);
    let completion = u["completion_tokens"].as_u64().unwrap_or(0);
    let m = |s: &str| switchyard_api::Money::parse(s).unwrap_or_default();
    let expected =
        m("0.000001").times(prompt - 5) + m("0.0000001").times(5) + m("0.000002").times(completion);
    assert_eq!(u["cost"].as_f64(), expected.to_string().parse::<f64>().ok());

    let (_, v) = app
        .chat_json(json!({"model": "fake/claude", "messages": user("hi #cached:4")}))
        .await;
    // Anthropic counts cache reads outside input_tokens; the gateway reports them inside.
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
    assert_eq!(v["usage"]["prompt_tokens"].as_u64(), Some(2 + 10 + 4));
}

#[tokio::test]
async fn anthropic_thinking_comes_back_as_reasoning_with_signature() {
    let app = spawn_app().await;
    let (_, v) = app
        .chat_json(json!({"model": "fake/claude", "messages": user("why? #think"), "reasoning": {"effort": "high"}, "max_tokens": 3000}))
        .await;
    let m = &v["choices"][0]["message"];
    assert_eq!(m["reasoning"], "Let me think.");
    assert_eq!(m["reasoning_details"][0]["signature"], "sig-fake==");
    let sent = app
        .upstream
        .requests()
        .pop()
        .map(|r| r.body)
        .unwrap_or_default();
    assert_eq!(sent["thinking"]["type"], "enabled");
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

#[tokio::test]
async fn tool_call_round_trip_on_every_family() {
    let app = spawn_app().await;
    for model in MODELS {
        let (status, v) = app
            .chat_json(json!({"model": model, "messages": user("Weather in Paris?"), "tools": weather_tool()}))
            .await;
        assert_eq!(status, 200, "{model}: {v}");
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{model}");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_weather");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or(""))
                .unwrap_or(Value::Null);
        assert_eq!(args, json!({"city": "Paris"}), "{model}");

        // Send the tool's answer back, as an SDK would.
        let messages = json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "{\"temp\":18}"}
        ]);
        let (status, v) = app
            .chat_json(json!({"model": model, "messages": messages, "tools": weather_tool()}))
            .await;
        assert_eq!(status, 200, "{model}: {v}");
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text.starts_with("The tool returned:") && text.contains("18"),
            "{model}: {text}"
        );
    }
}

#[tokio::test]
async fn structured_output_on_every_family() {
    let app = spawn_app().await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"], "additionalProperties": false});
    for model in MODELS {
        let (status, v) = app
            .chat_json(json!({"model": model, "messages": user("Biggest city in France?"),
                "response_format": {"type": "json_schema", "json_schema": {"name": "city", "strict": true, "schema": schema}}}))
            .await;
        assert_eq!(status, 200, "{model}: {v}");
        let content = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        let parsed: Value = serde_json::from_str(content).unwrap_or(Value::Null);
        assert_eq!(
            parsed,
            json!({"city": "Paris", "population": 42}),
            "{model}: {content}"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{model}");
        assert!(
            v["choices"][0]["message"]["tool_calls"].is_null(),
            "{model}"
        );
    }
}

#[tokio::test]
async fn falls_back_to_the_next_endpoint_before_the_first_token() {
    let app = spawn_app().await;
    let (status, v) = app
        .chat_json(json!({"model": "fake/fallback", "messages": user("hi")}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["provider"], "Fake Anthropic");
    // Billed at the endpoint that answered, not the dead one.
    assert_eq!(
        v["usage"]["cost"].as_f64(),
        expected_cost("fake/fallback", &v["usage"])
            .parse::<f64>()
            .ok()
    );

    // `models` fallback: the first model's only provider fails, the next model answers.
    let (status, v) = app
        .chat_json(json!({"model": "fake/gpt", "models": ["fake/gemini"], "messages": user("hi #fail:503")}))
        .await;
    // The script fails every provider here, so the last error is reported...
    assert_eq!(status, 502);
    assert_eq!(v["error"]["metadata"]["provider_name"], "Fake Gemini");
    let (status, v) = app
        .chat_json(
            json!({"model": "fake/keyless", "models": ["fake/gemini"], "messages": user("hi")}),
        )
        .await;
    // ...and a model with no active provider is passed over for the next one? No: an inactive
    // model is a configuration problem the caller should hear about.
    assert_eq!(status, 503, "{v}");
}

#[tokio::test]
async fn requests_reach_upstreams_in_their_native_shape() {
    let app = spawn_app().await;
    app.chat_json(json!({"model": "fake/gpt", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "temperature": 0.3, "seed": 7, "custom_vendor_flag": {"x": 1}, "provider": {"sort": "price"}}))
        .await;
    app.chat_json(json!({"model": "fake/claude", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "stop": ["END"], "custom_vendor_flag": 1}))
        .await;
    app.chat_json(json!({"model": "fake/gemini", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_tokens": 64}))
        .await;
    let reqs = app.upstream.requests();
    let openai = &reqs[0];
    assert_eq!(
        openai.headers.get("authorization").map(String::as_str),
        Some("Bearer testkit-key")
    );
    assert_eq!(openai.body["model"], "gpt-fake");
    assert_eq!(openai.body["seed"], 7);
    assert_eq!(
        openai.body["custom_vendor_flag"]["x"], 1,
        "unknown fields pass through to OpenAI-compatible upstreams"
    );
    assert!(
        openai.body.get("provider").is_none(),
        "gateway fields stay in the gateway"
    );

    let anthropic = &reqs[1];
    assert_eq!(
        anthropic.headers.get("x-api-key").map(String::as_str),
        Some("testkit-key")
    );
    assert_eq!(
        anthropic
            .headers
            .get("anthropic-version")
            .map(String::as_str),
        Some("2023-06-01")
    );
    assert_eq!(anthropic.body["system"][0]["text"], "Be brief.");
    assert_eq!(anthropic.body["stop_sequences"][0], "END");
    assert!(anthropic.body["max_tokens"].is_u64());
    assert!(
        anthropic.body.get("custom_vendor_flag").is_none(),
        "unknown fields are dropped for native APIs"
    );

    let gemini = &reqs[2];
    assert!(
        gemini.path.ends_with("gemini-fake:generateContent"),
        "{}",
        gemini.path
    );
    assert_eq!(
        gemini.headers.get("x-goog-api-key").map(String::as_str),
        Some("testkit-key")
    );
    assert_eq!(
        gemini.body["systemInstruction"]["parts"][0]["text"],
        "Be brief."
    );
    assert_eq!(gemini.body["generationConfig"]["maxOutputTokens"], 64);
}

#[tokio::test]
async fn demo_mode_answers_with_labelled_simulated_models() {
    let app = spawn_app_with("", true).await;
    let models: Value = app.get_json("/api/v1/models").await;
    let demo = models["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["id"] == "switchyard/demo-fast")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(demo["name"]
        .as_str()
        .unwrap_or_default()
        .contains("simulated"));
    let (status, v) = app
        .chat_json(
            json!({"model": "switchyard/demo-fast", "messages": user("hello"), "max_tokens": 20}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .contains("Simulated"));
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert!(v["usage"]["cost"].as_f64() > Some(0.0));
    let (status, v) = app
        .chat_json(
            json!({"model": "switchyard/demo-fast", "messages": user("hello [simulate:error]")}),
        )
        .await;
    assert_eq!(status, 502, "{v}");
    // A newcomer's experiments are not an outage: scripted failures, streamed or not, never
    // open the circuit of the model they try them on.
    for stream in [false, true, false, true, false] {
        let body = json!({"model": "switchyard/demo-fast", "messages": user("again [simulate:error]"), "stream": stream});
        let r = app.chat(body).await;
        let _ = r.text().await;
    }
    for stream in [false, true] {
        let body = json!({"model": "switchyard/demo-fast", "messages": user("hello"), "max_tokens": 5, "stream": stream});
        let r = app.chat(body).await;
        assert_eq!(
            r.status(),
            200,
            "stream={stream}: the demo model refuses after [simulate:error] experiments"
        );
        let _ = r.text().await;
    }
}

#[tokio::test]
async fn parameters_an_endpoint_does_not_support_are_dropped_not_fatal() {
    let app = spawn_app().await;
    for stream in [false, true] {
        let body = json!({"model": "fake/gpt", "messages": user("hi"), "top_k": 5, "min_p": 0.1, "seed": 3,
            "user": "alice@example.com", "stream": stream});
        let r = app.chat(body).await;
        assert_eq!(r.status(), 200);
        let _ = r.text().await;
        let sent = app
            .upstream
            .requests()
            .pop()
            .map(|r| r.body)
            .unwrap_or_default();
        assert!(
            sent.get("top_k").is_none() && sent.get("min_p").is_none(),
            "stream={stream}: {sent}"
        );
        assert_eq!(sent["seed"], 3, "supported parameters stay");
        let user = sent["user"].as_str().unwrap_or_default();
        assert!(
            user.starts_with("user-") && !user.contains("alice"),
            "end-user ids are hashed: {user}"
        );
    }
}

/// A client with only its base URL changed sends the provider's own model name: it is served
/// by the catalogue model that name belongs to, and the answer names the catalogue id.
#[tokio::test]
async fn provider_native_model_names_resolve_to_the_catalogue() {
    let app = spawn_app().await;
    let (status, v) = app
        .chat_json(json!({"model": "gpt-fake", "messages": user("hello")}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], "fake/gpt");
    assert_eq!(app.upstream_models(), ["gpt-fake"]);
    // `claude-fake` is the upstream name of two catalogue models: ambiguous, so unknown.
    let (status, v) = app
        .chat_json(json!({"model": "claude-fake", "messages": user("hello")}))
        .await;
    assert_eq!(status, 404, "{v}");
}
