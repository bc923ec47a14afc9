//! The shell tools: `shell` (argv), `shell_command` (a script string) and
//! `exec_command` (Codex's unified exec shape, run to completion here), plus
//! the `local_shell` / `container.exec` names older models call.
//!
//! Every call becomes a `command_execution` item; output streams as
//! `item.delta` events and goes back to the model in Codex's text format.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::exec::{self, ExecEnv, ExecOutput, ExecRequest};
use super::{ask_approval, Approval, ToolCall, ToolContext, ToolOutput, ToolPayload};
use crate::error::Result;
use crate::protocol::{
    ApprovalAction, CommandStatus, DeltaKind, ItemDetails, ShellToolKind, ToolSpec,
};
use crate::sandbox::approval::{self, Requirement};
use crate::sandbox::SandboxPolicy;

/// Approximate tokens of command output the model gets back; the middle of
/// longer output is cut. Codex's limit for its current models.
pub const MODEL_OUTPUT_MAX_TOKENS: usize = 10_000;

/// Codex estimates a token as four bytes.
const BYTES_PER_TOKEN: usize = 4;

/// Live output streamed as deltas per command; past it only the completed
/// item carries output, so a consumer that does not drain events cannot be
/// flooded by a command printing gigabytes.
const MAX_DELTA_BYTES: usize = 4 * 1024 * 1024;

const ABORTED_BY_USER: &str = "aborted by user";

/// The shell tool of shape `kind`. With `escalation`, the parameters include
/// Codex's `sandbox_permissions` and `justification`, by which the model asks
/// to run a command outside the sandbox (offered when a host can approve).
pub fn spec(kind: ShellToolKind, escalation: bool) -> ToolSpec {
    let mut spec = base_spec(kind);
    if escalation {
        if let ToolSpec::Function { parameters, .. } = &mut spec {
            if let Some(props) = parameters["properties"].as_object_mut() {
                props.insert(
                    "sandbox_permissions".into(),
                    json!({
                        "type": "string",
                        "enum": ["use_default", "require_escalated"],
                        "description": "Sandbox permissions for the command. Set to \"require_escalated\" \
                            to request running without sandbox restrictions (for example network access \
                            or writes outside the workspace); defaults to \"use_default\".",
                    }),
                );
                props.insert(
                    "justification".into(),
                    json!({
                        "type": "string",
                        "description": "Only set if sandbox_permissions is \"require_escalated\". \
                            A one-sentence explanation, shown to the user, of why the command needs \
                            to run outside the sandbox.",
                    }),
                );
            }
        }
    }
    spec
}

