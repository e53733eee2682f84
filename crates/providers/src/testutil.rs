//! Helpers for the fixture-driven unit tests.

use crate::sse::SseDecoder;
use crate::{Decoder, ProviderError, StreamEvent};
use std::path::PathBuf;

pub struct Cassette {
    pub request_body: String,
    pub response_body: String,
}

/// Loads a go-vcr cassette recorded against api.openai.com (fixtures/openai__NAME.yaml).
pub fn cassette(name: &str) -> Cassette {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("openai__{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let inter = &doc["interactions"][0];
    Cassette {
        request_body: inter["request"]["body"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        response_body: inter["response"]["body"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// A vercel/ai `*.chunks.txt` fixture (one JSON payload per line) as SSE; Anthropic's needs
/// the `event:` line too, OpenAI-compatible ones end with `[DONE]`.
pub fn chunks_as_sse(chunks: &str, with_event_names: bool) -> String {
    let mut out = String::new();
    for line in chunks.lines().filter(|l| !l.trim().is_empty()) {
        if with_event_names {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            out.push_str(&format!("event: {}\n", v["type"].as_str().unwrap_or("")));
        }
        out.push_str(&format!("data: {line}\n\n"));
    }
    if !with_event_names {
        out.push_str("data: [DONE]\n\n");
    }
    out
}

/// Runs a decoder over a whole SSE transcript, fed in small uneven pieces.
pub fn run_decoder(d: &mut dyn Decoder, sse: &str) -> Result<Vec<StreamEvent>, ProviderError> {
    let mut sse_dec = SseDecoder::new();
    let mut out = Vec::new();
    for piece in sse.as_bytes().chunks(37) {
        for ev in sse_dec.push(piece) {
            if d.is_done() {
                break;
            }
            out.extend(d.event(&ev)?);
        }
    }
    if let Some(ev) = sse_dec.finish() {
        out.extend(d.event(&ev)?);
    }
    Ok(out)
}
