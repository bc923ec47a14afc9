//! Requests from the core to the embedding program, and their answers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::items::FileUpdateChange;

/// A tool the embedding program defines; the model sees it as a function tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostToolSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments object.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// A call of a host tool by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostToolCall {
    pub thread_id: String,
    pub call_id: String,
    pub name: String,
    /// The parsed arguments object.
    pub arguments: Value,
}

/// What a host tool returned: text for the model, or an error the model sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostToolResult {
    Output { output: String },
    Error { message: String },
}

/// Something that needs the host's permission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalRequest {
    pub thread_id: String,
    pub call_id: String,
    pub cwd: String,
    /// Why the approval is asked (the model's justification or the policy's).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub action: ApprovalAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApprovalAction {
    /// Run a command.
    Command { command: Vec<String> },
    /// Apply a patch.
    FileChange {
        changes: Vec<FileUpdateChange>,
        patch: String,
    },
    /// Call a tool (host, MCP or file tool).
    Tool { tool: String, arguments: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalDecision {
    Approve,
    ApproveForSession,
    Deny,
    /// Deny and end the turn.
    Abort,
}

/// A lifecycle hook the host may observe or steer. Field names follow the
/// Claude Code / Codex hook input (`hook_event_name`, `tool_name`, `tool_input`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "hook_event_name")]
pub enum HookEvent {
    SessionStart {
        session_id: String,
        cwd: String,
        source: String,
    },
    UserPromptSubmit {
        session_id: String,
        cwd: String,
        prompt: String,
    },
    PreToolUse {
        session_id: String,
        cwd: String,
        tool_name: String,
        tool_input: Value,
    },
    PostToolUse {
        session_id: String,
        cwd: String,
        tool_name: String,
        tool_input: Value,
        tool_response: Value,
    },
    Stop {
        session_id: String,
        cwd: String,
        last_assistant_message: Option<String>,
        /// True when an earlier Stop hook of this turn already kept it going;
        /// a hook should then let it stop, or it loops until `max_turns`.
        #[serde(default)]
        stop_hook_active: bool,
    },
}

/// A hook's answer. The default lets everything go on unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct HookOutcome {
    pub decision: HookDecision,
    /// Shown to the model when the hook blocks.
    pub reason: Option<String>,
    /// PreToolUse: replaces the tool's input.
    pub updated_input: Option<Value>,
    /// Added to the conversation as context for the model.
    pub additional_context: Option<String>,
    /// End the turn after this hook (Claude Code's `continue: false`): the
    /// rest of the hooks do not run; a tool's output is still recorded.
    pub stop: bool,
    /// Why the turn was stopped (`stopReason`), shown as an `error` event.
    pub stop_reason: Option<String>,
    /// Shown to the user as an `error` event (`systemMessage`).
    pub system_message: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HookDecision {
    #[default]
    Continue,
    Allow,
    Deny,
    /// PreToolUse: ask the host's approval callback before the tool runs.
    Ask,
}

/// Hooks by event name (`PreToolUse`, `PostToolUse`, `UserPromptSubmit`,
/// `Stop`, `SessionStart`), as in Claude Code's `settings.json` and Codex's
/// `hooks.json`: `{"PreToolUse": [{"matcher": "Bash", "hooks": [{"type":
/// "command", "command": "...", "timeout": 30}]}]}`.
pub type HooksConfig = std::collections::BTreeMap<String, Vec<HookMatcherGroup>>;

/// The handlers of one event whose matcher matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HookMatcherGroup {
    /// PreToolUse / PostToolUse: a regular expression matched against the
    /// whole tool name (`Bash`, `apply_patch`, `mcp__s__t`); SessionStart:
    /// against the source (`startup`, `resume`). Empty or `*`: everything.
    pub matcher: String,
    pub hooks: Vec<HookHandlerSpec>,
}

/// One hook handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HookHandlerSpec {
    /// A shell command (`bash -c`), given the event as JSON on stdin.
    Command {
        command: String,
        /// Seconds before the command is killed. Default 60.
        #[serde(default)]
        timeout: Option<u64>,
    },
    /// A callback of the embedding program, asked through the `Host` with
    /// this id in the request (`callback_id`).
    Callback { id: String },
}
