//! `POST /embeddings` and `GET /embeddings/models` through the real app, in front of the fake
//! OpenAI and Gemini embedding endpoints.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use switchyard_api::embeddings::decode_base64;
use switchyard_api::Money;

/// An exact amount from the wire. The server writes plain decimals, but a JSON number read
/// back as `f64` prints small ones in exponent form (`4e-8`): shift the point back.
fn money(v: &Value) -> Money {
    let s = v.to_string();
    let Some((mantissa, exp)) = s.split_once(['e', 'E']) else {
        return Money::parse(&s).unwrap_or_default();
    };
    let exp: i64 = exp.parse().unwrap_or(0);
    let (sign, m) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    let digits = format!("{int}{frac}");
    let point = int.len() as i64 + exp;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    Money::parse(&format!("{sign}{text}")).unwrap_or_default()
}

#[test]
fn exponent_amounts_read_exactly() {
    assert_eq!(money(&json!(4e-8)), price("0.00000004"));
    assert_eq!(money(&json!(1.25e-7)), price("0.000000125"));
    assert_eq!(money(&json!(0.5)), price("0.5"));
    assert_eq!(money(&json!(2)), price("2"));
}

fn price(s: &str) -> Money {
    Money::parse(s).unwrap_or_default()
}

/// The vectors of an answer as floats, whichever encoding it came in.
fn vectors(v: &Value) -> Vec<Vec<f32>> {
    v["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| match &d["embedding"] {
            Value::String(b) => decode_base64(b).unwrap_or_default(),
            Value::Array(xs) => xs
                .iter()
                .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
                .collect(),
            _ => vec![],
        })
        .collect()
}

