//! Scrubbing credentials out of what upstreams send back. Some providers quote the key they
//! were given in an "invalid key" error, and an upstream's words reach our client (the error
//! message, `metadata.raw`, the attempts in `openrouter_metadata`, the generation record). So
//! every error leaving [`UpstreamClient`](crate::UpstreamClient) has every configured secret
//! replaced, not only the key of the provider that answered: a misconfigured proxy may hold
//! another provider's key. What follows `Bearer ` is replaced too when it looks like a token.

use crate::ProviderError;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

pub const REDACTED: &str = "[REDACTED]";

/// Shorter words after "Bearer" are prose ("Bearer token missing"), not credentials.
const MIN_BEARER_TOKEN: usize = 8;

/// The secrets to scrub. Cheap to clone; never printed.
#[derive(Clone, Default)]
pub struct Secrets(Arc<[String]>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

/// RFC 6750's `b64token` characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

/// Where a bearer credential follows "Bearer " (any case). A token counts when it is long and
/// has a digit or punctuation in it, as generated tokens do and words do not.
fn bearer_tokens(text: &str, out: &mut Vec<(usize, usize)>) {
    const WORD: &[u8] = b"bearer";
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(at) = b.get(from..).and_then(|rest| {
        rest.windows(WORD.len())
            .position(|w| w.eq_ignore_ascii_case(WORD))
    }) {
        let mut i = from + at + WORD.len();
        from = i;
        let mut spaced = false;
        while b.get(i) == Some(&b' ') {
            i += 1;
            spaced = true;
        }
        let start = i;
        while b.get(i).copied().is_some_and(is_token_char) {
            i += 1;
        }
        let token = b.get(start..i).unwrap_or_default();
        let looks_generated = token.iter().any(|c| !c.is_ascii_alphabetic());
        if spaced && token.len() >= MIN_BEARER_TOKEN && looks_generated {
            out.push((start, i));
            from = i;
        }
    }
}

impl Secrets {
    /// Blank entries are dropped (an empty pattern would match everywhere).
    pub fn new<I, S>(secrets: I) -> Secrets
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut v: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        v.sort_unstable();
        v.dedup();
        Secrets(v.into())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every secret and bearer token replaced by [`REDACTED`]. Matches are found
    /// in the original text and replaced in one pass, so overlapping secrets (one inside
    /// another) leave no fragment behind.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut found = Vec::new();
        for s in self.0.iter() {
            found.extend(
                text.match_indices(s.as_str())
                    .map(|(i, m)| (i, i + m.len())),
            );
        }
        bearer_tokens(text, &mut found);
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        found.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in found {
            if start >= at {
                out.push_str(text.get(at..start).unwrap_or_default());
                out.push_str(REDACTED);
            }
            at = at.max(end);
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Cow::Owned(out)
    }

    /// An upstream body: as [`redact`](Self::redact), and a JSON body is also checked string
    /// by string, since an escaped secret (`\u0074estkit-key`) slips past a textual match but
    /// becomes readable once the server extracts the message.
    pub fn redact_body(&self, body: &str) -> String {
        let text = self.redact(body).into_owned();
        if let Ok(mut v) = serde_json::from_str::<Value>(&text) {
            if self.redact_value(&mut v) {
                return v.to_string();
            }
        }
        text
    }

    /// A body that was cut short: as [`redact_body`](Self::redact_body), and the cut-off
    /// token at its end dropped, since it may be the start of a secret.
    pub fn redact_truncated(&self, body: &str) -> String {
        let mut text = self.redact_body(body);
        let keep = text
            .trim_end_matches(|c: char| c.is_ascii() && is_token_char(c as u8))
            .len();
        text.truncate(keep);
        for s in self.0.iter() {
            let partial = (1..s.len())
                .rev()
                .filter_map(|n| s.get(..n))
                .find(|prefix| text.ends_with(prefix));
            if let Some(p) = partial {
                text.truncate(text.len().saturating_sub(p.len()));
            }
        }
        text
    }

    /// Whether anything changed.
    fn redact_value(&self, v: &mut Value) -> bool {
        match v {
            Value::String(s) => match self.redact(s) {
                Cow::Owned(r) => {
                    *s = r;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, x| self.redact_value(x) | changed),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |changed, x| self.redact_value(x) | changed),
            _ => false,
        }
    }

    /// The error with every text that came from the upstream scrubbed.
    pub fn scrub(&self, e: ProviderError) -> ProviderError {
        let r = |s: String| match self.redact(&s) {
            Cow::Owned(r) => r,
            Cow::Borrowed(_) => s,
        };
        match e {
            ProviderError::Connect(m) => ProviderError::Connect(r(m)),
            ProviderError::Status {
                status,
                body,
                retry_after,
            } => ProviderError::Status {
                status,
                body: self.redact_body(&body),
                retry_after,
            },
            ProviderError::StreamError { kind, message } => ProviderError::StreamError {
                kind: r(kind),
                message: r(message),
            },
            ProviderError::Decode(m) => ProviderError::Decode(r(m)),
            ProviderError::Unsupported(m) => ProviderError::Unsupported(r(m)),
            e @ (ProviderError::Timeout(_) | ProviderError::Truncated) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::new(["sk-live-123", "", "  ", "goog-abc-9", "sk-live-123456"])
    }

    #[test]
    fn every_secret_and_bearer_token_is_replaced() {
        let s = secrets();
        assert_eq!(s.len(), 3, "blank entries are dropped");
        assert_eq!(
            s.redact("bad key sk-live-123456, also goog-abc-9 and sk-live-123"),
            "bad key [REDACTED], also [REDACTED] and [REDACTED]"
        );
        assert_eq!(
            s.redact("Authorization: Bearer ey.J0eXAi-not-configured ok"),
            "Authorization: Bearer [REDACTED] ok"
        );
        assert_eq!(
            s.redact("bearer   abcdefgh1 / BEARER sk-live-123"),
            "bearer   [REDACTED] / BEARER [REDACTED]"
        );
        for prose in [
            "Bearer token missing",
            "invalid bearer authentication",
            "no bearer",
            "bearer",
            "ünïcödé Bearer ",
        ] {
            assert_eq!(s.redact(prose), prose);
            assert!(matches!(s.redact(prose), Cow::Borrowed(_)));
        }
        assert_eq!(Secrets::default().redact("sk-live-123"), "sk-live-123");
        assert_eq!(format!("{s:?}"), "Secrets(3 redacted)");
    }

    #[test]
    fn escaped_secrets_in_json_bodies_are_replaced() {
        let s = secrets();
        let body = r#"{"error":{"message":"key \u0073k-live-123 is wrong","n":[1,"goog-abc-9"]}}"#;
        let out = s.redact_body(body);
        let v: Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(v["error"]["message"], "key [REDACTED] is wrong");
        assert_eq!(v["error"]["n"][1], "[REDACTED]");
        assert_eq!(s.redact_body("not json sk-live-123"), "not json [REDACTED]");
        assert_eq!(
            s.redact_body(r#"{"z": 1, "a": "sk-live-123"}"#),
            r#"{"z": 1, "a": "[REDACTED]"}"#,
            "a body caught by the textual pass keeps its exact text"
        );
    }

    #[test]
    fn a_truncated_body_loses_its_partial_secret() {
        let s = secrets();
        assert_eq!(s.redact_truncated("the key is sk-li"), "the key is ");
        assert_eq!(s.redact_truncated("the key is \"goog-a"), "the key is \"");
        assert_eq!(s.redact_truncated("ends in prose. "), "ends in prose. ");
    }

    #[test]
    fn scrub_reaches_every_upstream_text() {
        let s = secrets();
        let all = [
            ProviderError::Connect("sk-live-123".into()),
            ProviderError::Status {
                status: 401,
                body: "sk-live-123".into(),
                retry_after: None,
            },
            ProviderError::StreamError {
                kind: "sk-live-123".into(),
                message: "sk-live-123".into(),
            },
            ProviderError::Decode("sk-live-123".into()),
            ProviderError::Unsupported("sk-live-123".into()),
        ];
        for e in all {
            let out = format!("{:?}", s.scrub(e));
            assert!(!out.contains("sk-live"), "{out}");
            assert!(out.contains(REDACTED), "{out}");
        }
    }
}
