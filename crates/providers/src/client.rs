//! The one pooled upstream HTTP client, and the driver that runs any protocol's conversion
//! functions over it with connect / first-byte / between-chunk timeouts.

use crate::error::{parse_retry_after, retry_after_from_body, ProviderError, TimeoutKind};
use crate::redact::Secrets;
use crate::sse::SseDecoder;
use crate::util::body_excerpt;
use crate::{
    anthropic, gemini, openai, simulated, Completion, Decoder, Embeddings, HttpRequest, Protocol,
};
use crate::{StreamEvent, Target};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::collections::VecDeque;
use std::time::Duration;
use switchyard_api::chat::ChatRequest;
use switchyard_api::embeddings::EmbeddingsRequest;

pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Until the response headers arrive (for a non-streamed request: the whole body).
    pub first_byte: Duration,
    /// Longest wait for the next event of a streamed body. Only events count: SSE comments,
    /// pings and anything else that decodes to nothing do not hold a stream open.
    pub between_chunks: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            between_chunks: Duration::from_secs(120),
        }
    }
}

/// Bounds on how much of one upstream response is held in memory. Exceeding one fails the
/// attempt like a broken response would (retryable: the next endpoint is tried, or a stream
/// continues elsewhere), instead of buffering whatever the upstream sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest non-streamed response body, in bytes.
    pub max_body_bytes: usize,
    /// Longest line, and largest event, of a streamed response, in bytes.
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_event_bytes: crate::sse::DEFAULT_MAX_EVENT_BYTES,
        }
    }
}

/// How much of an error response is read: its message and `Retry-After` details fit in far
/// less, and the rest is not waited for.
const MAX_ERROR_BODY_BYTES: usize = 8 * 1024;

#[derive(Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    timeouts: Timeouts,
    limits: Limits,
    /// Every configured credential: scrubbed from each error this client returns.
    secrets: Secrets,
}

