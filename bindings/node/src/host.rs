//! The host bridge: core's `Host` trait answered by one JavaScript function,
//! the package's dispatcher, `(kind, payloadJson) => Promise<answerJson>`.
//!
//! It is called through a ThreadsafeFunction that is *weak* (unref'd): an
//! agent that holds it never keeps Node alive. A running turn keeps Node
//! alive anyway through the pending Promise of its event stream, so a
//! callback is never stranded. The answer is `{"ok": value}` or
//! `{"error": message}`; the package keeps what a callback threw, to attach
//! it as the `cause` of the turn's error.

use std::collections::HashSet;

use async_trait::async_trait;
use codeloop_core::protocol::{
    ApprovalDecision, ApprovalRequest, HookEvent, HookOutcome, HostToolCall, HostToolResult,
};
use codeloop_core::{Error, Host, Result};
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
    /// Hook names with a JavaScript handler; the others are answered here
    /// without a trip to the JavaScript thread.
    hooks: HashSet<String>,
    /// Whether `canUseTool` was given; without it approvals are denied, as
    /// a headless core does.
    approvals: bool,
}

impl NodeHost {
    pub fn new(dispatcher: Dispatcher, hooks: HashSet<String>, approvals: bool) -> Self {
        NodeHost {
            dispatcher,
            hooks,
            approvals,
        }
    }

    /// Send one request to the dispatcher and wait for its answer.
    async fn ask(&self, kind: &str, payload: &impl serde::Serialize) -> Result<Value> {
        let payload = serde_json::to_string(payload)
            .map_err(|e| Error::Internal(format!("cannot serialize a host request: {e}")))?;
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

fn hook_name(event: &HookEvent) -> &'static str {
    match event {
        HookEvent::SessionStart { .. } => "SessionStart",
        HookEvent::UserPromptSubmit { .. } => "UserPromptSubmit",
        HookEvent::PreToolUse { .. } => "PreToolUse",
        HookEvent::PostToolUse { .. } => "PostToolUse",
        HookEvent::Stop { .. } => "Stop",
    }
}

#[async_trait]
impl Host for NodeHost {
    async fn call_tool(&self, call: HostToolCall) -> HostToolResult {
        // A tool's failure is the model's to handle: never an Err here.
        match self.ask("tool", &call).await {
            Ok(answer) => {
                serde_json::from_value(answer).unwrap_or_else(|e| HostToolResult::Error {
                    message: format!(
                        "the handler of tool `{}` answered something invalid: {e}",
                        call.name
                    ),
                })
            }
            Err(e) => HostToolResult::Error {
                message: e.to_string(),
            },
        }
    }

    async fn approve(&self, request: ApprovalRequest) -> Result<ApprovalDecision> {
        if !self.approvals {
            return Ok(ApprovalDecision::Deny);
        }
        let answer = self.ask("approve", &request).await?;
        serde_json::from_value(answer.clone()).map_err(|_| {
            Error::Host(format!(
                "canUseTool answered {answer}; expected true, false, \"approve\", \
                 \"approve_for_session\", \"deny\" or \"abort\""
            ))
        })
    }

    async fn hook(&self, event: HookEvent) -> Result<HookOutcome> {
        let name = hook_name(&event);
        if !self.hooks.contains(name) {
            return Ok(HookOutcome::default());
        }
        let answer = self.ask("hook", &event).await?;
        serde_json::from_value(answer)
            .map_err(|e| Error::Host(format!("the {name} hook answered an invalid outcome: {e}")))
    }
}
