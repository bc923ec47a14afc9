//! Tracing: the spans core emits, and (with the `otel` feature) their export
//! over OTLP/HTTP.
//!
//! Spans, named and attributed after the OpenTelemetry GenAI semantic
//! conventions so that tracing back ends show them as agent runs:
//!
//! - `run` — one turn of a thread: `thread_id`, `turn` (1-based, counted over
//!   the thread's life, resumes included), `gen_ai.operation.name` =
//!   `invoke_agent`, `gen_ai.conversation.id`.
//! - `model_request` (OTel name `chat <model>`, kind client) — one model
//!   request with its retries: `gen_ai.operation.name` = `chat`,
//!   `gen_ai.provider.name` (and the older `gen_ai.system`),
//!   `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.response.id`,
//!   `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
//!   `codeloop.retries`, and `error.type` when it failed.
//! - `tool_call` (OTel name `execute_tool <tool>`) — one tool call, hooks
//!   included: `gen_ai.operation.name` = `execute_tool`, `gen_ai.tool.name`,
//!   `gen_ai.tool.call.id`, `gen_ai.tool.type`, `status` (`completed`,
//!   `failed`: the tool reported an error to the model, `error`: a host
//!   callback failed).
//!
//! With no subscriber installed these cost one relaxed atomic load each.

use std::future::Future;

use tracing::Instrument;

use crate::error::Result;
use crate::tools::{ToolCall, ToolOutput};

#[cfg(feature = "otel")]
mod otlp;
#[cfg(feature = "otel")]
pub use otlp::{init, otel_layer, otlp_provider, OtlpConfig, Telemetry};

/// Run `dispatch` (the call's hooks and tool) inside a `tool_call` span.
pub(crate) async fn tool_call<F>(call: &ToolCall, dispatch: F) -> Result<ToolOutput>
where
    F: Future<Output = Result<ToolOutput>>,
{
    use tracing::field::Empty;
    let span = tracing::info_span!(
        "tool_call",
        "otel.name" = %format_args!("execute_tool {}", call.name),
        "otel.status_code" = Empty,
        "gen_ai.operation.name" = "execute_tool",
        "gen_ai.tool.name" = %call.name,
        "gen_ai.tool.call.id" = %call.call_id,
        "gen_ai.tool.type" = "function",
        status = Empty,
    );
    let output = dispatch.instrument(span.clone()).await;
    if !span.is_disabled() {
        let status = match &output {
            Ok(o) if o.success => "completed",
            Ok(_) => "failed",
            Err(_) => "error",
        };
        span.record("status", status);
        if status == "error" {
            span.record("otel.status_code", "ERROR");
        }
    }
    output
}

/// Install the OTLP trace exporter that the standard `OTEL_*` variables
/// describe, once per process: fronts call this when they load. `Ok(false)`
/// when nothing is configured (no `OTEL_EXPORTER_OTLP_ENDPOINT` /
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), when `OTEL_SDK_DISABLED=true` or
/// `OTEL_TRACES_EXPORTER=none`, when it was installed already, or when core
/// was built without the `otel` feature. An `Err` names what was wrong: a bad
/// variable, or a global tracing subscriber the host program installed
/// first (it is left alone; add [`otel_layer`] to it instead).
pub fn init_from_env() -> Result<bool> {
    #[cfg(feature = "otel")]
    {
        otlp::init_from_env()
    }
    #[cfg(not(feature = "otel"))]
    {
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        {
            tracing::warn!("OTEL_EXPORTER_OTLP_ENDPOINT is set but codeloop-core was built without the `otel` feature");
        }
        Ok(false)
    }
}

/// Export the spans still buffered and stop the exporter [`init_from_env`]
/// installed. Idempotent, and a no-op when nothing was installed. It also
/// runs at process exit (`atexit`), so fronts need not call it; calling it
/// earlier bounds when the flush happens.
pub fn shutdown() {
    #[cfg(feature = "otel")]
    otlp::shutdown_global();
}
