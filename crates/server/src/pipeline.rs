//! The dialect-neutral request pipeline: plan, reserve, attempt (failover, hedging, mid-stream
//! continuation), settle. It takes a canonical [`ChatRequest`] and yields either a completed
//! [`ChatResponse`] or a stream of typed [`Event`]s; it writes no bytes. Each inbound dialect
//! (`crate::dialects`) decodes into the canonical request and renders what comes out.

use switchyard_api::chat::{ChatChunk, FinishReason};

/// One step of a streamed answer, as the pipeline yields it to a dialect's framer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The upstream is quiet; a dialect that has keep-alives sends one.
    KeepAlive,
    /// One delta of the answer: `choices` holds exactly one choice (text, reasoning with its
    /// `reasoning_details` signatures, tool-call pieces, a finish reason). `id`, `model`,
    /// `provider` and `system_fingerprint` name the endpoint serving now (they change after a
    /// mid-stream failover).
    Delta(ChatChunk),
    /// The answer is whole and billed: `chunk.choices` is empty, `chunk.usage` is the priced
    /// usage (`cost` set), `chunk.openrouter_metadata` is set when the client asked for it.
    Finished(Finished),
    /// The stream ends in failure: `chunk.error` says why (`code` is the HTTP status the
    /// failure would have had). Nothing follows.
    Failed(ChatChunk),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub chunk: ChatChunk,
    /// The finish reason of the answer (also seen in the last delta that carried one).
    pub finish_reason: Option<FinishReason>,
    pub native_finish_reason: Option<String>,
}
