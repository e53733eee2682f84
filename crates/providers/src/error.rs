use std::time::{Duration, SystemTime};

/// The longest `Retry-After` honoured. An upstream asking for more (or for an absurd `1e20`
/// seconds) is kept back this long and then tried again: one probe an hour costs nothing, while
/// trusting the number would retire a provider for good over one bad header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Connect,
    FirstByte,
    BetweenChunks,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first byte",
            TimeoutKind::BetweenChunks => "between chunks",
        })
    }
}

/// A failed call to one upstream. The classification decides both the client's status code and
/// whether the router may try another endpoint.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("could not connect to the provider: {0}")]
    Connect(String),
    #[error("the provider timed out ({0})")]
    Timeout(TimeoutKind),
    #[error("the provider answered HTTP {status}")]
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("the provider reported an error mid-stream: {message}")]
    StreamError { kind: String, message: String },
    #[error("the provider's response could not be decoded: {0}")]
    Decode(String),
    #[error("the provider's stream ended before the response was complete")]
    Truncated,
    #[error("{0}")]
    Unsupported(String),
}

impl ProviderError {
    /// May another endpoint be tried? Yes unless the request itself is at fault: an upstream
    /// 401/403/404 means our key or model mapping is wrong there, not the client's request.
    pub fn is_retryable(&self) -> bool {
        !self.is_client_fault()
    }

    /// Whether the provider judged the request itself invalid (400, 413, 422), or it cannot be
    /// expressed in the provider's protocol at all.
    pub fn is_client_fault(&self) -> bool {
        match self {
            ProviderError::Status { status, .. } => matches!(status, 400 | 413 | 422),
            ProviderError::Unsupported(_) => true,
            _ => false,
        }
    }

    pub fn decode(e: impl std::fmt::Display) -> ProviderError {
        ProviderError::Decode(e.to_string())
    }
}

/// Parses `Retry-After`: delay-seconds (fractions accepted, as some providers send them) or an
/// HTTP-date. Clamped to [`MAX_RETRY_AFTER`]; a date in the past means no wait.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    parse_retry_after_at(value?, SystemTime::now())
}

fn parse_retry_after_at(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Some(d) = parse_seconds(value) {
        return Some(d);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// A non-negative number of seconds, clamped to [`MAX_RETRY_AFTER`]. `Duration::from_secs_f64`
/// panics beyond about 1.8e19 s, so the clamp comes first.
fn parse_seconds(value: &str) -> Option<Duration> {
    let secs = value.trim().parse::<f64>().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_RETRY_AFTER)
            .min(MAX_RETRY_AFTER),
    )
}

/// The human-readable message in a provider's error body: OpenAI's and Google's
/// `{"error":{"message"}}`, Anthropic's `{"type":"error","error":{"message"}}`.
pub fn error_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let err = v.get("error")?;
    err.get("message")
        .and_then(|m| m.as_str())
        .or_else(|| err.as_str())
        .map(str::to_string)
}

/// Google puts the retry delay in the body (`google.rpc.RetryInfo`, e.g. `"34.4s"`).
pub fn retry_after_from_body(body: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.pointer("/error/details")?
        .as_array()?
        .iter()
        .find_map(|d| d.get("retryDelay")?.as_str())
        .and_then(|s| parse_seconds(s.strip_suffix('s')?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::cassette;

    #[test]
    fn reads_every_recorded_error_body() {
        let openai_quota = include_str!("../fixtures/openai__openai-error.1.json");
        assert!(error_message(openai_quota)
            .is_some_and(|m| m.starts_with("You exceeded your current quota")));
        let legacy =
            include_str!("../fixtures/openai__reasoning-model-legacy-parameter-error.json");
        assert!(error_message(legacy).is_some_and(|m| m.contains("max_completion_tokens")));
        for name in ["chat-bad-request", "chat-no-messages", "chat-unknown-model"] {
            let body = cassette(name).response_body;
            assert!(
                error_message(&body).is_some_and(|m| !m.is_empty()),
                "{name}: {body}"
            );
        }
        let anthropic =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(error_message(anthropic).as_deref(), Some("Overloaded"));
        let google = include_str!("../fixtures/gemini__google-429-retry-info.json");
        assert_eq!(
            error_message(google).as_deref(),
            Some("You exceeded your current quota, please check your plan.")
        );
        assert_eq!(
            retry_after_from_body(google),
            Some(Duration::from_millis(34_400))
        );
        assert_eq!(error_message("<html>bad gateway</html>"), None);
    }

    #[test]
    fn retry_after_is_clamped_and_never_panics() {
        let secs = |v: &str| parse_retry_after(Some(v));
        assert_eq!(secs("2"), Some(Duration::from_secs(2)));
        assert_eq!(secs(" 1.5 "), Some(Duration::from_millis(1500)));
        for huge in [
            "1e19",
            "1e20",
            "1e308",
            "18446744073709551616",
            "99999999999999999999",
        ] {
            assert_eq!(secs(huge), Some(MAX_RETRY_AFTER), "{huge}");
        }
        for bad in ["-1", "NaN", "inf", "-inf", "soon", ""] {
            assert_eq!(secs(bad), None, "{bad}");
        }
        assert_eq!(parse_retry_after(None), None);
        let body =
            |delay: &str| format!(r#"{{"error":{{"details":[{{"retryDelay":"{delay}"}}]}}}}"#);
        assert_eq!(retry_after_from_body(&body("1e20s")), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after_from_body(&body("0.5s")),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_after_from_body(&body("-3s")), None);
    }

    #[test]
    fn retry_after_accepts_an_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let at = |v: &str| parse_retry_after_at(v, now);
        assert_eq!(
            at("Sun, 06 Nov 1994 08:50:07 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(at("Sun, 06 Nov 1994 08:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(at("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
        assert_eq!(at("Sun, 06 Nov 1994"), None);
    }

    #[test]
    fn classifies_retryable_failures() {
        let status = |s| ProviderError::Status {
            status: s,
            body: String::new(),
            retry_after: None,
        };
        for s in [401, 403, 404, 408, 429, 500, 502, 503, 529] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 413, 422] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(status(400).is_client_fault() && !status(429).is_client_fault());
        assert!(ProviderError::Timeout(TimeoutKind::FirstByte).is_retryable());
        assert!(!ProviderError::Unsupported("x".into()).is_retryable());
    }
}
