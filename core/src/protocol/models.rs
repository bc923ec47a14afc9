//! The model-facing history and tool specs, in the OpenAI Responses wire shape.
//! The chat provider translates from these; rollouts and cassettes store them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One item of the conversation history sent to (and received from) the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseItem {
    Message {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        role: String,
        content: Vec<ContentItem>,
    },
    Reasoning {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default)]
        summary: Vec<ReasoningSummary>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<ReasoningContent>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    FunctionCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        name: String,
        /// The arguments as the model wrote them: a JSON string, maybe invalid.
        arguments: String,
        call_id: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: String,
    },
    CustomToolCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        name: String,
        input: String,
        call_id: String,
    },
    CustomToolCallOutput {
        call_id: String,
        output: String,
    },
    /// An item type this version does not know; kept so history round-trips.
    #[serde(other)]
    Other,
}

impl ResponseItem {
    pub fn user_text(text: impl Into<String>) -> Self {
        ResponseItem::Message {
            id: None,
            role: "user".into(),
            content: vec![ContentItem::InputText { text: text.into() }],
        }
    }

    pub fn developer_text(text: impl Into<String>) -> Self {
        ResponseItem::Message {
            id: None,
            role: "developer".into(),
            content: vec![ContentItem::InputText { text: text.into() }],
        }
    }

    pub fn assistant_text(text: impl Into<String>) -> Self {
        ResponseItem::Message {
            id: None,
            role: "assistant".into(),
            content: vec![ContentItem::OutputText { text: text.into() }],
        }
    }

    /// The concatenated text of a message item, `None` for other items.
    pub fn message_text(&self) -> Option<String> {
        match self {
            ResponseItem::Message { content, .. } => Some(texts(content).collect()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentItem {
    InputText {
        text: String,
    },
    OutputText {
        text: String,
    },
    /// An image as a URL, usually `data:image/png;base64,...`.
    InputImage {
        image_url: String,
    },
    Refusal {
        refusal: String,
    },
    /// A content part type this version does not know (audio, files, …).
    /// Accepting it keeps a whole message from failing to parse because of
    /// one new part; its payload is dropped, and the providers leave it out
    /// of what they send back.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReasoningSummary {
    SummaryText { text: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReasoningContent {
    ReasoningText { text: String },
    Text { text: String },
}

/// A tool offered to the model, in the Responses `tools` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolSpec {
    Function {
        name: String,
        description: String,
        strict: bool,
        parameters: Value,
    },
    /// A freeform tool whose input is text in a grammar (apply_patch).
    Custom {
        name: String,
        description: String,
        format: Value,
    },
}

impl ToolSpec {
    pub fn name(&self) -> &str {
        match self {
            ToolSpec::Function { name, .. } | ToolSpec::Custom { name, .. } => name,
        }
    }
}

/// The text parts of a message's content, in order (images left out).
pub fn texts(content: &[ContentItem]) -> impl Iterator<Item = &str> {
    content.iter().filter_map(|c| match c {
        ContentItem::InputText { text } | ContentItem::OutputText { text } => Some(text.as_str()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_content_parts_parse_and_round_trip() -> anyhow::Result<()> {
        let item: ResponseItem = serde_json::from_value(serde_json::json!({
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_audio", "data": "AAAA", "transcript": "hi"},
                {"type": "output_text", "text": "hello"}
            ]
        }))?;
        let ResponseItem::Message { content, .. } = &item else {
            anyhow::bail!("not a message: {item:?}");
        };
        assert_eq!(
            content,
            &vec![
                ContentItem::Unknown,
                ContentItem::OutputText {
                    text: "hello".into()
                }
            ]
        );
        assert_eq!(item.message_text().as_deref(), Some("hello"));
        // Stored history (rollouts, cassettes) reads back what it wrote.
        let again: ResponseItem = serde_json::from_value(serde_json::to_value(&item)?)?;
        assert_eq!(again, item);
        Ok(())
    }
}
