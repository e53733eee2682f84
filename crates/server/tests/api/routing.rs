//! Routing, fallback and resilience, shown against fake providers: which endpoint served, in
//! what order they were tried, and what was billed.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

fn attempts(v: &Value) -> Vec<(String, u64)> {
    v["openrouter_metadata"]["attempts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["provider"].as_str().unwrap_or_default().to_string(),
                a["status"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn by_price() -> Value {
    json!({"sort": "price"})
}

#[tokio::test]
async fn order_and_failover_before_the_first_token_with_attempts_in_metadata() {
    let app = spawn_app().await;
    let (s, v) = app
        .chat_meta(
            json!({"model": "route/multi", "messages": user("hi #fail@m-b:503"),
            "provider": {"order": ["fake-openai-2", "fake-anthropic"]}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["provider"], "Fake Anthropic");
    assert_eq!(
        attempts(&v),
        vec![
            ("Fake OpenAI Two".into(), 503),
            ("Fake Anthropic".into(), 200)
        ]
    );
    assert_eq!(app.upstream_models(), vec!["m-b", "m-c"]);
    // Billed at the endpoint that answered.
    let u = &v["usage"];
    let p = |k: &str| u[k].as_u64().unwrap_or(0);
    let expected = switchyard_api::Money::parse("0.000002")
        .unwrap_or_default()
        .times(p("prompt_tokens") + p("completion_tokens"));
    assert_eq!(u["cost"].as_f64(), expected.to_string().parse::<f64>().ok());
    let meta = &v["openrouter_metadata"];
    assert_eq!(meta["requested"], "route/multi");
    assert_eq!(
        meta["endpoints"]["available"].as_array().map(Vec::len),
        Some(3)
    );
}

#[tokio::test]
async fn client_errors_are_not_retried_elsewhere() {
    let app = spawn_app().await;
    let (s, v) = app
        .chat_meta(json!({"model": "route/multi", "messages": user("hi #fail@m-a:400"), "provider": by_price()}))
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        app.upstream_models(),
        vec!["m-a"],
        "a 400 is the request's fault: no second provider"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("scripted failure 400"),
        "{v}"
    );
}

#[tokio::test]
async fn allow_fallbacks_false_pins_the_provider() {
    let app = spawn_app().await;
    let (s, v) = app
        .chat_json(
            json!({"model": "route/multi", "messages": user("hi #fail@m-b:503"),
            "provider": {"order": ["fake-openai-2"], "allow_fallbacks": false}}),
        )
        .await;
    assert_eq!(s, 502, "{v}");
    assert_eq!(v["error"]["metadata"]["provider_name"], "Fake OpenAI Two");
    assert_eq!(app.upstream_models(), vec!["m-b"]);
}

#[tokio::test]
async fn only_ignore_and_tag_matching() {
    let app = spawn_app().await;
    let (_, v) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"only": ["fake-anthropic"]}})).await;
    assert_eq!(
        v["provider"], "Fake Anthropic",
        "the base slug matches the suffixed tag"
    );
    let (_, v) = app
        .chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"ignore": ["fake-openai", "Fake Anthropic"]}}))
        .await;
    assert_eq!(
        v["provider"], "Fake OpenAI Two",
        "slugs and display names both match"
    );
    let (s, v) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"only": ["nobody"]}})).await;
    assert_eq!(s, 404, "{v}");
}

