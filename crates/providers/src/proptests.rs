//! Property tests over every stream decoder. A recorded stream decodes to the same result
//! however the body is cut into reads and however its SSE is framed (LF or CRLF, comments,
//! extra blank lines, no space after the colon); bytes that are not a stream, a damaged
//! recording, or payloads with hostile values never panic and end the stream cleanly:
//! whole, or with one error as its last item. Case counts are kept small so the suite runs
//! in seconds; `PROPTEST_CASES` raises them for a longer local run.

use crate::client::decode_stream;
use crate::corpus::{decode, recordings, Outcome, Recording, Wire};
use crate::sse::{SseDecoder, SseEvent};
use crate::{gemini, Decoder, Limits, ProviderError, Secrets, StreamEvent};
use futures_util::StreamExt;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Duration;

/// `cases` per property unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        // Failures are reported with their minimal input; nothing is written to the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every recording with what it decodes to read in small pieces.
fn corpus() -> &'static [(Recording, Outcome)] {
    static CORPUS: OnceLock<Vec<(Recording, Outcome)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        recordings()
            .into_iter()
            .map(|r| {
                let o = decode(r.wire.decoder().as_mut(), r.sse.as_bytes().chunks(37));
                (r, o)
            })
            .collect()
    })
}

/// `bytes` cut at the given positions.
fn cut(bytes: &[u8], at: &[Index]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = at.iter().map(|i| i.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut pieces = Vec::new();
    let mut from = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        pieces.push(bytes.get(from..p).unwrap_or_default().to_vec());
        from = p;
    }
    pieces
}

/// How a transcript is reframed without changing what it means.
#[derive(Debug, Clone)]
struct Framing {
    /// Per line: end it with CRLF instead of LF.
    crlf: Vec<bool>,
    /// Lines before which a comment is put.
    comments: Vec<Index>,
    /// Event ends after which more blank lines are put.
    blanks: Vec<Index>,
    /// Write `data:x` for `data: x` (the one space after the colon is optional).
    no_space: bool,
}

fn framing() -> impl Strategy<Value = Framing> {
    (
        prop::collection::vec(any::<bool>(), 0..64),
        prop::collection::vec(any::<Index>(), 0..8),
        prop::collection::vec(any::<Index>(), 0..8),
        any::<bool>(),
    )
        .prop_map(|(crlf, comments, blanks, no_space)| Framing {
            crlf,
            comments,
            blanks,
            no_space,
        })
}

fn reframe(sse: &str, f: &Framing) -> String {
    let terminated = sse.ends_with('\n');
    let lines: Vec<&str> = sse
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let lines = if terminated {
        lines
            .get(..lines.len().saturating_sub(1))
            .unwrap_or_default()
    } else {
        &lines[..]
    };
    let n = lines.len().max(1);
    let comment_at: Vec<usize> = f.comments.iter().map(|i| i.index(n)).collect();
    let ends: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].is_empty()).collect();
    let blank_at: Vec<usize> = if ends.is_empty() {
        vec![]
    } else {
        f.blanks.iter().map(|i| ends[i.index(ends.len())]).collect()
    };
    let mut out = String::new();
    let mut k = 0;
    let mut eol = |out: &mut String| {
        let crlf = f
            .crlf
            .get(k % f.crlf.len().max(1))
            .copied()
            .unwrap_or(false);
        k += 1;
        out.push_str(if crlf { "\r\n" } else { "\n" });
    };
    for (i, line) in lines.iter().enumerate() {
        for _ in comment_at.iter().filter(|&&c| c == i) {
            out.push_str(": keep-alive");
            eol(&mut out);
        }
        let mut line = line.to_string();
        if f.no_space {
            for field in ["data: ", "event: "] {
                if let Some(rest) = line.strip_prefix(field) {
                    if !rest.starts_with(' ') {
                        line = format!("{}{rest}", field.trim_end());
                    }
                }
            }
        }
        out.push_str(&line);
        if i + 1 < lines.len() || terminated {
            eol(&mut out);
        }
        for _ in blank_at.iter().filter(|&&b| b == i) {
            eol(&mut out);
        }
    }
    out
}

