//! An incremental Server-Sent Events parser (the WHATWG event-stream format)
//! over a byte stream that arrives in arbitrary pieces.
//!
//! Lines are split on bytes, before any UTF-8 decoding, so a multi-byte
//! character cut by a chunk boundary is reassembled: a line terminator is
//! ASCII and never occurs inside one.

use std::collections::VecDeque;
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

/// Feed it bytes as they arrive; it returns the events they complete.
#[derive(Debug, Default)]
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
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse `bytes`, returning every event they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
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
        out
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
        SseStream {
            inner,
            parser: SseParser::new(),
            ready: VecDeque::new(),
            done: false,
        }
    }
}

impl<S, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<SseEvent, E>;

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
                Poll::Ready(Some(Ok(bytes))) => {
                    let events = self.parser.feed(&bytes);
                    self.ready.extend(events);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
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
            out.extend(parser.feed(chunk));
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
        let got = parser.feed(b"id: 7\ndata\n\n");
        assert_eq!(
            got,
            vec![SseEvent {
                event: None,
                data: String::new(),
                id: Some("7".into())
            }]
        );
    }
}