#[tokio::test]
async fn retry_after_keeps_an_endpoint_back() {
    let app = spawn_app().await;
    let (s, v) = app.chat_meta(json!({"model": "route/multi", "messages": user("hi #fail@m-a:429"), "provider": by_price()})).await;
    assert_eq!(s, 200);
    assert_eq!(attempts(&v)[0], ("Fake OpenAI".into(), 429));
    // The cheapest endpoint asked for a second's rest: it goes last meanwhile.
    let (_, v) = app
        .chat_meta(json!({"model": "route/multi", "messages": user("hi"), "provider": by_price()}))
        .await;
    assert_eq!(v["provider"], "Fake Anthropic", "{v}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, v) = app
        .chat_meta(json!({"model": "route/multi", "messages": user("hi"), "provider": by_price()}))
        .await;
    assert_eq!(
        v["provider"], "Fake OpenAI",
        "back once Retry-After has passed"
    );
}

#[tokio::test]
async fn a_dead_provider_costs_one_request_per_probe_interval() {
    let app = spawn_app().await;
    // `order` keeps the dead endpoint first, so only the circuit breaker can spare it.
    let body = |text: &str| json!({"model": "route/multi", "messages": user(text), "provider": {"order": ["fake-openai", "fake-anthropic"]}});
    let dead = "hi #fail@m-a:500";
    for _ in 0..3 {
        let (s, v) = app.chat_json(body(dead)).await;
        assert_eq!(s, 200, "served by a fallback");
        assert_eq!(v["provider"], "Fake Anthropic");
    }
    let tried_a = |app: &TestApp| app.upstream_models().iter().filter(|m| *m == "m-a").count();
    assert_eq!(tried_a(&app), 3);
    for _ in 0..5 {
        let (_, v) = app.chat_json(body(dead)).await;
        assert_eq!(v["provider"], "Fake Anthropic");
    }
    assert_eq!(
        tried_a(&app),
        3,
        "circuit open: the dead endpoint is not called"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    for _ in 0..3 {
        app.chat_json(body(dead)).await;
    }
    assert_eq!(
        tried_a(&app),
        4,
        "one probe after the interval, which fails and re-opens"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (_, v) = app.chat_json(body("hi")).await;
    assert_eq!(
        v["provider"], "Fake OpenAI",
        "a successful probe closes the circuit"
    );
    let (_, v) = app.chat_json(body("hi")).await;
    assert_eq!(v["provider"], "Fake OpenAI");
}

#[tokio::test]
async fn recent_outages_send_an_endpoint_to_the_back() {
    let app = spawn_app().await;
    for _ in 0..2 {
        let (s, _) = app.chat_json(json!({"model": "route/multi", "messages": user("hi #fail@m-a:503"), "provider": by_price()})).await;
        assert_eq!(s, 200);
    }
    // Two failures in 30 s: the cheapest endpoint is now a last resort.
    let (_, v) = app
        .chat_meta(json!({"model": "route/multi", "messages": user("hi"), "provider": by_price()}))
        .await;
    assert_eq!(v["provider"], "Fake Anthropic");
    let order: Vec<_> = v["openrouter_metadata"]["endpoints"]["available"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["provider"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        order,
        vec!["Fake Anthropic", "Fake OpenAI Two", "Fake OpenAI"]
    );
}

#[tokio::test]
async fn capability_filtering_and_its_404() {
    let app = spawn_app().await;
    let tools =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let (s, v) = app
        .chat_json(json!({"model": "route/notools", "messages": user("hi"), "tools": tools, "provider": {"require_parameters": true}}))
        .await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("No endpoints found that support tool use"));
    assert_eq!(v["error"]["metadata"]["missing"], json!(["tools"]));
    // Without require_parameters the request is still served (the parameter is best effort).
    let (s, _) = app
        .chat_json(json!({"model": "route/notools", "messages": user("hi"), "tools": tools}))
        .await;
    assert_eq!(s, 200);
    // A max_tokens beyond every endpoint's context: 404 naming it.
    let (s, v) = app
        .chat_json(json!({"model": "route/notools", "messages": user("hi"), "max_tokens": 5000}))
        .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"]["metadata"]["missing"], json!(["max_tokens"]));
    // Images need a model that takes them.
    let img = json!([{"role": "user", "content": [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]);
    let (s, v) = app
        .chat_json(json!({"model": "route/notools", "messages": img}))
        .await;
    assert_eq!(s, 404);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("image input"));
}

#[tokio::test]
async fn max_price_data_policy_and_variants() {
    let app = spawn_app().await;
    // $1.5 per million prompt tokens at most leaves only the $1 endpoint.
    let (_, v) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"max_price": {"prompt": 1.5}}})).await;
    assert_eq!(v["provider"], "Fake OpenAI");
    let (s, _) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"max_price": {"prompt": "0.5"}}})).await;
    assert_eq!(s, 404);
    // Only Fake OpenAI Two declares it keeps nothing.
    let (_, v) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"data_collection": "deny"}})).await;
    assert_eq!(v["provider"], "Fake OpenAI Two");
    let (_, v) = app
        .chat_json(
            json!({"model": "route/multi", "messages": user("hi"), "provider": {"zdr": true}}),
        )
        .await;
    assert_eq!(v["provider"], "Fake OpenAI Two");
    let (_, v) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"quantizations": ["fp8"]}})).await;
    assert_eq!(v["provider"], "Fake OpenAI Two");
    let (s, _) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"quantizations": ["int4"]}})).await;
    assert_eq!(s, 404);
    let (_, v) = app
        .chat_json(json!({"model": "route/multi:floor", "messages": user("hi")}))
        .await;
    assert_eq!(v["provider"], "Fake OpenAI", ":floor is cheapest first");
    assert_eq!(v["model"], "route/multi");
    let (s, _) = app
        .chat_json(json!({"model": "route/multi:free", "messages": user("hi")}))
        .await;
    assert_eq!(s, 404, "no free endpoint");
}

