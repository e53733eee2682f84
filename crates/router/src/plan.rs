//! From a request to the ordered list of endpoints to try. For now: the requested model's
//! active endpoints in catalogue order, then those of each `models` fallback in turn. Routing
//! policy (price, latency, health, provider preferences) plugs in here.

use crate::catalog::{Catalog, Endpoint};
use std::sync::Arc;
use switchyard_api::chat::ChatRequest;

#[derive(Debug, Clone)]
pub struct Plan {
    /// What the client asked for (first of `model` / `models`).
    pub requested: String,
    pub endpoints: Vec<Arc<Endpoint>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("`model` is required (or a non-empty `models` list)")]
    MissingModel,
    #[error("`{0}` is not a valid model ID")]
    UnknownModel(String),
    #[error("no provider is available for model `{0}`: set the API key of one of its providers")]
    NoProvider(String),
}

/// `openai/gpt-4o:nitro` → `openai/gpt-4o`. Variants only change routing, not the model.
fn base_slug(id: &str) -> &str {
    id.split_once(':').map(|(b, _)| b).unwrap_or(id)
}

pub fn plan(catalog: &Catalog, req: &ChatRequest) -> Result<Plan, PlanError> {
    let mut wanted: Vec<&str> = Vec::new();
    for id in req.model.iter().chain(req.models.iter().flatten()) {
        let id = base_slug(id.trim());
        if !id.is_empty() && !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    let requested = wanted.first().ok_or(PlanError::MissingModel)?.to_string();
    let mut endpoints = Vec::new();
    for id in wanted {
        let model = catalog.model(id).ok_or_else(|| {
            if catalog.is_inactive(id) {
                PlanError::NoProvider(id.to_string())
            } else {
                PlanError::UnknownModel(id.to_string())
            }
        })?;
        endpoints.extend(model.endpoints.iter().cloned());
    }
    Ok(Plan {
        requested,
        endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CatalogConfig;
    use switchyard_api::chat::parse_chat_request;

    const CAT: &str = r#"
        [[providers]]
        slug = "a"
        name = "A"
        protocol = "simulated"
        [[providers]]
        slug = "b"
        name = "B"
        protocol = "simulated"
        [[models]]
        id = "x/one"
        name = "One"
        context_length = 1000
        endpoints = [
          { provider = "a", upstream_id = "one", prompt = "0.000001", completion = "0.000002" },
          { provider = "b", upstream_id = "one-b", prompt = "0.000001", completion = "0.000002" },
        ]
        [[models]]
        id = "x/two"
        name = "Two"
        context_length = 1000
        endpoints = [{ provider = "b", upstream_id = "two", prompt = "0", completion = "0" }]
    "#;

    fn catalog() -> Catalog {
        Catalog::build(&CatalogConfig::from_toml(CAT).expect("parses"), &|_| None).expect("valid")
    }

    fn order(body: &str) -> Result<Vec<String>, PlanError> {
        let req = parse_chat_request(body.as_bytes()).expect("valid");
        plan(&catalog(), &req).map(|p| p.endpoints.iter().map(|e| e.upstream_id.clone()).collect())
    }

    #[test]
    fn endpoints_then_fallback_models_in_order() {
        let m = r#""messages":[{"role":"user","content":"hi"}]"#;
        assert_eq!(
            order(&format!(r#"{{"model":"x/one",{m}}}"#)),
            Ok(vec!["one".into(), "one-b".into()])
        );
        assert_eq!(
            order(&format!(
                r#"{{"model":"x/two:nitro","models":["x/one","x/two"],{m}}}"#
            )),
            Ok(vec!["two".into(), "one".into(), "one-b".into()])
        );
        assert_eq!(
            order(&format!(r#"{{"models":["x/two"],{m}}}"#)),
            Ok(vec!["two".into()])
        );
        assert_eq!(
            order(&format!(r#"{{"model":"x/nope",{m}}}"#)),
            Err(PlanError::UnknownModel("x/nope".into()))
        );
        assert_eq!(order(&format!(r#"{{{m}}}"#)), Err(PlanError::MissingModel));
    }
}
