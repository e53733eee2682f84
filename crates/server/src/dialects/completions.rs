//! OpenAI's legacy text completions (`POST /completions`) as OpenRouter serves them. The
//! prompt becomes one user message to a chat model and the answer's text comes back as
//! `choices[0].text`; the billing, routing and errors are chat's.
//!
//! What cannot be served is refused with a 400 naming the field rather than silently
//! answered differently: several prompts or token-id prompts (`prompt`), `n` / `best_of`
//! above 1, `logprobs` (a chat model's answer has no completion-style log probabilities),
//! `echo: true`, and `suffix` (insertion needs a fill-in-the-middle model; a chat model would
//! ignore it and answer as if it were absent). No default `max_tokens` is applied (OpenAI's
//! legacy default of 16 would cut every answer): the endpoint's own limit holds, as in chat.
//! Fields this module does not know are accepted and ignored.
//!
//! Streams are `text_completion` chunks, one per delta that carries text or a finish reason,
//! `: OPENROUTER PROCESSING` comments while the upstream is quiet, one chunk with
//! `choices: []` and the priced `usage`, then `data: [DONE]`; a failure is a chunk with
//! `error` and `finish_reason: "error"`, as in chat.

use super::{Dialect, Framer};
use crate::error::GatewayError;
use crate::pipeline::Event;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use switchyard_api::chat::{ChatChunk, ChatRequest, ChatResponse, Message, Role};
use switchyard_api::completions::{
    parse_completion_request, CompletionChoice, CompletionChunk, CompletionResponse, Prompt,
};

const OBJECT: &str = "text_completion";
const KEEPALIVE: &[u8] = b": OPENROUTER PROCESSING\n\n";
const DONE: &[u8] = b"data: [DONE]\n\n";

/// What rendering needs of the request: nothing yet. Every field of a completion is read
/// from the answer itself; the type exists so that a later option (say, `echo`) has a place.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {}

/// The body → the canonical request: the prompt as one user message, the sampling and
/// routing fields as they are. Errors name the field at fault.
pub fn decode(body: &[u8]) -> Result<(ChatRequest, Context), String> {
    let req = parse_completion_request(body)?;
    let prompt = match req.prompt {
        None => return Err("`prompt` is required".into()),
        Some(Prompt::Text(t)) => t,
        Some(Prompt::Texts(mut v)) => match v.len() {
            1 => v.pop().unwrap_or_default(),
            0 => return Err("`prompt` must not be an empty array".into()),
            n => {
                return Err(format!(
                    "`prompt`: only one prompt per request is supported, got {n}"
                ))
            }
        },
        Some(Prompt::Tokens(_)) | Some(Prompt::TokenBatches(_)) => {
            return Err("`prompt`: token-id prompts are not supported; send text".into())
        }
    };
    if req.suffix.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(
            "`suffix` is not supported (no insertion: answers come from chat models)".into(),
        );
    }
    if let Some(n) = req.n.filter(|&n| n != 1) {
        return Err(format!(
            "`n`: only 1 completion per request is supported, got {n}"
        ));
    }
    if let Some(n) = req.best_of.filter(|&n| n != 1) {
        return Err(format!("`best_of`: only 1 is supported, got {n}"));
    }
    if req.logprobs.is_some() {
        return Err("`logprobs` is not supported on completions".into());
    }
    if req.echo == Some(true) {
        return Err("`echo` is not supported".into());
    }
    let chat = ChatRequest {
        model: req.model,
        messages: vec![Message::text(Role::User, prompt)],
        stream: req.stream,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        repetition_penalty: req.repetition_penalty,
        seed: req.seed,
        stop: req.stop,
        reasoning: req.reasoning,
        user: req.user,
        models: req.models,
        provider: req.provider,
        session_id: req.session_id,
        ..ChatRequest::default()
    };
    Ok((chat, Context::default()))
}

/// A whole answer as a `text_completion`: the first choice's text (tool calls, which a
/// completion cannot show, are left out), the priced usage and the serving provider.
pub fn render(resp: &ChatResponse, _ctx: &Context) -> CompletionResponse {
    CompletionResponse {
        id: resp.id.clone(),
        object: OBJECT.into(),
        created: resp.created,
        model: resp.model.clone(),
        provider: resp.provider.clone(),
        system_fingerprint: resp.system_fingerprint.clone(),
        choices: resp
            .choices
            .iter()
            .map(|c| CompletionChoice {
                text: c.message.content.clone().unwrap_or_default(),
                index: c.index,
                logprobs: None,
                finish_reason: c.finish_reason,
                native_finish_reason: c.native_finish_reason.clone(),
                reasoning: c.message.reasoning.clone(),
            })
            .collect(),
        usage: resp.usage.clone(),
        error: None,
        openrouter_metadata: resp.openrouter_metadata.clone(),
    }
}

