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
}

/// The host of a run with nobody to ask: every default above.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeadlessHost;

impl Host for HeadlessHost {}
