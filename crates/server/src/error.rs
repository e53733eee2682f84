//! The one mapping from any failure to OpenRouter's error envelope and HTTP status.
//! Details of 5xx failures are logged, not sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;
use switchyard_api::error::{Availability, Constraint, ErrorBody, ErrorEnvelope};
use switchyard_providers::{ProviderError, TimeoutKind};
use switchyard_router::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    BadRequest(String),
    #[error("No auth credentials found")]
    MissingKey,
    #[error("Invalid API key")]
    InvalidKey,
    #[error("This endpoint needs a management key")]
    NeedsManagementKey,
    #[error("{0}")]
    PaymentRequired(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Rate limit exceeded: {limit} per minute for this key")]
    RateLimited {
        limit: i64,
        reset_ms: i64,
        retry_after_secs: u64,
    },
    #[error("Request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("Route not found")]
    NotFound,
    #[error("Method not allowed on this route")]
    MethodNotAllowed,
    #[error("{0}")]
    NotFoundMsg(String),
    /// Every endpoint tried failed; `provider` names the last one.
    #[error("{error}")]
    Provider {
        provider: String,
        error: ProviderError,
    },
    /// The gateway's own capacity (connections, open streams), not a provider's.
    #[error("{0}")]
    Overloaded(&'static str),
    #[error("The gateway is shutting down; retry the request")]
    ShuttingDown,
    /// The body did not arrive within `body_timeout_ms` plus its minimum-rate allowance.
    #[error("The request body was not received in time")]
    BodyTimeout,
    #[error("internal error: {0}")]
    Internal(String),
    /// The ledger cannot record charges (a full disk, a lost database): nothing billable is
    /// served until it can. The reason goes to the logs and `/health`, not to the client.
    #[error("billing unavailable: {0}")]
    BillingUnavailable(String),
    /// Redis, which holds the reservations shared by replicas, cannot be reached and this
    /// request cannot be admitted safely without it.
    #[error("admission unavailable: {0}")]
    AdmissionUnavailable(String),
    /// An availability failure (`cause`) with what the request asked for, which the error
    /// itself does not know: the whole model list and the providers concerned.
    #[error("{cause}")]
    Unavailable {
        cause: Box<GatewayError>,
        requested: Requested,
    },
}

/// The request's side of an availability failure, for `error.availability`.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// `model` and then `models`, as the client listed them.
    pub models: Vec<String>,
    /// The providers whose endpoints were excluded, down or failing.
    pub providers: Vec<String>,
}

/// Where `error.availability.docs_url` points: the gateway's own catalogue for an unknown
/// model, else the routing rules it follows (OpenRouter's, as its own messages cite them).
const MODELS_URL: &str = "/api/v1/models";
const ROUTING_DOCS_URL: &str = "https://openrouter.ai/docs/provider-routing";

impl GatewayError {
    /// The failure itself, under any context it was given.
    fn cause(&self) -> &GatewayError {
        match self {
            GatewayError::Unavailable { cause, .. } => cause.cause(),
            other => other,
        }
    }

    /// Adds what the request asked for to an availability failure; any other error is
    /// returned as it is.
    pub fn with_request(self, models: &[String], providers: Vec<String>) -> GatewayError {
        if self.availability_code().is_none() {
            return self;
        }
        GatewayError::Unavailable {
            cause: Box::new(self),
            requested: Requested {
                models: models.to_vec(),
                providers,
            },
        }
    }

    /// OpenRouter's availability code and whether the same request may succeed later, for
    /// failures to find or reach an endpoint; `None` for everything else (a provider that
    /// refused the request as malformed included).
    fn availability_code(&self) -> Option<(&'static str, bool)> {
        Some(match self.cause() {
            GatewayError::Plan(PlanError::UnknownModel(_)) => ("model_not_found", false),
            GatewayError::Plan(PlanError::NoEndpoints { missing, .. })
                if missing.iter().all(|m| m == "provider_preferences") =>
            {
                ("constraint_filtered", false)
            }
            GatewayError::Plan(PlanError::NoEndpoints { .. } | PlanError::NoProvider(_)) => {
                ("no_endpoints", false)
            }
            GatewayError::Plan(PlanError::AllDown { .. }) => ("temporarily_unavailable", true),
            GatewayError::Provider { error, .. } if !error.is_client_fault() => match error {
                ProviderError::Status { status: 429, .. } => ("capacity_exhausted", true),
                _ => ("temporarily_unavailable", true),
            },
            _ => return None,
        })
    }