/// The body fed through the client's own stream driver, as the items it yields.
fn through_client(wire: Wire, pieces: Vec<Vec<u8>>) -> Vec<Result<StreamEvent, ProviderError>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let body = futures_util::stream::iter(
            pieces
                .into_iter()
                .map(|p| Ok::<_, std::io::Error>(bytes::Bytes::from(p))),
        );
        let resp = reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(body)));
        decode_stream(
            resp,
            wire.decoder(),
            Duration::from_secs(3600),
            Limits::default().max_event_bytes,
            Secrets::default(),
        )
        .collect()
        .await
    })
}

/// The client ends every stream cleanly: events, then at most one error, last; and it sees
/// the same as `decode`, an error exactly where that found the stream broken or cut short.
fn assert_clean_end(wire: Wire, pieces: Vec<Vec<u8>>) -> Result<(), TestCaseError> {
    let outcome = decode(wire.decoder().as_mut(), pieces.iter().map(Vec::as_slice));
    let items = through_client(wire, pieces);
    let errors = items.iter().filter(|i| i.is_err()).count();
    prop_assert!(errors <= 1, "{errors} errors");
    if errors == 1 {
        prop_assert!(
            items.last().is_some_and(|i| i.is_err()),
            "the error is last"
        );
    }
    let events: Vec<StreamEvent> = items.into_iter().filter_map(Result::ok).collect();
    prop_assert_eq!(&events, &outcome.events);
    prop_assert_eq!(errors == 1, !outcome.complete, "{:?}", outcome.error);
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn a_recording_decodes_the_same_however_it_is_cut_and_framed(
        which in any::<Index>(),
        f in framing(),
        cuts in prop::collection::vec(any::<Index>(), 0..48),
    ) {
        let all = corpus();
        let (r, want) = &all[which.index(all.len())];
        let sse = reframe(&r.sse, &f);
        let pieces = cut(sse.as_bytes(), &cuts);
        let got = decode(r.wire.decoder().as_mut(), pieces.iter().map(Vec::as_slice));
        prop_assert_eq!(&got, want, "{}", r.name);
    }

}

