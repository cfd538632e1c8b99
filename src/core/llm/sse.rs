//! Server-Sent Events decoding for the byte path: bytes in, the `data` of each event out.
//!
//! Every byte is scanned once and copied at most once, whatever the line length or the way the
//! body is cut into pieces, so a hostile multi-megabyte line costs linear time; a line longer
//! than the cap is refused before it is buffered whole. Only `data` fields matter to a chat
//! completion: `event`, `id`, `retry` and comments are skipped.

use std::ops::ControlFlow;

use super::error::LlmError;

/// Longest SSE line (and event data) accepted unless configured otherwise.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// A line buffer that grew for one long line gives the memory back down to this.
const KEPT_BUFFER_BYTES: usize = 64 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What to do after an event: read on, or stop (the reply is complete).
pub type Flow = ControlFlow<()>;

/// Splits a byte stream into SSE events (lines end in LF, CRLF or CR, an empty line ends an
/// event) and hands the `data` of each to a callback.
#[derive(Debug)]
pub struct SseDecoder {
    max_line_bytes: usize,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The data of the event being read: its `data` values, each followed by LF.
    data: String,
    /// The last piece ended in CR, so an LF starting the next one ends no new line.
    after_cr: bool,
    /// A byte-order mark is allowed only before the first line.
    first_line: bool,
}

impl SseDecoder {
    pub fn new(max_line_bytes: usize) -> Self {
        SseDecoder {
            max_line_bytes,
            partial: Vec::new(),
            data: String::new(),
            after_cr: false,
            first_line: true,
        }
    }

