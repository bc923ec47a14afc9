//! Calls of MCP tools: approval, the call, the `mcp_tool_call` item, and the
//! output the model sees (Codex's conversion of a `CallToolResult`).

use serde_json::Value;

use super::{ask_approval, Approval, ToolCall, ToolContext, ToolOutput};
use crate::error::Result;
use crate::mcp::{McpCallError, McpTool, McpTools};
use crate::protocol::{
    ApprovalAction, ApprovalPolicy, ItemDetails, ItemError, McpToolCallResult, ToolCallStatus,
};

/// Run one call of `tool`. An `Err` is a failing host callback (approval).
pub async fn handle(
    ctx: &ToolContext,
    tools: &McpTools,
    tool: &McpTool,
    call: &ToolCall,
) -> Result<ToolOutput> {
    let id = ctx.events.next_item_id();
    let arguments = call.input_value();
    let details = |result: Option<McpToolCallResult>, error: Option<String>, status| {
        ItemDetails::McpToolCall {
            server: tool.server.clone(),
            tool: tool.tool.clone(),
            arguments: arguments.clone(),
            result,
            error: error.map(|message| ItemError { message }),
            status,
        }
    };
    // Under `untrusted` only tools the server marks read-only run unasked;
    // `on-request` and `never` run them (as Codex does).
    if ctx.approval_policy == ApprovalPolicy::Untrusted && !tool.read_only {
        let action = ApprovalAction::Tool {
            tool: tool.qualified_name.clone(),
            arguments: arguments.clone(),
        };
        let reason = format!(
            "the model wants to call tool `{}` of MCP server `{}`",
            tool.tool, tool.server
        );
        let decision = ask_approval(ctx, &call.call_id, &ctx.cwd, action, reason).await?;
        if decision != Approval::Run {
            let text = decision.declined_text("call this tool");
            ctx.events.completed(
                &id,
                details(None, Some(text.clone()), ToolCallStatus::Declined),
            );
            return Ok(ToolOutput::error(text));
        }
    }
    ctx.events
        .started(&id, details(None, None, ToolCallStatus::InProgress));
    let value = match arguments {
        Value::String(ref s) if s.trim().is_empty() => Value::Null,
        ref v => v.clone(),
    };
    if let Value::String(raw) = &value {
        let message = format!(
            "invalid arguments for tool `{}`: `{raw}` is not a JSON object",
            tool.qualified_name
        );
        ctx.events.completed(
            &id,
            details(None, Some(message.clone()), ToolCallStatus::Failed),
        );
        return Ok(ToolOutput::error(message));
    }
    match tools.call(tool, value, &ctx.cancel).await {
        Ok(result) => {
            let is_error = result.is_error == Some(true);
            let content: Vec<Value> = result
                .content
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect();
            let output = model_output(&content, result.structured_content.as_ref(), !is_error);
            let error = is_error.then(|| text_of(&content));
            let status = if is_error {
                ToolCallStatus::Failed
            } else {
                ToolCallStatus::Completed
            };
            let item_result = McpToolCallResult {
                content,
                structured_content: result.structured_content.clone(),
            };
            ctx.events
                .completed(&id, details(Some(item_result), error, status));
            Ok(output)
        }
        Err(e) => {
            let message = match e {
                McpCallError::Interrupted => {
                    "aborted: the turn was interrupted during the call".to_string()
                }
                McpCallError::Failed(m) => m,
            };
            ctx.events.completed(
                &id,
                details(None, Some(message.clone()), ToolCallStatus::Failed),
            );
            Ok(ToolOutput::error(format!("err: {message}")))
        }
    }
}

/// What the model reads, as Codex builds it: the structured content as JSON
/// when the server sent some, else the content blocks as a JSON array.
pub fn model_output(content: &[Value], structured: Option<&Value>, success: bool) -> ToolOutput {
    let text = match structured.filter(|s| !s.is_null()) {
        Some(s) => s.to_string(),
        None => Value::Array(content.to_vec()).to_string(),
    };
    ToolOutput {
        content: text,
        success,
        extra_input: Vec::new(),
    }
}

/// The text blocks of a result, joined (for an error message).
fn text_of(content: &[Value]) -> String {
    let text: Vec<&str> = content
        .iter()
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect();
    if text.is_empty() {
        "the tool reported an error".into()
    } else {
        text.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_follows_codex_structured_first_then_content_json() {
        let content = vec![json!({"type": "text", "text": "hi"})];
        let out = model_output(&content, Some(&json!({"sum": 3})), true);
        assert_eq!(out.content, r#"{"sum":3}"#);
        assert!(out.success);
        let out = model_output(&content, Some(&Value::Null), false);
        assert_eq!(out.content, r#"[{"text":"hi","type":"text"}]"#);
        assert!(!out.success);
    }
}
