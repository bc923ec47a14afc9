//! An incremental Server-Sent Events parser (the WHATWG event-stream format)
//! over a byte stream that arrives in arbitrary pieces.
//!
//! Lines are split on bytes, before any UTF-8 decoding, so a multi-byte
//! character cut by a chunk boundary is reassembled: a line terminator is
//! ASCII and never occurs inside one.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` seen on the stream, if any.
    pub id: Option<String>,
}

/// The most one event (its unfinished line and its `data` so far) may hold.
/// Far above any real event, it stops a server that streams bytes without
/// line breaks from growing the buffers until memory runs out.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// An event grew past the parser's limit without ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge {
    pub limit: usize,
}

impl fmt::Display for EventTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: usize = 1 << 20;
        if self.limit >= MIB && self.limit.is_multiple_of(MIB) {
            write!(
                f,
                "an SSE event exceeded the limit of {} MiB without ending",
                self.limit / MIB
            )
        } else {
            write!(
                f,
                "an SSE event exceeded the limit of {} bytes without ending",
                self.limit
            )
        }
    }
}

impl std::error::Error for EventTooLarge {}

/// Feed it bytes as they arrive; it returns the events they complete.
#[derive(Debug)]
pub struct SseParser {
    /// Bytes of a line not yet terminated.
    pending: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next chunk
    /// belongs to the same terminator.
    after_cr: bool,
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    /// [`MAX_EVENT_BYTES`] unless set otherwise.
    limit: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser that fails once one event holds more than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        SseParser {
            pending: Vec::new(),
            after_cr: false,
            started: false,
            event: None,
            data: String::new(),
            has_data: false,
            last_id: None,
            limit,
        }
    }

    /// Parse `bytes`, returning every event they complete, or an error once
    /// the event under way outgrows the limit (the parser is then spent).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, EventTooLarge> {
        let mut out = Vec::new();
        let mut rest = bytes;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (line, tail) = rest.split_at(pos);
            self.pending.extend_from_slice(line);
            let is_cr = tail[0] == b'\r';
            rest = &tail[1..];
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = std::mem::take(&mut self.pending);
            if let Some(event) = self.line(&line) {
                out.push(event);
            }
        }
        self.pending.extend_from_slice(rest);
        // Checked once per chunk: what one chunk adds is already in memory,
        // and only growth across chunks is unbounded.
        if self.pending.len() + self.data.len() > self.limit {
            return Err(EventTooLarge { limit: self.limit });
        }
        Ok(out)
    }

    /// The stream ended. An event without its blank line is discarded, as
    /// the spec says: it may have been cut off.
    pub fn finish(&mut self) {
        self.pending.clear();
        self.data.clear();
        self.has_data = false;
        self.event = None;
    }

    fn line(&mut self, line: &[u8]) -> Option<SseEvent> {
        let mut line = line;
        if !self.started {
            self.started = true;
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            event: event.filter(|e| !e.is_empty()),
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        })
    }
}

/// Why an [`SseStream`] failed.
#[derive(Debug)]
pub enum SseError<E> {
    /// The byte stream failed.
    Source(E),
    /// An event outgrew the parser's limit.
    TooLarge(EventTooLarge),
}

impl<E: fmt::Display> fmt::Display for SseError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::Source(e) => e.fmt(f),
            SseError::TooLarge(e) => e.fmt(f),
        }
    }
}

/// A stream of SSE events over a stream of byte chunks. Errors of the byte
/// stream are passed through; after one the stream ends.
pub struct SseStream<S> {
    inner: S,
    parser: SseParser,
    ready: VecDeque<SseEvent>,
    done: bool,
}

impl<S> SseStream<S> {
    pub fn new(inner: S) -> Self {
        Self::with_parser(inner, SseParser::new())
    }

    pub fn with_parser(inner: S, parser: SseParser) -> Self {
        SseStream {
            inner,
            parser,
            ready: VecDeque::new(),
            done: false,
        }
    }
}

