//! Inbound dialects: one module per API shape a client may speak. Each is only conversions:
//! decode its request into the canonical [`ChatRequest`](switchyard_api::chat::ChatRequest),
//! render a completed generation, frame each pipeline event of a stream, and render errors
//! in its own error shape. The pipeline itself ([`crate::pipeline`]) knows none of them.

pub mod anthropic_messages;
pub mod completions;
pub mod responses;

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