/// A chat chunk's frame (id, model, provider) around completion choices.
fn frame_of(c: &ChatChunk, choices: Vec<CompletionChoice>) -> CompletionChunk {
    CompletionChunk {
        id: c.id.clone(),
        object: OBJECT.into(),
        created: c.created,
        model: c.model.clone(),
        provider: c.provider.clone(),
        system_fingerprint: c.system_fingerprint.clone(),
        choices,
        usage: c.usage.clone(),
        error: c.error.clone(),
        openrouter_metadata: c.openrouter_metadata.clone(),
    }
}

/// One unnamed `data:` event, as OpenAI streams are framed.
fn data(out: &mut Vec<u8>, c: &CompletionChunk) {
    super::sse_event(out, None, c);
}

/// The stream of one completion. Stateless: every chunk repeats the pipeline's frame.
#[derive(Debug, Default)]
pub struct StreamFramer;

impl Framer for StreamFramer {
    fn frame(&mut self, ev: &Event, out: &mut Vec<u8>) {
        match ev {
            Event::KeepAlive => out.extend_from_slice(KEEPALIVE),
            Event::Delta(c) => {
                let choices: Vec<CompletionChoice> = c
                    .choices
                    .iter()
                    // A delta with nothing a completion shows (the role, a tool-call piece,
                    // a signature) would be an empty chunk: left out.
                    .filter(|ch| {
                        ch.delta.content.as_deref().is_some_and(|t| !t.is_empty())
                            || ch.delta.reasoning.as_deref().is_some_and(|t| !t.is_empty())
                            || ch.finish_reason.is_some()
                    })
                    .map(|ch| CompletionChoice {
                        text: ch.delta.content.clone().unwrap_or_default(),
                        index: ch.index,
                        logprobs: None,
                        finish_reason: ch.finish_reason,
                        native_finish_reason: ch.native_finish_reason.clone(),
                        reasoning: ch.delta.reasoning.clone().filter(|r| !r.is_empty()),
                    })
                    .collect();
                if !choices.is_empty() {
                    data(out, &frame_of(c, choices));
                }
            }
            Event::Finished(f) => {
                // The usage chunk: no choice (the finish reason went out with the last delta).
                data(out, &frame_of(&f.chunk, Vec::new()));
                out.extend_from_slice(DONE);
            }
            Event::Failed(c) => {
                let choices = vec![CompletionChoice {
                    text: String::new(),
                    index: 0,
                    logprobs: None,
                    finish_reason: Some(switchyard_api::chat::FinishReason::Error),
                    native_finish_reason: None,
                    reasoning: None,
                }];
                data(out, &frame_of(c, choices));
            }
            // Only a dialect that hands the pipeline its own body gets these.
            Event::Native(_) => {}
        }
    }
}

/// `POST /completions`, for the generic inference route.
pub struct Completions;

impl Dialect for Completions {
    type Context = Context;
    type Framer = StreamFramer;

    fn decode(body: &[u8], _: &HeaderMap) -> Result<(ChatRequest, Context), GatewayError> {
        decode(body).map_err(GatewayError::BadRequest)
    }

    fn render(resp: ChatResponse, ctx: &Context) -> Response {
        axum::Json(render(&resp, ctx)).into_response()
    }

    fn framer(_: Context, _: &str) -> StreamFramer {
        StreamFramer
    }

