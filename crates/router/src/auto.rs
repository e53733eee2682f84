//! The auto router: `switchyard/auto` (alias `openrouter/auto`) picks a model per request.
//!
//! Policy, deterministic (the same request always gets the same model):
//! 1. Candidates: the operator's `routing.auto.models` (default: every active model), narrowed
//!    by the request's `auto-router` plugin `allowed_models` (`author/*` globs allowed).
//! 2. Needs: a candidate must accept the request's images / files, have tools and response
//!    format support when the request uses them, fit prompt + `max_tokens` in its context,
//!    and cost no more than `routing.auto.max_price` (USD per million prompt + completion).
//! 3. Difficulty: a score in [0, 1] from the last user message and the conversation — length,
//!    code, mathematics, reasoning vocabulary, several questions, tools or a schema, long
//!    conversations; greetings and chit-chat score low.
//! 4. Choice: below `routing.auto.threshold` (default 0.25) the cheapest candidate, otherwise
//!    the dearest one (price standing for strength within the operator's list).

use crate::catalog::{Catalog, ModelEntry};
use crate::plan::{Needs, PlanError};
use std::sync::Arc;
use switchyard_api::chat::{ChatRequest, Role};
use switchyard_api::Money;

pub const AUTO_MODELS: &[&str] = &["switchyard/auto", "openrouter/auto"];

/// Any one signal of real work (code, mathematics, reasoning) reaches it; length, tools or
/// a long conversation alone do not.
pub const DEFAULT_THRESHOLD: f64 = 0.25;

pub fn is_auto(model: &str) -> bool {
    let base = model.split(':').next().unwrap_or(model);
    AUTO_MODELS.contains(&base)
}

#[derive(Debug, Clone, PartialEq)]
pub struct AutoPolicy {
    /// Allowed models; empty means every active model.
    pub models: Vec<String>,
    /// Ceiling on prompt + completion price, USD per million tokens.
    pub max_price: Option<Money>,
    pub threshold: f64,
}

impl Default for AutoPolicy {
    fn default() -> Self {
        AutoPolicy {
            models: vec![],
            max_price: None,
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Difficulty {
    pub score: f64,
    /// Which features contributed, for `openrouter_metadata`.
    pub signals: Vec<&'static str>,
}

const CODE: &[&str] = &[
    "```",
    "def ",
    "fn ",
    "function ",
    "class ",
    "#include",
    "import ",
    "select ",
    "console.",
    "println",
    "=>",
    "();",
    "stack trace",
    "traceback",
    "segfault",
    "compile",
];
const MATH: &[&str] = &[
    "prove",
    "integral",
    "derivative",
    "equation",
    "solve",
    "probability",
    "calculate",
    "how many",
    "how much",
    "theorem",
    "matrix",
    "percent",
    "%",
    "sum of",
    "ratio",
];
const REASONING: &[&str] = &[
    "step by step",
    "explain why",
    "analyze",
    "analyse",
    "compare",
    "design",
    "architecture",
    "optimize",
    "optimise",
    "debug",
    "trade-off",
    "tradeoff",
    "evaluate",
    "critique",
    "plan ",
    "strategy",
    "justify",
    "implications",
];
const SIMPLE: &[&str] = &[
    "hello",
    "hi",
    "hey",
    "thanks",
    "thank you",
    "good morning",
    "what time",
    "who are you",
];

fn any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// How hard the request looks. Pure and deterministic.
pub fn difficulty(req: &ChatRequest) -> Difficulty {
    let last = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.text_content())
        .unwrap_or_default();
    let text = last.to_lowercase();
    let tokens = (text.chars().count() as f64 / 4.0).max(1.0);
    let mut score = 0.0;
    let mut signals = Vec::new();
    // Length: nothing at 20 tokens, the full 0.25 at 2,000.
    let length = ((tokens.ln() - 20f64.ln()) / (2000f64.ln() - 20f64.ln())).clamp(0.0, 1.0) * 0.25;
    if length > 0.05 {
        signals.push("long prompt");
    }
    score += length;
    let digits = text.chars().filter(|c| c.is_ascii_digit()).count() as f64;
    let mut add = |on: bool, w: f64, why: &'static str| {
        if on {
            score += w;
            signals.push(why);
        }
    };
    add(any(&text, CODE), 0.3, "code");
    add(
        any(&text, MATH) || digits / tokens > 0.3,
        0.25,
        "mathematics",
    );
    add(any(&text, REASONING), 0.25, "reasoning");
    add(text.matches('?').count() >= 2, 0.05, "several questions");
    add(
        req.tools.as_ref().is_some_and(|t| !t.is_empty()) || req.response_format.is_some(),
        0.1,
        "tools or schema",
    );
    add(
        req.messages.iter().filter(|m| m.role == Role::User).count() >= 3,
        0.05,
        "long conversation",
    );
    let trimmed = text.trim().trim_end_matches(['!', '.', '?']);
    if tokens < 12.0
        && SIMPLE
            .iter()
            .any(|w| trimmed == *w || trimmed.starts_with(&format!("{w} ")))
    {
        score -= 0.2;
        signals.push("chit-chat");
    }
    Difficulty {
        score: score.clamp(0.0, 1.0),
        signals,
    }
}

fn glob(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => pattern == id,
    }
}

