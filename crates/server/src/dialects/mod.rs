//! Inbound dialects: one module per API shape a client may speak. Each is only conversions:
//! decode its request into the canonical [`ChatRequest`](switchyard_api::chat::ChatRequest),
//! render a completed generation, frame each pipeline event of a stream, and render errors
//! in its own error shape. The pipeline itself ([`crate::pipeline`]) knows none of them.

pub mod anthropic_messages;
pub mod completions;
pub mod embeddings;
pub mod openai_chat;
pub mod responses;

use crate::error::GatewayError;
use crate::pipeline::Event;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use switchyard_api::chat::{ChatRequest, ChatResponse};
use tokio::sync::mpsc;

/// One inbound API shape. A route is then extract → [`Dialect::decode`] → the pipeline →
/// [`Dialect::render`] or a stream framed by [`Dialect::framer`]; every failure, the
/// pipeline's included, is rendered by [`Dialect::error`].
pub trait Dialect: Send + Sync + 'static {
    /// What rendering needs to remember of the request (asked-for options, tool kinds, …).
    type Context: Send + 'static;
    type Framer: Framer;

    /// The request body (already size-capped) → the canonical request. A malformed body is a
    /// [`GatewayError::BadRequest`] naming the field at fault.
    fn decode(
        body: &[u8],
        headers: &HeaderMap,
    ) -> Result<(ChatRequest, Self::Context), GatewayError>;

    /// A whole answer, billed, in the dialect's response shape.
    fn render(resp: ChatResponse, ctx: &Self::Context) -> Response;

    /// The framer of one stream, for the generation `id` (the id its events carry).
    fn framer(ctx: Self::Context, id: &str) -> Self::Framer;

    /// Any failure in the dialect's error shape, with its status and `Retry-After`.
    fn error(err: GatewayError) -> Response;
}

/// A stream's response: the pipeline's events framed as they come. The status is 200: an
/// error before the first event was returned by the pipeline instead.
pub fn stream_response(events: mpsc::Receiver<Event>, framer: impl Framer) -> Response {
    let body =
        futures_util::stream::unfold((events, framer), |(mut events, mut framer)| async move {
            loop {
                let ev = events.recv().await?;
                let mut buf = Vec::with_capacity(256);
                framer.frame(&ev, &mut buf);
                // An event the dialect has nothing to say for writes nothing: wait for the next.
                if !buf.is_empty() {
                    return Some((
                        Ok::<_, std::convert::Infallible>(Bytes::from(buf)),
                        (events, framer),
                    ));
                }
            }
        });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    h.insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    resp
}

/// Appends one server-sent event: `event: <name>` (when given) and `data: <json>`.
pub fn sse_event(buf: &mut Vec<u8>, name: Option<&str>, data: &impl serde::Serialize) {
    if let Some(name) = name {
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'\n');
    }
    buf.extend_from_slice(b"data: ");
    // A value of our own types always serialises; an error would leave an empty data line,
    // which every SSE parser skips.
    let _ = serde_json::to_writer(&mut *buf, data);
    buf.extend_from_slice(b"\n\n");
}

/// Turns the pipeline's events into one dialect's stream bytes. One framer per stream: it
/// keeps whatever state its dialect needs (open content blocks, sequence numbers).
pub trait Framer: Send + 'static {
    /// Appends the bytes for `ev` to `out` (possibly none).
    fn frame(&mut self, ev: &crate::pipeline::Event, out: &mut Vec<u8>);
}