impl UpstreamClient {
    /// `secrets` are all the credentials the catalogue holds (every provider's, not only
    /// those of one request), to be scrubbed from whatever an upstream sends back.
    pub fn new(
        timeouts: Timeouts,
        limits: Limits,
        secrets: Secrets,
    ) -> Result<UpstreamClient, ProviderError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            // A burst of long streams leaves one connection each behind; keeping them all
            // would hold their buffers for the idle timeout. 256 covers steady high rates.
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Connect(e.to_string()))?;
        Ok(UpstreamClient {
            http,
            timeouts,
            limits,
            secrets,
        })
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A non-streamed call.
    pub async fn complete(
        &self,
        target: Target<'_>,
        req: &ChatRequest,
    ) -> Result<Completion, ProviderError> {
        if target.protocol == Protocol::Simulated {
            return simulated::complete(target, req).await;
        }
        let built = build(target, req, false)?;
        let decoded = async {
            let body = self.whole_body(built).await?;
            match target.protocol {
                Protocol::Anthropic => {
                    anthropic::decode_response(&body, &anthropic::Context::of(req))
                }
                Protocol::Gemini => gemini::decode_response(&body),
                Protocol::Openai | Protocol::Simulated => openai::decode_response(&body),
            }
        };
        // A decoding error can quote the body (serde names the value it choked on).
        decoded.await.map_err(|e| self.secrets.scrub(e))
    }

    /// An embeddings call: one vector per input, whatever the protocol calls it.
    pub async fn embed(
        &self,
        target: Target<'_>,
        req: &EmbeddingsRequest,
    ) -> Result<Embeddings, ProviderError> {
        let built = match target.protocol {
            Protocol::Simulated => return simulated::embed(target, req).await,
            Protocol::Openai => openai::build_embeddings_request(target, req)?,
            Protocol::Gemini => gemini::build_embeddings_request(target, req)?,
            Protocol::Anthropic => {
                return Err(ProviderError::Unsupported(
                    "Anthropic has no embeddings API".into(),
                ))
            }
        };
        let decoded = async {
            let body = self.whole_body(built).await?;
            match target.protocol {
                Protocol::Gemini => gemini::decode_embeddings(&body, &req.input),
                _ => openai::decode_embeddings(&body, &req.input),
            }
        };
        decoded.await.map_err(|e| self.secrets.scrub(e))
    }

    /// Sends a non-streamed request and reads its whole body, within the first-byte timeout
    /// and the body limit.
    async fn whole_body(&self, built: HttpRequest) -> Result<Vec<u8>, ProviderError> {
        let fut = async {
            let resp = self.send(built).await?;
            read_body(resp, self.limits.max_body_bytes).await
        };
        tokio::time::timeout(self.timeouts.first_byte, fut)
            .await
            .map_err(|_| ProviderError::Timeout(TimeoutKind::FirstByte))?
    }

    /// A streamed call. Resolves once the upstream has accepted the request (status and
    /// headers received); the events follow on the returned stream.
    pub async fn stream(
        &self,
        target: Target<'_>,
        req: &ChatRequest,
    ) -> Result<EventStream, ProviderError> {
        if target.protocol == Protocol::Simulated {
            return simulated::stream(target, req).await;
        }
        let built = build(target, req, true)?;
        let decoder: Box<dyn Decoder> = match target.protocol {
            Protocol::Anthropic => {
                Box::new(anthropic::StreamDecoder::new(anthropic::Context::of(req)))
            }
            Protocol::Gemini => Box::new(gemini::StreamDecoder::default()),
            Protocol::Openai | Protocol::Simulated => Box::new(openai::StreamDecoder::default()),
        };
        let resp = tokio::time::timeout(self.timeouts.first_byte, self.send(built))
            .await
            .map_err(|_| ProviderError::Timeout(TimeoutKind::FirstByte))?
            .map_err(|e| self.secrets.scrub(e))?;
        Ok(decode_stream(
            resp,
            decoder,
            self.timeouts.between_chunks,
            self.limits.max_event_bytes,
            self.secrets.clone(),
        ))
    }

    async fn send(&self, req: HttpRequest) -> Result<reqwest::Response, ProviderError> {
        let mut builder = self.http.post(&req.url).body(req.body);
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let resp = builder.send().await.map_err(|e| {
            if e.is_timeout() {
                ProviderError::Timeout(TimeoutKind::Connect)
            } else {
                // reqwest's Display never includes headers, so the key cannot leak here.
                ProviderError::Connect(e.to_string())
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = parse_retry_after(
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let (raw, cut) = read_prefix(resp, MAX_ERROR_BODY_BYTES).await;
        let raw = String::from_utf8_lossy(&raw);
        // Scrubbed before the excerpt is cut from it, so that cut cannot leave the start of a
        // secret behind; where the read itself stopped, a partial secret is dropped.
        let scrubbed = if cut {
            self.secrets.redact_truncated(&raw)
        } else {
            self.secrets.redact_body(&raw)
        };
        Err(ProviderError::Status {
            status: status.as_u16(),
            retry_after: retry_after.or_else(|| retry_after_from_body(&scrubbed)),
            body: body_excerpt(scrubbed.as_bytes()),
        })
    }
}

/// A whole response body, refused as soon as it is known to exceed `limit` bytes (from its
/// `Content-Length`, or while reading) rather than after buffering it.
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, ProviderError> {
    let too_large = || {
        ProviderError::Decode(format!(
            "the response body is larger than the limit of {limit} bytes"
        ))
    };
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // The declared length is the upstream's word: a hint for the first allocation, no more.
    let hint = declared.map_or(0, |n| usize::try_from(n).unwrap_or(0).min(1024 * 1024));
    let mut body = Vec::with_capacity(hint);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ProviderError::Connect(e.to_string()))?
    {
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// At most `limit` bytes of a body (read errors end it early), and whether it was cut.
async fn read_prefix(mut resp: reqwest::Response, limit: usize) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(body.len());
                if chunk.len() >= room {
                    body.extend_from_slice(chunk.get(..room).unwrap_or_default());
                    return (body, true);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return (body, false),
            // What was read may end inside a secret just the same.
            Err(_) => return (body, true),
        }
    }
}

/// The HTTP request for a networked protocol.
pub fn build(
    target: Target<'_>,
    req: &ChatRequest,
    stream: bool,
) -> Result<HttpRequest, ProviderError> {
    match target.protocol {
        Protocol::Openai => openai::build_request(target, req, stream),
        Protocol::Anthropic => anthropic::build_request(target, req, stream),
        Protocol::Gemini => gemini::build_request(target, req, stream),
        Protocol::Simulated => Err(ProviderError::Unsupported(
            "the simulated provider has no HTTP form".into(),
        )),
    }
}

struct StreamState {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    sse: SseDecoder,
    decoder: Box<dyn Decoder>,
    pending: VecDeque<StreamEvent>,
    idle: Duration,
    /// The between-chunks deadline: one timer per stream. It moves only after a read that
    /// decoded to events, so an upstream sending keep-alive comments forever (or any bytes
    /// that never make an event) is timed out like a silent one.
    silence: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// Whether the last read produced events: the deadline restarts when the next read
    /// begins, so time the consumer spends on those events is not counted as silence.
    progressed: bool,
    /// An error to deliver once the events decoded before it are out.
    error: Option<ProviderError>,
    finished: bool,
    secrets: Secrets,
}

pub(crate) fn decode_stream(
    resp: reqwest::Response,
    decoder: Box<dyn Decoder>,
    idle: Duration,
    max_event_bytes: usize,
    secrets: Secrets,
) -> EventStream {
    let state = StreamState {
        body: resp.bytes_stream().boxed(),
        sse: SseDecoder::with_limit(max_event_bytes),
        decoder,
        pending: VecDeque::new(),
        idle,
        silence: Box::pin(tokio::time::sleep(idle)),
        progressed: true,
        error: None,
        finished: false,
        secrets,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            if let Some(e) = st.error.take() {
                st.finished = true;
                let e = st.secrets.scrub(e);
                return Some((Err(e), st));
            }
            if st.finished {
                return None;
            }
            if std::mem::take(&mut st.progressed) {
                st.silence.as_mut().reset(deadline(st.idle));
            }
            let next = tokio::select! {
                n = st.body.next() => n,
                _ = st.silence.as_mut() => {
                    st.finished = true;
                    return Some((Err(ProviderError::Timeout(TimeoutKind::BetweenChunks)), st));
                }
            };
            let mut events = Vec::new();
            let overflow = match next {
                Some(Ok(bytes)) => st.sse.push(&bytes, &mut events).err(),
                Some(Err(e)) => {
                    st.finished = true;
                    tracing::debug!(error = %e, "upstream body read failed");
                    return Some((Err(ProviderError::Truncated), st));
                }
                None => {
                    st.finished = true;
                    match st.sse.finish() {
                        Ok(tail) => feed(&mut st, tail.as_slice()),
                        Err(e) => st.error = Some(e),
                    }
                    if st.error.is_none() && !st.decoder.is_complete() {
                        st.error = Some(ProviderError::Truncated);
                    }
                    continue;
                }
            };
            feed(&mut st, &events);
            // The events before an oversized line still count; after it nothing is read.
            if st.error.is_none() && !st.decoder.is_done() {
                st.error = overflow;
            }
            st.progressed = !st.pending.is_empty();
            if st.error.is_some() || st.decoder.is_done() {
                // Anything after the terminal event is ignored, so a server that keeps the
                // connection open after `[DONE]` does not hold the client.
                st.finished = true;
            }
        }
    })
    .boxed()
}

