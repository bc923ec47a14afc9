//! Built-in tools, host tools, and the router that offers them to the model
//! and dispatches its calls. Names, parameter schemas and output formats follow
//! the Codex CLI, which OpenAI's coding models are trained on.

pub mod apply_patch;
pub mod context;
pub mod exec;
pub mod files;
pub mod host_tool;
pub mod image;
pub mod mcp;
pub mod plan;
pub mod shell;
pub mod view_image;

use std::collections::HashSet;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Result;
use crate::protocol::{
    AgentOptions, ApprovalAction, ApprovalDecision, ApprovalPolicy, ApprovalRequest, HookDecision,
    HookEvent, ItemDetails, ItemError, ResponseItem, ShellToolKind, ToolCallStatus, ToolSpec,
    WireApi,
};

pub use context::{EventSink, ToolContext};

/// A tool call from the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub call_id: String,
    pub name: String,
    pub payload: ToolPayload,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolPayload {
    /// A function tool: arguments as the model wrote them (a JSON string).
    Function { arguments: String },
    /// A freeform tool: raw text input.
    Custom { input: String },
}

impl ToolCall {
    /// The call of a model output item, `None` when the item is no tool call.
    pub fn from_item(item: &ResponseItem) -> Option<ToolCall> {
        match item {
            ResponseItem::FunctionCall {
                name,
                arguments,
                call_id,
                ..
            } => Some(ToolCall {
                call_id: call_id.clone(),
                name: name.clone(),
                payload: ToolPayload::Function {
                    arguments: arguments.clone(),
                },
            }),
            ResponseItem::CustomToolCall {
                name,
                input,
                call_id,
                ..
            } => Some(ToolCall {
                call_id: call_id.clone(),
                name: name.clone(),
                payload: ToolPayload::Custom {
                    input: input.clone(),
                },
            }),
            _ => None,
        }
    }

    /// The raw input text (function arguments or freeform input).
    pub fn raw_input(&self) -> &str {
        match &self.payload {
            ToolPayload::Function { arguments } => arguments,
            ToolPayload::Custom { input } => input,
        }
    }

    /// The input as JSON for hooks and items: parsed arguments, or the
    /// freeform text as a string.
    pub fn input_value(&self) -> Value {
        match &self.payload {
            ToolPayload::Function { arguments } => {
                serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.clone()))
            }
            ToolPayload::Custom { input } => Value::String(input.clone()),
        }
    }

    /// Parse function arguments into `T`, or a tool error naming what was wrong.
    pub fn parse_args<T: DeserializeOwned>(&self) -> std::result::Result<T, ToolOutput> {
        let raw = match &self.payload {
            ToolPayload::Function { arguments } => arguments.as_str(),
            ToolPayload::Custom { input } => input.as_str(),
        };
        let raw = if raw.trim().is_empty() { "{}" } else { raw };
        serde_json::from_str(raw).map_err(|e| {
            ToolOutput::error(format!(
                "invalid arguments for tool `{}`: {e}. Send a JSON object matching the tool's parameters.",
                self.name
            ))
        })
    }
}

/// A tool's result for the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolOutput {
    pub content: String,
    pub success: bool,
    /// Input items to add after the outputs (e.g. an image `view_image` attached).
    pub extra_input: Vec<ResponseItem>,
}

impl ToolOutput {
    pub fn success(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            success: true,
            extra_input: Vec::new(),
        }
    }

    pub fn error(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            success: false,
            extra_input: Vec::new(),
        }
    }

    /// The history item that answers `call`.
    pub fn to_item(&self, call: &ToolCall) -> ResponseItem {
        match call.payload {
            ToolPayload::Function { .. } => ResponseItem::FunctionCallOutput {
                call_id: call.call_id.clone(),
                output: self.content.clone(),
            },
            ToolPayload::Custom { .. } => ResponseItem::CustomToolCallOutput {
                call_id: call.call_id.clone(),
                output: self.content.clone(),
            },
        }
    }
}

/// Names under which the model may call the shell, whatever shape was offered.
pub const SHELL_ALIASES: &[&str] = &[
    "shell",
    "shell_command",
    "exec_command",
    "local_shell",
    "container.exec",
];

/// Whether `name` is a built-in tool or one of its aliases, offered or not.
/// [`ToolRouter::dispatch`] sends these names to the built-ins before it
/// looks at host tools, so a host tool with such a name would never be
/// called: agents must refuse host tools for which this is true.
pub fn is_builtin_tool_name(name: &str) -> bool {
    SHELL_ALIASES.contains(&name)
        || files::NAMES.contains(&name)
        || ["apply_patch", "update_plan", "view_image"].contains(&name)
}

