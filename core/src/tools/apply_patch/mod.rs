//! apply_patch (being written).

use crate::protocol::ToolSpec;
use super::{ToolCall, ToolContext, ToolOutput};

pub fn freeform_spec() -> ToolSpec {
    ToolSpec::Custom { name: "apply_patch".into(), description: String::new(), format: serde_json::json!({}) }
}

pub fn function_spec() -> ToolSpec {
    ToolSpec::Function { name: "apply_patch".into(), description: String::new(), strict: false, parameters: serde_json::json!({"type":"object"}) }
}

pub async fn handle(_ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    ToolOutput::error(format!("{} is not implemented yet", call.name))
}