#[tokio::test]
async fn live_statistics_drive_latency_and_throughput_sorting() {
    let app = spawn_app().await;
    // Warm up: m-a answers slowly, m-b quickly.
    for _ in 0..3 {
        for (ep, delay) in [("fake-openai", 300), ("fake-openai-2", 0)] {
            let (s, _) = app
                .chat_json(
                    json!({"model": "route/multi", "messages": user(&format!("hi #delay:{delay}")),
                    "provider": {"only": [ep]}}),
                )
                .await;
            assert_eq!(s, 200);
        }
    }
    let (_, v) = app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"sort": "latency", "only": ["fake-openai", "fake-openai-2"]}})).await;
    assert_eq!(v["provider"], "Fake OpenAI Two", "lowest p50 latency first");
    let (_, v) = app.chat_json(json!({"model": "route/multi:nitro", "messages": user("hi"), "provider": {"only": ["fake-openai", "fake-openai-2"]}})).await;
    assert_eq!(
        v["provider"], "Fake OpenAI Two",
        ":nitro is highest throughput first"
    );
    // preferred_max_latency moves the slow endpoint back without excluding it.
    let (_, v) = app
        .chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"sort": "price", "preferred_max_latency": 0.2, "only": ["fake-openai", "fake-openai-2"]}}))
        .await;
    assert_eq!(v["provider"], "Fake OpenAI Two");
    let eps: Value = app.get_json("/api/v1/models/route/multi/endpoints").await;
    let a = &eps["data"]["endpoints"][0];
    assert_eq!(a["tag"], "fake-openai");
    assert!(a["latency_last_30m"]["p50"].as_f64() >= Some(0.3), "{a}");
    assert!(a["throughput_last_30m"]["p50"].as_f64() > Some(0.0), "{a}");
    assert_eq!(a["uptime_last_5m"].as_f64(), Some(100.0));
    assert!(
        eps["data"]["endpoints"][2]["latency_last_30m"].is_null(),
        "unused endpoint: no data yet"
    );
}

#[tokio::test]
async fn conversations_stick_to_their_endpoint_for_prompt_caching() {
    let app = spawn_app().await;
    let convo = |n: usize| {
        let mut m = vec![
            json!({"role": "system", "content": "You are terse."}),
            json!({"role": "user", "content": "first question"}),
        ];
        for i in 0..n {
            m.push(json!({"role": "assistant", "content": format!("answer {i}")}));
            m.push(json!({"role": "user", "content": format!("follow-up {i}")}));
        }
        json!({"model": "route/multi", "messages": m, "provider": {"only": ["fake-openai", "fake-openai-2"]}})
    };
    let (_, first) = app.chat_json(convo(0)).await;
    let provider = first["provider"].clone();
    for n in 1..8 {
        let (_, v) = app.chat_json(convo(n)).await;
        assert_eq!(
            v["provider"], provider,
            "follow-up {n} stays on the endpoint that has the cache"
        );
    }
    // An explicit order wins over stickiness.
    let mut body = convo(3);
    body["provider"] = json!({"order": ["fake-openai-2"]});
    let (_, v) = app.chat_json(body).await;
    assert_eq!(v["provider"], "Fake OpenAI Two");
}