/// The tools of one agent: what the model is offered and where calls go.
#[derive(Debug, Clone)]
pub struct ToolRouter {
    specs: Vec<ToolSpec>,
    host_tools: HashSet<String>,
    shell_enabled: bool,
}

impl ToolRouter {
    pub fn new(options: &AgentOptions, wire: WireApi) -> Self {
        let allowed = |name: &str| {
            options
                .allowed_tools
                .as_ref()
                .is_none_or(|a| a.iter().any(|n| n == name))
                && !options.disallowed_tools.iter().any(|n| n == name)
        };
        let mut specs = Vec::new();
        let shell_name = match options.shell_tool {
            ShellToolKind::Shell => "shell",
            ShellToolKind::ShellCommand => "shell_command",
            ShellToolKind::ExecCommand => "exec_command",
        };
        let shell_enabled = allowed(shell_name);
        if shell_enabled {
            specs.push(shell::spec(
                options.shell_tool,
                options.approval_policy.unwrap_or_default() != ApprovalPolicy::Never,
            ));
        }
        if allowed("apply_patch") {
            // Chat Completions has no freeform tools; offer the function form there.
            specs.push(match wire {
                WireApi::Responses => apply_patch::freeform_spec(),
                WireApi::Chat => apply_patch::function_spec(),
            });
        }
        if allowed("update_plan") {
            specs.push(plan::spec());
        }
        if allowed("view_image") {
            specs.push(view_image::spec());
        }
        if options.file_tools.unwrap_or(true) {
            for spec in files::specs() {
                if allowed(spec.name()) {
                    specs.push(spec);
                }
            }
        }
        let mut host_tools = HashSet::new();
        for tool in &options.host_tools {
            // The agent refuses such names up front; should one get here
            // anyway, offering it would send the model two tools of one
            // name, and its calls would reach the built-in, not the host.
            if is_builtin_tool_name(&tool.name) {
                tracing::warn!(
                    tool = %tool.name,
                    "host tool not offered: its name is taken by a built-in tool"
                );
                continue;
            }
            if allowed(&tool.name) {
                host_tools.insert(tool.name.clone());
                specs.push(host_tool::spec(tool));
            }
        }
        ToolRouter {
            specs,
            host_tools,
            shell_enabled,
        }
    }

    pub fn specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// Whether calls of this tool may run beside other calls of the same response.
    pub fn parallel_safe(&self, name: &str) -> bool {
        files::NAMES.contains(&name) || name == "view_image" || self.host_tools.contains(name)
    }

    /// Whether the model may call `name`: offered, or an alias of the offered
    /// shell.
    pub fn offers(&self, name: &str) -> bool {
        self.specs.iter().any(|s| s.name() == name)
            || (self.shell_enabled && SHELL_ALIASES.contains(&name))
    }

    /// Run one call: hooks around it, then the tool. Never fails the turn for
    /// the tool's own errors (those go back to the model); only a failing host
    /// callback is an `Err`.
    pub async fn dispatch(&self, ctx: &ToolContext, call: ToolCall) -> Result<ToolOutput> {
        self.dispatch_with_mcp(ctx, call, None).await
    }

