//! The shell tools (being written).

use crate::protocol::{ShellToolKind, ToolSpec};
use super::{ToolCall, ToolContext, ToolOutput};

pub fn spec(_kind: ShellToolKind) -> ToolSpec {
    ToolSpec::Function { name: "shell_command".into(), description: String::new(), strict: false, parameters: serde_json::json!({"type":"object"}) }
}

pub async fn handle(_ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    ToolOutput::error(format!("{} is not implemented yet", call.name))
}