/// The request's `plugins: [{"id": "auto-router", "allowed_models": [...]}]`.
fn allowed_by_plugin(req: &ChatRequest) -> Option<Vec<String>> {
    let plugins = req.plugins.as_ref()?.as_array()?;
    let p = plugins
        .iter()
        .find(|p| p.get("id").and_then(|v| v.as_str()) == Some("auto-router"))?;
    let list = p.get("allowed_models")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
    )
}

#[derive(Debug, Clone)]
pub struct AutoChoice {
    pub model: Arc<ModelEntry>,
    pub difficulty: Difficulty,
    /// Candidates that met the request's needs, cheapest first.
    pub candidates: Vec<String>,
}

fn fits(m: &ModelEntry, needs: &Needs, prompt_tokens: u64, policy: &AutoPolicy) -> bool {
    let has = |modality: &str| m.input_modalities.iter().any(|x| x == modality);
    if (needs.image_input && !has("image")) || (needs.file_input && !has("file")) {
        return false;
    }
    if prompt_tokens + u64::from(needs.max_tokens.unwrap_or(0)) > m.context_length {
        return false;
    }
    m.endpoints.iter().any(|e| {
        needs.preferred.iter().all(|p| {
            e.supports(p)
                || (p.contains("format") || *p == "structured_outputs")
                    && e.supports("response_format")
        }) && policy
            .max_price
            .is_none_or(|max| e.unit_price().times(1_000_000) <= max)
    })
}

fn cheapest(m: &ModelEntry) -> Money {
    m.endpoints
        .iter()
        .map(|e| e.unit_price())
        .min()
        .unwrap_or_default()
}

