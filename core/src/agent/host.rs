//! The `Host` trait: requests from the agent to the embedding program.

use async_trait::async_trait;

use crate::error::Result;
use crate::protocol::{
    ApprovalDecision, ApprovalRequest, HookEvent, HookOutcome, HostToolCall, HostToolResult,
};

/// What the agent asks of the program that embeds it. Every method has a
/// default that answers at once, so a headless run never blocks: host tools
/// report that no handler exists, approvals are denied, hooks let things go on.
#[async_trait]
pub trait Host: Send + Sync {
    /// Run a host-defined tool (one of `AgentOptions::host_tools`). An error
    /// result goes back to the model; the turn goes on.
    async fn call_tool(&self, call: HostToolCall) -> HostToolResult {
        HostToolResult::Error {
            message: format!("no handler is registered for tool `{}`", call.name),
        }
    }

    /// Decide whether an action that needs permission may go ahead. An `Err`
    /// fails the turn (a callback that threw).
    async fn approve(&self, _request: ApprovalRequest) -> Result<ApprovalDecision> {
        Ok(ApprovalDecision::Deny)
    }

    /// Observe or steer a lifecycle hook. An `Err` fails the turn.
    async fn hook(&self, _event: HookEvent) -> Result<HookOutcome> {
        Ok(HookOutcome::default())
    }

    /// Run the hook callback registered as `callback_id` (a `{"type":
    /// "callback", "id"}` handler in the `hooks` option), one link of the
    /// event's chain. An `Err` fails the turn.
    async fn hook_callback(&self, _callback_id: &str, _event: HookEvent) -> Result<HookOutcome> {
        Ok(HookOutcome::default())
    }
}

/// The host of a run with nobody to ask: every default above.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeadlessHost;

impl Host for HeadlessHost {}

/// What a host request is, for fronts that bridge the [`Host`] through JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostRequestKind {
    Tool,
    Approval,
    Hook,
}

/// The hook's name as hook configurations spell it (`PreToolUse`, ...).
pub fn hook_name(event: &HookEvent) -> &'static str {
    match event {
        HookEvent::SessionStart { .. } => "SessionStart",
        HookEvent::UserPromptSubmit { .. } => "UserPromptSubmit",
        HookEvent::PreToolUse { .. } => "PreToolUse",
        HookEvent::PostToolUse { .. } => "PostToolUse",
        HookEvent::Stop { .. } => "Stop",
    }
}

/// The thread a hook event belongs to.
pub fn hook_session(event: &HookEvent) -> &str {
    match event {
        HookEvent::SessionStart { session_id, .. }
        | HookEvent::UserPromptSubmit { session_id, .. }
        | HookEvent::PreToolUse { session_id, .. }
        | HookEvent::PostToolUse { session_id, .. }
        | HookEvent::Stop { session_id, .. } => session_id,
    }
}

/// A host in another language, reached with JSON: the request goes out as its
/// protocol JSON and the answer comes back as JSON. Every such type is a
/// [`Host`]; core reads the answers with one set of rules (and one set of
/// error messages), so the fronts (Python, Node, the C ABI) only carry bytes.
#[async_trait]
pub trait JsonHost: Send + Sync {
    /// Whether the program runs host tools; when not, a call gets the
    /// headless answer (no handler).
    fn handles_tools(&self) -> bool {
        true
    }

    /// Whether the program answers approval requests; when not, they are denied.
    fn handles_approvals(&self) -> bool;

    /// Whether the program has a callback for hook `name`; when not, the
    /// hook lets things go on without a crossing.
    fn handles_hook(&self, name: &str) -> bool;

    /// Send `payload` (the request's protocol JSON) for thread `thread_id`
    /// and wait for the answer. An `Err` is a failing callback.
    async fn ask(
        &self,
        kind: HostRequestKind,
        thread_id: &str,
        payload: serde_json::Value,
    ) -> Result<serde_json::Value>;

    /// What the approval callback is called in the host language, for
    /// error messages (`can_use_tool`, `canUseTool`).
    fn approval_callback_name(&self) -> &str {
        "the approval callback"
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| crate::Error::Internal(format!("cannot serialize a host request: {e}")))
}

