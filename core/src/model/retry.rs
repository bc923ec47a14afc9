//! One model request, driven to completion with retries.
//!
//! Two budgets, as in the Codex CLI: a request that fails before anything was
//! streamed (connection refused, 429, 5xx) counts against
//! `request_max_retries`; a stream that breaks midway (dropped, idle, malformed)
//! counts against `stream_max_retries`. Delays grow exponentially from
//! `base_delay` with ±10 % jitter, and a server's `Retry-After` wins.

use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use tracing::Instrument;

use super::{ModelClient, ModelError, ModelRequest, ResponseEvent};
use crate::error::{Error, Result};
use crate::protocol::{ResponseItem, Usage};

/// Why a stream that ended without `response.completed` failed, whichever
/// provider's stream it was.
pub(crate) const CLOSED_BEFORE_COMPLETION: &str = "model stream closed before response.completed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub request_max_retries: u32,
    pub stream_max_retries: u32,
    pub idle_timeout: Duration,
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            request_max_retries: 4,
            stream_max_retries: 5,
            idle_timeout: Duration::from_millis(300_000),
            base_delay: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after;
        }
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let jitter = rand::rng().random_range(0.9..1.1);
        exp.mul_f64(jitter)
    }
}

/// What happens while a request runs, for the loop to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    TextDelta(String),
    ReasoningDelta(String),
    /// An output item began streaming.
    ItemAdded(ResponseItem),
    Retrying {
        attempt: u32,
        max: u32,
        delay: Duration,
        message: String,
    },
}

/// A finished model response: its output items in order and its usage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompletedResponse {
    pub response_id: String,
    /// The model that answered, when the server said.
    pub model: Option<String>,
    pub items: Vec<ResponseItem>,
    pub usage: Usage,
}

/// Run `request` against `client` until a response completes or the retry
/// budgets run out. Output items are only returned once the response has
/// completed, so a retried stream never yields half a response.
///
/// Traced as a `model_request` span with the OpenTelemetry GenAI attributes
/// (`gen_ai.*`: operation, provider, models, response id, token counts).
pub async fn run_request(
    client: &dyn ModelClient,
    request: &ModelRequest,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<CompletedResponse> {
    use tracing::field::Empty;
    let span = tracing::info_span!(
        "model_request",
        "otel.name" = %format_args!("chat {}", request.model),
        "otel.kind" = "client",
        "otel.status_code" = Empty,
        "gen_ai.operation.name" = "chat",
        "gen_ai.provider.name" = client.provider_name(),
        "gen_ai.system" = client.provider_name(),
        "gen_ai.request.model" = %request.model,
        "gen_ai.response.model" = Empty,
        "gen_ai.response.id" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "codeloop.retries" = Empty,
        "error.type" = Empty,
    );
    let mut retries = 0u32;
    let result = retrying(client, request, on_progress, &mut retries)
        .instrument(span.clone())
        .await;
    if !span.is_disabled() {
        span.record("codeloop.retries", retries);
        match &result {
            Ok(done) => {
                span.record("gen_ai.response.id", done.response_id.as_str());
                span.record(
                    "gen_ai.response.model",
                    done.model.as_deref().unwrap_or(&request.model),
                );
                span.record("gen_ai.usage.input_tokens", done.usage.input_tokens);
                span.record("gen_ai.usage.output_tokens", done.usage.output_tokens);
            }
            Err(e) => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", tracing::field::debug(e.code()));
            }
        }
    }
    result
}

async fn retrying(
    client: &dyn ModelClient,
    request: &ModelRequest,
    on_progress: &mut (dyn FnMut(Progress) + Send),
    retries: &mut u32,
) -> Result<CompletedResponse> {
    let policy = client.retry_policy();
    let mut request_retries = 0u32;
    let mut stream_retries = 0u32;
    loop {
        let (message, retry_after, budget) =
            match attempt(client, request, &policy, on_progress).await {
                Ok(done) => return Ok(done),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Request {
                    message,
                    retry_after,
                }) => {
                    request_retries += 1;
                    (
                        message,
                        retry_after,
                        (request_retries, policy.request_max_retries),
                    )
                }
                Err(Failure::Stream {
                    message,
                    retry_after,
                }) => {
                    stream_retries += 1;
                    (
                        message,
                        retry_after,
                        (stream_retries, policy.stream_max_retries),
                    )
                }
            };
        let (attempt_no, max) = budget;
        if attempt_no > max {
            // Every failure above was one attempt, whichever budget it used.
            let attempts = request_retries + stream_retries;
            return Err(Error::Stream(format!(
                "{message} (gave up after {attempts} attempts)"
            )));
        }
        *retries += 1;
        let delay = policy.backoff(attempt_no, retry_after);
        tracing::warn!(attempt = attempt_no, max, ?delay, %message, "retrying model request");
        on_progress(Progress::Retrying {
            attempt: attempt_no,
            max,
            delay,
            message,
        });
        tokio::time::sleep(delay).await;
    }
}

enum Failure {
    Fatal(Error),
    Request {
        message: String,
        retry_after: Option<Duration>,
    },
    Stream {
        message: String,
        retry_after: Option<Duration>,
    },
}

async fn attempt(
    client: &dyn ModelClient,
    request: &ModelRequest,
    policy: &RetryPolicy,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> std::result::Result<CompletedResponse, Failure> {
    let mut stream = match client.stream(request).await {
        Ok(s) => s,
        Err(ModelError::Fatal(e)) => return Err(Failure::Fatal(e)),
        Err(ModelError::Retryable {
            message,
            retry_after,
        }) => {
            return Err(Failure::Request {
                message,
                retry_after,
            })
        }
    };
    let mut items = Vec::new();
    loop {
        let next = match tokio::time::timeout(policy.idle_timeout, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                return Err(Failure::Stream {
                    message: format!(
                        "model stream idle for {} ms",
                        policy.idle_timeout.as_millis()
                    ),
                    retry_after: None,
                })
            }
        };
        match next {
            None => {
                return Err(Failure::Stream {
                    message: CLOSED_BEFORE_COMPLETION.into(),
                    retry_after: None,
                })
            }
            Some(Err(ModelError::Fatal(e))) => return Err(Failure::Fatal(e)),
            Some(Err(ModelError::Retryable {
                message,
                retry_after,
            })) => {
                return Err(Failure::Stream {
                    message,
                    retry_after,
                })
            }
            Some(Ok(event)) => match event {
                ResponseEvent::Created => {}
                ResponseEvent::OutputItemAdded { item } => on_progress(Progress::ItemAdded(item)),
                ResponseEvent::OutputItemDone { item } => items.push(item),
                ResponseEvent::OutputTextDelta { delta } => on_progress(Progress::TextDelta(delta)),
                ResponseEvent::ReasoningSummaryDelta { delta }
                | ResponseEvent::ReasoningContentDelta { delta } => {
                    on_progress(Progress::ReasoningDelta(delta))
                }
                ResponseEvent::Completed {
                    response_id,
                    usage,
                    model,
                } => {
                    return Ok(CompletedResponse {
                        response_id,
                        model,
                        items,
                        usage: usage.unwrap_or_default(),
                    })
                }
            },
        }
    }
}
