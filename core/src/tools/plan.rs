//! update_plan (being written).

use crate::protocol::ToolSpec;
use super::{ToolCall, ToolContext, ToolOutput};

pub fn spec() -> ToolSpec {
    ToolSpec::Function { name: "update_plan".into(), description: String::new(), strict: false, parameters: serde_json::json!({"type":"object"}) }
}

pub async fn handle(_ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    ToolOutput::error(format!("{} is not implemented yet", call.name))
}
