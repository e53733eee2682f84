//! Accounts, keys, credits and exact billing through the public API.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard_api::Money;

fn money(v: &Value) -> Money {
    // Amounts are exact decimal numbers on the wire; read them back from their text.
    Money::parse(&v.to_string()).unwrap_or_default()
}

async fn books_balance(app: &TestApp) {
    // The balance is the ledger's sum, and every charge has its generation record.
    for (account, balance) in app.store.balances().await.expect("balances") {
        let ledger = app.store.ledger(&account).await.expect("ledger");
        assert_eq!(
            ledger
                .iter()
                .map(|e| i128::from(e.amount_pico))
                .sum::<i128>(),
            balance
        );
        for e in ledger.iter().filter(|e| e.kind == "charge") {
            let id = e.generation_id.clone().unwrap_or_default();
            let g = app
                .store
                .generation(&id)
                .await
                .expect("read")
                .expect("a record for every charge");
            assert_eq!(
                g.cost_pico, -e.amount_pico,
                "charge equals the record's cost"
            );
        }
    }
}

#[tokio::test]
async fn every_request_is_charged_exactly_its_cost() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("acme", "1", json!({"name": "ci"})).await;
    let mut spent = Money::ZERO;
    for stream in [false, true, false] {
        if stream {
            let body =
                json!({"model": "fake/claude", "messages": user("hello there"), "stream": true});
            let r = app
                .http
                .post(app.url("/api/v1/chat/completions"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .expect("sent");
            let text = r.text().await.unwrap_or_default();
            let usage_line = text
                .lines()
                .rfind(|l| l.contains("\"usage\""))
                .unwrap_or_default()
                .trim_start_matches("data: ")
                .to_string();
            let v: Value = serde_json::from_str(&usage_line).unwrap_or(Value::Null);
            spent = spent + money(&v["usage"]["cost"]);
        } else {
            let (s, v) = app
                .chat_as(
                    &key,
                    json!({"model": "fake/gpt", "messages": user("hello there")}),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            spent = spent + money(&v["usage"]["cost"]);
        }
    }
    assert!(spent > Money::ZERO);
    let (_, credits, _) = app.call(Method::GET, "/api/v1/credits", &mgmt, None).await;
    assert_eq!(money(&credits["data"]["total_credits"]).to_string(), "1");
    assert_eq!(money(&credits["data"]["total_usage"]), spent, "{credits}");
    let (_, k, _) = app.call(Method::GET, "/api/v1/key", &key, None).await;
    assert_eq!(money(&k["data"]["usage"]), spent);
    assert_eq!(money(&k["data"]["usage_daily"]), spent);
    assert_eq!(k["data"]["is_management_key"], false);
    books_balance(&app).await;
    let acme = app
        .store
        .account("acme")
        .await
        .expect("read")
        .expect("exists");
    let balance: i128 = app
        .store
        .ledger(&acme.id)
        .await
        .expect("ledger")
        .iter()
        .map(|e| i128::from(e.amount_pico))
        .sum();
    assert_eq!(
        Money::from_pico(balance),
        Money::parse("1").unwrap_or_default().saturating_sub(spent)
    );
}

#[tokio::test]
async fn unaffordable_requests_get_402_in_openrouters_words() {
    let app = spawn_app().await;
    // $0.0001 buys 100 completion tokens of fake/gpt at $0.000002 less the prompt.
    let (key, _) = app.prepaid("poor", "0.0001", json!({"name": "k"})).await;
    let (s, v) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("hi"), "max_tokens": 5000}),
        )
        .await;
    assert_eq!(s, 402, "{v}");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.starts_with("This request requires more credits, or fewer max_tokens. You requested up to 5000 tokens, but can only afford 4"), "{msg}");
    assert_eq!(v["error"]["metadata"]["error_type"], "payment_required");
    assert!(
        app.upstream.requests().is_empty(),
        "nothing was sent upstream"
    );
    let (s, _) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("hi"), "max_tokens": 20}),
        )
        .await;
    assert_eq!(s, 200, "a smaller max_tokens fits");
}

