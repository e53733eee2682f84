//! Incremental Server-Sent Events decoder: bytes in (split anywhere), whole events out, in
//! time linear in the input and memory bounded by the longest line or event allowed.

use crate::ProviderError;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, empty when absent.
    pub event: String,
    pub data: String,
}

/// The longest SSE line, and the largest event, a decoder accepts unless told otherwise.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug)]
pub struct SseDecoder {
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no newline. A long line arrives in many pieces;
    /// searching it again from its start at each piece made decoding quadratic.
    scanned: usize,
    event: String,
    data: String,
    has_data: bool,
    /// Bound on one line and on one event's data: past it the stream is refused rather than
    /// buffered without end.
    max: usize,
    examined: u64,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that refuses lines and events longer than `max_event_bytes`.
    pub fn with_limit(max_event_bytes: usize) -> Self {
        SseDecoder {
            buf: Vec::new(),
            scanned: 0,
            event: String::new(),
            data: String::new(),
            has_data: false,
            max: max_event_bytes,
            examined: 0,
        }
    }

    /// Bytes looked at while searching for line ends, over the decoder's life: the work done,
    /// which stays proportional to the input however it is split.
    pub fn bytes_examined(&self) -> u64 {
        self.examined
    }

    fn examine(&mut self, n: usize) {
        self.examined = self.examined.saturating_add(n as u64);
    }