    fn availability(&self) -> Option<Availability> {
        let (code, retryable) = self.availability_code()?;
        let requested = match self {
            GatewayError::Unavailable { requested, .. } => requested.clone(),
            _ => Requested::default(),
        };
        let mut a = Availability {
            code: code.to_string(),
            retryable,
            retry_after: self.retry_after().map(retry_after_secs),
            requested_models: requested.models,
            docs_url: ROUTING_DOCS_URL.to_string(),
            ..Default::default()
        };
        let mut providers = requested.providers;
        match self.cause() {
            GatewayError::Plan(
                PlanError::UnknownModel(m)
                | PlanError::NoProvider(m)
                | PlanError::AllDown { model: m, .. },
            ) if a.requested_models.is_empty() => a.requested_models.push(m.clone()),
            GatewayError::Plan(PlanError::NoEndpoints { message, missing }) => {
                a.excluded_by = Some(missing.clone());
                if let [one] = missing.as_slice() {
                    a.constraint = Some(Constraint {
                        field: constraint_field(one).to_string(),
                        detail: message.clone(),
                    });
                }
            }
            GatewayError::Provider { provider, .. } if providers.is_empty() => {
                providers.push(provider.clone())
            }
            _ => {}
        }
        if code == "model_not_found" {
            a.docs_url = MODELS_URL.to_string();
        }
        a.affected_providers = (!providers.is_empty()).then_some(providers);
        Some(a)
    }

