//! The host bridge: core's `JsonHost` answered by one JavaScript function,
//! the package's dispatcher, `(kind, payloadJson) => Promise<answerJson>`.
//!
//! It is called through a ThreadsafeFunction that is *weak* (unref'd): an
//! agent that holds it never keeps Node alive. A running turn keeps Node
//! alive anyway through the pending Promise of its event stream, so a
//! callback is never stranded. The answer is `{"ok": value}` or
//! `{"error": message}`; the package keeps what a callback threw, to attach
//! it as the `cause` of the turn's error.
//!
//! Hook callbacks are `{"type": "callback", "id"}` handlers in the agent's
//! `hooks` option: core chains them (with command hooks) and asks for each
//! by id, so nothing here handles a hook by event name.

use async_trait::async_trait;
use codeloop_core::agent::{HostRequestKind, JsonHost};
use codeloop_core::{Error, Result};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use serde_json::Value;

/// `(kind, payloadJson) => Promise<answerJson>`, unref'd, called with its
/// arguments as they are (no error-first convention).
pub type Dispatcher = ThreadsafeFunction<
    (String, String),
    Promise<String>,
    (String, String),
    napi::Status,
    false,
    true,
>;

pub struct NodeHost {
    dispatcher: Dispatcher,
    /// Whether `canUseTool` was given; without it approvals are denied, as
    /// a headless core does.
    approvals: bool,
}

impl NodeHost {
    pub fn new(dispatcher: Dispatcher, approvals: bool) -> Self {
        NodeHost {
            dispatcher,
            approvals,
        }
    }

    /// Send one request to the dispatcher and wait for its answer.
    async fn send_request(&self, kind: &str, payload: &Value) -> Result<Value> {
        let payload = payload.to_string();
        let promise = self
            .dispatcher
            .call_async_catch((kind.to_owned(), payload))
            .await
            .map_err(|e| Error::Host(format!("the codeloop {kind} dispatcher failed: {e}")))?;
        let answer = promise
            .await
            .map_err(|e| Error::Host(format!("the codeloop {kind} dispatcher failed: {e}")))?;
        let mut answer: Value = serde_json::from_str(&answer)
            .map_err(|e| Error::Host(format!("the {kind} callback answered invalid JSON: {e}")))?;
        if let Some(message) = answer.get("error").and_then(Value::as_str) {
            return Err(Error::Host(message.to_owned()));
        }
        Ok(answer.get_mut("ok").map(Value::take).unwrap_or(Value::Null))
    }
}

#[async_trait]
impl JsonHost for NodeHost {
    fn handles_approvals(&self) -> bool {
        self.approvals
    }

    /// Hook callbacks are asked by id (`hook_callback`); the by-name
    /// hook that runs after the chain has no JavaScript side.
    fn handles_hook(&self, _name: &str) -> bool {
        false
    }

    async fn ask(&self, kind: HostRequestKind, _thread_id: &str, payload: Value) -> Result<Value> {
        // The dispatcher's names for the three kinds of request.
        let kind = match kind {
            HostRequestKind::Tool => "tool",
            HostRequestKind::Approval => "approve",
            HostRequestKind::Hook => "hook",
        };
        self.send_request(kind, &payload).await
    }

    fn approval_callback_name(&self) -> &str {
        "canUseTool"
    }
}
