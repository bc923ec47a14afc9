//! Hooks: one chain per event of (matcher, handler) pairs, where a handler is
//! a shell command (Claude Code / Codex `hooks.json` semantics) or a callback
//! of the embedding program, and the [`Host::hook`](crate::Host::hook)
//! callback runs last. Handlers run in order; a deny (or `continue: false`)
//! stops the rest; a PreToolUse `updatedInput` is what the next handler sees.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regex::Regex;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::agent::host::hook_name;
use crate::error::{Error, Result};
use crate::protocol::{
    HookDecision, HookEvent, HookHandlerSpec, HookOutcome, HooksConfig, ThreadEvent,
};
use crate::tools::ToolContext;

/// The events hooks can be set for.
pub const HOOK_EVENTS: &[&str] = &[
    "PreToolUse",
    "PostToolUse",
    "UserPromptSubmit",
    "Stop",
    "SessionStart",
];

/// How long a command hook may run when its `timeout` is not set.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);

fn compile_matcher(matcher: &str) -> std::result::Result<Option<Regex>, regex::Error> {
    let m = matcher.trim();
    if m.is_empty() || m == "*" {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{m})$")).map(Some)
}

/// Check matchers and handlers; `origin` names where they came from. Events
/// codeloop does not have (Claude Code's `Notification`, Codex's
/// `PermissionRequest`) are reported in `warnings`, so a shared hooks file
/// works unchanged.
pub fn validate(hooks: &HooksConfig, origin: &str, warnings: &mut Vec<String>) -> Result<()> {
    for (event, groups) in hooks {
        if !HOOK_EVENTS.contains(&event.as_str()) {
            warnings.push(format!(
                "{origin}: `hooks.{event}` is not a hook event codeloop runs ({}); ignored",
                HOOK_EVENTS.join(", ")
            ));
        }
        for (i, group) in groups.iter().enumerate() {
            compile_matcher(&group.matcher).map_err(|e| {
                Error::Config(format!(
                    "{origin}: `hooks.{event}[{i}].matcher` is not a valid regex: {e}"
                ))
            })?;
            for (j, handler) in group.hooks.iter().enumerate() {
                let empty = match handler {
                    HookHandlerSpec::Command { command, .. } => command.trim().is_empty(),
                    HookHandlerSpec::Callback { id } => id.is_empty(),
                };
                if empty {
                    return Err(Error::Config(format!(
                        "{origin}: `hooks.{event}[{i}].hooks[{j}]` is empty"
                    )));
                }
            }
        }
    }
    Ok(())
}

struct Group {
    matcher: Option<Regex>,
    handlers: Vec<HookHandlerSpec>,
}

/// The hooks of an agent, compiled.
#[derive(Default)]
pub struct HookRegistry {
    events: HashMap<String, Vec<Group>>,
}