    /// Feeds bytes and appends every event they complete to `out`. A line or an event longer
    /// than the limit is an error (the events completed before it are still in `out`); the
    /// decoder is not to be fed after one.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), ProviderError> {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            let from = self.scanned.max(start);
            let rest = self.buf.get(from..).unwrap_or_default();
            let Some(pos) = rest.iter().position(|&b| b == b'\n') else {
                self.examine(rest.len());
                self.scanned = self.buf.len();
                break;
            };
            self.examine(pos + 1);
            let end = from + pos;
            let mut line = self.buf.get(start..end).unwrap_or_default();
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if line.len() > self.max {
                return Err(self.line_too_long());
            }
            start = end + 1;
            // Comments (keep-alives) are dropped without being copied out.
            if line.first() == Some(&b':') {
                continue;
            }
            let line = String::from_utf8_lossy(line).into_owned();
            if let Some(ev) = self.line(&line)? {
                out.push(ev);
            }
        }
        self.buf.drain(..start);
        self.scanned = self.scanned.saturating_sub(start);
        // One large event must not keep its buffer for the rest of a long stream (thousands
        // of streams run at once).
        if self.buf.is_empty() && self.buf.capacity() > 64 * 1024 {
            self.buf = Vec::new();
        }
        // What is left is the start of one line; a CR at its end may be the first half of
        // its CRLF, which is not part of the line.
        let pending = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
        if pending.len() > self.max {
            return Err(self.line_too_long());
        }
        Ok(())
    }

    fn line_too_long(&self) -> ProviderError {
        ProviderError::Decode(format!(
            "the stream sent a line longer than the limit of {} bytes",
            self.max
        ))
    }

    /// Call at end of input: an event missing its final blank line is still delivered.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, ProviderError> {
        if !self.buf.is_empty() {
            self.scanned = 0;
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            let rest = rest.trim_end_matches('\r').to_string();
            if let Some(ev) = self.line(&rest)? {
                return Ok(Some(ev));
            }
        }
        Ok(self.dispatch())
    }

    fn line(&mut self, line: &str) -> Result<Option<SseEvent>, ProviderError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                // Many short `data:` lines make one event: that is bounded too.
                if self.data.len().saturating_add(value.len()) > self.max {
                    return Err(ProviderError::Decode(format!(
                        "the stream sent an event larger than the limit of {} bytes",
                        self.max
                    )));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        if !self.has_data {
            self.event.clear();
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(d: &mut SseDecoder, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        d.push(bytes, &mut out).expect("within the limit");
        out
    }

    #[test]
    fn splits_anywhere_and_skips_comments() {
        let wire = b": keep-alive\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
        for cut in 0..wire.len() {
            let mut d = SseDecoder::new();
            let mut evs = push(&mut d, &wire[..cut]);
            evs.extend(push(&mut d, &wire[cut..]));
            assert_eq!(evs.len(), 3, "cut at {cut}");
            assert_eq!(evs[0].event, "message_start");
            assert_eq!(evs[0].data, "{\"a\":1}");
            assert_eq!(evs[1].data, "x\ny");
            assert_eq!(evs[2].data, "[DONE]");
        }
    }

    #[test]
    fn a_line_at_the_limit_is_accepted_however_its_crlf_is_split() {
        // Found by the `sse` fuzz target: the CR of a CRLF arriving before its LF counted
        // towards the line.
        let wire = b"data: 12345678\r\n\r\n";
        let limit = "data: 12345678".len();
        for cut in 0..wire.len() {
            let mut d = SseDecoder::with_limit(limit);
            let mut out = Vec::new();
            let first = d.push(&wire[..cut], &mut out);
            let second = d.push(&wire[cut..], &mut out);
            assert!(first.is_ok() && second.is_ok(), "cut at {cut}");
            assert_eq!(out.len(), 1, "cut at {cut}");
        }
    }

    #[test]
    fn delivers_unterminated_last_event() {
        let mut d = SseDecoder::new();
        assert!(push(&mut d, b"data: tail").is_empty());
        assert_eq!(
            d.finish().ok().flatten().map(|e| e.data),
            Some("tail".into())
        );
    }

    #[test]
    fn a_long_line_in_small_pieces_is_scanned_once() {
        let n = 8 * 1024 * 1024;
        let mut d = SseDecoder::with_limit(2 * n);
        let piece = [b'x'; 4096];
        assert!(push(&mut d, b"data: ").is_empty());
        for _ in 0..n / piece.len() {
            assert!(push(&mut d, &piece).is_empty());
        }
        assert_eq!(push(&mut d, b"\n\n").len(), 1);
        let n = n as u64;
        assert!(
            d.bytes_examined() <= 2 * n,
            "{} bytes examined for {n}",
            d.bytes_examined()
        );
        // Many short lines, split across pieces, are linear too.
        let mut d = SseDecoder::new();
        let wire = b"data: {\"a\":1}\n\n".repeat(100_000);
        let mut events = 0;
        for piece in wire.chunks(4096) {
            events += push(&mut d, piece).len();
        }
        assert_eq!(events, 100_000);
        assert!(d.bytes_examined() <= 2 * wire.len() as u64);
    }

    #[test]
    fn a_line_or_event_beyond_the_limit_is_an_error_not_a_growing_buffer() {
        let limit = 64 * 1024;
        let mut d = SseDecoder::with_limit(limit);
        let mut out = Vec::new();
        d.push(b"data: before\n\ndata: ", &mut out).expect("fits");
        let piece = [b'x'; 1000];
        let mut fed = 0;
        let err = loop {
            match d.push(&piece, &mut out) {
                Ok(()) => fed += piece.len(),
                Err(e) => break e,
            }
            assert!(
                fed <= limit,
                "the buffer is refused before it outgrows the limit"
            );
        };
        assert!(
            matches!(err, ProviderError::Decode(ref m) if m.contains("65536")),
            "{err}"
        );
        assert_eq!(out.len(), 1, "the event before the long line is delivered");
        // A long line that arrives whole with its newline is refused too.
        let mut d = SseDecoder::with_limit(limit);
        let mut line = b": ".to_vec();
        line.extend(vec![b'x'; limit + 1]);
        line.extend_from_slice(b"\n");
        assert!(d.push(&line, &mut out).is_err());
        // So is an event made of many short data lines.
        let mut d = SseDecoder::with_limit(limit);
        let many = b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
            .repeat(limit / 64);
        assert!(d.push(&many, &mut out).is_err());
    }
}