#[tokio::test]
async fn mid_stream_failover_continues_on_the_next_endpoint() {
    let app = spawn_app().await;
    let text = "one two three four five six seven eight";
    let order = json!({"order": ["fake-openai", "fake-openai-2"]});
    let (status, chunks, _) = app
        .chat_stream(json!({"model": "route/multi", "messages": user(&format!("{text} #cut@m-a:4")), "provider": order}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        chunks.last(),
        Some(&Value::String("[DONE]".into())),
        "one uninterrupted stream: {chunks:?}"
    );
    let streamed = streamed_text(&chunks);
    // m-a sent "Echo: one two " before dying; m-b continued from that prefix.
    assert!(streamed.starts_with("Echo: one two "), "{streamed}");
    assert!(chunks.iter().all(|c| c.get("error").is_none()));
    let reqs = app.upstream.requests();
    let cont = &reqs[1].body["messages"];
    let last = cont
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(last["role"], "assistant");
    assert_eq!(
        last["content"], "Echo: one two ",
        "the next endpoint got the text so far as a prefix"
    );
    // Both endpoints billed: the final usage covers both shares.
    let n = chunks.len();
    let usage = &chunks[n - 2]["usage"];
    assert!(usage["cost"].as_f64() > Some(0.0));
    let roles = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["role"].is_string())
        .count();
    assert_eq!(roles, 1, "the role is sent once");

    // Opt out: the stream ends with an error chunk instead.
    let (_, chunks, _) = app
        .chat_stream(
            json!({"model": "route/multi", "messages": user(&format!("{text} #cut@m-a:4")),
            "provider": {"order": ["fake-openai", "fake-openai-2"], "midstream_failover": false}}),
        )
        .await;
    assert_eq!(
        chunks
            .last()
            .map(|c| c["choices"][0]["finish_reason"].clone()),
        Some(json!("error"))
    );
}

