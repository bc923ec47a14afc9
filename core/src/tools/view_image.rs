//! `view_image`: attach a local image to the conversation so the model can
//! look at it. The image goes in as a user message after the tool output.

use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::{ToolCall, ToolContext, ToolOutput};
use crate::protocol::{
    ContentItem, ItemDetails, ItemError, ResponseItem, ToolCallStatus, ToolSpec,
};

/// Images are sent as they are (no resizing), so a very large file would
/// bloat every later request of the thread; refuse those.
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

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
    let id = ctx.events.next_item_id();
    let arguments = call.input_value();
    ctx.events.started(
        &id,
        ItemDetails::ToolCall {
            tool: call.name.clone(),
            arguments: arguments.clone(),
            output: None,
            error: None,
            status: ToolCallStatus::InProgress,
        },
    );
    let output = attach(ctx, call).await.unwrap_or_else(|e| e);
    let details = if output.success {
        ItemDetails::ToolCall {
            tool: call.name.clone(),
            arguments,
            output: Some(output.content.clone()),
            error: None,
            status: ToolCallStatus::Completed,
        }
    } else {
        ItemDetails::ToolCall {
            tool: call.name.clone(),
            arguments,
            output: None,
            error: Some(ItemError {
                message: output.content.clone(),
            }),
            status: ToolCallStatus::Failed,
        }
    };
    ctx.events.completed(&id, details);
    output
}

async fn attach(ctx: &ToolContext, call: &ToolCall) -> Result<ToolOutput, ToolOutput> {
    let args: ViewImageArgs = call.parse_args()?;
    if args.path.trim().is_empty() {
        return Err(ToolOutput::error("path must not be empty"));
    }
    let path = ctx.resolve(&args.path);
    let meta = tokio::fs::metadata(&path).await.map_err(|e| {
        ToolOutput::error(format!(
            "unable to locate image at `{}`: {e}",
            path.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(ToolOutput::error(format!(
            "image path `{}` is not a file",
            path.display()
        )));
    }
    if meta.len() > MAX_IMAGE_BYTES {
        return Err(ToolOutput::error(format!(
            "image `{}` is {} bytes; images larger than {} MiB are not attached",
            path.display(),
            meta.len(),
            MAX_IMAGE_BYTES / (1024 * 1024)
        )));
    }
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        ToolOutput::error(format!("unable to read image at `{}`: {e}", path.display()))
    })?;
    let Some(mime) = sniff_image(&bytes) else {
        return Err(ToolOutput::error(format!(
            "`{}` is not a PNG, JPEG, GIF or WebP image",
            path.display()
        )));
    };
    let url = format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    let mut output = ToolOutput::success(ATTACHED);
    output.extra_input.push(ResponseItem::Message {
        id: None,
        role: "user".into(),
        content: vec![ContentItem::InputImage { image_url: url }],
    });
    Ok(output)
}

/// The MIME type of an image format the model APIs accept, by magic bytes
/// (extensions lie, and a text file named `.png` must not be sent).
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_known_formats() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(sniff_image(b"hello"), None);
    }
}