    /// Decodes the next piece of the body, calling `on_data` with the data of every event it
    /// completes; stops as soon as `on_data` breaks.
    pub fn push<F>(&mut self, mut bytes: &[u8], on_data: &mut F) -> Result<Flow, LlmError>
    where
        F: FnMut(&str) -> Result<Flow, LlmError>,
    {
        if let Some(&first) = bytes.first() {
            if std::mem::take(&mut self.after_cr) && first == b'\n' {
                bytes = &bytes[1..];
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            let next = match (bytes[end], bytes.get(end + 1)) {
                (b'\r', Some(b'\n')) => end + 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    end + 1
                }
                _ => end + 1,
            };
            let flow = if self.partial.is_empty() {
                self.check_line_length(end)?;
                self.line(&bytes[..end], on_data)?
            } else {
                self.check_line_length(self.partial.len() + end)?;
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&bytes[..end]);
                let flow = self.line(&line, on_data);
                line.clear();
                line.shrink_to(KEPT_BUFFER_BYTES);
                self.partial = line;
                flow?
            };
            bytes = &bytes[next..];
            if flow.is_break() {
                return Ok(flow);
            }
        }
        self.check_line_length(self.partial.len() + bytes.len())?;
        self.partial.extend_from_slice(bytes);
        Ok(Flow::Continue(()))
    }

    /// The body ended: a last line without its line end, and a last event without the empty
    /// line after it, still count.
    pub fn finish<F>(&mut self, on_data: &mut F) -> Result<(), LlmError>
    where
        F: FnMut(&str) -> Result<Flow, LlmError>,
    {
        let line = std::mem::take(&mut self.partial);
        if !line.is_empty() && self.line(&line, on_data)?.is_break() {
            return Ok(());
        }
        self.dispatch(on_data).map(drop)
    }

    fn check_line_length(&self, len: usize) -> Result<(), LlmError> {
        if len <= self.max_line_bytes {
            return Ok(());
        }
        Err(LlmError::over_cap("an SSE line", self.max_line_bytes))
    }

    fn line<F>(&mut self, mut line: &[u8], on_data: &mut F) -> Result<Flow, LlmError>
    where
        F: FnMut(&str) -> Result<Flow, LlmError>,
    {
        if std::mem::take(&mut self.first_line) {
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            return self.dispatch(on_data);
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => return Ok(Flow::Continue(())),
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        if field != b"data" {
            return Ok(Flow::Continue(()));
        }
        let value = std::str::from_utf8(value).map_err(LlmError::invalid_utf8)?;
        self.check_line_length(self.data.len() + value.len())?;
        self.data.push_str(value);
        self.data.push('\n');
        Ok(Flow::Continue(()))
    }

    fn dispatch<F>(&mut self, on_data: &mut F) -> Result<Flow, LlmError>
    where
        F: FnMut(&str) -> Result<Flow, LlmError>,
    {
        if self.data.is_empty() {
            return Ok(Flow::Continue(()));
        }
        self.data.pop();
        let flow = on_data(&self.data);
        self.data.clear();
        self.data.shrink_to(KEPT_BUFFER_BYTES);
        flow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::llm::error::LlmErrorKind;

    /// The data of every event of `pieces`, fed in order, then the end of the body.
    fn decode(pieces: &[&[u8]], max: usize) -> Result<Vec<String>, LlmError> {
        let mut decoder = SseDecoder::new(max);
        let mut events = Vec::new();
        let mut sink = |data: &str| {
            events.push(data.to_string());
            Ok(Flow::Continue(()))
        };
        for piece in pieces {
            assert!(decoder.push(piece, &mut sink)?.is_continue());
        }
        decoder.finish(&mut sink)?;
        Ok(events)
    }

    /// Every way of cutting `body` in two must give the same events as the whole.
    fn same_at_every_split(body: &[u8]) -> Vec<String> {
        let whole = decode(&[body], 1024).expect("whole");
        for cut in 0..=body.len() {
            let (a, b) = body.split_at(cut);
            assert_eq!(decode(&[a, b], 1024).expect("split"), whole, "cut at {cut}");
        }
        whole
    }

    #[test]
    fn data_lines_join_and_other_fields_and_comments_are_skipped() {
        let body =
            b": comment\nevent: chunk\nid: 7\nretry: 10\ndata: a\ndata:b\ndata\n\n\ndata: c\n\n";
        assert_eq!(same_at_every_split(body), vec!["a\nb\n", "c"]);
    }

    #[test]
    fn crlf_and_lone_cr_end_lines_even_across_pieces() {
        assert_eq!(
            same_at_every_split(b"data: a\r\n\r\ndata: b\r\rdata: c\r\n\r\n"),
            vec!["a", "b", "c"]
        );
        // CR at the end of one piece and LF at the start of the next are one line end.
        assert_eq!(
            decode(&[b"data: a\r", b"\n\r", b"\n"], 64).expect("events"),
            vec!["a"]
        );
    }

    #[test]
    fn the_end_of_the_body_ends_the_last_line_and_event() {
        assert_eq!(same_at_every_split(b"data: x\n\ndata: y"), vec!["x", "y"]);
        assert_eq!(decode(&[b"data: z\n"], 64).expect("events"), vec!["z"]);
    }

    #[test]
    fn a_leading_byte_order_mark_is_dropped() {
        assert_eq!(same_at_every_split(b"\xEF\xBB\xBFdata: a\n\n"), vec!["a"]);
    }

    #[test]
    fn empty_data_is_an_event_with_no_text() {
        assert_eq!(decode(&[b"data:\n\n"], 64).expect("events"), vec![""]);
    }

    #[test]
    fn a_line_over_the_cap_is_refused_before_it_ends() {
        let mut decoder = SseDecoder::new(16);
        let mut sink = |_: &str| Ok(Flow::Continue(()));
        assert!(decoder
            .push(b"data: 0123456789", &mut sink)
            .expect("16 bytes fit")
            .is_continue());
        let err = decoder.push(b"x", &mut sink).expect_err("17 bytes do not");
        assert_eq!(err.kind, LlmErrorKind::Stream);
        assert!(err.to_string().contains("longer than 16 bytes"), "{err}");
        // A line of exactly the cap, whole in one piece, is accepted.
        assert_eq!(
            decode(&[b"data: 0123456789\n\n"], 16).expect("events"),
            vec!["0123456789"]
        );
    }

    #[test]
    fn event_data_over_the_cap_is_refused() {
        let err = decode(&[b"data: 0123456789\ndata: 0123456789\n\n"], 16)
            .expect_err("two lines of 10 exceed 16");
        assert!(err.to_string().contains("longer than 16 bytes"), "{err}");
    }

    #[test]
    fn invalid_utf8_in_data_is_a_stream_error() {
        let err = decode(&[b"data: \xFF\xFE\n\n"], 64).expect_err("invalid");
        assert_eq!(err.kind, LlmErrorKind::Stream);
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn a_break_stops_decoding_at_once() {
        let mut decoder = SseDecoder::new(64);
        let mut seen = Vec::new();
        let flow = decoder
            .push(b"data: 1\n\ndata: 2\n\n", &mut |d: &str| {
                seen.push(d.to_string());
                Ok(Flow::Break(()))
            })
            .expect("decoded");
        assert!(flow.is_break());
        assert_eq!(seen, vec!["1"]);
    }
}
