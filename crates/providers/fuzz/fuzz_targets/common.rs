//! What every decoder target checks. The first input byte sets how the rest, the response
//! body, is cut into reads; the body is decoded whole and cut, as the client drives a
//! decoder (nothing after the terminal event or the first error), and both must agree.
//! A panic anywhere, or any disagreement, is a finding.

use switchyard_providers::sse::{SseDecoder, SseEvent};
use switchyard_providers::{Decoder, StreamEvent};

/// The events a body decodes to, and the error that ended it (as text), if any.
type Outcome = (Vec<StreamEvent>, Option<String>, bool);

fn feed(d: &mut dyn Decoder, evs: &[SseEvent], out: &mut Vec<StreamEvent>) -> Option<String> {
    for ev in evs {
        if d.is_done() {
            return None;
        }
        match d.event(ev) {
            Ok(e) => out.extend(e),
            Err(e) => return Some(format!("{e:?}")),
        }
    }
    None
}

fn decode<'a>(d: &mut dyn Decoder, pieces: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut sse = SseDecoder::new();
    let mut out = Vec::new();
    let mut evs = Vec::new();
    for piece in pieces {
        evs.clear();
        let overflow = sse.push(piece, &mut evs).err();
        if let Some(e) = feed(d, &evs, &mut out) {
            return (out, Some(e), false);
        }
        if d.is_done() {
            return (out, None, true);
        }
        if let Some(e) = overflow {
            return (out, Some(format!("{e:?}")), false);
        }
    }
    match sse.finish() {
        Ok(tail) => match feed(d, tail.as_slice(), &mut out) {
            Some(e) => (out, Some(e), false),
            None => {
                let complete = d.is_complete();
                (out, None, complete)
            }
        },
        Err(e) => (out, Some(format!("{e:?}")), false),
    }
}

/// Runs `make()`'s decoder over `data`.
pub fn check(data: &[u8], make: impl Fn() -> Box<dyn Decoder>) {
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let whole = decode(make().as_mut(), std::iter::once(body));
    let size = usize::from(seed % 64) + 1;
    let cut = decode(make().as_mut(), body.chunks(size));
    assert_eq!(whole, cut, "the body cut into {size}-byte reads decodes differently");
}