impl<S, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<SseEvent, SseError<E>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => match self.parser.feed(&bytes) {
                    Ok(events) => self.ready.extend(events),
                    Err(too_large) => {
                        self.done = true;
                        return Poll::Ready(Some(Err(SseError::TooLarge(too_large))));
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(SseError::Source(e))));
                }
                Poll::Ready(None) => {
                    self.done = true;
                    self.parser.finish();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(parser.feed(chunk).unwrap());
        }
        parser.finish();
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(String::from),
            data: data.into(),
            id: None,
        }
    }

    #[test]
    fn event_and_data_lines() {
        let got = all(&[b"event: a\ndata: {\"x\":1}\n\ndata: plain\n\n"]);
        assert_eq!(got, vec![ev(Some("a"), "{\"x\":1}"), ev(None, "plain")]);
    }

    #[test]
    fn comments_crlf_and_multi_line_data() {
        let got = all(&[b": keep-alive\r\n\r\ndata: one\r\ndata:two\r\n\r\n"]);
        assert_eq!(got, vec![ev(None, "one\ntwo")]);
    }

    #[test]
    fn events_split_at_every_byte() {
        let text = "event: response.output_text.delta\r\ndata: {\"delta\":\"h\u{e9}llo \u{1f600}\"}\r\n\r\ndata: b\n\n";
        let bytes = text.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        let got = all(&chunks);
        assert_eq!(
            got,
            vec![
                ev(
                    Some("response.output_text.delta"),
                    "{\"delta\":\"h\u{e9}llo \u{1f600}\"}"
                ),
                ev(None, "b")
            ]
        );
    }

    #[test]
    fn lone_cr_terminates_lines() {
        assert_eq!(all(&[b"data: a\r", b"\r"]), vec![ev(None, "a")]);
    }

    #[test]
    fn an_unterminated_event_is_dropped_at_the_end() {
        assert_eq!(all(&[b"data: a\n\ndata: cut"]), vec![ev(None, "a")]);
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing_and_reset_the_type() {
        assert_eq!(
            all(&[b"event: x\n\ndata: y\n\n"]),
            vec![ev(None, "y")],
            "an event type without data must not leak into the next event"
        );
    }

    #[test]
    fn ids_and_field_without_colon() {
        let mut parser = SseParser::new();
        let got = parser.feed(b"id: 7\ndata\n\n").unwrap();
        assert_eq!(
            got,
            vec![SseEvent {
                event: None,
                data: String::new(),
                id: Some("7".into())
            }]
        );
    }

    #[test]
    fn an_event_without_line_breaks_hits_the_limit() {
        let mut parser = SseParser::with_limit(64);
        assert_eq!(parser.feed(&[b'x'; 40]), Ok(vec![]));
        let err = parser.feed(&[b'x'; 40]).unwrap_err();
        assert_eq!(err, EventTooLarge { limit: 64 });
        assert_eq!(
            err.to_string(),
            "an SSE event exceeded the limit of 64 bytes without ending"
        );
        assert_eq!(
            EventTooLarge {
                limit: MAX_EVENT_BYTES
            }
            .to_string(),
            "an SSE event exceeded the limit of 16 MiB without ending"
        );
    }

    #[test]
    fn many_data_lines_count_towards_the_limit_and_a_dispatch_resets_it() {
        let mut parser = SseParser::with_limit(64);
        // 3 × 20 bytes of data stay under the limit and dispatch.
        let line = format!("data: {}\n", "y".repeat(20));
        let event = format!("{line}{line}{line}\n");
        for _ in 0..3 {
            assert_eq!(parser.feed(event.as_bytes()).unwrap().len(), 1);
        }
        // The same lines without the blank line accumulate past it.
        assert!(parser.feed(line.as_bytes()).is_ok());
        assert!(parser.feed(line.as_bytes()).is_ok());
        assert!(parser.feed(line.as_bytes()).is_ok());
        assert_eq!(
            parser.feed(line.as_bytes()),
            Err(EventTooLarge { limit: 64 })
        );
    }
}