#[tokio::test]
async fn hedged_requests_race_a_slow_first_endpoint() {
    let app = spawn_app().await;
    // Teach the gateway m-a's usual time to first token (fast).
    for _ in 0..6 {
        app.chat_json(json!({"model": "route/multi", "messages": user("hi"), "provider": {"only": ["fake-openai"]}})).await;
    }
    let abandoned_before = app.upstream.abandoned();
    for stream in [false, true] {
        let body = json!({"model": "route/multi", "messages": user("slow today #delay@m-a:1500"), "stream": stream,
            "provider": {"order": ["fake-openai", "fake-openai-2"], "hedge": true}});
        let started = std::time::Instant::now();
        let (status, v) = app.chat_meta(body).await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "the hedge answered first"
        );
        if !stream {
            assert_eq!(v["provider"], "Fake OpenAI Two");
            let a = attempts(&v);
            assert!(
                a.contains(&("Fake OpenAI".into(), 0))
                    && a.contains(&("Fake OpenAI Two".into(), 200)),
                "{a:?}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        app.upstream.abandoned() - abandoned_before,
        2,
        "the slow loser was cancelled each time"
    );
}

#[tokio::test]
async fn fallback_models_take_over_on_any_error() {
    let app = spawn_app().await;
    // The first model's only provider refuses the request (as for a context-length error);
    // the next model in `models` serves it, and is what the response names and bills.
    let (s, v) = app
        .chat_meta(json!({"model": "fake/gpt", "models": ["fake/claude"], "messages": user("hi #fail@gpt-fake:400")}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["model"], "fake/claude");
    assert_eq!(v["openrouter_metadata"]["strategy"], "fallback");
    assert_eq!(
        v["usage"]["cost"].as_f64(),
        expected_cost("fake/claude", &v["usage"])
            .parse::<f64>()
            .ok()
    );
    // `route: "fallback"` (legacy) is accepted alongside.
    let (s, v) = app
        .chat_json(json!({"models": ["fake/gpt", "fake/gemini"], "route": "fallback", "messages": user("hi #fail@gpt-fake:503")}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["model"], "fake/gemini");
}

#[tokio::test]
async fn auto_router_picks_by_difficulty_and_explains_itself() {
    let app = spawn_app_full(
        SERVER,
        "probe_interval_ms = 400\n[routing.auto]\nmodels = [\"fake/gpt\", \"fake/claude\", \"fake/gemini\"]\nthreshold = 0.5",
        false,
    )
    .await;
    let (s, v) = app
        .chat_meta(json!({"model": "switchyard/auto", "messages": user("hello!")}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["model"], "fake/gemini",
        "easy: the cheapest allowed model"
    );
    let meta = &v["openrouter_metadata"];
    assert_eq!(meta["strategy"], "auto");
    assert_eq!(meta["requested"], "switchyard/auto");
    assert_eq!(meta["auto"]["chosen"], "fake/gemini");
    assert_eq!(
        meta["auto"]["candidates"],
        json!(["fake/gemini", "fake/gpt", "fake/claude"])
    );

    let hard = "Analyze step by step why this deadlocks and design a fix:\n```rust\nlet a = m.lock(); let b = m.lock();\n```";
    let (_, v) = app
        .chat_meta(json!({"model": "openrouter/auto", "messages": user(hard)}))
        .await;
    assert_eq!(
        v["model"], "fake/claude",
        "hard: the strongest allowed model"
    );
    let signals = v["openrouter_metadata"]["auto"]["signals"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        signals.contains(&json!("code")) && signals.contains(&json!("reasoning")),
        "{signals:?}"
    );
    // Billed as the chosen model.
    assert_eq!(
        v["usage"]["cost"].as_f64(),
        expected_cost("fake/claude", &v["usage"])
            .parse::<f64>()
            .ok()
    );

    let models: Value = app.get_json("/api/v1/models").await;
    assert!(models["data"]
        .as_array()
        .is_some_and(|d| d.iter().any(|m| m["id"] == "switchyard/auto")));
}

#[tokio::test]
async fn a_hanging_provider_times_out_and_the_next_one_answers() {
    let app = spawn_app().await;
    let started = std::time::Instant::now();
    let (s, v) = app
        .chat_meta(json!({"model": "route/multi", "messages": user("hi #hang@m-a"), "provider": {"order": ["fake-openai", "fake-anthropic"]}}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["provider"], "Fake Anthropic");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited for the first-byte timeout"
    );
    assert_eq!(
        attempts(&v),
        vec![("Fake OpenAI".into(), 0), ("Fake Anthropic".into(), 200)]
    );
}

#[tokio::test]
async fn partition_none_sorts_across_fallback_models() {
    let app = spawn_app().await;
    // fake/claude costs 1.8e-5 a token pair, route/multi's endpoints 2e-6 to 6e-6.
    let body = |partition: &str| {
        json!({"model": "fake/claude", "models": ["route/multi"], "messages": user("hi"),
            "provider": {"sort": {"by": "price", "partition": partition}}})
    };
    let order = |v: &Value| -> Vec<String> {
        v["openrouter_metadata"]["endpoints"]["available"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}|{}",
                    e["model"].as_str().unwrap_or_default(),
                    e["provider"].as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    let (_, v) = app.chat_meta(body("model")).await;
    assert_eq!(v["model"], "fake/claude", "the requested model first");
    assert_eq!(order(&v)[0], "fake/claude|Fake Anthropic");
    let (_, v) = app.chat_meta(body("none")).await;
    assert_eq!(v["model"], "route/multi", "globally cheapest first");
    assert_eq!(
        order(&v),
        vec![
            "route/multi|Fake OpenAI",
            "route/multi|Fake Anthropic",
            "route/multi|Fake OpenAI Two",
            "fake/claude|Fake Anthropic"
        ]
    );
}

#[tokio::test]
async fn an_unknown_id_in_models_is_skipped_and_reported() {
    let app = spawn_app().await;
    let (s, v) = app
        .chat_meta(json!({"models": ["nope/unknown", "fake/gpt"], "messages": user("hi")}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["model"], "fake/gpt");
    assert_eq!(
        v["openrouter_metadata"]["skipped_models"],
        json!([{"model": "nope/unknown", "reason": "model_not_found"}])
    );
    // Nothing valid at all: still the unknown model's 404.
    let (s, v) = app
        .chat_json(json!({"models": ["nope/a", "nope/b"], "messages": user("hi")}))
        .await;
    assert_eq!(s, 404, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nope/a")),
        "{v}"
    );
}
