//! Tools defined by the embedding program: offered as function tools, run
//! through `Host::call_tool`, shown as `tool_call` items.

use serde_json::Value;

use super::{ToolCall, ToolContext, ToolOutput};
use crate::protocol::{
    HostToolCall, HostToolResult, HostToolSpec, ItemDetails, ToolCallStatus, ToolSpec,
};

pub fn spec(tool: &HostToolSpec) -> ToolSpec {
    ToolSpec::Function {
        name: tool.name.clone(),
        description: tool.description.clone(),
        strict: false,
        parameters: tool.parameters.clone(),
    }
}

pub async fn handle(ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    let arguments: Value = match call.parse_args() {
        Ok(v) => v,
        Err(e) => return e,
    };
    let id = ctx.events.next_item_id();
    let details = |output: Option<String>, error: Option<String>, status| ItemDetails::ToolCall {
        tool: call.name.clone(),
        arguments: arguments.clone(),
        output,
        error: error.map(|message| crate::protocol::ItemError { message }),
        status,
    };
    ctx.events
        .started(&id, details(None, None, ToolCallStatus::InProgress));
    let request = HostToolCall {
        thread_id: ctx.thread_id.clone(),
        call_id: call.call_id.clone(),
        name: call.name.clone(),
        arguments: arguments.clone(),
    };
    let result = tokio::select! {
        r = ctx.host.call_tool(request) => r,
        _ = ctx.cancel.cancelled() => HostToolResult::Error { message: "interrupted".into() },
    };
    match result {
        HostToolResult::Output { output } => {
            ctx.events.completed(
                &id,
                details(Some(output.clone()), None, ToolCallStatus::Completed),
            );
            ToolOutput::success(output)
        }
        HostToolResult::Error { message } => {
            ctx.events.completed(
                &id,
                details(None, Some(message.clone()), ToolCallStatus::Failed),
            );
            ToolOutput::error(format!("tool `{}` failed: {message}", call.name))
        }
    }
}