proptest! {
    // Cheap cases, and rare failures (two extreme counts meeting in one sum): many of them.
    #![proptest_config(config(256))]

    #[test]
    fn a_recording_through_the_client_ends_as_it_decodes(
        which in any::<Index>(),
        cuts in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        let all = corpus();
        let (r, _) = &all[which.index(all.len())];
        assert_clean_end(r.wire, cut(r.sse.as_bytes(), &cuts))?;
    }

    #[test]
    fn arbitrary_bytes_end_the_stream_cleanly(
        wire in prop_oneof![Just(Wire::Openai), Just(Wire::Anthropic), Just(Wire::Gemini)],
        bytes in prop::collection::vec(
            prop_oneof![
                4 => any::<u8>(),
                1 => prop::sample::select(b"\n\r:{}[]\",".to_vec()),
            ],
            0..2048,
        ),
        cuts in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        assert_clean_end(wire, cut(&bytes, &cuts))?;
    }

    #[test]
    fn a_damaged_recording_ends_the_stream_cleanly(
        which in any::<Index>(),
        damage in prop::collection::vec((any::<Index>(), 0..4u8, any::<u8>(), 1..64usize), 1..8),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let all = corpus();
        let (r, _) = &all[which.index(all.len())];
        let bytes = damaged(r.sse.as_bytes(), &damage);
        assert_clean_end(r.wire, cut(&bytes, &cuts))?;
    }

    #[test]
    fn hostile_values_in_recorded_payloads_end_the_stream_cleanly(
        which in any::<Index>(),
        picks in prop::collection::vec((any::<Index>(), any::<Index>(), hostile()), 1..4),
    ) {
        let all = corpus();
        let (r, _) = &all[which.index(all.len())];
        let sse = poison(&r.sse, &picks);
        assert_clean_end(r.wire, vec![sse.into_bytes()])?;
    }

    #[test]
    fn sse_events_do_not_depend_on_how_the_bytes_are_cut(
        bytes in prop::collection::vec(
            prop_oneof![
                2 => any::<u8>(),
                3 => prop::sample::select(b"\n\r: xdatevn".to_vec()),
            ],
            0..1024,
        ),
        cuts in prop::collection::vec(any::<Index>(), 0..32),
        limit in prop_oneof![Just(crate::sse::DEFAULT_MAX_EVENT_BYTES), 1..16usize, 16..128usize],
    ) {
        let whole = sse_events(std::slice::from_ref(&bytes), limit);
        let pieces = sse_events(&cut(&bytes, &cuts), limit);
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn streamed_call_arguments_are_an_object_or_a_clean_error(
        parts in prop::collection::vec(call_part(), 1..24),
    ) {
        check_call_arguments(&parts)?;
    }
}

/// A recording with bytes overwritten, removed, repeated, or cut off.
fn damaged(sse: &[u8], damage: &[(Index, u8, u8, usize)]) -> Vec<u8> {
    let mut bytes = sse.to_vec();
    for &(at, op, byte, len) in damage {
        let i = at.index(bytes.len().max(1)).min(bytes.len());
        let j = i.saturating_add(len).min(bytes.len());
        match op {
            0 => {
                if let Some(b) = bytes.get_mut(i) {
                    *b = byte;
                }
            }
            1 => {
                bytes.drain(i..j);
            }
            2 => {
                let again = bytes.get(i..j).unwrap_or_default().to_vec();
                bytes.splice(i..i, again);
            }
            _ => bytes.truncate(i),
        }
    }
    bytes
}

/// The events an SSE decoder makes of `pieces`, and whether it refused them.
fn sse_events(pieces: &[Vec<u8>], limit: usize) -> (Vec<SseEvent>, bool) {
    let mut d = SseDecoder::with_limit(limit);
    let mut evs = Vec::new();
    for p in pieces {
        if d.push(p, &mut evs).is_err() {
            return (evs, true);
        }
    }
    match d.finish() {
        Ok(tail) => {
            evs.extend(tail);
            (evs, false)
        }
        Err(_) => (evs, true),
    }
}

/// Feeds Gemini `functionCall` parts, each in its own event: the decoder either refuses
/// them with a decode error or, once the candidate finishes, has given every call
/// arguments that are one JSON object.
fn check_call_arguments(parts: &[Value]) -> Result<(), TestCaseError> {
    let mut d = gemini::StreamDecoder::default();
    let event = |v: Value| SseEvent {
        event: String::new(),
        data: v.to_string(),
    };
    let mut evs = Vec::new();
    for p in parts {
        let chunk = json!({"candidates": [{"content": {"role": "model", "parts": [p]}}]});
        match d.event(&event(chunk)) {
            Ok(e) => evs.extend(e),
            Err(ProviderError::Decode(_)) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e:?}"))),
        }
    }
    let end =
        json!({"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}]});
    evs.extend(
        d.event(&event(end))
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?,
    );
    prop_assert!(d.is_complete());
    let mut args: Vec<String> = Vec::new();
    for e in &evs {
        let StreamEvent::Choice(c) = e else { continue };
        for t in c.delta.tool_calls.iter().flatten() {
            let i = t.index as usize;
            if args.len() <= i {
                args.resize(i + 1, String::new());
            }
            let piece = t.function.as_ref().and_then(|f| f.arguments.as_deref());
            args[i].push_str(piece.unwrap_or(""));
        }
    }
    for a in args {
        let v: Result<Value, _> = serde_json::from_str(&a);
        prop_assert!(v.as_ref().is_ok_and(Value::is_object), "{}", a);
    }
    Ok(())
}

/// Values that have broken decoders elsewhere: extreme and negative numbers, wrong types,
/// long and odd strings.
fn hostile() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => Just(json!(u64::MAX)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(u32::MAX as u64 + 1)),
        1 => Just(json!(1e308)),
        1 => Just(json!(-1)),
        1 => Just(json!(null)),
        1 => Just(json!(true)),
        1 => Just(json!([])),
        1 => Just(json!({})),
        1 => Just(json!("")),
        1 => Just(json!("\u{0}\u{fffd}\n\r")),
        1 => "[a-z$\\[\\]'.0-9]{0,24}".prop_map(Value::String),
    ]
}