    /// [`ToolRouter::dispatch`], with the agent's started MCP servers: their
    /// tools go through the same hooks.
    pub async fn dispatch_with_mcp(
        &self,
        ctx: &ToolContext,
        mut call: ToolCall,
        mcp: Option<&crate::mcp::McpTools>,
    ) -> Result<ToolOutput> {
        let mcp_tool = mcp.and_then(|m| Some((m, m.get(&call.name)?.clone())));
        if mcp_tool.is_none() && !self.offers(&call.name) {
            return Ok(ToolOutput::error(format!(
                "unknown tool `{}`; the available tools are: {}",
                call.name,
                self.specs
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let hook_name = hook_tool_name(&call.name).to_string();
        let outcome = ctx
            .hook(HookEvent::PreToolUse {
                session_id: ctx.thread_id.clone(),
                cwd: ctx.cwd.display().to_string(),
                tool_name: hook_name.clone(),
                tool_input: hook_tool_input(&call),
            })
            .await?;
        if outcome.stop {
            request_stop(ctx, &outcome);
        }
        if outcome.decision == HookDecision::Deny {
            return Ok(ToolOutput::error(format!(
                "the PreToolUse hook blocked this call: {}",
                outcome.reason.as_deref().unwrap_or("no reason given")
            )));
        }
        if outcome.stop {
            return Ok(ToolOutput::error(
                "not run: a PreToolUse hook ended the turn",
            ));
        }
        if outcome.decision == HookDecision::Ask {
            let action = ApprovalAction::Tool {
                tool: hook_name.clone(),
                arguments: outcome
                    .updated_input
                    .clone()
                    .unwrap_or_else(|| call.input_value()),
            };
            let reason = outcome
                .reason
                .clone()
                .unwrap_or_else(|| "a PreToolUse hook asks for approval".into());
            let approval = ask_approval(ctx, &call.call_id, &ctx.cwd, action, reason).await?;
            if approval != Approval::Run {
                return Ok(ToolOutput::error(
                    approval.declined_text("run this tool call"),
                ));
            }
        }
        if let Some(updated) = outcome.updated_input {
            let patch = (call.name == "apply_patch")
                .then(|| {
                    updated
                        .get("command")
                        .and_then(Value::as_str)
                        .map(String::from)
                })
                .flatten();
            call.payload = match (&call.payload, updated) {
                (ToolPayload::Custom { .. }, _) if patch.is_some() => ToolPayload::Custom {
                    input: patch.unwrap_or_default(),
                },
                (ToolPayload::Function { .. }, _) if patch.is_some() => ToolPayload::Function {
                    arguments: serde_json::json!({ "input": patch }).to_string(),
                },
                (ToolPayload::Custom { .. }, Value::String(s)) => ToolPayload::Custom { input: s },
                (ToolPayload::Custom { .. }, other) => ToolPayload::Custom {
                    input: other.to_string(),
                },
                (ToolPayload::Function { .. }, v) => ToolPayload::Function {
                    arguments: v.to_string(),
                },
            };
        }
        let pre_context = outcome.additional_context;
        let input = hook_tool_input(&call);
        let name = call.name.as_str();
        let mut output = if let Some((tools, tool)) = &mcp_tool {
            mcp::handle(ctx, tools, tool, &call).await?
        } else if SHELL_ALIASES.contains(&name) {
            // A patch sent through the shell is still an apply_patch call:
            // it runs only where apply_patch itself is allowed.
            shell::handle(ctx, &call, self.offers("apply_patch")).await?
        } else if name == "apply_patch" {
            apply_patch::try_handle(ctx, &call).await?
        } else if name == "update_plan" {
            plan::handle(ctx, &call).await
        } else if name == "view_image" {
            view_image::handle(ctx, &call).await
        } else if files::NAMES.contains(&name) {
            files::handle(ctx, &call).await
        } else {
            host_tool::handle(ctx, &call).await
        };
        // An interrupted turn records the output without asking the hook.
        if ctx.cancel.is_cancelled() {
            return Ok(output);
        }
        let post = ctx
            .hook(HookEvent::PostToolUse {
                session_id: ctx.thread_id.clone(),
                cwd: ctx.cwd.display().to_string(),
                tool_name: hook_name,
                tool_input: input,
                tool_response: Value::String(output.content.clone()),
            })
            .await?;
        if post.decision == HookDecision::Deny {
            output.content.push_str(&format!(
                "\n\nPostToolUse hook: {}",
                post.reason.as_deref().unwrap_or("the result was flagged")
            ));
        }
        // Context from either hook reaches the model with the call's result.
        for context in [&pre_context, &post.additional_context]
            .into_iter()
            .flatten()
        {
            output.content.push_str(&format!("\n\n{context}"));
        }
        if post.stop {
            request_stop(ctx, &post);
        }
        Ok(output)
    }
}

/// Ask the turn to end once this response's outputs are recorded.
fn request_stop(ctx: &ToolContext, outcome: &crate::protocol::HookOutcome) {
    let reason = outcome
        .stop_reason
        .clone()
        .unwrap_or_else(|| "a hook ended the turn".into());
    *ctx.hooks
        .stop_request
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(reason);
}

/// What the user decided about an action of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Approval {
    /// Go ahead.
    Run,
    /// Do not run it; the turn goes on and the model is told.
    Declined,
    /// Do not run it; the turn was stopped (the user aborted, or the turn
    /// was interrupted while waiting for an answer).
    Aborted,
}

impl Approval {
    /// What the model is told about a declined action (`what`: "run this
    /// command", "apply this patch"). Starts like Codex's text, which the
    /// models know.
    pub(crate) fn declined_text(self, what: &str) -> String {
        match self {
            Approval::Aborted => {
                format!("rejected by user: the user declined to {what} and stopped the turn")
            }
            _ => format!(
                "rejected by user: the user declined to {what}, so it did not happen. Do not \
                 try it again another way; ask the user how to proceed if it is needed."
            ),
        }
    }
}

/// Ask the host before the model's command or patch runs; the caller has
/// decided (with [`crate::sandbox::approval`]) that it must. `cwd` is where
/// the action would happen, `reason` why it needs approval. An action
/// approved "for the session" before runs without asking again.
///
/// An `Err` is a failing host callback: the caller returns it so the turn
/// fails.
pub(crate) async fn ask_approval(
    ctx: &ToolContext,
    call_id: &str,
    cwd: &Path,
    action: ApprovalAction,
    reason: String,
) -> Result<Approval> {
    let paths = |changes: &[crate::protocol::FileUpdateChange]| -> Vec<std::path::PathBuf> {
        changes
            .iter()
            .map(|c| std::path::PathBuf::from(&c.path))
            .collect()
    };
    let remembered = match &action {
        ApprovalAction::Command { command } => ctx.approvals.command_approved(command),
        ApprovalAction::FileChange { changes, .. } => ctx.approvals.paths_approved(&paths(changes)),
        ApprovalAction::Tool { .. } => false,
    };
    if remembered {
        return Ok(Approval::Run);
    }
    let request = ApprovalRequest {
        thread_id: ctx.thread_id.clone(),
        call_id: call_id.to_string(),
        cwd: cwd.display().to_string(),
        reason: Some(reason),
        action: action.clone(),
    };
    let decision = tokio::select! {
        biased;
        // An interrupt while the user is still deciding ends the wait: the
        // action must not start after the turn was stopped.
        _ = ctx.cancel.cancelled() => return Ok(Approval::Aborted),
        decision = ctx.host.approve(request) => decision?,
    };
    Ok(match decision {
        ApprovalDecision::Approve => Approval::Run,
        ApprovalDecision::ApproveForSession => {
            match &action {
                ApprovalAction::Command { command } => ctx.approvals.approve_command(command),
                ApprovalAction::FileChange { changes, .. } => {
                    ctx.approvals.approve_paths(&paths(changes))
                }
                ApprovalAction::Tool { .. } => {}
            }
            Approval::Run
        }
        ApprovalDecision::Deny => Approval::Declined,
        ApprovalDecision::Abort => {
            // Ends the turn as interrupted once this call's output is recorded.
            ctx.cancel.cancel();
            Approval::Aborted
        }
    })
}

/// Run a tool that has no item type of its own, reporting it as a `tool_call`
/// item: started, then completed with the output or failed with the error.
pub(crate) async fn as_tool_call_item(
    ctx: &ToolContext,
    call: &ToolCall,
    run: impl std::future::Future<Output = ToolOutput>,
) -> ToolOutput {
    let id = ctx.events.next_item_id();
    let arguments = call.input_value();
    let details = |output: Option<String>, error: Option<String>, status| ItemDetails::ToolCall {
        tool: call.name.clone(),
        arguments: arguments.clone(),
        output,
        error: error.map(|message| ItemError { message }),
        status,
    };
    ctx.events
        .started(&id, details(None, None, ToolCallStatus::InProgress));
    let output = run.await;
    let done = if output.success {
        details(
            Some(output.content.clone()),
            None,
            ToolCallStatus::Completed,
        )
    } else {
        details(None, Some(output.content.clone()), ToolCallStatus::Failed)
    };
    ctx.events.completed(&id, done);
    output
}

/// The input hooks see: the model's arguments, except for `apply_patch`,
/// whose patch is `{"command": patch}` in either form, as Codex sends it (an
/// `updatedInput` of that shape replaces the patch).
pub fn hook_tool_input(call: &ToolCall) -> Value {
    if call.name != "apply_patch" {
        return call.input_value();
    }
    let patch = match &call.payload {
        ToolPayload::Custom { input } => input.clone(),
        ToolPayload::Function { arguments } => call
            .input_value()
            .get("input")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| arguments.clone()),
    };
    serde_json::json!({ "command": patch })
}

/// The tool name hooks see: the shell family is `Bash`, as in Claude Code and
/// Codex hook matchers; other tools keep their names (`apply_patch` is also
/// matched by `Write` and `Edit` matchers, as in Codex).
pub fn hook_tool_name(name: &str) -> &str {
    if SHELL_ALIASES.contains(&name) {
        "Bash"
    } else {
        name
    }
}
