//! Tools defined by the embedding program: offered as function tools, run
//! through `Host::call_tool`, shown as `tool_call` items.

use serde_json::Value;

use super::{ToolCall, ToolContext, ToolOutput};
use crate::protocol::{HostToolCall, HostToolResult, HostToolSpec, ToolSpec};

pub fn spec(tool: &HostToolSpec) -> ToolSpec {
    ToolSpec::Function {
        name: tool.name.clone(),
        description: tool.description.clone(),
        strict: false,
        parameters: tool.parameters.clone(),
    }
}

pub async fn handle(ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    super::as_tool_call_item(ctx, call, async {
        let arguments: Value = match call.parse_args() {
            Ok(v) => v,
            Err(e) => return e,
        };
        let request = HostToolCall {
            thread_id: ctx.thread_id.clone(),
            call_id: call.call_id.clone(),
            name: call.name.clone(),
            arguments,
        };
        let result = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => HostToolResult::Error { message: "interrupted".into() },
            r = ctx.host.call_tool(request) => r,
        };
        match result {
            HostToolResult::Output { output } => ToolOutput::success(output),
            HostToolResult::Error { message } => ToolOutput::error(message),
        }
    })
    .await
}
