//! Model providers. Each speaks a real wire format and turns it into
//! [`ResponseEvent`]s: `responses` (OpenAI Responses over SSE), `chat` (Chat
//! Completions streaming, any OpenAI-compatible server) and `replay` (a
//! recorded cassette). [`retry::run_request`] drives one model request with
//! retries and is what the agent loop calls.

pub mod chat;
pub mod provider;
pub mod replay;
pub mod responses;
pub mod retry;
pub mod sse;

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::protocol::{ReasoningEffort, ReasoningSummaryMode, ResponseItem, ToolSpec, Usage};

pub use provider::{build_client, ProviderConfig};

/// One request to the model: the whole history and the tools on offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRequest {
    pub model: String,
    pub instructions: Option<String>,
    pub input: Vec<ResponseItem>,
    pub tools: Vec<ToolSpec>,
    pub parallel_tool_calls: bool,
    pub reasoning: Option<ReasoningConfig>,
    /// JSON Schema for the final answer (`text.format` json_schema).
    pub output_schema: Option<Value>,
    /// Sent as `prompt_cache_key` (the thread id) so the server can reuse its cache.
    pub prompt_cache_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReasoningConfig {
    pub effort: Option<ReasoningEffort>,
    pub summary: Option<ReasoningSummaryMode>,
}

/// What a provider's stream yields, normalized across wire formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseEvent {
    Created,
    /// An output item began (a tool call, a message).
    OutputItemAdded {
        item: ResponseItem,
    },
    /// An output item is finished; tool calls run from these.
    OutputItemDone {
        item: ResponseItem,
    },
    OutputTextDelta {
        delta: String,
    },
    ReasoningSummaryDelta {
        delta: String,
    },
    ReasoningContentDelta {
        delta: String,
    },
    /// The response is complete. Every successful stream ends with this.
    Completed {
        response_id: String,
        usage: Option<Usage>,
        /// The model that answered, when the server said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
}

/// A failure from a provider, sorted by whether retrying can help.
#[derive(Debug)]
pub enum ModelError {
    /// 429, 5xx, connection reset, dropped/idle/malformed stream: try again,
    /// after `retry_after` when the server said so.
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// 400/401/403/404, context window, quota, replay mismatch: give up now.
    Fatal(Error),
}

impl From<Error> for ModelError {
    fn from(e: Error) -> Self {
        ModelError::Fatal(e)
    }
}

pub type ResponseStream = Pin<Box<dyn Stream<Item = Result<ResponseEvent, ModelError>> + Send>>;

/// A model provider.
#[async_trait::async_trait]
pub trait ModelClient: Send + Sync {
    /// Send the request and return its event stream. An error here means
    /// nothing was streamed (the request-retry budget applies); an error item
    /// in the stream means it broke midway (the stream-retry budget applies).
    async fn stream(&self, request: &ModelRequest) -> Result<ResponseStream, ModelError>;

    /// The retry budgets and idle timeout for this client.
    fn retry_policy(&self) -> retry::RetryPolicy;

    /// The provider's id, for telemetry (`gen_ai.provider.name`).
    fn provider_name(&self) -> &str {
        "unknown"
    }
}