#[tokio::test]
async fn key_limits_cap_spending() {
    let app = spawn_app().await;
    let (key, mgmt) = app
        .prepaid(
            "capped",
            "10",
            json!({"name": "k", "limit": 0.0001, "limit_reset": "daily"}),
        )
        .await;
    let (_, k, _) = app.call(Method::GET, "/api/v1/key", &key, None).await;
    assert_eq!(k["data"]["limit"], json!(0.0001));
    assert_eq!(k["data"]["limit_reset"], "daily");
    let (s, _) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("hi"), "max_tokens": 5000}),
        )
        .await;
    assert_eq!(s, 402, "the key's limit binds before the account's balance");
    // Raise the limit through PATCH: the next request fits.
    let hash = k["data"]["hash"].as_str().unwrap_or_default().to_string();
    let (s, v, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/keys/{hash}"),
            &mgmt,
            Some(json!({"limit": 5})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("hi"), "max_tokens": 5000}),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn provisioning_api_creates_lists_disables_and_deletes_keys() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("team", "5", json!({"name": "first"})).await;
    let (s, v, _) = app
        .call(
            Method::POST,
            "/api/v1/keys",
            &mgmt,
            Some(json!({"name": "second", "expires_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(s, 201);
    let second = v["key"].as_str().unwrap_or_default().to_string();
    assert!(second.starts_with("sk-sy-v1-") && second.len() == 9 + 64);
    let hash = v["data"]["hash"].as_str().unwrap_or_default().to_string();
    assert_eq!(v["data"]["expires_at"], "2099-01-01T00:00:00Z");
    assert!(
        v["data"]["label"]
            .as_str()
            .is_some_and(|l| !l.contains(&second[12..])),
        "the label does not reveal the key"
    );
    let (_, list, _) = app.call(Method::GET, "/api/v1/keys", &mgmt, None).await;
    let mut names: Vec<_> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, vec!["first", "second"]);
    let (s, got, _) = app
        .call(Method::GET, &format!("/api/v1/keys/{hash}"), &mgmt, None)
        .await;
    assert_eq!((s, got["data"]["name"].clone()), (200, json!("second")));

    let (s, _) = app
        .chat_as(
            &second,
            json!({"model": "fake/gpt", "messages": user("hi")}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/keys/{hash}"),
            &mgmt,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!((s, v["data"]["disabled"].clone()), (200, json!(true)));
    let (s, _) = app
        .chat_as(
            &second,
            json!({"model": "fake/gpt", "messages": user("hi")}),
        )
        .await;
    assert_eq!(s, 401, "disabled at once");
    let (_, list, _) = app
        .call(
            Method::GET,
            "/api/v1/keys?include_disabled=true",
            &mgmt,
            None,
        )
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    let (_, list, _) = app.call(Method::GET, "/api/v1/keys", &mgmt, None).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    let (s, v, _) = app
        .call(Method::DELETE, &format!("/api/v1/keys/{hash}"), &mgmt, None)
        .await;
    assert_eq!((s, v), (200, json!({"deleted": true})));
    let (s, _, _) = app
        .call(Method::GET, &format!("/api/v1/keys/{hash}"), &mgmt, None)
        .await;
    assert_eq!(s, 404);

    // Roles: a management key cannot call inference, an API key cannot manage keys, and
    // nobody manages another account's keys.
    let (s, v) = app
        .chat_as(&mgmt, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, _, _) = app.call(Method::GET, "/api/v1/keys", &key, None).await;
    assert_eq!(s, 401);
    let (_, other_mgmt) = app.prepaid("other", "1", json!({"name": "x"})).await;
    let (s, _, _) = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/keys/{}",
                got["data"]["hash"].as_str().unwrap_or_default()
            ),
            &other_mgmt,
            None,
        )
        .await;
    assert_eq!(s, 404);
    // Bad input names the field.
    let (s, v, _) = app
        .call(
            Method::POST,
            "/api/v1/keys",
            &mgmt,
            Some(json!({"name": "x", "limit_reset": "hourly"})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v, _) = app
        .call(
            Method::POST,
            "/api/v1/keys",
            &mgmt,
            Some(json!({"nam": "x"})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nam"),
        "{v}"
    );
}

#[tokio::test]
async fn expired_keys_stop_working() {
    let app = spawn_app().await;
    let (_, mgmt) = app.prepaid("exp", "1", json!({"name": "k"})).await;
    let (_, v, _) = app
        .call(
            Method::POST,
            "/api/v1/keys",
            &mgmt,
            Some(json!({"name": "old", "expires_at": "2020-01-01T00:00:00Z"})),
        )
        .await;
    let key = v["key"].as_str().unwrap_or_default();
    let (s, _) = app
        .chat_as(key, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn generation_stats_and_activity() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("stats", "1", json!({"name": "k"})).await;
    let r = app
        .http
        .post(app.url("/api/v1/chat/completions"))
        .bearer_auth(&key)
        .header("HTTP-Referer", "https://myapp.example")
        .header("X-Title", "My App")
        .json(&json!({"model": "fake/fallback", "messages": user("hello stats"), "provider": {"order": ["dead", "fake-anthropic"]}}))
        .send()
        .await
        .expect("sent");
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let id = v["id"].as_str().unwrap_or_default();
    let (s, g, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/generation?id={id}"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{g}");
    let d = &g["data"];
    assert_eq!(d["id"], id);
    assert_eq!(d["model"], "fake/fallback");
    assert_eq!(d["provider_name"], "Fake Anthropic");
    assert_eq!(money(&d["total_cost"]), money(&v["usage"]["cost"]));
    assert_eq!(d["tokens_prompt"], v["usage"]["prompt_tokens"]);
    assert_eq!(d["tokens_completion"], v["usage"]["completion_tokens"]);
    assert_eq!(d["streamed"], false);
    assert_eq!(d["cancelled"], false);
    assert_eq!(d["finish_reason"], "stop");
    assert_eq!(d["native_finish_reason"], "end_turn");
    assert_eq!(d["http_referer"], "https://myapp.example");
    assert_eq!(d["app_title"], "My App");
    let responses = d["provider_responses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        responses.len(),
        2,
        "the dead endpoint's attempt and the one that served: {responses:?}"
    );
    assert_eq!(responses[1]["status"], 200);
    assert!(d["latency"].as_u64().is_some() && d["generation_time"].as_u64().is_some());
    // Another account cannot read it.
    let (other, _) = app.prepaid("nosy", "1", json!({"name": "k"})).await;
    let (s, _, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/generation?id={id}"),
            &other,
            None,
        )
        .await;
    assert_eq!(s, 404);

    let (_, act, _) = app.call(Method::GET, "/api/v1/activity", &mgmt, None).await;
    let rows = act["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{act}");
    assert_eq!(rows[0]["model"], "fake/fallback");
    assert_eq!(rows[0]["requests"], 1);
    assert_eq!(money(&rows[0]["usage"]), money(&v["usage"]["cost"]));
    assert_eq!(rows[0]["date"].as_str().map(str::len), Some(10));
}

#[tokio::test]
async fn failed_requests_cost_nothing_and_leave_no_record() {
    let app = spawn_app().await;
    let (key, _) = app.prepaid("unlucky", "1", json!({"name": "k"})).await;
    let (s, _) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("hi #fail:500")}),
        )
        .await;
    assert_eq!(s, 502);
    let (s, _) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "stream": true, "messages": user("hi #fail:503")}),
        )
        .await;
    assert_eq!(s, 502);
    assert_eq!(app.store.generation_count().await.expect("count"), 0);
    let acct = app
        .store
        .account("unlucky")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        app.store.ledger(&acct.id).await.expect("ledger").len(),
        1,
        "only the grant"
    );
    // And the reservations were released: the whole dollar is still affordable.
    let (_, k, _) = app.call(Method::GET, "/api/v1/key", &key, None).await;
    assert_eq!(money(&k["data"]["usage"]), Money::ZERO);
}

