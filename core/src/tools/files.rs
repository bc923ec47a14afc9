//! read_file, list_dir, grep_files (being written).

use crate::protocol::ToolSpec;
use super::{ToolCall, ToolContext, ToolOutput};

pub const NAMES: &[&str] = &["read_file", "list_dir", "grep_files"];

pub fn specs() -> Vec<ToolSpec> {
    Vec::new()
}

pub async fn handle(_ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    ToolOutput::error(format!("{} is not implemented yet", call.name))
}