#[tokio::test]
async fn string_and_array_inputs_on_both_families_and_prefixes() {
    let app = spawn_app().await;
    for (model, price_per_token) in [
        ("fake/embed", "0.00000002"),
        ("fake/gemini-embed", "0.00000015"),
    ] {
        for prefix in ["/api/v1", "/v1"] {
            let (s, v, h) = app
                .embed_at(
                    prefix,
                    KEY,
                    json!({"model": model, "input": "hello embeddings"}),
                )
                .await;
            assert_eq!(s, 200, "{model} {prefix}: {v}");
            assert_eq!(v["object"], "list");
            assert_eq!(v["model"], model);
            let id = v["id"].as_str().unwrap_or_default();
            assert!(id.starts_with("gen-"), "{v}");
            assert_eq!(
                h.get("x-generation-id").and_then(|x| x.to_str().ok()),
                Some(id)
            );
            assert_eq!(v["data"][0]["object"], "embedding");
            assert_eq!(v["data"][0]["index"], 0);
            assert_eq!(vectors(&v), vec![vectors(&v)[0].clone()], "one vector");
            assert_eq!(vectors(&v)[0].len(), 8, "the fake's default width");
            let u = &v["usage"];
            let tokens = u["prompt_tokens"].as_u64().unwrap_or(0);
            assert!(tokens > 0, "{u}");
            assert_eq!(u["total_tokens"], u["prompt_tokens"]);
            assert_eq!(money(&u["cost"]), price(price_per_token).times(tokens));
            assert_eq!(
                money(&u["cost_details"]["upstream_inference_prompt_cost"]),
                money(&u["cost"])
            );
            assert_eq!(u["is_byok"], false);
        }

        let (s, v) = app
            .embed(json!({"model": model, "input": ["alpha beta", "gamma", "alpha beta"]}))
            .await;
        assert_eq!(s, 200, "{v}");
        let vs = vectors(&v);
        assert_eq!(vs.len(), 3);
        let indices: Vec<_> = v["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|d| d["index"].as_u64().unwrap_or(99))
            .collect();
        assert_eq!(indices, [0, 1, 2]);
        assert_eq!(vs[0], vs[2], "the same text embeds the same");
        assert_ne!(vs[0], vs[1]);
    }
    // Gemini: one input is `embedContent`, a list `batchEmbedContents`, each naming the model.
    let gemini: Vec<_> = app
        .upstream
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/gemini"))
        .collect();
    assert!(gemini
        .first()
        .is_some_and(|r| r.path.ends_with("/gemini-embed-fake:embedContent")));
    let batch = gemini.last().cloned().expect("a batch call");
    assert!(batch
        .path
        .ends_with("/gemini-embed-fake:batchEmbedContents"));
    assert_eq!(
        batch.body["requests"][1]["model"],
        "models/gemini-embed-fake"
    );
    assert_eq!(
        batch.body["requests"][1]["content"]["parts"][0]["text"],
        "gamma"
    );
}

#[tokio::test]
async fn token_arrays_embed_on_openai_and_are_refused_by_gemini() {
    let app = spawn_app().await;
    let (s, v) = app
        .embed(json!({"model": "fake/embed", "input": [101, 102, 103]}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(vectors(&v).len(), 1);
    assert_eq!(v["usage"]["prompt_tokens"], 3, "token ids count themselves");
    let (s, v) = app
        .embed(json!({"model": "fake/embed", "input": [[1, 2], [3]]}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(vectors(&v).len(), 2);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let sent = app.upstream.requests();
    assert_eq!(
        sent.last().map(|r| r.body["input"].clone()),
        Some(json!([[1, 2], [3]])),
        "passed through in the shape it came"
    );
    assert_eq!(
        sent.last().map(|r| r.body["model"].clone()),
        Some(json!("embed-fake"))
    );

    let before = app.upstream.requests().len();
    let (s, v) = app
        .embed(json!({"model": "fake/gemini-embed", "input": [1, 2]}))
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("text only")),
        "{v}"
    );
    assert_eq!(app.upstream.requests().len(), before, "nothing sent");
}

#[tokio::test]
async fn dimensions_and_base64_on_both_families() {
    let app = spawn_app().await;
    for model in ["fake/embed", "fake/gemini-embed"] {
        let (s, floats) = app
            .embed(json!({"model": model, "input": ["one", "two"], "dimensions": 4}))
            .await;
        assert_eq!(s, 200, "{floats}");
        assert!(floats["data"][0]["embedding"].is_array());
        let (s, b64) = app
            .embed(json!({"model": model, "input": ["one", "two"], "dimensions": 4, "encoding_format": "base64"}))
            .await;
        assert_eq!(s, 200, "{b64}");
        assert!(b64["data"][1]["embedding"].is_string(), "{b64}");
        let vs = vectors(&b64);
        assert!(vs.iter().all(|v| v.len() == 4), "{vs:?}");
        assert_eq!(vs, vectors(&floats), "the same f32 values, either way");
    }
    let sent = app.upstream.requests();
    let openai = sent
        .iter()
        .rfind(|r| r.path == "/openai/v1/embeddings")
        .expect("an OpenAI call");
    assert_eq!(openai.body["dimensions"], 4);
    assert_eq!(
        openai.body["encoding_format"], "base64",
        "OpenAI is asked for base64 itself"
    );
    let gemini = sent.last().expect("a Gemini call");
    assert_eq!(gemini.body["requests"][0]["outputDimensionality"], 4);
}

#[tokio::test]
async fn falls_back_when_the_first_endpoint_fails() {
    let app = spawn_app().await;
    let body = |prefs: Value| json!({"model": "fake/embed-fallback", "input": "hello #fail@embed-a:503", "provider": prefs});
    let (s, v) = app
        .embed(body(json!({"order": ["fake-openai", "fake-gemini"]})))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["provider"], "Fake Gemini");
    assert_eq!(v["model"], "fake/embed-fallback");
    let tried: Vec<_> = app
        .upstream_models()
        .iter()
        .map(|m| m.trim_start_matches("models/").to_string())
        .collect();
    assert_eq!(
        tried,
        ["embed-a", "embed-b"],
        "the first endpoint was tried"
    );
    let (_, g, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/generation?id={}", v["id"].as_str().unwrap_or("")),
            KEY,
            None,
        )
        .await;
    let attempts = g["data"]["provider_responses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(attempts.len(), 2, "{g}");
    assert_eq!(attempts[0]["status"], 503);
    assert_eq!(g["data"]["provider_name"], "Fake Gemini");
    // Charged at the endpoint that served, Gemini's estimate of the text's tokens.
    assert_eq!(
        money(&v["usage"]["cost"]),
        price("0.0000002").times(v["usage"]["prompt_tokens"].as_u64().unwrap_or(0))
    );

    let (s, v) = app
        .embed(body(
            json!({"order": ["fake-openai"], "allow_fallbacks": false}),
        ))
        .await;
    assert_eq!(s, 502, "pinned to the failing endpoint: {v}");
    assert_eq!(v["error"]["metadata"]["provider_name"], "Fake OpenAI");
    let (s, v) = app.embed(body(json!({"ignore": ["fake-gemini"]}))).await;
    assert_eq!(s, 502, "{v}");
    let (s, v) = app.embed(body(json!({"only": ["fake-gemini"]}))).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn billing_agrees_with_the_record_and_the_credits() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("embedder", "1", json!({"name": "k"})).await;
    let mut spent = Money::ZERO;
    for (body, estimated) in [
        (
            json!({"model": "fake/embed", "input": "exactly four words here"}),
            false,
        ),
        (
            json!({"model": "fake/gemini-embed", "input": ["a longer text to embed", "and one more"]}),
            true,
        ),
        (
            json!({"model": "fake/embed", "input": ["x y", "z"], "encoding_format": "base64", "dimensions": 3}),
            false,
        ),
    ] {
        let (s, v, _) = app.embed_at("/api/v1", &key, body).await;
        assert_eq!(s, 200, "{v}");
        let cost = money(&v["usage"]["cost"]);
        assert!(cost > Money::ZERO);
        let (s, g, _) = app
            .call(
                Method::GET,
                &format!("/api/v1/generation?id={}", v["id"].as_str().unwrap_or("")),
                &key,
                None,
            )
            .await;
        assert_eq!(s, 200, "{g}");
        let d = &g["data"];
        assert_eq!(money(&d["total_cost"]), cost, "{d}");
        assert_eq!(d["tokens_prompt"], v["usage"]["prompt_tokens"]);
        assert_eq!(d["tokens_completion"], 0);
        assert_eq!(d["api_type"], "embeddings");
        assert_eq!(d["usage_estimated"], estimated, "{d}");
        assert_eq!(d["streamed"], false);
        spent = spent + cost;
    }
    let first = app.upstream.requests();
    assert_eq!(first[0].body["input"], "exactly four words here");
    let (_, credits, _) = app.call(Method::GET, "/api/v1/credits", &mgmt, None).await;
    assert_eq!(money(&credits["data"]["total_usage"]), spent, "{credits}");
    let (_, k, _) = app.call(Method::GET, "/api/v1/key", &key, None).await;
    assert_eq!(money(&k["data"]["usage"]), spent);
    // 4 words at $0.02 per million tokens, exactly.
    assert!(spent >= price("0.00000008"));

    // A chat generation still says so.
    let (s, v) = app
        .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, g, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/generation?id={}", v["id"].as_str().unwrap_or("")),
            &key,
            None,
        )
        .await;
    assert_eq!(g["data"]["api_type"], "completions");
}

#[tokio::test]
async fn unaffordable_is_402_before_any_call_and_costs_nothing() {
    let app = spawn_app().await;
    // $0.000001 covers 5 tokens at the dearest endpoint's $0.0000002; this input's upper
    // bound is 40 (80 bytes / 2).
    let (key, mgmt) = app.prepaid("poor", "0.000001", json!({"name": "k"})).await;
    let text = "word ".repeat(16);
    let (s, v, _) = app
        .embed_at(
            "/api/v1",
            &key,
            json!({"model": "fake/embed-fallback", "input": text}),
        )
        .await;
    assert_eq!(s, 402, "{v}");
    assert_eq!(v["error"]["code"], 402);
    assert_eq!(v["error"]["metadata"]["error_type"], "payment_required");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("up to 40 input tokens")),
        "{v}"
    );
    assert!(app.upstream.requests().is_empty(), "nothing sent upstream");
    let (_, credits, _) = app.call(Method::GET, "/api/v1/credits", &mgmt, None).await;
    assert_eq!(money(&credits["data"]["total_usage"]), Money::ZERO);
    // A short input fits.
    let (s, v, _) = app
        .embed_at(
            "/api/v1",
            &key,
            json!({"model": "fake/embed-fallback", "input": "hi"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn a_failure_before_any_charge_leaves_no_record() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("failing", "1", json!({"name": "k"})).await;
    // The provider refuses the request itself (its own 400, passed on with its message).
    let (s, v, h) = app
        .embed_at(
            "/api/v1",
            &key,
            json!({"model": "fake/embed", "input": "x", "dimensions": 100000}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Provider returned error") && m.contains("dimensions")),
        "{v}"
    );
    let id = h
        .get("x-generation-id")
        .and_then(|x| x.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(app.store.generation(&id).await.expect("read").is_none());
    // Every endpoint down: 502, nothing recorded either.
    let (s, v, _) = app
        .embed_at(
            "/api/v1",
            &key,
            json!({"model": "fake/embed", "input": "x #fail:500"}),
        )
        .await;
    assert_eq!(s, 502, "{v}");
    let (_, credits, _) = app.call(Method::GET, "/api/v1/credits", &mgmt, None).await;
    assert_eq!(money(&credits["data"]["total_usage"]), Money::ZERO);
}

#[tokio::test]
async fn bad_requests_are_400_in_the_envelope() {
    let app = spawn_app().await;
    for (body, says) in [
        (
            json!({"model": "fake/embed", "input": ""}),
            "must not be empty",
        ),
        (
            json!({"model": "fake/embed", "input": []}),
            "must not be empty",
        ),
        (
            json!({"model": "fake/embed", "input": ["a", 1]}),
            "input[1]",
        ),
        (json!({"model": "fake/embed", "input": [1.5]}), "token ids"),
        (
            json!({"model": "fake/embed", "input": [{"content": [{"type": "text", "text": "x"}]}]}),
            "multimodal",
        ),
        (json!({"model": "fake/embed"}), "input"),
        (json!({"input": "x"}), "model"),
        (
            json!({"model": "fake/embed", "input": "x", "encoding_format": "invalid_format"}),
            "encoding_format",
        ),
        (
            json!({"model": "fake/embed", "input": "x", "dimensions": 0}),
            "dimensions",
        ),
        (
            json!({"model": "fake/embed", "input": "x", "dimensions": -1}),
            "dimensions",
        ),
        (json!(["not", "an", "object"]), "invalid request body"),
    ] {
        let (s, v) = app.embed(body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["metadata"]["error_type"], "invalid_request");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let r = app
        .http
        .post(app.url("/api/v1/embeddings"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 400);
    let (s, v) = app.embed(json!({"model": "fake/nope", "input": "x"})).await;
    assert_eq!(s, 404, "{v}");
    let (s, _, _) = app
        .embed_at(
            "/api/v1",
            "sk-wrong",
            json!({"model": "fake/embed", "input": "x"}),
        )
        .await;
    assert_eq!(s, 401);
    let (s, v, _) = app
        .embed_at(
            "/api/v1",
            MANAGEMENT_KEY,
            json!({"model": "fake/embed", "input": "x"}),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, _, _) = app.call(Method::GET, "/api/v1/embeddings", KEY, None).await;
    assert_eq!(s, 405);
    assert!(app.upstream.requests().is_empty());
}

#[tokio::test]
async fn chat_and_embedding_models_never_cross() {
    let app = spawn_app().await;
    let (s, v) = app.embed(json!({"model": "fake/gpt", "input": "x"})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "`fake/gpt` is not an embedding model: /api/v1/embeddings takes the models listed at /api/v1/embeddings/models"
    );
    let (s, v) = app
        .chat_json(json!({"model": "fake/embed", "messages": user("hi")}))
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "`fake/embed` is an embedding model: send it to /api/v1/embeddings, not /chat/completions"
    );
    let (s, v) = app
        .chat_json(json!({"model": "fake/gpt", "models": ["fake/embed"], "messages": user("hi")}))
        .await;
    assert_eq!(s, 400, "not even as a fallback: {v}");
    assert!(app.upstream.requests().is_empty());
}

#[tokio::test]
async fn embedding_models_are_listed_apart() {
    let app = spawn_app().await;
    for prefix in ["/api/v1", "/v1"] {
        let v = app.get_json(&format!("{prefix}/embeddings/models")).await;
        let data = v["data"].as_array().cloned().unwrap_or_default();
        let ids: Vec<_> = data.iter().filter_map(|m| m["id"].as_str()).collect();
        assert_eq!(
            ids,
            ["fake/embed", "fake/gemini-embed", "fake/embed-fallback"],
            "{v}"
        );
        let m = &data[0];
        assert_eq!(
            m["architecture"]["output_modalities"],
            json!(["embeddings"])
        );
        assert_eq!(m["architecture"]["modality"], "text->embeddings");
        assert_eq!(m["pricing"]["prompt"], "0.00000002");
        assert_eq!(m["pricing"]["completion"], "0");
        assert_eq!(m["context_length"], 8192);
        // The spec's enum of parameters is chat's: an embedding model lists none (routing
        // still knows which endpoints take `dimensions`).
        assert_eq!(m["supported_parameters"], json!([]));

        let chat = app.get_json(&format!("{prefix}/models")).await;
        let ids: Vec<_> = chat["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        assert!(ids.iter().any(|i| i == "fake/gpt"), "{ids:?}");
        assert!(!ids.iter().any(|i| i.contains("embed")), "{ids:?}");
    }
    let v = app
        .get_json("/api/v1/models/fake/gemini-embed/endpoints")
        .await;
    assert_eq!(v["data"]["endpoints"][0]["provider_name"], "Fake Gemini");
}
