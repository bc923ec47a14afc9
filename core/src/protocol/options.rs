//! Agent options: everything an embedding program or `codeloop exec` can set.
//! JSON-able; every field has a default so `{}` is a valid options object.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::host::HostToolSpec;

#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AgentOptions {
    /// Model name sent to the provider. Default: `gpt-5.4` (or the provider's default).
    pub model: Option<String>,
    /// Provider id: `openai`, `ollama`, `lmstudio`, `replay`, or a custom id
    /// described by `base_url`/`wire_api`. Default: `openai`.
    pub provider: Option<String>,
    /// Base URL of the API (`…/v1`). Default: `OPENAI_BASE_URL`, else the provider's.
    pub base_url: Option<String>,
    /// Wire protocol: `responses` or `chat`. Default: the provider's.
    pub wire_api: Option<WireApi>,
    /// Name of the environment variable holding the API key. Default: `OPENAI_API_KEY`
    /// (`CODEX_API_KEY` is also read for the OpenAI provider).
    pub api_key_env: Option<String>,
    /// The API key itself; takes precedence over `api_key_env`. Redacted in `Debug`.
    pub api_key: Option<String>,
    /// Extra HTTP headers sent with every model request.
    pub http_headers: BTreeMap<String, String>,
    /// Extra query parameters appended to the model URL (e.g. `api-version`).
    pub query_params: BTreeMap<String, String>,
    /// How often a request that failed before streaming is retried. Default 4.
    pub request_max_retries: Option<u32>,
    /// How often a stream that dropped or went idle is retried. Default 5.
    pub stream_max_retries: Option<u32>,
    /// A stream with no event for this long is treated as dropped. Default 300000.
    pub stream_idle_timeout_ms: Option<u64>,
    /// Replay provider: the cassette to serve responses from.
    pub cassette: Option<PathBuf>,
    /// Record every model exchange of this agent into this cassette file.
    pub record: Option<PathBuf>,
    /// Working directory of the agent. Default: the process's.
    pub cwd: Option<PathBuf>,
    /// Sandbox of tool commands. Default: config, else `read-only`.
    pub sandbox: Option<SandboxMode>,
    /// Extra writable roots in `workspace-write` mode.
    pub writable_roots: Vec<PathBuf>,
    /// Whether commands may use the network in the confined modes.
    /// Default: config (`sandbox_workspace_write.network_access`), else false.
    pub network_access: Option<bool>,
    /// When the host is asked before an action. Default: config, else `never`.
    pub approval_policy: Option<ApprovalPolicy>,
    /// Replaces the built-in base instructions.
    pub instructions: Option<String>,
    /// Added to the base instructions as a developer message.
    pub developer_instructions: Option<String>,
    /// Tool names the model may use (built-in and host tools). Default: all.
    pub allowed_tools: Option<Vec<String>>,
    /// Tool names never offered to the model.
    pub disallowed_tools: Vec<String>,
    /// Which shell tool shape to offer. Default: `shell_command`.
    pub shell_tool: ShellToolKind,
    /// Offer `read_file`, `list_dir` and `grep_files`. Default: true.
    pub file_tools: Option<bool>,
    /// Tools defined by the embedding program, executed through the `Host`.
    pub host_tools: Vec<HostToolSpec>,
    /// JSON Schema the final answer must follow (sent as `text.format`).
    pub output_schema: Option<Value>,
    pub reasoning_effort: Option<ReasoningEffort>,
    pub reasoning_summary: Option<ReasoningSummaryMode>,
    /// The most model requests one run may make. Default: unlimited.
    pub max_turns: Option<u32>,
    /// How often a final answer that does not match `output_schema` is sent
    /// back to the model (with the validation errors) before the run fails
    /// with `output_invalid`. Default 0.
    pub output_schema_retries: Option<u32>,
    /// Budget of one run (each `run` call): input + output tokens of its
    /// model requests (compaction requests included). Default: unlimited.
    pub max_tokens: Option<u64>,
    /// Budget of one run in USD, from the model's price (`model_prices`, else
    /// the built-in table). A model without a price is a configuration error.
    /// Default: unlimited.
    pub max_cost_usd: Option<f64>,
    /// Wall-time budget of one run in milliseconds; also stops a running
    /// command or tool call. Default: unlimited.
    pub timeout_ms: Option<u64>,
    /// Prices per model name (USD per 1M tokens), over the built-in table.
    pub model_prices: BTreeMap<String, ModelPrice>,
    /// The model's context window in tokens. Default: the built-in table
    /// (unknown models: no automatic compaction).
    pub model_context_window: Option<u64>,
    /// Compact the history once the context reaches this many tokens.
    /// Default: 90% of `model_context_window`.
    pub auto_compact_token_limit: Option<u64>,
    /// Compact automatically: at `auto_compact_token_limit`, and once when
    /// the model reports the context window exceeded (then the request is
    /// made again). Default: true; false: a full context fails the run
    /// with `context_window_exceeded` (`Thread::compact` still works).
    pub auto_compact: Option<bool>,
    /// Default timeout for one shell command. Default 600000 (10 minutes).
    pub command_timeout_ms: Option<u64>,
    /// Directory for rollout files. Default `~/.codeloop/sessions`.
    pub session_dir: Option<PathBuf>,
    /// Do not write a rollout file for the agent's threads.
    pub ephemeral: bool,
    /// The environment of tool subprocesses (Codex's `shell_environment_policy`).
    /// Default: config (`[shell_environment_policy]`), else the default
    /// policy, which removes variables that look like credentials.
    pub shell_environment_policy: Option<EnvPolicy>,
    /// MCP servers by name (`[mcp_servers.NAME]` in config.toml; an entry
    /// here replaces the config file's of the same name). Their tools are
    /// offered as `mcp__<server>__<tool>`.
    pub mcp_servers: BTreeMap<String, crate::mcp::McpServerConfig>,
    /// Config values set as `codex exec -c key=value` does (the Codex SDK's
    /// `config` option): dotted key → value, applied over the config files
    /// and under the explicit options above.
    pub config_overrides: BTreeMap<String, Value>,
    /// Read `config.toml` files (the user's `$CODELOOP_HOME/config.toml` and,
    /// for a trusted project, `.codeloop/config.toml` from the project root
    /// down to `cwd`) and hooks files. Default: true; false = only these options.
    pub load_config_files: Option<bool>,
    /// The codeloop home (config, global AGENTS.md, skills, hooks.json).
    /// Default: `$CODELOOP_HOME`, else `~/.codeloop`. Giving it also skips
    /// `~/.agents/skills`, so an embedding (or a test) sees no machine files.
    pub codeloop_home: Option<PathBuf>,
    /// Trust the project: its `.codeloop/config.toml` and `.codeloop/hooks.json`
    /// load. Default: trusted only when the user config says so
    /// (`[projects."<path>"] trust_level = "trusted"`); false: never.
    pub trust_project: Option<bool>,
    /// Send AGENTS.md files (global and project) to the model. Default: true.
    pub project_docs: Option<bool>,
    /// Byte limit of the project's AGENTS.md files together. Default 32768.
    pub project_doc_max_bytes: Option<usize>,
    /// More instruction files, sent after the project's AGENTS.md files.
    pub instruction_files: Vec<PathBuf>,
    /// List skills (`SKILL.md` files) to the model. Default: true.
    pub skills: Option<bool>,
    /// More directories to look for skills in (each holds `<name>/SKILL.md`).
    pub skill_roots: Vec<PathBuf>,
    /// Hooks in the shape Claude Code and Codex share: event name
    /// (`PreToolUse`, `PostToolUse`, `UserPromptSubmit`, `Stop`,
    /// `SessionStart`) → matcher groups. Run after the config files' hooks.
    pub hooks: super::host::HooksConfig,
}

