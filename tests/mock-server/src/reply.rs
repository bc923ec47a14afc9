//! Scripted replies. Everything here is serde-serializable so a script can be
//! a JSON file (`--script FILE.json`) or pushed over `POST /__mock/replies`
//! by tests written in other languages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One scripted answer to one model request. Replies are served in FIFO order
/// whatever the endpoint; the variant only decides the byte framing.
///
/// JSON form: `{"kind": "responses", "events": [...]}`,
/// `{"kind": "chat", "events": [...]}` or
/// `{"kind": "http", "status": 429, "headers": {...}, "body": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// A Responses API stream: each JSON event is framed
    /// `event: <type>\ndata: <json>\n\n`.
    Responses(SseReply),
    /// A Chat Completions stream: each chunk is framed `data: <json>\n\n` and
    /// the stream ends with `data: [DONE]\n\n` (unless `omit_done`).
    Chat(SseReply),
    /// A plain HTTP response, for errors such as 429, 500, 400 or 401.
    Http(HttpReply),
}

/// An SSE stream and the faults to inject into it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SseReply {
    pub events: Vec<SseEvent>,
    /// Send this many events, then close the connection without the
    /// terminating chunk (the client sees a broken body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_after: Option<usize>,
    /// Send this many events, then go idle until the client disconnects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_after: Option<usize>,
    /// Wait this long before every event.
    #[serde(skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    /// Write each event in pieces of at most this many bytes, each its own
    /// HTTP chunk, so clients see events (and UTF-8 sequences) split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<usize>,
    /// Chat only: end cleanly without `data: [DONE]`.
    #[serde(skip_serializing_if = "is_false")]
    pub omit_done: bool,
    /// Extra response headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// One SSE event: a JSON payload framed by the server, or raw bytes sent
/// verbatim (for malformed events). JSON form: `{"data": {...}}` or
/// `{"raw": "data: {not json\n\n"}`, either with an optional `delay_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SseEvent {
    Data {
        data: Value,
        #[serde(default, skip_serializing_if = "is_zero")]
        delay_ms: u64,
    },
    Raw {
        raw: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        delay_ms: u64,
    },
}

impl SseEvent {
    pub fn json(data: Value) -> Self {
        SseEvent::Data { data, delay_ms: 0 }
    }

    /// Bytes sent exactly as given; include the `\n\n` terminator yourself.
    pub fn raw(raw: impl Into<String>) -> Self {
        SseEvent::Raw {
            raw: raw.into(),
            delay_ms: 0,
        }
    }

    /// Wait `ms` milliseconds before sending this event.
    pub fn delayed(self, ms: u64) -> Self {
        match self {
            SseEvent::Data { data, .. } => SseEvent::Data { data, delay_ms: ms },
            SseEvent::Raw { raw, .. } => SseEvent::Raw { raw, delay_ms: ms },
        }
    }

    pub fn delay_ms(&self) -> u64 {
        match self {
            SseEvent::Data { delay_ms, .. } | SseEvent::Raw { delay_ms, .. } => *delay_ms,
        }
    }

    /// The JSON payload, `None` for raw events.
    pub fn data(&self) -> Option<&Value> {
        match self {
            SseEvent::Data { data, .. } => Some(data),
            SseEvent::Raw { .. } => None,
        }
    }

    /// The bytes on the wire. Responses events carry an `event:` line named
    /// after their JSON `type`, as the real API sends them.
    pub fn frame(&self, with_event_line: bool) -> String {
        match self {
            SseEvent::Raw { raw, .. } => raw.clone(),
            SseEvent::Data { data, .. } => {
                let payload = data.to_string();
                match data.get("type").and_then(Value::as_str) {
                    Some(kind) if with_event_line => format!("event: {kind}\ndata: {payload}\n\n"),
                    _ => format!("data: {payload}\n\n"),
                }
            }
        }
    }
}

impl From<Value> for SseEvent {
    fn from(data: Value) -> Self {
        SseEvent::json(data)
    }
}

/// A plain (non-streaming) HTTP response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpReply {
    pub status: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Sent as JSON; a JSON string is sent as plain text; `null` sends no body.
    #[serde(default)]
    pub body: Value,
    /// Wait this long before answering (for header timeouts).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
}

impl Reply {
    /// A Responses SSE stream of `events`.
    pub fn responses<E: Into<SseEvent>>(events: impl IntoIterator<Item = E>) -> Self {
        Reply::Responses(SseReply {
            events: events.into_iter().map(Into::into).collect(),
            ..SseReply::default()
        })
    }

