use std::time::Duration;

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
    /// May another endpoint be tried? Everything that is not the client's fault.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Status { status, .. } => {
                matches!(status, 408 | 409 | 425 | 429) || *status >= 500
            }
            ProviderError::Unsupported(_) => false,
            _ => true,
        }
    }

    /// Whether the fault lies with the request itself (4xx other than rate limits / timeouts).
    pub fn is_client_fault(&self) -> bool {
        match self {
            ProviderError::Status { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 409 | 425 | 429)
            }
            ProviderError::Unsupported(_) => true,
            _ => false,
        }
    }

    pub fn decode(e: impl std::fmt::Display) -> ProviderError {
        ProviderError::Decode(e.to_string())
    }
}

/// Parses `Retry-After` given in seconds (the form providers use for rate limits).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}
