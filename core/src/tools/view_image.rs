//! `view_image`: attach a local image to the conversation so the model can
//! look at it. The image goes in as a user message after the tool output.

use serde::Deserialize;
use serde_json::json;

use super::{ToolCall, ToolContext, ToolOutput};
use crate::protocol::{ContentItem, ResponseItem, ToolSpec};

/// Codex's output text for an attached image.
const ATTACHED: &str = "attached local image path";

pub fn spec() -> ToolSpec {
    ToolSpec::Function {
        name: "view_image".into(),
        description: "View a local image from the filesystem (only use if given a full filepath \
                      by the user, and the image isn't already attached to the thread context \
                      within <image ...> tags)."
            .into(),
        strict: false,
        parameters: json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Local filesystem path to an image file"},
            },
            "required": ["path"],
            "additionalProperties": false,
        }),
    }
}

#[derive(Debug, Deserialize)]
struct ViewImageArgs {
    path: String,
}

pub async fn handle(ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    super::as_tool_call_item(ctx, call, async {
        attach(ctx, call).await.unwrap_or_else(|e| e)
    })
    .await
}

async fn attach(ctx: &ToolContext, call: &ToolCall) -> Result<ToolOutput, ToolOutput> {
    let args: ViewImageArgs = call.parse_args()?;
    if args.path.trim().is_empty() {
        return Err(ToolOutput::error("path must not be empty"));
    }
    let path = ctx.resolve(&args.path);
    let shown = path.clone();
    let url = tokio::task::spawn_blocking(move || super::image::data_url(&path))
        .await
        .map_err(|e| ToolOutput::error(format!("reading the image failed: {e}")))?
        .map_err(|e| {
            ToolOutput::error(format!("cannot attach image `{}`: {e}", shown.display()))
        })?;
    let mut output = ToolOutput::success(ATTACHED);
    output.extra_input.push(ResponseItem::Message {
        id: None,
        role: "user".into(),
        content: vec![ContentItem::InputImage { image_url: url }],
    });
    Ok(output)
}