    /// A Chat Completions SSE stream of `chunks`, `[DONE]` appended.
    pub fn chat<E: Into<SseEvent>>(chunks: impl IntoIterator<Item = E>) -> Self {
        Reply::Chat(SseReply {
            events: chunks.into_iter().map(Into::into).collect(),
            ..SseReply::default()
        })
    }

    /// A plain HTTP reply with a JSON body.
    pub fn http(status: u16, body: Value) -> Self {
        Reply::Http(HttpReply {
            status,
            headers: BTreeMap::new(),
            body,
            delay_ms: 0,
        })
    }

    /// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
    pub fn error(status: u16, message: &str, error_type: &str, code: Option<&str>) -> Self {
        Reply::http(
            status,
            json!({"error": {"message": message, "type": error_type, "param": null, "code": code}}),
        )
    }

    /// 429 with `Retry-After: <seconds>` and a `rate_limit_exceeded` body.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Reply::error(
            429,
            "Rate limit reached for requests. Please try again later.",
            "requests",
            Some("rate_limit_exceeded"),
        )
        .with_header("retry-after", &retry_after_secs.to_string())
    }

    /// 500 with OpenAI's generic server error body.
    pub fn server_error() -> Self {
        Reply::error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        )
    }

    /// 401 as OpenAI answers a bad key.
    pub fn unauthorized() -> Self {
        Reply::error(
            401,
            "Incorrect API key provided: sk-mock. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            Some("invalid_api_key"),
        )
    }

    /// 400 `context_length_exceeded`.
    pub fn context_length_exceeded() -> Self {
        Reply::error(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
            "invalid_request_error",
            Some("context_length_exceeded"),
        )
    }

    /// 429 `insufficient_quota` (not retryable, unlike other 429s).
    pub fn insufficient_quota() -> Self {
        Reply::error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            Some("insufficient_quota"),
        )
    }

    /// Add a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let headers = match &mut self {
            Reply::Responses(s) | Reply::Chat(s) => &mut s.headers,
            Reply::Http(h) => &mut h.headers,
        };
        headers.insert(name.to_ascii_lowercase(), value.to_string());
        self
    }

    /// Send `n` events, then close the connection mid-body.
    pub fn drop_after(self, n: usize) -> Self {
        self.map_sse(|s| s.drop_after = Some(n))
    }

    /// Send `n` events, then go idle until the client gives up.
    pub fn stall_after(self, n: usize) -> Self {
        self.map_sse(|s| s.stall_after = Some(n))
    }

    /// Wait `ms` before every event (or before an HTTP reply).
    pub fn with_delay_ms(mut self, ms: u64) -> Self {
        if let Reply::Http(h) = &mut self {
            h.delay_ms = ms;
            return self;
        }
        self.map_sse(|s| s.delay_ms = ms)
    }

    /// Write events in pieces of at most `n` bytes.
    pub fn chunked_by(self, n: usize) -> Self {
        self.map_sse(|s| s.chunk_size = Some(n.max(1)))
    }

    /// Chat: end the stream without `data: [DONE]`.
    pub fn without_done(self) -> Self {
        self.map_sse(|s| s.omit_done = true)
    }

    fn map_sse(mut self, f: impl FnOnce(&mut SseReply)) -> Self {
        if let Reply::Responses(s) | Reply::Chat(s) = &mut self {
            f(s);
        }
        self
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn replies_round_trip_through_json() {
        let replies = vec![
            Reply::responses([json!({"type": "response.created"})]).drop_after(1),
            Reply::chat([SseEvent::raw("data: {not json\n\n").delayed(5)]).without_done(),
            Reply::rate_limited(2),
        ];
        let text = serde_json::to_string(&replies).unwrap();
        let back: Vec<Reply> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, replies);
    }

    #[test]
    fn script_json_is_short_to_write() {
        let reply: Reply = serde_json::from_str(
            r#"{"kind": "responses", "events": [{"data": {"type": "response.created"}}, {"raw": "data: x\n\n"}], "stall_after": 1}"#,
        )
        .unwrap();
        let Reply::Responses(s) = reply else {
            panic!("not a responses reply")
        };
        assert_eq!(s.stall_after, Some(1));
        assert_eq!(s.events[1], SseEvent::raw("data: x\n\n"));
    }

    #[test]
    fn misspelled_fault_is_rejected() {
        let err =
            serde_json::from_str::<Reply>(r#"{"kind": "chat", "events": [], "drop_afer": 1}"#)
                .unwrap_err();
        assert!(err.to_string().contains("drop_afer"), "{err}");
    }
}
