//! A scripted stand-in for the remote model, on loopback, speaking the same
//! bytes as the real APIs: OpenAI Responses SSE (`POST …/responses`) and Chat
//! Completions SSE (`POST …/chat/completions`), chunked, keep-alive.
//!
//! Both endpoints take replies from one FIFO queue, one per request; a
//! request with none left gets a 500 whose message says the script ran out.
//! Every request is recorded (method, path, lowercased headers, JSON body).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use codeloop_mock_server::{responses, MockServer, Reply};
//!
//! let server = MockServer::start().await?;
//! server.push(responses::function_call_turn("resp_1", "call_1", "shell_command", r#"{"command":"ls"}"#));
//! server.push(Reply::rate_limited(1));
//! server.push(responses::text_turn("resp_2", "done"));
//! // point the client at server.base_url() ...
//! let requests = server.wait_for_requests(3).await?;
//! assert_eq!(requests[2].input().len(), 3);
//! # Ok(()) }
//! ```
//!
//! The `codeloop-mock-server` binary serves the same over a port for tests in
//! other languages, with control endpoints `POST /__mock/replies`,
//! `GET /__mock/requests` and `POST /__mock/reset`.
//!
//! [`otlp::collector`] is a stand-in OpenTelemetry collector, for the tests
//! of tracing export.

pub mod chat;
mod http;
pub mod otlp;
mod reply;
pub mod responses;
mod server;

pub use reply::{HttpReply, Reply, SseEvent, SseReply};
pub use server::{MockServer, RecordedRequest, WAIT_TIMEOUT};

/// Parse a script: a JSON array of replies.
pub fn parse_script(text: &str) -> anyhow::Result<Vec<Reply>> {
    Ok(serde_json::from_str(text)?)
}