#[async_trait]
impl<T: JsonHost + ?Sized> Host for T {
    async fn call_tool(&self, call: HostToolCall) -> HostToolResult {
        if !self.handles_tools() {
            return HeadlessHost.call_tool(call).await;
        }
        // A tool's failure is the model's to handle: never an Err here.
        let answer = match to_json(&call) {
            Ok(payload) => {
                self.ask(HostRequestKind::Tool, &call.thread_id, payload)
                    .await
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok(v) => serde_json::from_value(v).unwrap_or_else(|e| HostToolResult::Error {
                message: format!(
                    "the handler of tool `{}` answered something invalid: {e}",
                    call.name
                ),
            }),
            Err(e) => HostToolResult::Error {
                message: e.to_string(),
            },
        }
    }

    async fn approve(&self, request: ApprovalRequest) -> Result<ApprovalDecision> {
        if !self.handles_approvals() {
            return Ok(ApprovalDecision::Deny);
        }
        let payload = to_json(&request)?;
        let answer = self
            .ask(HostRequestKind::Approval, &request.thread_id, payload)
            .await?;
        // A yes/no answer is the common case in every language.
        match answer {
            serde_json::Value::Bool(true) => return Ok(ApprovalDecision::Approve),
            serde_json::Value::Bool(false) => return Ok(ApprovalDecision::Deny),
            _ => {}
        }
        serde_json::from_value(answer.clone()).map_err(|_| {
            crate::Error::Host(format!(
                "{} answered {answer}; expected \"approve\", \"approve_for_session\", \"deny\" \
                 or \"abort\" (or a yes/no)",
                self.approval_callback_name()
            ))
        })
    }

    async fn hook(&self, event: HookEvent) -> Result<HookOutcome> {
        let name = hook_name(&event);
        if !self.handles_hook(name) {
            return Ok(HookOutcome::default());
        }
        let payload = to_json(&event)?;
        let answer = self
            .ask(HostRequestKind::Hook, hook_session(&event), payload)
            .await?;
        serde_json::from_value(answer).map_err(|e| {
            crate::Error::Host(format!("the {name} hook answered an invalid outcome: {e}"))
        })
    }

    async fn hook_callback(&self, callback_id: &str, event: HookEvent) -> Result<HookOutcome> {
        let name = hook_name(&event);
        let mut payload = to_json(&event)?;
        if let Some(obj) = payload.as_object_mut() {
            obj.insert("callback_id".into(), callback_id.into());
        }
        let answer = self
            .ask(HostRequestKind::Hook, hook_session(&event), payload)
            .await?;
        serde_json::from_value(answer).map_err(|e| {
            crate::Error::Host(format!(
                "the {name} hook callback `{callback_id}` answered an invalid outcome: {e}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::protocol::{ApprovalAction, HookDecision};

    /// Answers every request with a fixed JSON value and counts crossings.
    struct Scripted {
        answer: Value,
        handles: bool,
        asked: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl JsonHost for Scripted {
        fn handles_tools(&self) -> bool {
            self.handles
        }
        fn handles_approvals(&self) -> bool {
            self.handles
        }
        fn handles_hook(&self, name: &str) -> bool {
            self.handles && name == "PreToolUse"
        }
        async fn ask(&self, _: HostRequestKind, _: &str, _: Value) -> Result<Value> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.answer.clone())
        }
        fn approval_callback_name(&self) -> &str {
            "can_use_tool"
        }
    }

    fn scripted(answer: Value, handles: bool) -> Scripted {
        Scripted {
            answer,
            handles,
            asked: Default::default(),
        }
    }

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            thread_id: "t".into(),
            call_id: "c".into(),
            cwd: "/".into(),
            reason: None,
            action: ApprovalAction::Command {
                command: vec!["ls".into()],
            },
        }
    }

    fn pre_tool_use() -> HookEvent {
        HookEvent::PreToolUse {
            session_id: "t".into(),
            cwd: "/".into(),
            tool_name: "Bash".into(),
            tool_input: json!({}),
        }
    }

    #[tokio::test]
    async fn json_answers_become_typed_answers() -> anyhow::Result<()> {
        let host = scripted(json!("approve_for_session"), true);
        assert_eq!(
            host.approve(request()).await?,
            ApprovalDecision::ApproveForSession
        );
        let host = scripted(json!(true), true);
        assert_eq!(host.approve(request()).await?, ApprovalDecision::Approve);
        let host = scripted(json!(false), true);
        assert_eq!(host.approve(request()).await?, ApprovalDecision::Deny);
        let host = scripted(json!({"decision": "deny", "reason": "no"}), true);
        let outcome = host.hook(pre_tool_use()).await?;
        assert_eq!(outcome.decision, HookDecision::Deny);
        let host = scripted(json!({"type": "output", "output": "42"}), true);
        let call = HostToolCall {
            thread_id: "t".into(),
            call_id: "c".into(),
            name: "answer".into(),
            arguments: json!({}),
        };
        assert_eq!(
            host.call_tool(call.clone()).await,
            HostToolResult::Output {
                output: "42".into()
            }
        );
        // A tool answering nonsense is a tool error, not a failed turn.
        let host = scripted(json!(7), true);
        match host.call_tool(call).await {
            HostToolResult::Error { message } => assert!(message.contains("`answer`"), "{message}"),
            other => panic!("{other:?}"),
        }
        Ok(())
    }

    #[tokio::test]
    async fn bad_answers_fail_the_turn_naming_the_callback() {
        let host = scripted(json!("maybe"), true);
        let err = host.approve(request()).await.err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("can_use_tool answered \"maybe\""), "{err}");
        let err = host.hook(pre_tool_use()).await.err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("PreToolUse hook"));
    }

    #[tokio::test]
    async fn unhandled_requests_get_headless_answers_without_crossing() -> anyhow::Result<()> {
        let host = scripted(json!("approve"), false);
        assert_eq!(host.approve(request()).await?, ApprovalDecision::Deny);
        assert_eq!(host.hook(pre_tool_use()).await?, HookOutcome::default());
        assert_eq!(host.asked.load(std::sync::atomic::Ordering::SeqCst), 0);
        Ok(())
    }
}
