//! OpenAI Chat Completions as OpenRouter serves it (`POST /chat/completions`): the canonical
//! form itself, so decoding is parsing and rendering is serialising. Streams are
//! `chat.completion.chunk` frames, `: OPENROUTER PROCESSING` comments while the upstream is
//! quiet, one final chunk with `choices: []` and the priced `usage`, then `data: [DONE]`; a
//! failure is a chunk with `error` and `finish_reason: "error"`.

use super::{Dialect, Framer};
use crate::error::GatewayError;
use crate::pipeline::Event;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use switchyard_api::chat::{parse_chat_request, ChatChunk, ChatRequest, ChatResponse};

const KEEPALIVE: &[u8] = b": OPENROUTER PROCESSING\n\n";
const DONE: &[u8] = b"data: [DONE]\n\n";

pub struct OpenAiChat;

impl Dialect for OpenAiChat {
    type Context = ();
    type Framer = StreamFramer;

    fn decode(body: &[u8], _: &HeaderMap) -> Result<(ChatRequest, ()), GatewayError> {
        parse_chat_request(body)
            .map(|r| (r, ()))
            .map_err(GatewayError::BadRequest)
    }

    fn render(resp: ChatResponse, _: &()) -> Response {
        axum::Json(resp).into_response()
    }

    fn framer(_: (), _: &str) -> StreamFramer {
        StreamFramer
    }

    fn error(err: GatewayError) -> Response {
        err.into_response()
    }
}

pub struct StreamFramer;

/// One unnamed `data:` event, as OpenAI streams are framed.
fn chunk(out: &mut Vec<u8>, c: &ChatChunk) {
    super::sse_event(out, None, c);
}

impl Framer for StreamFramer {
    fn frame(&mut self, ev: &Event, out: &mut Vec<u8>) {
        match ev {
            Event::KeepAlive => out.extend_from_slice(KEEPALIVE),
            Event::Delta(c) | Event::Failed(c) => chunk(out, c),
            Event::Finished(f) => {
                chunk(out, &f.chunk);
                out.extend_from_slice(DONE);
            }
            // Only a dialect that hands the pipeline its own body gets these.
            Event::Native(_) => {}
        }
    }
}