impl HookRegistry {
    pub fn new(hooks: &HooksConfig) -> Result<Self> {
        validate(hooks, "hooks", &mut Vec::new())?;
        let mut events = HashMap::new();
        for (event, groups) in hooks {
            let compiled = groups
                .iter()
                .map(|g| {
                    Ok(Group {
                        matcher: compile_matcher(&g.matcher)
                            .map_err(|e| Error::Config(format!("hooks.{event}: {e}")))?,
                        handlers: g.hooks.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            events.insert(event.clone(), compiled);
        }
        Ok(HookRegistry { events })
    }

    fn handlers(&self, event: &HookEvent) -> Vec<HookHandlerSpec> {
        let subject = match event {
            HookEvent::PreToolUse { tool_name, .. } | HookEvent::PostToolUse { tool_name, .. } => {
                Some(tool_name.as_str())
            }
            HookEvent::SessionStart { source, .. } => Some(source.as_str()),
            _ => None,
        };
        self.events
            .get(hook_name(event))
            .into_iter()
            .flatten()
            .filter(|g| match (&g.matcher, subject) {
                // Claude Code's names for file edits select apply_patch too.
                (Some(re), Some("apply_patch")) => ["apply_patch", "Write", "Edit"]
                    .iter()
                    .any(|n| re.is_match(n)),
                (Some(re), Some(s)) => re.is_match(s),
                _ => true,
            })
            .flat_map(|g| g.handlers.iter().cloned())
            .collect()
    }
}

/// What a turn's hooks need besides the [`ToolContext`].
#[derive(Clone, Default)]
pub struct HookSet {
    pub registry: Arc<HookRegistry>,
    /// The thread's rollout file (`transcript_path`), once it exists.
    pub transcript_path: Arc<Mutex<Option<PathBuf>>>,
    /// `CODELOOP_PROJECT_DIR` / `CLAUDE_PROJECT_DIR` of command hooks.
    pub project_dir: Option<PathBuf>,
    pub model: String,
    /// Set when a tool hook asked to end the turn (`continue: false`).
    pub stop_request: Arc<Mutex<Option<String>>>,
}

/// Run the chain of `event`: the matching handlers, then the host's hook.
pub(crate) async fn run_chain(ctx: &ToolContext, event: HookEvent) -> Result<HookOutcome> {
    let name = hook_name(&event);
    let mut event = event;
    let mut folded = HookOutcome::default();
    let mut contexts = Vec::new();
    for handler in ctx.hooks.registry.handlers(&event) {
        let outcome = match &handler {
            HookHandlerSpec::Command { command, timeout } => {
                let limit = timeout
                    .map(Duration::from_secs)
                    .unwrap_or(DEFAULT_HOOK_TIMEOUT);
                run_command(ctx, command, limit, &event).await
            }
            HookHandlerSpec::Callback { id } => ctx.host.hook_callback(id, event.clone()).await?,
        };
        if fold(ctx, name, &mut folded, &mut contexts, &mut event, outcome) {
            return Ok(finish(folded, contexts));
        }
    }
    let outcome = ctx.host.hook(event.clone()).await?;
    fold(ctx, name, &mut folded, &mut contexts, &mut event, outcome);
    Ok(finish(folded, contexts))
}

fn finish(mut folded: HookOutcome, contexts: Vec<String>) -> HookOutcome {
    if !contexts.is_empty() {
        folded.additional_context = Some(contexts.join("\n\n"));
    }
    folded
}

/// Take one handler's outcome into the chain's. True: stop the chain.
fn fold(
    ctx: &ToolContext,
    name: &str,
    folded: &mut HookOutcome,
    contexts: &mut Vec<String>,
    event: &mut HookEvent,
    outcome: HookOutcome,
) -> bool {
    if let Some(message) = outcome.system_message.filter(|m| !m.is_empty()) {
        ctx.events.emit(ThreadEvent::Error {
            message: format!("{name} hook: {message}"),
        });
    }
    if let Some(context) = outcome.additional_context.filter(|c| !c.is_empty()) {
        contexts.push(context);
    }
    if let Some(input) = outcome.updated_input {
        if let HookEvent::PreToolUse { tool_input, .. } = event {
            *tool_input = input.clone();
        }
        folded.updated_input = Some(input);
    }
    match outcome.decision {
        HookDecision::Deny => {
            folded.decision = HookDecision::Deny;
            folded.reason = outcome.reason;
            return true;
        }
        HookDecision::Ask => {
            folded.decision = HookDecision::Ask;
            folded.reason = outcome.reason.or(folded.reason.take());
        }
        HookDecision::Allow if folded.decision == HookDecision::Continue => {
            folded.decision = HookDecision::Allow;
        }
        _ => {}
    }
    if outcome.stop {
        folded.stop = true;
        folded.stop_reason = outcome.stop_reason;
        return true;
    }
    false
}

/// Kills a command hook's process group when dropped (timeout, interrupt).
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.filter(|p| *p > 0) {
            // SAFETY: kill(2) on a process group we created; no memory involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

fn warn(ctx: &ToolContext, message: String) -> HookOutcome {
    tracing::warn!(%message, "hook");
    ctx.events.emit(ThreadEvent::Error { message });
    HookOutcome::default()
}

/// Run one command hook. Its failures never fail the turn: they become a
/// warning `error` event and the hook lets things go on.
async fn run_command(
    ctx: &ToolContext,
    command: &str,
    limit: Duration,
    event: &HookEvent,
) -> HookOutcome {
    let name = hook_name(event);
    let mut input = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Some(obj) = input.as_object_mut() {
        obj.insert(
            "transcript_path".into(),
            ctx.hooks
                .transcript_path
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|p| Value::String(p.display().to_string()))
                .unwrap_or(Value::Null),
        );
        obj.insert("model".into(), Value::String(ctx.hooks.model.clone()));
    }
    let env = match ctx.env_policy.build_from_process() {
        Ok(env) => env,
        Err(e) => return warn(ctx, format!("{name} hook `{command}` not run: {e}")),
    };
    let project_dir = ctx.hooks.project_dir.clone().unwrap_or(ctx.cwd.clone());
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&ctx.cwd)
        .env_clear()
        .envs(env)
        .env("CODELOOP_PROJECT_DIR", &project_dir)
        .env("CLAUDE_PROJECT_DIR", &project_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return warn(ctx, format!("{name} hook `{command}` could not start: {e}")),
    };
    let _guard = GroupGuard(child.id().and_then(|p| i32::try_from(p).ok()));
    let stdin = child.stdin.take();
    let bytes = input.to_string().into_bytes();
    // The input is written while stdout and stderr are read and the hook is
    // waited for, all under the one timeout: a hook that never reads its
    // input, or writes much before it does, can neither hang nor deadlock.
    let write_input = async move {
        if let Some(mut stdin) = stdin {
            // A hook that does not read its input is fine (broken pipe).
            let _ = stdin.write_all(&bytes).await;
            // Dropped here: the hook sees the end of its input.
        }
    };
    let run = async {
        let ((), output) = tokio::join!(write_input, child.wait_with_output());
        output
    };
    let output = match tokio::time::timeout(limit, run).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return warn(ctx, format!("{name} hook `{command}` failed: {e}")),
        Err(_) => {
            return warn(
                ctx,
                format!(
                    "{name} hook `{command}` timed out after {}s; ignored",
                    limit.as_secs()
                ),
            )
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    match output.status.code() {
        Some(0) => parse_stdout(ctx, name, command, &stdout),
        Some(2) if name == "SessionStart" => warn(
            ctx,
            format!("{name} hook `{command}` exited with 2: {stderr}"),
        ),
        Some(2) => HookOutcome {
            decision: HookDecision::Deny,
            reason: Some(if stderr.is_empty() {
                format!("blocked by hook `{command}`")
            } else {
                stderr
            }),
            ..HookOutcome::default()
        },
        code => warn(
            ctx,
            format!(
                "{name} hook `{command}` failed ({}){}",
                code.map(|c| format!("exit status {c}"))
                    .unwrap_or_else(|| "killed by a signal".into()),
                if stderr.is_empty() {
                    String::new()
                } else {
                    format!(": {stderr}")
                }
            ),
        ),
    }
}

/// Read the stdout of a hook that exited 0: the JSON fields Claude Code and
/// Codex define, or, for UserPromptSubmit and SessionStart, plain text that
/// is context for the model.
fn parse_stdout(ctx: &ToolContext, name: &str, command: &str, stdout: &str) -> HookOutcome {
    if stdout.is_empty() {
        return HookOutcome::default();
    }
    let json = match serde_json::from_str::<Value>(stdout) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) | Err(_) if !stdout.starts_with('{') => {
            return match name {
                "UserPromptSubmit" | "SessionStart" => HookOutcome {
                    additional_context: Some(stdout.to_string()),
                    ..HookOutcome::default()
                },
                _ => HookOutcome::default(),
            };
        }
        Ok(_) => {
            return warn(
                ctx,
                format!("{name} hook `{command}` printed JSON that is not an object; ignored"),
            )
        }
        Err(e) => {
            return warn(
                ctx,
                format!("{name} hook `{command}` printed invalid JSON ({e}); ignored"),
            )
        }
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(String::from);
    let mut outcome = HookOutcome {
        system_message: text(&json, "systemMessage"),
        ..HookOutcome::default()
    };
    if json.get("continue").and_then(Value::as_bool) == Some(false) {
        outcome.stop = true;
        outcome.stop_reason = text(&json, "stopReason");
    }
    match text(&json, "decision").as_deref() {
        Some("block") => {
            outcome.decision = HookDecision::Deny;
            outcome.reason = text(&json, "reason");
        }
        Some("approve") => outcome.decision = HookDecision::Allow,
        _ => {}
    }
    if let Some(specific) = json.get("hookSpecificOutput") {
        match text(specific, "permissionDecision").as_deref() {
            Some("deny") => outcome.decision = HookDecision::Deny,
            Some("ask") => outcome.decision = HookDecision::Ask,
            Some("allow") => outcome.decision = HookDecision::Allow,
            _ => {}
        }
        if let Some(reason) = text(specific, "permissionDecisionReason") {
            outcome.reason = Some(reason);
        }
        if let Some(input) = specific.get("updatedInput") {
            outcome.updated_input = Some(input.clone());
        }
        outcome.additional_context = text(specific, "additionalContext");
    }
    outcome
}
