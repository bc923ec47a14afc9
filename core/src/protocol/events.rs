//! Thread events: the Codex `exec --json` event model, same names and fields.
//! Additions are new event types (`item.delta`), never changed meanings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::items::ThreadItem;

/// One event of a thread's run, one JSON object per line in `codeloop exec --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum ThreadEvent {
    /// The first event of a run on a thread object: the id to resume it by.
    #[serde(rename = "thread.started")]
    ThreadStarted { thread_id: String },
    #[serde(rename = "turn.started")]
    TurnStarted {},
    /// The turn ended normally. `usage` is cumulative for the thread.
    /// `output` (a codeloop addition, absent without an output schema) is the
    /// final answer parsed and validated against the run's schema.
    #[serde(rename = "turn.completed")]
    TurnCompleted {
        usage: Usage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<serde_json::Value>,
    },
    /// The turn ended with an error (interrupted, budget exceeded, model error).
    #[serde(rename = "turn.failed")]
    TurnFailed { error: ThreadError },
    #[serde(rename = "item.started")]
    ItemStarted { item: ThreadItem },
    #[serde(rename = "item.updated")]
    ItemUpdated { item: ThreadItem },
    #[serde(rename = "item.completed")]
    ItemCompleted { item: ThreadItem },
    /// Streaming text for an item that has not completed yet (codeloop addition;
    /// `exec --json` leaves it out unless `--include-deltas` is given).
    #[serde(rename = "item.delta")]
    ItemDelta {
        item_id: String,
        item_type: DeltaKind,
        delta: String,
    },
    /// A non-fatal error (a retry, a warning).
    #[serde(rename = "error")]
    Error { message: String },
    /// The history was replaced by a summary and the recent user messages
    /// (codeloop addition; Codex's `exec --json` has no such event).
    #[serde(rename = "thread.compacted")]
    ThreadCompacted(Compaction),
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Compaction {
    /// `auto` (the context reached `auto_compact_token_limit`) or `manual`
    /// (`Thread::compact`).
    pub trigger: CompactionTrigger,
    /// The context size before, in tokens: the last model request's input +
    /// output as the model reported them (0 when no request was made yet).
    pub tokens_before: u64,
    /// History items before and after.
    pub items_before: usize,
    pub items_after: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompactionTrigger {
    Auto,
    Manual,
}

/// Which item a delta belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeltaKind {
    AgentMessage,
    Reasoning,
    CommandOutput,
}

/// Token usage, cumulative for the thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_output_tokens += other.reasoning_output_tokens;
    }

    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// The error of a failed turn. `code` (a codeloop addition) lets fronts map the
/// failure to their own error types without parsing the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadError {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
}

/// The kind of a core error, stable across fronts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The model API answered with an error status or a failed response.
    ModelApi,
    /// The API key was missing or rejected (401/403).
    Unauthorized,
    /// The conversation no longer fits the model's context window.
    ContextWindowExceeded,
    /// The account's quota is used up.
    QuotaExceeded,
    /// Transport or stream failure after all retries (dropped, idle, malformed).
    Stream,
    /// A replay cassette did not match the request.
    Replay,
    /// The turn was interrupted by the host.
    Interrupted,
    /// A budget (max turns, tokens, cost, wall time) ran out.
    BudgetExceeded,
    /// The sandbox refused to run something.
    Sandbox,
    /// Options or configuration were invalid.
    Config,
    /// A host callback failed.
    Host,
    /// A turn is already running on this thread.
    Busy,
    /// The final answer did not match the output schema (or was not JSON).
    OutputInvalid,
    /// `steer` was called while no turn runs on the thread.
    NoActiveTurn,
    /// Local I/O failed.
    Io,
    /// A bug in codeloop.
    Internal,
}