#[tokio::test]
async fn cancelled_streams_are_billed_for_what_was_produced() {
    let app = spawn_app().await;
    let (key, _) = app.prepaid("quitter", "1", json!({"name": "k"})).await;
    let long = "word ".repeat(60);
    let mut r = app
        .http
        .post(app.url("/api/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "fake/claude", "stream": true, "messages": user(&format!("{long} #tokdelay:40"))}))
        .send()
        .await
        .expect("sent");
    let id = r
        .headers()
        .get("x-generation-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    for _ in 0..3 {
        let _ = r.chunk().await;
    }
    drop(r);
    let mut g = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        g = app.store.generation(&id).await.expect("read");
        if g.is_some() {
            break;
        }
    }
    let all = app.store.generation_count().await.expect("count");
    let abandoned = app.upstream.abandoned();
    let g = g.unwrap_or_else(|| {
        panic!(
            "the cancelled stream has its record (id {id}, {all} records, {abandoned} abandoned)"
        )
    });
    assert!(g.cancelled && g.streamed);
    assert!(g.cost_pico > 0 && g.tokens_completion > 0, "{g:?}");
    books_balance(&app).await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_headers() {
    let app = spawn_app().await;
    let (key, _) = app.prepaid("busy", "1", json!({"name": "k"})).await;
    set_rate_limits(&app, &key, Some(2), None).await;
    wait_for_fresh_minute().await;
    for _ in 0..2 {
        let (s, _) = app
            .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
            .await;
        assert_eq!(s, 200);
    }
    let (s, v, h) = app
        .call(
            Method::POST,
            "/api/v1/chat/completions",
            &key,
            Some(json!({"model": "fake/gpt", "messages": user("hi")})),
        )
        .await;
    assert_eq!(s, 429, "{v}");
    assert_eq!(v["error"]["metadata"]["error_type"], "rate_limit_exceeded");
    assert_eq!(
        h.get("x-ratelimit-limit").and_then(|v| v.to_str().ok()),
        Some("2")
    );
    let (s, v, _) = app
        .embed_at(
            "/api/v1",
            &key,
            json!({"model": "fake/embed", "input": "hi"}),
        )
        .await;
    assert_eq!(s, 429, "embeddings count against the same limit: {v}");
    assert_eq!(
        h.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()),
        Some("0")
    );
    assert!(h.get("x-ratelimit-reset").is_some() && h.get("retry-after").is_some());
}

#[tokio::test]
async fn admin_calls_need_the_admin_key_and_grants_apply_at_once() {
    let app = spawn_app().await;
    let (s, _, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/credits",
            KEY,
            Some(json!({"account": "default", "amount": 1})),
        )
        .await;
    assert_eq!(s, 401);
    let (key, _) = app.prepaid("topup", "0.00001", json!({"name": "k"})).await;
    let (s, _) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("hi"), "max_tokens": 1000}),
        )
        .await;
    assert_eq!(s, 402);
    let (s, v, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/credits",
            ADMIN_KEY,
            Some(json!({"account": "topup", "amount": "2.5", "note": "invoice 7"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(money(&v["data"]["balance"]).to_string(), "2.50001");
    let (s, _) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("hi"), "max_tokens": 1000}),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_disabled_key_stops_working_on_every_replica_within_a_second() {
    let app = spawn_app().await;
    let (key, mgmt) = app.prepaid("shared", "1", json!({"name": "k"})).await;
    let replica = spawn_replica(&app).await;
    let (s, _) = replica
        .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
        .await;
    assert_eq!(s, 200, "the replica knows the key");
    let hash = switchyard_server::auth::hash_hex(&key);
    let (s, _, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/keys/{hash}"),
            &mgmt,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, 200);
    let started = std::time::Instant::now();
    loop {
        let (s, _) = replica
            .chat_as(&key, json!({"model": "fake/gpt", "messages": user("hi")}))
            .await;
        if s == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still accepted after a second"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn tokens_per_minute_limit() {
    let app = spawn_app().await;
    let (key, _) = app.prepaid("chatty", "1", json!({"name": "k"})).await;
    set_rate_limits(&app, &key, None, Some(10)).await;
    wait_for_fresh_minute().await;
    let (s, v) = app.chat_as(&key, json!({"model": "fake/gpt", "messages": user("a question long enough to use more than ten tokens")})).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app
        .chat_as(
            &key,
            json!({"model": "fake/gpt", "messages": user("again")}),
        )
        .await;
    assert_eq!(s, 429, "the minute's tokens are spent: {v}");
}

#[tokio::test]
async fn money_in_account_responses_is_exact_decimal_text() {
    let app = spawn_app().await;
    let (key, mgmt) = app
        .prepaid(
            "exact",
            "0.0000081",
            json!({"name": "k", "limit": "0.1000001"}),
        )
        .await;
    let text = |path: &'static str, k: String| {
        let http = app.http.clone();
        let url = app.url(path);
        async move {
            http.get(url)
                .bearer_auth(k)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .unwrap_or_default()
        }
    };
    let credits = text("/api/v1/credits", mgmt).await;
    assert!(credits.contains("\"total_credits\":0.0000081"), "{credits}");
    let k = text("/api/v1/key", key).await;
    assert!(
        k.contains("\"limit\":0.1000001") && k.contains("\"usage\":0"),
        "{k}"
    );
}

/// Sets a key's per-minute limits the way the operator does (in the database) and waits for
/// the gateway's refresh to pick them up.
async fn set_rate_limits(app: &TestApp, key: &str, rpm: Option<i64>, tpm: Option<i64>) {
    let hash = switchyard_server::auth::hash_hex(key);
    let mut rec = app
        .store
        .keys()
        .await
        .expect("keys")
        .into_iter()
        .find(|k| k.hash == hash)
        .expect("key stored");
    rec.rpm = rpm;
    rec.tpm = tpm;
    rec.updated_at += 1;
    app.store.update_key(&rec).await.expect("update");
    tokio::time::sleep(Duration::from_millis(700)).await;
}

/// Per-minute windows are calendar minutes: start a short test well inside one.
async fn wait_for_fresh_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let into = now % 60.0;
    if into > 55.0 {
        tokio::time::sleep(Duration::from_secs_f64(60.5 - into)).await;
    }
}

/// A raw JSON body, so that number literals reach the gateway exactly as written.
async fn post_raw(app: &TestApp, path: &str, key: &str, body: &str) -> (u16, Value) {
    let r = app
        .http
        .post(app.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn money_fields_take_any_json_number_exactly() {
    let app = spawn_app().await;
    let (_, mgmt) = app.prepaid("expo", "1", json!({"name": "first"})).await;
    for (literal, exact) in [
        ("1e-07", "0.0000001"),
        ("1.5E+3", "1500"),
        ("2.5e-6", "0.0000025"),
        ("1E0", "1"),
    ] {
        let (s, v) = post_raw(
            &app,
            "/api/v1/keys",
            &mgmt,
            &format!(r#"{{"name": "k", "limit": {literal}}}"#),
        )
        .await;
        assert_eq!(s, 201, "{literal}: {v}");
        assert_eq!(money(&v["data"]["limit"]).to_string(), exact, "{literal}");
        let hash = v["data"]["hash"].as_str().unwrap_or_default().to_string();
        let r = app
            .http
            .patch(app.url(&format!("/api/v1/keys/{hash}")))
            .bearer_auth(&mgmt)
            .header("content-type", "application/json")
            .body(format!(r#"{{"limit": {literal}}}"#))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status().as_u16(), 200, "PATCH {literal}");
    }
    // Negative exponent forms in a grant: credits removed exactly.
    let (s, v) = post_raw(
        &app,
        "/api/v1/admin/credits",
        ADMIN_KEY,
        r#"{"account": "expo", "amount": -2e-1}"#,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(money(&v["data"]["amount"]).to_string(), "-0.2");
    assert_eq!(money(&v["data"]["balance"]).to_string(), "0.8");
    // Finer than a pico-dollar: refused with a reason, never rounded.
    let (s, v) = post_raw(
        &app,
        "/api/v1/keys",
        &mgmt,
        r#"{"name": "k", "limit": 1e-13}"#,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("limit") && msg.contains("exactly"),
        "the message names the field and the reason: {msg}"
    );
}