fn base_spec(kind: ShellToolKind) -> ToolSpec {
    match kind {
        ShellToolKind::Shell => ToolSpec::Function {
            name: "shell".into(),
            description: "Runs a shell command and returns its output.\n\
                - The arguments to `shell` will be passed to execvp(). Most terminal commands \
                should be prefixed with [\"bash\", \"-lc\"].\n\
                - Always set the `workdir` param when using the shell function. Do not use `cd` \
                unless absolutely necessary."
                .into(),
            strict: false,
            parameters: json!({
                "type": "object",
                "properties": {
                    "command": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "The command to execute",
                    },
                    "workdir": {
                        "type": "string",
                        "description": "The working directory to execute the command in",
                    },
                    "timeout_ms": {
                        "type": "number",
                        "description": "The timeout for the command in milliseconds",
                    },
                },
                "required": ["command"],
                "additionalProperties": false,
            }),
        },
        ShellToolKind::ShellCommand => ToolSpec::Function {
            name: "shell_command".into(),
            description: "Runs a shell command and returns its output.\n\
                - Always set the `workdir` param when using the shell_command function. Do not \
                use `cd` unless absolutely necessary."
                .into(),
            strict: false,
            parameters: json!({
                "type": "object",
                "properties": {
                    "command": {
                        "type": "string",
                        "description": "The shell script to execute in the user's default shell",
                    },
                    "workdir": {
                        "type": "string",
                        "description": "The working directory to execute the command in",
                    },
                    "timeout_ms": {
                        "type": "number",
                        "description": "The timeout for the command in milliseconds",
                    },
                    "login": {
                        "type": "boolean",
                        "description": "Whether to run the shell with login shell semantics. Defaults to true.",
                    },
                },
                "required": ["command"],
                "additionalProperties": false,
            }),
        },
        // Codex describes a PTY session that can outlive the call; here the
        // command always runs to completion without a TTY, so the description
        // says so instead of promising a session id that never comes.
        ShellToolKind::ExecCommand => ToolSpec::Function {
            name: "exec_command".into(),
            description: "Runs a command and returns its output once it exits. The command runs \
                non-interactively: stdin is empty and no TTY is allocated."
                .into(),
            strict: false,
            parameters: json!({
                "type": "object",
                "properties": {
                    "cmd": {
                        "type": "string",
                        "description": "Shell command to execute.",
                    },
                    "workdir": {
                        "type": "string",
                        "description": "Optional working directory to run the command in; defaults to the turn cwd.",
                    },
                    "shell": {
                        "type": "string",
                        "description": "Shell binary to launch. Defaults to the user's default shell.",
                    },
                    "tty": {
                        "type": "boolean",
                        "description": "Whether to allocate a TTY for the command. Defaults to false (plain pipes); set to true to open a PTY and access TTY process.",
                    },
                    "yield_time_ms": {
                        "type": "number",
                        "description": "How long to wait (in milliseconds) for output before yielding.",
                    },
                    "max_output_tokens": {
                        "type": "number",
                        "description": "Maximum number of tokens to return. Excess output will be truncated.",
                    },
                    "login": {
                        "type": "boolean",
                        "description": "Whether to run the shell with -l/-i semantics. Defaults to true.",
                    },
                },
                "required": ["cmd"],
                "additionalProperties": false,
            }),
        },
    }
}

/// The arguments of every shell shape. Unknown fields (Codex's
/// `yield_time_ms`, `prefix_rule`, ...) are accepted and ignored.
#[derive(Debug, Deserialize)]
struct ShellArgs {
    #[serde(default)]
    command: Option<Value>,
    #[serde(default)]
    cmd: Option<Value>,
    #[serde(default, alias = "working_directory")]
    workdir: Option<String>,
    #[serde(default, alias = "timeout", deserialize_with = "positive_count")]
    timeout_ms: Option<u64>,
    #[serde(default)]
    login: Option<bool>,
    #[serde(default)]
    shell: Option<String>,
    #[serde(default, deserialize_with = "positive_count")]
    max_output_tokens: Option<u64>,
    #[serde(default)]
    sandbox_permissions: Option<String>,
    #[serde(default)]
    justification: Option<String>,
}

/// A count the schema declares as `"type": "number"`, so a model may well
/// send `120000.0` (or, less faithfully, `"120000"`): any JSON number is
/// taken, rounded to a whole count. Zero, negative and non-finite values
/// mean "not given" (the default applies) rather than an instant timeout or
/// an empty output.
fn positive_count<'de, D: Deserializer<'de>>(de: D) -> std::result::Result<Option<u64>, D::Error> {
    let value = Option::<Value>::deserialize(de)?;
    let number = match &value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(exact) => return Ok(Some(exact).filter(|n| *n > 0)),
            None => n.as_f64(),
        },
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    let Some(number) = number else {
        return Err(serde::de::Error::custom(format!(
            "expected a number, got {}",
            value.as_ref().map_or("nothing", json_kind)
        )));
    };
    if !number.is_finite() {
        return Ok(None);
    }
    // `as` saturates: a huge value becomes u64::MAX, which the runner
    // treats as no timeout.
    let rounded = number.round().max(0.0) as u64;
    Ok(Some(rounded).filter(|n| *n > 0))
}

/// How the result is written for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputStyle {
    /// `Exit code: N\nWall time: X seconds\nOutput:\n...` (shell, shell_command).
    Shell,
    /// Codex's unified exec text (`exec_command`).
    UnifiedExec { max_tokens: usize },
}

#[derive(Debug)]
struct Invocation {
    argv: Vec<String>,
    workdir: Option<String>,
    timeout: Option<Duration>,
    style: OutputStyle,
    /// The model asks to run this outside the sandbox.
    escalate: bool,
    justification: Option<String>,
}

