//! Request bodies are read by the handlers themselves, after the key has been checked, so an
//! anonymous client cannot make the gateway buffer (or wait for) a body at all; and then only
//! up to `max_body_bytes` and within a deadline that a trickling client cannot stretch.

use crate::config::ServerSection;
use crate::error::GatewayError;
use axum::body::{Body, HttpBody};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// Allowed whatever the size.
    pub base: Duration,
    /// Each byte received extends the deadline by 1/rate seconds; 0: no extension.
    pub min_bytes_per_sec: u64,
}

impl BodyLimits {
    pub fn of(settings: &ServerSection) -> BodyLimits {
        BodyLimits {
            max_bytes: settings.max_body_bytes,
            base: Duration::from_millis(settings.body_timeout_ms),
            min_bytes_per_sec: settings.body_min_bytes_per_sec,
        }
    }

    /// The deadline once `received` bytes have arrived: a client sending slower than the
    /// minimum rate falls further behind it with every byte, and a silent one never moves it.
    fn deadline(&self, started: Instant, received: usize) -> Instant {
        let allowance_ms = u64::try_from(received)
            .unwrap_or(u64::MAX)
            .saturating_mul(1000)
            .checked_div(self.min_bytes_per_sec)
            .unwrap_or(0);
        self.base
            .checked_add(Duration::from_millis(allowance_ms))
            .and_then(|d| started.checked_add(d))
            // Only an operator's absurd timeout gets here; a year is as good as forever.
            .unwrap_or_else(|| started + Duration::from_secs(365 * 86_400))
    }
}

/// The whole body, or 413 (declared or found larger than the limit: answered before reading
/// anything when `Content-Length` says so), 408 (not received in time) or 400 (the client's
/// connection failed mid-body).
pub async fn read_limited(body: Body, limits: &BodyLimits) -> Result<Bytes, GatewayError> {
    let too_large = GatewayError::PayloadTooLarge(limits.max_bytes);
    // `Content-Length`, when given, is the lower bound of the size hint.
    let declared = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    if declared > limits.max_bytes {
        return Err(too_large);
    }
    let started = Instant::now();
    let mut data = body.into_data_stream();
    // Most bodies arrive as one frame, kept as is; only a second frame costs a copy.
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut received: usize = 0;
    loop {
        let next = tokio::time::timeout_at(limits.deadline(started, received), data.next())
            .await
            .map_err(|_| GatewayError::BodyTimeout)?;
        let chunk = match next {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                return Err(GatewayError::BadRequest(format!(
                    "Failed to read the request body: {e}"
                )))
            }
        };
        received = match received.checked_add(chunk.len()) {
            Some(n) if n <= limits.max_bytes => n,
            _ => return Err(too_large),
        };
        match (&mut joined, first.take()) {
            (Some(buf), _) => buf.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(head)) => {
                let mut buf = BytesMut::with_capacity(head.len().saturating_add(chunk.len()));
                buf.extend_from_slice(&head);
                buf.extend_from_slice(&chunk);
                joined = Some(buf);
            }
        }
    }
    Ok(match joined {
        Some(buf) => buf.freeze(),
        None => first.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u64) -> BodyLimits {
        BodyLimits {
            max_bytes: 100,
            base: Duration::from_millis(1000),
            min_bytes_per_sec: rate,
        }
    }

    #[test]
    fn deadline_grows_with_what_arrived_at_the_minimum_rate() {
        let t = Instant::now();
        assert_eq!(limits(100).deadline(t, 0), t + Duration::from_millis(1000));
        assert_eq!(limits(100).deadline(t, 50), t + Duration::from_millis(1500));
        assert_eq!(limits(0).deadline(t, 50), t + Duration::from_millis(1000));
        // Saturates instead of overflowing.
        assert!(limits(1).deadline(t, usize::MAX) > t + Duration::from_secs(86_400));
    }

    #[tokio::test]
    async fn reads_joins_and_caps() {
        let parts = futures_util::stream::iter(
            ["ab", "cd", "ef"].map(|s| Ok::<_, std::io::Error>(Bytes::from(s))),
        );
        let got = read_limited(Body::from_stream(parts), &limits(0)).await;
        assert_eq!(got.ok(), Some(Bytes::from("abcdef")));
        let big = futures_util::stream::iter(
            (0..20).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&[b'x'; 10]))),
        );
        let got = read_limited(Body::from_stream(big), &limits(0)).await;
        assert!(
            matches!(got, Err(GatewayError::PayloadTooLarge(100))),
            "{got:?}"
        );
        let declared = read_limited(Body::from(vec![0u8; 101]), &limits(0)).await;
        assert!(matches!(declared, Err(GatewayError::PayloadTooLarge(100))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_times_out() {
        let silent = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let got = read_limited(Body::from_stream(silent), &limits(100)).await;
        assert!(matches!(got, Err(GatewayError::BodyTimeout)), "{got:?}");
    }
}