/// `idle` from now. The configuration can make `idle` absurdly long; `Instant + Duration`
/// panics on overflow, so that case waits a year instead.
fn deadline(idle: Duration) -> tokio::time::Instant {
    const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);
    let now = tokio::time::Instant::now();
    now.checked_add(idle)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

fn feed(st: &mut StreamState, events: &[crate::sse::SseEvent]) {
    for ev in events {
        if st.decoder.is_done() || st.error.is_some() {
            break;
        }
        match st.decoder.event(ev) {
            Ok(evs) => st.pending.extend(evs),
            Err(e) => st.error = Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::Stream;

    const CHUNK: &str = "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n";
    const IDLE: Duration = Duration::from_millis(100);

    fn response(body: impl Stream<Item = &'static str> + Send + 'static) -> reqwest::Response {
        let body = body.map(|s| Ok::<_, std::io::Error>(bytes::Bytes::from_static(s.as_bytes())));
        reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(body)))
    }

    /// `first`, then `item` every `every`, forever.
    fn then_every(
        first: &'static str,
        item: &'static str,
        every: Duration,
    ) -> impl Stream<Item = &'static str> {
        stream::once(async move { first }).chain(stream::unfold((), move |_| async move {
            tokio::time::sleep(every).await;
            Some((item, ()))
        }))
    }

    fn events(resp: reqwest::Response) -> EventStream {
        decode_stream(
            resp,
            Box::new(openai::StreamDecoder::default()),
            IDLE,
            Limits::default().max_event_bytes,
            Secrets::default(),
        )
    }

    /// `pieces` chunks of `len` bytes, with no length declared up front.
    fn chunked(pieces: usize, len: usize) -> reqwest::Response {
        let body = stream::iter(0..pieces)
            .map(move |_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; len])));
        reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(body)))
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_not_buffered() {
        let fits = read_body(chunked(5, 1000), 5000).await;
        assert_eq!(fits.map(|b| b.len()).ok(), Some(5000));
        let err = read_body(chunked(6, 1000), 5000)
            .await
            .expect_err("too large");
        assert!(
            matches!(err, ProviderError::Decode(ref m) if m.contains("5000")),
            "{err}"
        );
        assert!(err.is_retryable());
        // A declared length over the limit is refused before reading.
        let declared =
            reqwest::Response::from(http::Response::new(reqwest::Body::from(vec![0u8; 6000])));
        assert_eq!(declared.content_length(), Some(6000));
        assert!(read_body(declared, 5000).await.is_err());
    }

    #[tokio::test]
    async fn an_error_body_is_read_only_as_far_as_needed() {
        let (body, cut) = read_prefix(chunked(1000, 1000), MAX_ERROR_BODY_BYTES).await;
        assert_eq!((body.len(), cut), (MAX_ERROR_BODY_BYTES, true));
        let (body, cut) = read_prefix(chunked(2, 1000), MAX_ERROR_BODY_BYTES).await;
        assert_eq!((body.len(), cut), (2000, false));
    }

    #[tokio::test(start_paused = true)]
    async fn comments_do_not_hold_a_stream_open() {
        let started = tokio::time::Instant::now();
        let mut s = events(response(then_every(CHUNK, ": ping\n\n", IDLE / 10)));
        let read = async {
            let mut seen = 0;
            loop {
                match s.next().await {
                    Some(Ok(_)) => seen += 1,
                    other => break (seen, other),
                }
            }
        };
        let (seen, end) = tokio::time::timeout(IDLE * 50, read)
            .await
            .expect("the stream times out instead of waiting forever");
        assert!(seen > 0, "the chunk's events came first");
        assert!(
            matches!(
                end,
                Some(Err(ProviderError::Timeout(TimeoutKind::BetweenChunks)))
            ),
            "{end:?}"
        );
        assert_eq!(started.elapsed(), IDLE, "counted from the last event");
        assert!(s.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn events_within_the_timeout_keep_it_open_however_slow_the_reader() {
        let mut s = events(response(then_every(CHUNK, CHUNK, IDLE * 9 / 10)));
        for i in 0..20 {
            assert!(matches!(s.next().await, Some(Ok(_))), "event {i}");
            // The consumer's own slowness (a slow client) is not the upstream's silence.
            tokio::time::sleep(IDLE * 5).await;
        }
    }
}