fn parse_invocation(call: &ToolCall) -> Result<Invocation, ToolOutput> {
    let args: ShellArgs = match &call.payload {
        ToolPayload::Function { .. } => call.parse_args()?,
        // A freeform shell call carries the script itself.
        ToolPayload::Custom { input } => ShellArgs {
            command: Some(Value::String(input.clone())),
            cmd: None,
            workdir: None,
            timeout_ms: None,
            login: None,
            shell: None,
            max_output_tokens: None,
            sandbox_permissions: None,
            justification: None,
        },
    };
    let field = if call.name == "exec_command" {
        "cmd"
    } else {
        "command"
    };
    let value = match (args.command, args.cmd) {
        (Some(v), None) | (None, Some(v)) => v,
        (Some(_), Some(_)) => {
            return Err(ToolOutput::error(format!(
                "invalid arguments for tool `{}`: give either `command` or `cmd`, not both",
                call.name
            )))
        }
        (None, None) => {
            return Err(ToolOutput::error(format!(
                "invalid arguments for tool `{}`: missing `{field}`, the command to run",
                call.name
            )))
        }
    };
    let argv = match value {
        Value::String(script) => {
            if script.trim().is_empty() {
                return Err(ToolOutput::error(format!(
                    "invalid arguments for tool `{}`: `{field}` is empty",
                    call.name
                )));
            }
            let shell = args
                .shell
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "bash".to_string());
            let flag = if args.login.unwrap_or(true) {
                "-lc"
            } else {
                "-c"
            };
            vec![shell, flag.to_string(), script]
        }
        Value::Array(items) => {
            let argv: Option<Vec<String>> = items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect();
            match argv {
                Some(argv) if !argv.is_empty() => argv,
                Some(_) => {
                    return Err(ToolOutput::error(format!(
                        "invalid arguments for tool `{}`: `{field}` is an empty array",
                        call.name
                    )))
                }
                None => {
                    return Err(ToolOutput::error(format!(
                    "invalid arguments for tool `{}`: every element of `{field}` must be a string",
                    call.name
                )))
                }
            }
        }
        other => {
            return Err(ToolOutput::error(format!(
                "invalid arguments for tool `{}`: `{field}` must be an array of strings (argv) \
                 or a string (a shell script), not {}",
                call.name,
                json_kind(&other)
            )))
        }
    };
    let style = if call.name == "exec_command" {
        OutputStyle::UnifiedExec {
            max_tokens: args.max_output_tokens.map_or(MODEL_OUTPUT_MAX_TOKENS, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
        }
    } else {
        OutputStyle::Shell
    };
    Ok(Invocation {
        argv,
        workdir: args.workdir.filter(|w| !w.trim().is_empty()),
        timeout: args.timeout_ms.map(Duration::from_millis),
        style,
        escalate: args.sandbox_permissions.as_deref() == Some("require_escalated"),
        justification: args.justification,
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Run a shell call. `apply_patch_offered` says whether the agent offers
/// apply_patch: a patch sent through the shell is refused when it does not.
/// An `Err` is a failing host callback (the approval); tool failures are
/// `Ok` outputs for the model.
pub async fn handle(
    ctx: &ToolContext,
    call: &ToolCall,
    apply_patch_offered: bool,
) -> Result<ToolOutput> {
    let inv = match parse_invocation(call) {
        Ok(inv) => inv,
        Err(out) => return Ok(out),
    };

    if let Some(output) = route_apply_patch(ctx, call, &inv, apply_patch_offered).await {
        return output;
    }

    let command = join_command(&inv.argv);
    let id = ctx.events.next_item_id();
    let details = |aggregated_output: String, exit_code: Option<i32>, status: CommandStatus| {
        ItemDetails::CommandExecution {
            command: command.clone(),
            aggregated_output,
            exit_code,
            status,
        }
    };
    ctx.events
        .started(&id, details(String::new(), None, CommandStatus::InProgress));
    let fail = |message: String| {
        ctx.events
            .completed(&id, details(message.clone(), None, CommandStatus::Failed));
        Ok(ToolOutput::error(message))
    };

    let requirement = approval::command_requirement(
        ctx.approval_policy,
        ctx.sandbox.mode,
        &inv.argv,
        inv.escalate,
        inv.justification.as_deref(),
    );
    if let Requirement::Forbidden { reason } = &requirement {
        return fail(reason.clone());
    }
    // An escalated command that the host approves runs outside the sandbox;
    // everything else runs within it.
    let sandbox = if inv.escalate && matches!(requirement, Requirement::Ask { .. }) {
        SandboxPolicy::full_access()
    } else {
        ctx.sandbox.clone()
    };
    // What would refuse the command anyway is checked before the user is
    // asked, so nobody approves a command that cannot run.
    if let Err(e) = sandbox.check_command() {
        return fail(e.to_string());
    }
    let cwd: PathBuf = match &inv.workdir {
        Some(w) => ctx.resolve(w),
        None => ctx.cwd.clone(),
    };
    if !cwd.is_dir() {
        return fail(format!(
            "workdir {} does not exist or is not a directory",
            cwd.display()
        ));
    }
    // The model chose this command, so it gets no credentials from our
    // environment unless the policy says otherwise.
    let env = match ctx.env_policy.build_from_process() {
        Ok(env) => env,
        Err(e) => return fail(e.to_string()),
    };

    let action = ApprovalAction::Command {
        command: inv.argv.clone(),
    };
    let approval = match requirement {
        Requirement::Ask { reason } => ask_approval(ctx, &call.call_id, &cwd, action, reason).await,
        _ => Ok(Approval::Run),
    };
    match approval {
        Ok(Approval::Run) => {}
        Ok(declined) => {
            ctx.events
                .completed(&id, details(String::new(), None, CommandStatus::Declined));
            return Ok(ToolOutput::error(
                declined.declined_text("run this command"),
            ));
        }
        Err(e) => {
            // The item must not stay in progress while the turn fails.
            let _ = fail(format!("the approval request failed: {e}"));
            return Err(e);
        }
    }

    let mut req = ExecRequest::new(inv.argv.clone(), cwd);
    req.env = ExecEnv::Exact(env);
    req.timeout = inv.timeout.unwrap_or(ctx.command_timeout);
    // Prepared now, from the file system as it is when the command starts.
    req.confine = match sandbox.confine(&req.cwd) {
        Ok(confine) => confine,
        Err(e) => return fail(e.to_string()),
    };
    let events = ctx.events.clone();
    let delta_id = id.clone();
    let mut decoder = Utf8Stream::default();
    let mut streamed = 0usize;
    let mut on_output = move |chunk: &[u8]| {
        if streamed >= MAX_DELTA_BYTES {
            return;
        }
        streamed += chunk.len();
        let text = decoder.push(chunk);
        if !text.is_empty() {
            events.delta(&delta_id, DeltaKind::CommandOutput, text);
        }
    };
    let out = match exec::run(req, &ctx.cancel, &mut on_output).await {
        Ok(out) => out,
        Err(e) => return fail(e.to_string()),
    };

    let item_output = item_output(&out);
    let status = if out.exit_code == 0 && !out.timed_out && !out.interrupted {
        CommandStatus::Completed
    } else {
        CommandStatus::Failed
    };
    ctx.events
        .completed(&id, details(item_output, Some(out.exit_code), status));

    let text = if out.interrupted {
        aborted_text(&out, inv.style)
    } else {
        match inv.style {
            OutputStyle::Shell => format_shell_output(&out),
            OutputStyle::UnifiedExec { max_tokens } => format_unified_exec_output(&out, max_tokens),
        }
    };
    Ok(if status == CommandStatus::Completed {
        ToolOutput::success(text)
    } else {
        ToolOutput::error(text)
    })
}

/// Models trained on Codex send patches through the shell too; those go to
/// apply_patch, which checks each write against the sandbox itself (so they
/// work in `workspace-write`, where commands are refused) and asks for
/// approval as a file change. `None` when the command is no patch.
async fn route_apply_patch(
    ctx: &ToolContext,
    call: &ToolCall,
    inv: &Invocation,
    apply_patch_offered: bool,
) -> Option<Result<ToolOutput>> {
    let patch = super::apply_patch::extract_from_shell(&inv.argv)?;
    if !apply_patch_offered {
        // Otherwise `disallowed_tools = ["apply_patch"]` could be bypassed
        // by wrapping the patch in a shell command.
        return Some(Ok(ToolOutput::error(
            "this command is an apply_patch invocation, but the apply_patch tool is not \
             available to this agent (allowed_tools / disallowed_tools), so the patch was not \
             applied and no file was changed",
        )));
    }
    Some(match &inv.workdir {
        // The patch's relative paths are relative to where the command would run.
        Some(workdir) => {
            let mut patch_ctx = ctx.clone();
            patch_ctx.cwd = ctx.resolve(workdir);
            super::apply_patch::run(&patch_ctx, &call.call_id, &patch).await
        }
        None => super::apply_patch::run(ctx, &call.call_id, &patch).await,
    })
}

/// The output text the item shows, with the reason a command was stopped.
fn item_output(out: &ExecOutput) -> String {
    if out.interrupted {
        let mut text = out.aggregated.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(ABORTED_BY_USER);
        text
    } else {
        content_with_timeout(out)
    }
}

/// The output the model sees, with Codex's timeout line in front.
fn content_with_timeout(out: &ExecOutput) -> String {
    if out.timed_out {
        format!(
            "command timed out after {} milliseconds\n{}",
            out.duration.as_millis(),
            out.aggregated
        )
    } else {
        out.aggregated.clone()
    }
}

fn total_lines(out: &ExecOutput) -> usize {
    let timeout_line = usize::from(out.timed_out);
    // An empty output after the timeout line adds no line of its own.
    out.total_output_lines + timeout_line
}

/// Seconds rounded to one decimal and printed the way Codex prints an `f32`
/// (`0`, `0.3`, `12.5`).
fn wall_time_1dp(d: Duration) -> String {
    let secs = (d.as_secs_f32() * 10.0).round() / 10.0;
    format!("{secs}")
}

fn format_shell_output(out: &ExecOutput) -> String {
    let content = content_with_timeout(out);
    let total = total_lines(out);
    let text = truncate_middle_tokens(&content, MODEL_OUTPUT_MAX_TOKENS);
    let mut sections = vec![
        format!("Exit code: {}", out.exit_code),
        format!("Wall time: {} seconds", wall_time_1dp(out.duration)),
    ];
    if total != text.lines().count() {
        sections.push(format!("Total output lines: {total}"));
    }
    sections.push("Output:".to_string());
    sections.push(text);
    sections.join("\n")
}

fn format_unified_exec_output(out: &ExecOutput, max_tokens: usize) -> String {
    let content = content_with_timeout(out);
    let budget = max_tokens.saturating_mul(BYTES_PER_TOKEN);
    let prefix_len = content.len().saturating_sub(out.aggregated.len()) as u64;
    let full_bytes = out.total_output_bytes + prefix_len;
    let mut sections = vec![
        format!("Wall time: {:.4} seconds", out.duration.as_secs_f64()),
        format!("Process exited with code {}", out.exit_code),
    ];
    let body = if full_bytes as usize > budget {
        sections.push(format!(
            "Original token count: {}",
            full_bytes.div_ceil(BYTES_PER_TOKEN as u64)
        ));
        format!(
            "Total output lines: {}\n\n{}",
            total_lines(out),
            truncate_middle_tokens(&content, max_tokens)
        )
    } else {
        content
    };
    sections.push("Output:".to_string());
    sections.push(body);
    sections.join("\n")
}

fn aborted_text(out: &ExecOutput, style: OutputStyle) -> String {
    match style {
        OutputStyle::Shell => format!(
            "Wall time: {} seconds\n{ABORTED_BY_USER}",
            wall_time_1dp(out.duration)
        ),
        OutputStyle::UnifiedExec { .. } => {
            format!("{ABORTED_BY_USER} after {:.1}s", out.duration.as_secs_f32())
        }
    }
}

/// Keep the beginning and the end of `text` within about `max_tokens` tokens
/// (four bytes each), cutting the middle at char boundaries and marking the
/// cut with the number of tokens removed, as Codex does.
pub fn truncate_middle_tokens(text: &str, max_tokens: usize) -> String {
    let budget = max_tokens.saturating_mul(BYTES_PER_TOKEN);
    if text.len() <= budget {
        return text.to_string();
    }
    let removed_tokens = (text.len() - budget).div_ceil(BYTES_PER_TOKEN);
    let marker = format!("…{removed_tokens} tokens truncated…");
    let head_budget = budget / 2;
    let tail_budget = budget - head_budget;
    let mut head_end = head_budget.min(text.len());
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - tail_budget;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let tail_start = tail_start.max(head_end);
    let mut out = String::with_capacity(head_end + marker.len() + text.len() - tail_start);
    out.push_str(&text[..head_end]);
    out.push_str(&marker);
    out.push_str(&text[tail_start..]);
    out
}

/// The command as one shell-quoted string, as Codex shows it in items.
pub fn join_command(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| quote_arg(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote_arg(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%^".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\"'\"'"))
}

/// Decodes a byte stream as UTF-8 chunk by chunk, holding back a character
/// split across chunks and replacing invalid bytes.
#[derive(Debug, Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, chunk: &[u8]) -> String {
        self.pending.extend_from_slice(chunk);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(&String::from_utf8_lossy(valid));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        // An incomplete character at the end: wait for more.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_head_and_tail() {
        let text = "a".repeat(100) + &"b".repeat(100);
        let cut = truncate_middle_tokens(&text, 10);
        assert_eq!(
            cut,
            format!("{}…40 tokens truncated…{}", "a".repeat(20), "b".repeat(20))
        );
        assert_eq!(truncate_middle_tokens("short", 10), "short");
        let multi = "é".repeat(100);
        let cut = truncate_middle_tokens(&multi, 5);
        assert!(cut.starts_with("éé"), "{cut}");
        assert!(cut.ends_with("éé"), "{cut}");
    }

    #[test]
    fn quoting_matches_a_shell() {
        let argv: Vec<String> = ["bash", "-lc", "echo 'hi' && ls", "a=b", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            join_command(&argv),
            r#"bash -lc 'echo '"'"'hi'"'"' && ls' a=b ''"#
        );
    }

    #[test]
    fn utf8_stream_holds_back_split_chars() {
        let mut d = Utf8Stream::default();
        let bytes = "héllo".as_bytes();
        assert_eq!(d.push(&bytes[..2]), "h");
        assert_eq!(d.push(&bytes[2..]), "éllo");
        assert_eq!(d.push(b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn wall_time_prints_like_codex() {
        assert_eq!(wall_time_1dp(Duration::from_millis(20)), "0");
        assert_eq!(wall_time_1dp(Duration::from_millis(260)), "0.3");
        assert_eq!(wall_time_1dp(Duration::from_millis(12_480)), "12.5");
    }

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall {
            call_id: "c".into(),
            name: name.into(),
            payload: ToolPayload::Function {
                arguments: args.to_string(),
            },
        }
    }

    #[test]
    fn argument_shapes() {
        let inv = parse_invocation(&call("shell", json!({"command": ["ls", "-a"]})))
            .map_err(|e| e.content)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inv.argv, ["ls", "-a"]);
        let inv = parse_invocation(&call(
            "shell_command",
            json!({"command": "ls", "login": false}),
        ))
        .map_err(|e| e.content)
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inv.argv, ["bash", "-c", "ls"]);
        let inv = parse_invocation(&call("exec_command", json!({"cmd": "ls", "shell": "sh"})))
            .map_err(|e| e.content)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inv.argv, ["sh", "-lc", "ls"]);
        assert!(matches!(inv.style, OutputStyle::UnifiedExec { .. }));
        let err = parse_invocation(&call("shell", json!({"command": 3})))
            .err()
            .map(|e| e.content)
            .unwrap_or_default();
        assert!(err.contains("must be an array of strings"), "{err}");
    }
}
