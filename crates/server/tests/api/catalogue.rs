use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn models_list_in_openrouter_shape() {
    let app = spawn_app().await;
    for prefix in ["/api/v1", "/v1"] {
        let v: Value = app.get_json(&format!("{prefix}/models")).await;
        let data = v["data"].as_array().cloned().unwrap_or_default();
        let ids: Vec<_> = data.iter().filter_map(|m| m["id"].as_str()).collect();
        assert!(
            ids.contains(&"fake/claude") && !ids.contains(&"fake/keyless"),
            "{ids:?}"
        );
        let claude = data
            .iter()
            .find(|m| m["id"] == "fake/claude")
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(
            claude["pricing"]["prompt"], "0.000003",
            "prices are per-token decimal strings"
        );
        assert_eq!(claude["pricing"]["completion"], "0.000015");
        assert_eq!(claude["pricing"]["input_cache_read"], "0.0000003");
        assert_eq!(claude["context_length"], 200000);
        assert_eq!(claude["canonical_slug"], "fake/claude");
        assert_eq!(claude["architecture"]["modality"], "text->text");
        assert!(claude["supported_parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x == "tools")));
        assert!(
            claude["top_provider"].is_object()
                && claude["created"].is_u64()
                && claude["description"].is_string()
        );
    }
}

#[tokio::test]
async fn model_endpoints_in_openrouter_shape() {
    let app = spawn_app().await;
    let v: Value = app.get_json("/api/v1/models/fake/fallback/endpoints").await;
    let eps = v["data"]["endpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(v["data"]["id"], "fake/fallback");
    assert_eq!(eps.len(), 2);
    assert_eq!(eps[0]["provider_name"], "Dead Provider");
    assert_eq!(eps[1]["tag"], "fake-anthropic");
    assert_eq!(eps[1]["pricing"]["prompt"], "0.000003");
    for key in [
        "context_length",
        "max_prompt_tokens",
        "supported_parameters",
        "status",
        "uptime_last_30m",
        "latency_last_30m",
    ] {
        assert!(eps[0].get(key).is_some(), "{key}");
    }
    let r = app
        .http
        .get(app.url("/api/v1/models/no/such/endpoints"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn health_and_request_ids() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );
}