    pub fn status(&self) -> StatusCode {
        match self.cause() {
            GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::MissingKey
            | GatewayError::InvalidKey
            | GatewayError::NeedsManagementKey => StatusCode::UNAUTHORIZED,
            GatewayError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::Plan(
                PlanError::MissingModel | PlanError::NotForChat(_) | PlanError::NotForEmbeddings(_),
            ) => StatusCode::BAD_REQUEST,
            GatewayError::Plan(PlanError::UnknownModel(_)) => StatusCode::NOT_FOUND,
            GatewayError::Plan(PlanError::NoProvider(_)) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Plan(PlanError::NoEndpoints { .. }) => StatusCode::NOT_FOUND,
            GatewayError::Plan(PlanError::AllDown { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::NotFound | GatewayError::NotFoundMsg(_) => StatusCode::NOT_FOUND,
            GatewayError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::Provider { error, .. } => provider_status(error),
            GatewayError::Overloaded(_) | GatewayError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            GatewayError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::BillingUnavailable(_) | GatewayError::AdmissionUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            GatewayError::Unavailable { cause, .. } => cause.status(),
        }
    }

    /// The gateway's own refusals that OpenRouter's `error_type` list has no word for, in
    /// `metadata.reason` beside it.
    fn reason(&self) -> Option<&'static str> {
        match self.cause() {
            GatewayError::Overloaded(_) => Some("gateway_overloaded"),
            GatewayError::ShuttingDown => Some("gateway_shutting_down"),
            GatewayError::BillingUnavailable(_) => Some("billing_unavailable"),
            GatewayError::AdmissionUnavailable(_) => Some("admission_unavailable"),
            _ => None,
        }
    }

    /// OpenRouter's typed `error_type`, always one of the spec's `ApiErrorType` values: a
    /// stream's error chunk must carry one of them.
    fn error_type(&self) -> &'static str {
        // 503 otherwise means a provider's overload; these are the gateway's own.
        if self.reason().is_some() {
            return "server";
        }
        match self.status().as_u16() {
            400 => "invalid_request",
            401 => "authentication",
            402 => "payment_required",
            403 => "permission_denied",
            404 => "not_found",
            // Not one of the spec's ApiErrorType values of its own: a wrong method is a bad
            // request.
            405 => "invalid_request",
            408 => "timeout",
            413 => "payload_too_large",
            422 => "unprocessable",
            429 => "rate_limit_exceeded",
            502 => "provider_unavailable",
            503 => "provider_overloaded",
            504 => "timeout",
            _ => "server",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self.cause() {
            GatewayError::Plan(PlanError::AllDown {
                retry_after_secs, ..
            }) => Some(Duration::from_secs(*retry_after_secs)),
            GatewayError::BillingUnavailable(_) | GatewayError::AdmissionUnavailable(_) => {
                Some(Duration::from_secs(1))
            }
            GatewayError::RateLimited {
                retry_after_secs, ..
            } => Some(Duration::from_secs(*retry_after_secs)),
            GatewayError::Provider {
                error: ProviderError::Status { retry_after, .. },
                ..
            } => *retry_after,
            GatewayError::Overloaded(_) | GatewayError::ShuttingDown => {
                Some(Duration::from_secs(1))
            }
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let status = self.status();
        let mut metadata = json!({"error_type": self.error_type()});
        if let Some(reason) = self.reason() {
            metadata["reason"] = json!(reason);
        }
        let message = match self.cause() {
            GatewayError::Provider { provider, error } => {
                metadata["provider_name"] = json!(provider);
                if let ProviderError::Status { body, status, .. } = error {
                    metadata["raw"] = json!(prefix(body, MAX_RAW_BYTES));
                    // A string in the spec (providers' own codes are not all numbers).
                    metadata["provider_code"] = json!(status.to_string());
                }
                match error {
                    ProviderError::Timeout(_) => {
                        "Request timed out waiting for the provider".to_string()
                    }
                    ProviderError::Unsupported(m) => m.clone(),
                    // The provider's own words help the client fix its request; 5xx details
                    // stay in `metadata.raw` and the logs.
                    ProviderError::Status { status, body, .. } if *status < 500 => {
                        match switchyard_providers::error::error_message(body) {
                            Some(m) => format!("Provider returned error: {m}"),
                            None => "Provider returned error".to_string(),
                        }
                    }
                    _ => "Provider returned error".to_string(),
                }
            }
            GatewayError::Internal(_) => "Internal server error".to_string(),
            GatewayError::BillingUnavailable(_) => "Billing is temporarily unavailable, so no billable request can be accepted. Try again shortly.".to_string(),
            GatewayError::AdmissionUnavailable(_) => "The gateway cannot check this request against your balance right now. Try again shortly.".to_string(),
            GatewayError::Plan(PlanError::NoEndpoints { message, missing }) => {
                metadata["missing"] = json!(missing);
                format!("{message} To learn more about provider routing, see the README's \"Routing\" section.")
            }
            other => other.to_string(),
        };
        ErrorBody {
            code: status.as_u16(),
            message,
            metadata: Some(metadata),
            availability: self.availability(),
        }
    }
}

/// The request field a constraint names, from what no endpoint offers.
fn constraint_field(missing: &str) -> &str {
    match missing {
        "image" | "file" => "messages",
        "provider_preferences" => "provider",
        "structured_outputs" => "response_format",
        other => other,
    }
}

/// How much of an upstream's error body `metadata.raw` carries: enough to read the provider's
/// complaint, not a page of HTML. (The body is already scrubbed of credentials by the client.)
const MAX_RAW_BYTES: usize = 1024;

/// At most `max` bytes of `s`, cut on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}

fn provider_status(error: &ProviderError) -> StatusCode {
    match error {
        ProviderError::Timeout(TimeoutKind::Connect) => StatusCode::BAD_GATEWAY,
        ProviderError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        ProviderError::Unsupported(_) => StatusCode::BAD_REQUEST,
        // The client's own mistakes, as the provider judged them, keep their status.
        ProviderError::Status { status, .. } if matches!(status, 400 | 413 | 422 | 429) => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
        }
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        self.respond_as(|body| {
            serde_json::to_value(ErrorEnvelope { error: body }).unwrap_or_default()
        })
    }
}

impl GatewayError {
    /// The error as a response whose body is in a dialect's own shape (`shape` turns the
    /// OpenRouter error body into it); status, logging, `Retry-After` and the rate-limit
    /// headers are the same for every dialect.
    pub fn respond_as(self, shape: impl FnOnce(ErrorBody) -> serde_json::Value) -> Response {
        let status = self.status();
        // Shedding load is expected under load: one warning per refused request would add
        // to it.
        let shed = matches!(
            self,
            GatewayError::Overloaded(_) | GatewayError::ShuttingDown
        );
        if status.is_server_error() && !shed {
            tracing::warn!(error = %self, ?status, "request failed");
        }
        let mut resp = (status, axum::Json(shape(self.body()))).into_response();
        if let GatewayError::RateLimited {
            limit, reset_ms, ..
        } = &self
        {
            let h = resp.headers_mut();
            for (name, value) in [
                ("x-ratelimit-limit", limit.to_string()),
                ("x-ratelimit-remaining", "0".to_string()),
                ("x-ratelimit-reset", reset_ms.to_string()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(name, v);
                }
            }
        }
        // The rest of a body cut short cannot be told from the next request on the connection.
        if matches!(
            self,
            GatewayError::BodyTimeout | GatewayError::PayloadTooLarge(_)
        ) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(ra) = self.retry_after() {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs(ra).to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp
    }
}

/// Whole seconds for the `Retry-After` header: rounded up (a client retrying on the dot of a
/// truncated value would be early), at least 1, at most the providers' clamp.
fn retry_after_secs(ra: Duration) -> u64 {
    let ra = ra.min(switchyard_providers::error::MAX_RETRY_AFTER);
    ra.as_secs()
        .saturating_add(u64::from(ra.subsec_nanos() > 0))
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(e: GatewayError) -> Option<String> {
        e.into_response()
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    fn limited(retry_after: Duration) -> GatewayError {
        GatewayError::Provider {
            provider: "p".into(),
            error: ProviderError::Status {
                status: 429,
                body: String::new(),
                retry_after: Some(retry_after),
            },
        }
    }

    #[test]
    fn metadata_raw_is_bounded_on_a_char_boundary() {
        let body = format!("{}{}", "a".repeat(1023), "é".repeat(2000));
        let err = GatewayError::Provider {
            provider: "p".into(),
            error: ProviderError::Status {
                status: 502,
                body,
                retry_after: None,
            },
        };
        let raw = err.body().metadata.unwrap_or_default()["raw"].clone();
        assert_eq!(raw.as_str().map(str::len), Some(1023), "{raw}");
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("héllo", 3), "hé");
        assert_eq!(prefix("", 3), "");
    }

    #[test]
    fn error_types_are_the_spec_s() {
        // `ApiErrorType` in OpenRouter's OpenAPI document: a stream's error chunk must carry
        // one of these (the conformance suite checks the responses it can provoke).
        const API_ERROR_TYPES: &[&str] = &[
            "context_length_exceeded",
            "max_tokens_exceeded",
            "token_limit_exceeded",
            "string_too_long",
            "authentication",
            "permission_denied",
            "payment_required",
            "rate_limit_exceeded",
            "provider_overloaded",
            "provider_unavailable",
            "invalid_request",
            "invalid_prompt",
            "not_found",
            "precondition_failed",
            "payload_too_large",
            "unprocessable",
            "content_policy_violation",
            "refusal",
            "server",
            "timeout",
            "unmapped",
        ];
        let all = [
            GatewayError::BadRequest("x".into()),
            GatewayError::MissingKey,
            GatewayError::InvalidKey,
            GatewayError::NeedsManagementKey,
            GatewayError::PaymentRequired("x".into()),
            GatewayError::Forbidden("x".into()),
            GatewayError::RateLimited {
                limit: 1,
                reset_ms: 0,
                retry_after_secs: 1,
            },
            GatewayError::PayloadTooLarge(1),
            GatewayError::Plan(PlanError::MissingModel),
            GatewayError::Plan(PlanError::UnknownModel("m".into())),
            GatewayError::Plan(PlanError::NoProvider("m".into())),
            GatewayError::Plan(PlanError::AllDown {
                model: "m".into(),
                retry_after_secs: 1,
            }),
            GatewayError::NotFound,
            limited(Duration::from_secs(1)),
            GatewayError::Provider {
                provider: "p".into(),
                error: ProviderError::Timeout(TimeoutKind::FirstByte),
            },
            GatewayError::Overloaded("x"),
            GatewayError::ShuttingDown,
            GatewayError::BodyTimeout,
            GatewayError::Internal("x".into()),
            GatewayError::BillingUnavailable("x".into()),
            GatewayError::AdmissionUnavailable("x".into()),
        ];
        for e in all {
            let t = e.error_type();
            assert!(API_ERROR_TYPES.contains(&t), "{e:?}: {t}");
        }
        let body = GatewayError::ShuttingDown.body();
        assert_eq!(
            body.metadata.unwrap_or_default()["reason"],
            "gateway_shutting_down"
        );
    }

    #[test]
    fn retry_after_header_is_rounded_up_and_clamped() {
        assert_eq!(header(limited(Duration::ZERO)).as_deref(), Some("1"));
        assert_eq!(
            header(limited(Duration::from_millis(1500))).as_deref(),
            Some("2")
        );
        assert_eq!(
            header(limited(Duration::from_secs(7))).as_deref(),
            Some("7")
        );
        for huge in [Duration::from_secs(u64::MAX), Duration::MAX] {
            assert_eq!(header(limited(huge)).as_deref(), Some("3600"));
        }
        let rate_limited = GatewayError::RateLimited {
            limit: 1,
            reset_ms: 0,
            retry_after_secs: u64::MAX,
        };
        assert_eq!(header(rate_limited).as_deref(), Some("3600"));
    }
}
