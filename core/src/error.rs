//! The one error type of the core. Each front maps it to its own exception or
//! error types by [`Error::code`], keeping the message.

use crate::protocol::{ErrorCode, ThreadError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model API rejected the request with a status that retrying cannot fix
    /// (400, 404, 422, ...). Fix the request, model name or provider settings.
    #[error("model API error (HTTP {status}): {message}")]
    Api { status: u16, message: String },

    /// The API key is missing or was rejected (401/403). Set the key variable.
    #[error("unauthorized: {0}")]
    Unauthorized(String),

    /// The conversation is larger than the model's context window. Start a new
    /// thread or compact the history.
    #[error("context window exceeded: {0}")]
    ContextWindowExceeded(String),

    /// The account has no quota left. Nothing to retry until it is raised.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),

    /// The model reported a failed or incomplete response.
    #[error("model response failed: {0}")]
    ResponseFailed(String),

    /// The connection or stream failed and every retry failed too (dropped
    /// stream, idle stream, malformed event, 5xx, 429). The last cause is kept.
    /// The message says how many attempts were made.
    #[error("stream error: {0}")]
    Stream(String),

    /// A replay cassette had no matching exchange for a request.
    #[error("replay cassette mismatch: {0}")]
    Replay(String),

    /// The turn was interrupted by the host; the thread can run again.
    #[error("turn interrupted")]
    Interrupted,

    /// A budget ran out; the items so far are kept and the thread can run again.
    #[error("budget exceeded: {0}")]
    BudgetExceeded(String),

    /// The sandbox refused an action (or cannot be enforced here).
    #[error("sandbox: {0}")]
    Sandbox(String),

    /// Options or configuration are invalid; the message names the bad value.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A host callback failed or answered something invalid.
    #[error("host callback failed: {0}")]
    Host(String),

    /// `run` was called while a turn is running on the same thread.
    #[error("a turn is already running on this thread")]
    Busy,

    /// The final answer did not match the output schema, or was not JSON,
    /// after every re-ask (`output_schema_retries`). `errors` lists what was
    /// wrong; the answer itself is the turn's last `agent_message`.
    #[error("the final answer does not match the output schema: {}", .errors.join("; "))]
    OutputInvalid { errors: Vec<String> },

    /// `steer` was called while no turn runs on the thread: start a run instead.
    #[error("no turn is running on this thread")]
    NoActiveTurn,

    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// An invariant broke: a bug in codeloop. Please report it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Api { .. } | Error::ResponseFailed(_) => ErrorCode::ModelApi,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::ContextWindowExceeded(_) => ErrorCode::ContextWindowExceeded,
            Error::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            Error::Stream(_) => ErrorCode::Stream,
            Error::Replay(_) => ErrorCode::Replay,
            Error::Interrupted => ErrorCode::Interrupted,
            Error::BudgetExceeded(_) => ErrorCode::BudgetExceeded,
            Error::Sandbox(_) => ErrorCode::Sandbox,
            Error::Config(_) => ErrorCode::Config,
            Error::Host(_) => ErrorCode::Host,
            Error::Busy => ErrorCode::Busy,
            Error::OutputInvalid { .. } => ErrorCode::OutputInvalid,
            Error::NoActiveTurn => ErrorCode::NoActiveTurn,
            Error::Io { .. } => ErrorCode::Io,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn to_thread_error(&self) -> ThreadError {
        ThreadError {
            message: self.to_string(),
            code: Some(self.code()),
        }
    }

    /// Rebuild an error from a `turn.failed` event (the stream carries no
    /// Rust error, only its message and code).
    pub fn from_thread_error(error: &ThreadError) -> Self {
        // Messages carry the variant's Display prefix; strip it so a round trip
        // through an event gives back the same text.
        fn rebuild(make: fn(String) -> Error, message: &str) -> Error {
            let prefix = make(String::new()).to_string();
            make(message.strip_prefix(&prefix).unwrap_or(message).to_string())
        }
        let m = error.message.as_str();
        match error.code {
            Some(ErrorCode::ModelApi) => rebuild(Error::ResponseFailed, m),
            Some(ErrorCode::Unauthorized) => rebuild(Error::Unauthorized, m),
            Some(ErrorCode::ContextWindowExceeded) => rebuild(Error::ContextWindowExceeded, m),
            Some(ErrorCode::QuotaExceeded) => rebuild(Error::QuotaExceeded, m),
            Some(ErrorCode::Stream) => rebuild(Error::Stream, m),
            Some(ErrorCode::Replay) => rebuild(Error::Replay, m),
            Some(ErrorCode::Interrupted) => Error::Interrupted,
            Some(ErrorCode::BudgetExceeded) => rebuild(Error::BudgetExceeded, m),
            Some(ErrorCode::Sandbox) => rebuild(Error::Sandbox, m),
            Some(ErrorCode::Config) => rebuild(Error::Config, m),
            Some(ErrorCode::Host) => rebuild(Error::Host, m),
            Some(ErrorCode::Busy) => Error::Busy,
            Some(ErrorCode::OutputInvalid) => {
                let prefix = Error::OutputInvalid { errors: Vec::new() }.to_string();
                let rest = m.strip_prefix(&prefix).unwrap_or(m);
                Error::OutputInvalid {
                    errors: rest.split("; ").map(str::to_string).collect(),
                }
            }
            Some(ErrorCode::NoActiveTurn) => Error::NoActiveTurn,
            Some(ErrorCode::Io) => Error::io(m, std::io::Error::other("reported by a turn")),
            Some(ErrorCode::Internal) | None => rebuild(Error::Internal, m),
        }
    }
}
