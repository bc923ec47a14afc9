//! JSON Schema export of the public protocol.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AgentOptions, ApprovalDecision, ApprovalRequest, HookEvent, HookOutcome, HostToolCall,
    HostToolResult, RunOptions, ThreadEvent, ThreadItem,
};

/// The root of the exported schema: one property per public type, so a single
/// file carries every definition the fronts need.
#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(title = "codeloop protocol")]
pub struct Protocol {
    pub options: AgentOptions,
    pub run_options: RunOptions,
    pub event: ThreadEvent,
    pub item: ThreadItem,
    pub host_tool_call: HostToolCall,
    pub host_tool_result: HostToolResult,
    pub approval_request: ApprovalRequest,
    pub approval_decision: ApprovalDecision,
    pub hook_event: HookEvent,
    pub hook_outcome: HookOutcome,
}

/// The protocol's JSON Schema, pretty-printed with a trailing newline: the
/// exact text of the committed `core/protocol.schema.json`.
pub fn protocol_schema() -> String {
    let schema = schemars::schema_for!(Protocol);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// The committed schema must match the types. Regenerate with
    /// `CODELOOP_UPDATE_SCHEMA=1 cargo test -p codeloop-core schema` (or `make schema`).
    #[test]
    fn committed_schema_matches_types() -> anyhow::Result<()> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol.schema.json");
        let current = super::protocol_schema();
        if std::env::var_os("CODELOOP_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &current)?;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == current,
            "{} is out of date with the protocol types; run `make schema` and commit it",
            path.display()
        );
        Ok(())
    }
}
