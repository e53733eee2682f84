//! OpenRouter's error envelope: `{"error":{"code","message","metadata","availability"}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub code: u16,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Only on availability failures: why no endpoint could serve the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Availability>,
}

/// `error.availability`, which OpenRouter's errors carry since 2026-08 when a model cannot be
/// served. The OpenAPI document (components `*ResponseErrorData`) does not describe it yet:
/// its `error` objects allow further members, and this follows the shape OpenRouter's error
/// documentation gives (`code`, `retryable`, `retry_after`, `requested_models`,
/// `affected_providers`, `excluded_by`, `fallback_models`, `constraint`, `docs_url`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Availability {
    /// `model_not_found`, `no_endpoints`, `constraint_filtered`, `capacity_exhausted`,
    /// `temporarily_unavailable`, …
    pub code: String,
    /// Whether the same request may succeed later unchanged.
    pub retryable: bool,
    /// Seconds, when the gateway knows how long to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    pub requested_models: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected_providers: Option<Vec<String>>,
    /// What excluded every endpoint: request parameters or `provider_preferences`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_by: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<Constraint>,
    pub docs_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Constraint {
    pub field: String,
    pub detail: String,
}