/// The transcript with values replaced: for each pick, a payload and either one node in
/// it or (for a number) every number in it, so that sums of counts meet extremes together.
fn poison(sse: &str, picks: &[(Index, Index, Value)]) -> String {
    let mut lines: Vec<String> = sse.lines().map(str::to_string).collect();
    let data: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("data:"))
        .collect();
    if data.is_empty() {
        return sse.to_string();
    }
    // Payloads with token counts, where arithmetic on upstream numbers happens: half the
    // picks go there.
    let counted: Vec<usize> = data
        .iter()
        .copied()
        .filter(|&i| lines[i].contains("sage"))
        .collect();
    for (line, node, value) in picks {
        let pool = if counted.is_empty() || line.index(2) == 0 {
            &data
        } else {
            &counted
        };
        let i = pool[line.index(pool.len())];
        let Some(mut v) = lines[i]
            .strip_prefix("data:")
            .and_then(|d| serde_json::from_str::<Value>(d.trim()).ok())
        else {
            continue;
        };
        if value.is_number() && node.index(2) == 0 {
            replace_numbers(&mut v, value);
        } else {
            let n = count_nodes(&v);
            replace_node(&mut v, &mut node.index(n), value);
        }
        lines[i] = format!("data: {v}");
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn replace_numbers(v: &mut Value, with: &Value) {
    match v {
        Value::Number(_) => *v = with.clone(),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_numbers(x, with)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_numbers(x, with)),
        _ => {}
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the `n`th node (depth first) of `v`.
fn replace_node(v: &mut Value, n: &mut usize, with: &Value) -> bool {
    if *n == 0 {
        *v = with.clone();
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|x| replace_node(x, n, with)),
        Value::Object(o) => o.values_mut().any(|x| replace_node(x, n, with)),
        _ => false,
    }
}

/// A Gemini `functionCall` part of a call streamed in pieces, over a few paths that share
/// prefixes and mix objects and arrays.
fn call_part() -> impl Strategy<Value = Value> {
    let path = prop::sample::select(vec![
        "$.a", "$.a.b", "$.a.c", "$.l[0]", "$.l[1]", "$.l[0].x", "$.l[2].y", "$['k k']", "$.a[0]",
        "name", "$.d.e.f",
    ]);
    let value = prop_oneof![
        "[a-z\"\\\\]{0,4}".prop_map(|s| json!({"stringValue": s})),
        any::<i32>().prop_map(|n| json!({"numberValue": n})),
        any::<bool>().prop_map(|b| json!({"boolValue": b})),
        Just(json!({"nullValue": null})),
    ];
    let arg = (path, value, any::<bool>()).prop_map(|(p, mut v, more)| {
        if let Value::Object(o) = &mut v {
            o.insert("jsonPath".into(), json!(p));
            if more {
                o.insert("willContinue".into(), json!(true));
            }
        }
        v
    });
    prop_oneof![
        1 => any::<bool>().prop_map(|more| json!({"functionCall": {"name": "f", "willContinue": more}})),
        4 => (prop::collection::vec(arg, 0..4), any::<bool>()).prop_map(|(args, more)| {
            json!({"functionCall": {"partialArgs": args, "willContinue": more}})
        }),
        1 => Just(json!({"functionCall": {}})),
        1 => Just(json!({"text": "t"})),
    ]
}