    /// OpenAI's clients read OpenRouter's envelope (`error.message`), as for chat.
    fn error(err: GatewayError) -> Response {
        err.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Finished;
    use serde_json::{json, Value};
    use switchyard_api::chat::{
        Choice, ChunkChoice, Content, Delta, FinishReason, ResponseMessage, Usage,
    };
    use switchyard_api::error::ErrorBody;
    use switchyard_api::Money;

    fn ok(body: Value) -> ChatRequest {
        decode(body.to_string().as_bytes()).expect("decodes").0
    }

    fn err(body: Value) -> String {
        decode(body.to_string().as_bytes()).expect_err("refused")
    }

    #[test]
    fn the_prompt_becomes_one_user_message() {
        for prompt in [json!("Say hello"), json!(["Say hello"])] {
            let r = ok(json!({"model": "a/b", "prompt": prompt}));
            assert_eq!(r.model.as_deref(), Some("a/b"));
            assert_eq!(r.messages.len(), 1);
            assert_eq!(r.messages[0].role, Role::User);
            assert_eq!(
                r.messages[0].content,
                Some(Content::Text("Say hello".into()))
            );
        }
    }

    #[test]
    fn sampling_and_routing_fields_carry_over() {
        let r = ok(json!({
            "model": "a/b", "prompt": "x", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9,
            "top_k": 3, "n": 1, "best_of": 1, "stream": true, "stop": ["\n"], "seed": 4,
            "frequency_penalty": 0.1, "presence_penalty": 0.2, "repetition_penalty": 1.1,
            "echo": false, "suffix": "", "user": "u1",
            "models": ["c/d"], "provider": {"order": ["p"]}, "session_id": "s",
            "reasoning": {"effort": "low"}, "logit_bias": {"1": 2}, "future_knob": true
        }));
        assert_eq!(r.max_tokens, Some(7));
        assert_eq!(r.max_completion_tokens, None);
        assert_eq!(r.temperature, Some(0.5));
        assert_eq!(r.top_p, Some(0.9));
        assert_eq!(r.top_k, Some(3));
        assert!(r.is_stream());
        assert_eq!(r.stop.map(|s| s.to_vec()), Some(vec!["\n".to_string()]));
        assert_eq!(r.seed, Some(4));
        assert_eq!(r.frequency_penalty, Some(0.1));
        assert_eq!(r.presence_penalty, Some(0.2));
        assert_eq!(r.repetition_penalty, Some(1.1));
        assert_eq!(r.user.as_deref(), Some("u1"));
        assert_eq!(r.models, Some(vec!["c/d".to_string()]));
        assert!(r.provider.is_some());
        assert_eq!(r.session_id.as_deref(), Some("s"));
        assert_eq!(r.reasoning.and_then(|x| x.effort).as_deref(), Some("low"));
        // Unknown fields are accepted, and not forwarded to a chat model.
        assert!(r.extra.is_empty());
    }

    #[test]
    fn what_cannot_be_served_is_refused_naming_the_field() {
        let cases = [
            (json!({"model": "m"}), "`prompt`"),
            (json!({"model": "m", "prompt": ["a", "b"]}), "`prompt`"),
            (json!({"model": "m", "prompt": []}), "`prompt`"),
            (json!({"model": "m", "prompt": [1, 2, 3]}), "`prompt`"),
            (json!({"model": "m", "prompt": [[1], [2]]}), "`prompt`"),
            (json!({"model": "m", "prompt": null}), "`prompt`"),
            (
                json!({"model": "m", "prompt": "x", "suffix": "y"}),
                "`suffix`",
            ),
            (json!({"model": "m", "prompt": "x", "n": 2}), "`n`"),
            (
                json!({"model": "m", "prompt": "x", "best_of": 3}),
                "`best_of`",
            ),
            (
                json!({"model": "m", "prompt": "x", "logprobs": 0}),
                "`logprobs`",
            ),
            (json!({"model": "m", "prompt": "x", "echo": true}), "`echo`"),
            (
                json!({"model": "m", "prompt": "x", "temperature": "hot"}),
                "`temperature`",
            ),
            (json!({"model": "m", "prompt": "x", "stop": 5}), "`stop`"),
        ];
        for (body, field) in cases {
            let e = err(body.clone());
            assert!(e.contains(field), "{body}: {e}");
        }
        assert!(decode(br#"{"prompt":"x"}garbage"#).is_err());
        assert!(decode(b"").is_err());
    }

    fn usage() -> Usage {
        Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            total_tokens: 5,
            cost: Some(Money::from_pico(7_000_000)),
            ..Usage::default()
        }
    }

    #[test]
    fn render_is_a_text_completion_with_cost_and_provider() {
        let resp = ChatResponse {
            id: "gen-1".into(),
            object: "chat.completion".into(),
            created: 9,
            model: "a/b".into(),
            provider: Some("P".into()),
            system_fingerprint: None,
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    role: "assistant".into(),
                    content: Some("Echo: hi".into()),
                    ..ResponseMessage::default()
                },
                finish_reason: Some(FinishReason::Stop),
                native_finish_reason: Some("end_turn".into()),
                logprobs: None,
            }],
            usage: Some(usage()),
            openrouter_metadata: None,
            native: None,
        };
        let v = serde_json::to_value(render(&resp, &Context::default())).expect("json");
        assert_eq!(v["object"], "text_completion");
        assert_eq!(v["id"], "gen-1");
        assert_eq!(v["model"], "a/b");
        assert_eq!(v["provider"], "P");
        assert_eq!(
            v["choices"],
            json!([{"text": "Echo: hi", "index": 0, "logprobs": null,
                    "finish_reason": "stop", "native_finish_reason": "end_turn"}])
        );
        assert_eq!(v["usage"]["total_tokens"], 5);
        assert_eq!(v["usage"]["cost"], json!(0.000007));
        assert!(v.get("error").is_none());
    }

    fn chunk(choices: Vec<ChunkChoice>) -> ChatChunk {
        ChatChunk {
            id: "gen-2".into(),
            object: "chat.completion.chunk".into(),
            created: 9,
            model: "a/b".into(),
            provider: Some("P".into()),
            system_fingerprint: None,
            choices,
            usage: None,
            error: None,
            openrouter_metadata: None,
        }
    }

    fn delta(content: Option<&str>, finish: Option<FinishReason>) -> Event {
        Event::Delta(chunk(vec![ChunkChoice {
            index: 0,
            delta: Delta {
                role: Some("assistant".into()),
                content: content.map(str::to_string),
                ..Delta::default()
            },
            finish_reason: finish,
            native_finish_reason: None,
            logprobs: None,
        }]))
    }

    /// The `data:` payloads of a framed stream, and whether it held the keep-alive comment.
    fn frames(events: &[Event]) -> (Vec<Value>, String) {
        let mut f = StreamFramer;
        let mut out = Vec::new();
        for ev in events {
            f.frame(ev, &mut out);
        }
        let text = String::from_utf8(out).expect("utf-8");
        let datas = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.into())))
            .collect();
        (datas, text)
    }

    #[test]
    fn a_stream_is_text_chunks_then_usage_then_done() {
        let mut fin = chunk(Vec::new());
        fin.usage = Some(usage());
        let (datas, text) = frames(&[
            Event::KeepAlive,
            delta(Some(""), None),
            delta(Some("Echo: "), None),
            delta(Some("hi"), None),
            delta(None, Some(FinishReason::Stop)),
            Event::Finished(Finished {
                chunk: fin,
                finish_reason: Some(FinishReason::Stop),
                native_finish_reason: None,
            }),
        ]);
        assert!(text.starts_with(": OPENROUTER PROCESSING\n\n"), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        // The empty role-only delta wrote nothing.
        assert_eq!(datas.len(), 5, "{text}");
        for d in &datas[..4] {
            assert_eq!(d["object"], "text_completion", "{d}");
            assert_eq!(d["id"], "gen-2");
            assert_eq!(d["provider"], "P");
        }
        assert_eq!(
            datas[0]["choices"],
            json!([{"text": "Echo: ", "index": 0, "logprobs": null, "finish_reason": null}])
        );
        assert_eq!(datas[1]["choices"][0]["text"], "hi");
        assert_eq!(datas[2]["choices"][0]["text"], "");
        assert_eq!(datas[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(datas[3]["choices"], json!([]));
        assert_eq!(datas[3]["usage"]["completion_tokens"], 2);
        assert_eq!(datas[3]["usage"]["cost"], json!(0.000007));
        assert_eq!(datas[4], Value::String("[DONE]".into()));
    }

    #[test]
    fn a_failure_is_an_error_chunk_and_nothing_follows() {
        let mut failed = chunk(Vec::new());
        failed.error = Some(ErrorBody {
            code: 502,
            message: "provider died".into(),
            metadata: None,
            availability: None,
        });
        let (datas, text) = frames(&[delta(Some("part"), None), Event::Failed(failed)]);
        assert_eq!(datas.len(), 2, "{text}");
        assert_eq!(datas[1]["object"], "text_completion");
        assert_eq!(datas[1]["error"]["code"], 502);
        assert_eq!(datas[1]["error"]["message"], "provider died");
        assert_eq!(datas[1]["choices"][0]["finish_reason"], "error");
        assert_eq!(datas[1]["choices"][0]["text"], "");
        assert!(!text.contains("[DONE]"), "{text}");
    }
}