pub fn choose(
    catalog: &Catalog,
    req: &ChatRequest,
    policy: &AutoPolicy,
) -> Result<AutoChoice, PlanError> {
    let needs = Needs::of(req);
    let prompt_tokens: u64 = req
        .messages
        .iter()
        .map(|m| (m.text_content().len() as u64).div_ceil(4))
        .sum();
    let plugin = allowed_by_plugin(req);
    let mut candidates: Vec<&Arc<ModelEntry>> = catalog
        .models()
        .iter()
        .filter(|m| !is_auto(&m.id) && !m.is_embedding())
        .filter(|m| policy.models.is_empty() || policy.models.iter().any(|p| glob(p, &m.id)))
        .filter(|m| {
            plugin
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|p| glob(p, &m.id)))
        })
        .filter(|m| fits(m, &needs, prompt_tokens, policy))
        .collect();
    candidates.sort_by(|a, b| cheapest(a).cmp(&cheapest(b)).then_with(|| a.id.cmp(&b.id)));
    let d = difficulty(req);
    let pick = if d.score < policy.threshold {
        candidates.first()
    } else {
        candidates.last()
    };
    let model = pick
        .map(|m| (*m).clone())
        .ok_or_else(|| PlanError::NoEndpoints {
            message: "No model available to the auto router supports this request.".into(),
            missing: vec!["auto".into()],
        })?;
    Ok(AutoChoice {
        model,
        difficulty: d,
        candidates: candidates.iter().map(|m| m.id.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CatalogConfig;
    use switchyard_api::chat::parse_chat_request;

    const CAT: &str = r#"
        [[providers]]
        slug = "p"
        name = "P"
        protocol = "simulated"
        [[models]]
        id = "x/small"
        name = "Small"
        context_length = 8000
        endpoints = [{ provider = "p", upstream_id = "s", prompt = "0.0000001", completion = "0.0000002", supported_parameters = ["max_tokens"] }]
        [[models]]
        id = "x/medium"
        name = "Medium"
        context_length = 32000
        endpoints = [{ provider = "p", upstream_id = "m", prompt = "0.000001", completion = "0.000002" }]
        [[models]]
        id = "x/large"
        name = "Large"
        context_length = 200000
        input_modalities = ["text", "image"]
        endpoints = [{ provider = "p", upstream_id = "l", prompt = "0.00001", completion = "0.00003" }]
    "#;

    fn pick(body: &str, policy: &AutoPolicy) -> Result<String, PlanError> {
        let cat = Catalog::build(&CatalogConfig::from_toml(CAT).expect("parses"), &|_| None)
            .expect("valid");
        let req = parse_chat_request(body.as_bytes()).expect("valid");
        choose(&cat, &req, policy).map(|c| c.model.id.clone())
    }

    fn ask(text: &str) -> String {
        serde_json::json!({"model": "switchyard/auto", "messages": [{"role": "user", "content": text}]}).to_string()
    }

    #[test]
    fn easy_goes_cheap_and_hard_goes_strong() {
        let p = AutoPolicy::default();
        assert_eq!(pick(&ask("hello!"), &p), Ok("x/small".into()));
        assert_eq!(
            pick(&ask("What is the capital of France?"), &p),
            Ok("x/small".into())
        );
        let hard = "Analyze this function step by step and explain why it deadlocks:\n```rust\nfn main() { let m = Mutex::new(0); }\n```";
        assert_eq!(pick(&ask(hard), &p), Ok("x/large".into()));
        assert_eq!(pick(&ask(hard), &p), pick(&ask(hard), &p), "deterministic");
    }

    #[test]
    fn needs_and_operator_limits_narrow_the_candidates() {
        let p = AutoPolicy::default();
        let img = r#"{"model":"openrouter/auto","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#;
        assert_eq!(
            pick(img, &p),
            Ok("x/large".into()),
            "only one model takes images"
        );
        let tools = r#"{"model":"switchyard/auto","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#;
        assert_eq!(
            pick(tools, &p),
            Ok("x/medium".into()),
            "the small model lacks tool support"
        );
        let capped = AutoPolicy {
            max_price: Money::parse("5").ok(),
            ..Default::default()
        };
        let hard =
            ask("Prove step by step that the sum of two even numbers is even, and design a test.");
        assert_eq!(
            pick(&hard, &capped),
            Ok("x/medium".into()),
            "the ceiling keeps the dearest out"
        );
        let listed = AutoPolicy {
            models: vec!["x/small".into(), "x/medium".into()],
            ..Default::default()
        };
        assert_eq!(pick(&hard, &listed), Ok("x/medium".into()));
        let plugin = r#"{"model":"switchyard/auto","messages":[{"role":"user","content":"Prove step by step that 2+2=4 and analyze why."}],
            "plugins":[{"id":"auto-router","allowed_models":["x/s*"]}]}"#;
        assert_eq!(pick(plugin, &p), Ok("x/small".into()));
    }

    #[test]
    fn difficulty_signals_are_explained() {
        let req = parse_chat_request(
            ask("Solve: how many ways can 5 people sit? Explain why, step by step.").as_bytes(),
        )
        .expect("valid");
        let d = difficulty(&req);
        assert!(
            d.signals.contains(&"mathematics") && d.signals.contains(&"reasoning"),
            "{d:?}"
        );
        assert!(d.score >= 0.5);
    }
}