/// A model's price in USD per 1M tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Uncached input tokens.
    pub input: f64,
    /// Cached input tokens. Default: the `input` price.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Output tokens (reasoning tokens included).
    pub output: f64,
}

/// Options of one run (`Thread::run_with`), over the agent's: unset fields
/// take the agent's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RunOptions {
    /// JSON Schema of this run's final answer (the Codex SDK's per-turn
    /// `outputSchema`).
    pub output_schema: Option<Value>,
    pub output_schema_retries: Option<u32>,
    pub max_turns: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
    pub timeout_ms: Option<u64>,
}

/// Which variables of this process a tool subprocess starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnvInherit {
    /// Every variable (then filtered by the rules below).
    #[default]
    All,
    /// Only `CORE_VARS` (sandbox::env).
    Core,
    /// None: only what `set` adds.
    None,
}

/// How a tool subprocess environment is built from this process's. Rules
/// apply in Codex's order: `inherit`, then the default scrub (unless
/// `ignore_default_excludes`), then `exclude`, then `set`, then
/// `include_only`. Globs (`*`, `?`, `[...]`) match whole names, ignoring case.
/// `EnvPolicy::default()` inherits everything but credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct EnvPolicy {
    pub inherit: EnvInherit,
    /// Keep variables whose names look like credentials
    /// (`DEFAULT_EXCLUDED_NAME_PARTS` in sandbox::env).
    pub ignore_default_excludes: bool,
    /// Remove variables matching any of these globs.
    pub exclude: Vec<String>,
    /// When not empty, keep only variables matching one of these globs
    /// (applied last, so it also filters `set`).
    pub include_only: Vec<String>,
    /// Variables to set, overriding inherited ones.
    pub set: BTreeMap<String, String>,
}

/// Options print as their JSON with the API key redacted, so logging them
/// never leaks the key.
impl std::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut value = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        if let Some(key) = value.get_mut("api_key").filter(|k| !k.is_null()) {
            *key = Value::String("<redacted>".into());
        }
        write!(f, "AgentOptions {value}")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    #[default]
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl SandboxMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            SandboxMode::ReadOnly => "read-only",
            SandboxMode::WorkspaceWrite => "workspace-write",
            SandboxMode::DangerFullAccess => "danger-full-access",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    /// Never ask: run within the sandbox; failures go back to the model.
    #[default]
    Never,
    /// The model may ask to run outside the sandbox; the host decides.
    OnRequest,
    /// Only known read-only commands run without asking.
    Untrusted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WireApi {
    Responses,
    Chat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShellToolKind {
    /// `shell`: argv array.
    Shell,
    /// `shell_command`: one string run by `bash -lc`.
    #[default]
    ShellCommand,
    /// `exec_command`: one string, Codex's unified exec shape.
    ExecCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningEffort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    Xhigh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningSummaryMode {
    Auto,
    Concise,
    Detailed,
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_api_key() {
        let options = AgentOptions {
            api_key: Some("sk-very-secret".into()),
            model: Some("m".into()),
            ..AgentOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("\"model\":\"m\""),
            "{shown}"
        );
    }
}
