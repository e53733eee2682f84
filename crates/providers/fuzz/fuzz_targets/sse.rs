#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_providers::sse::{SseDecoder, SseEvent};

/// The events `pieces` make, and whether the decoder refused them (line or event over the
/// limit).
fn events<'a>(limit: usize, pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<SseEvent>, bool) {
    let mut d = SseDecoder::with_limit(limit);
    let mut out = Vec::new();
    for p in pieces {
        if d.push(p, &mut out).is_err() {
            return (out, true);
        }
    }
    match d.finish() {
        Ok(tail) => {
            out.extend(tail);
            (out, false)
        }
        Err(_) => (out, true),
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: the read size; second: a small line limit, so the limit is reached too.
    let [seed, limit, body @ ..] = data else {
        return;
    };
    let limit = usize::from(*limit) + 1;
    let size = usize::from(seed % 64) + 1;
    let whole = events(limit, std::iter::once(body));
    let cut = events(limit, body.chunks(size));
    assert_eq!(whole, cut, "{size}-byte reads with a {limit}-byte limit");
});
