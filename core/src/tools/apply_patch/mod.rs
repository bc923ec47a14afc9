//! `apply_patch`: file edits in the Codex patch format, the one OpenAI's
//! coding models are trained to write. The patch is parsed leniently
//! ([`parser`]), its context found with relaxing comparisons ([`seek`]),
//! and applied atomically ([`apply`]): all of it or none of it.

mod apply;
mod invocation;
mod parser;
mod seek;

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use super::{ask_approval, Approval, ToolCall, ToolContext, ToolOutput, ToolPayload};
use crate::protocol::{ApprovalAction, ItemDetails, PatchStatus, ToolSpec};
use crate::sandbox::approval::{self, Requirement};
use crate::sandbox::SandboxPolicy;

pub use apply::{apply_parsed, changes_of, resolved_changes, summary_of, AppliedPatch};
pub use invocation::{extract_from_script, extract_from_shell};
pub use parser::{parse_patch, Chunk, Hunk, Patch};
pub use seek::seek_sequence;

/// The grammar the Responses API constrains freeform `apply_patch` input to
/// (Codex's, verbatim: it is the contract the models were trained on).
const LARK_GRAMMAR: &str = include_str!("tool_apply_patch.lark");

const FREEFORM_DESCRIPTION: &str = "Use the `apply_patch` tool to edit files. This is a FREEFORM \
                                    tool, so do not wrap the patch in JSON.";

/// Codex's description of the JSON form, which carries the whole format
/// since no grammar is attached to a function tool.
const FUNCTION_DESCRIPTION: &str = include_str!("function_tool_description.md");

/// Why a patch was not applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The text is not a patch: empty, no `*** Begin Patch` / `*** End
    /// Patch` envelope, or nothing inside it. Send a whole patch.
    #[error("invalid patch: {0}")]
    InvalidPatch(String),

    /// A line breaks the grammar. Fix the named line.
    #[error("invalid hunk at line {line}: {message}")]
    InvalidHunk { line: usize, message: String },

    /// The patch is well formed but does not fit the files: a file to
    /// update or delete is missing or a directory, or context lines were
    /// not found. Read the file again and rewrite the hunk at `line`.
    #[error("patch does not apply at line {line}: {message}")]
    Mismatch { line: usize, message: String },

    /// The write check (the sandbox) refused a path the patch would write.
    /// Patch only files inside the writable roots.
    #[error("refused to write {path}: {reason}")]
    Refused { path: String, reason: String },

    /// A file could not be read while the patch was checked.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// A write failed midway; everything already written was put back.
    #[error("{context}: {source} (the files already written were restored)")]
    WriteFailed {
        context: String,
        #[source]
        source: io::Error,
    },

    /// A write failed midway and putting back what was already written
    /// failed too: the listed paths may be left changed. Inspect them.
    #[error(
        "{context}: {source}; restoring the files already written failed too, so these may be \
         left changed: {}",
        list_failures(.failures)
    )]
    RollbackFailed {
        context: String,
        #[source]
        source: io::Error,
        failures: Vec<RestoreFailure>,
    },
}

impl PatchError {
    /// Whether the files are as they were before the patch (every error but
    /// a failed rollback).
    pub fn tree_untouched(&self) -> bool {
        !matches!(self, PatchError::RollbackFailed { .. })
    }
}

/// A path the rollback could not put back.
#[derive(Debug)]
pub struct RestoreFailure {
    pub path: PathBuf,
    pub error: io::Error,
}

fn list_failures(failures: &[RestoreFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{} ({})", f.path.display(), f.error))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse `text` and apply it under `cwd`, asking `check_write` about every
/// path it would create, change or delete before writing anything.
/// Relative paths are relative to `cwd`; an absolute path is written only
/// when `check_write` allows it.
pub fn apply_patch(
    text: &str,
    cwd: &Path,
    check_write: &dyn Fn(&Path) -> crate::error::Result<()>,
) -> Result<AppliedPatch, PatchError> {
    let patch = parse_patch(text)?;
    apply_parsed(&patch, cwd, check_write)
}

/// The freeform tool, whose input the Responses API holds to the grammar.
pub fn freeform_spec() -> ToolSpec {
    ToolSpec::Custom {
        name: "apply_patch".into(),
        description: FREEFORM_DESCRIPTION.into(),
        format: json!({
            "type": "grammar",
            "syntax": "lark",
            "definition": LARK_GRAMMAR,
        }),
    }
}

/// The function tool, for APIs without freeform tools (Chat Completions).
pub fn function_spec() -> ToolSpec {
    ToolSpec::Function {
        name: "apply_patch".into(),
        description: FUNCTION_DESCRIPTION.into(),
        strict: false,
        parameters: json!({
            "type": "object",
            "properties": {
                "input": {
                    "type": "string",
                    "description": "The entire contents of the apply_patch command",
                },
            },
            "required": ["input"],
            "additionalProperties": false,
        }),
    }
}

#[derive(Deserialize)]
struct FunctionArgs {
    input: String,
}

/// [`try_handle`] for callers that only want the model's output: a failing
/// host callback becomes a tool error instead of failing anything. The
/// router uses `try_handle`, so such a failure fails the turn there.
pub async fn handle(ctx: &ToolContext, call: &ToolCall) -> ToolOutput {
    try_handle(ctx, call)
        .await
        .unwrap_or_else(|e| ToolOutput::error(format!("the tool call failed: {e}")))
}

/// Run an `apply_patch` call, freeform (`input` is the patch) or function
/// (`{"input": patch}`). An `Err` is a failing host callback (the approval).
pub async fn try_handle(ctx: &ToolContext, call: &ToolCall) -> crate::error::Result<ToolOutput> {
    let text = match &call.payload {
        ToolPayload::Custom { input } => input.clone(),
        // Some models send the bare patch as a function's arguments; it
        // cannot be mistaken for JSON, so take it as meant.
        ToolPayload::Function { arguments }
            if arguments.trim_start().starts_with("*** Begin Patch") =>
        {
            arguments.clone()
        }
        ToolPayload::Function { .. } => match call.parse_args::<FunctionArgs>() {
            Ok(args) => args.input,
            Err(output) => return Ok(output),
        },
    };
    run(ctx, &call.call_id, &text).await
}

/// Apply patch text for call `call_id`, reporting it as a `file_change`
/// item: the shell tool calls this for commands [`extract_from_shell`]
/// recognizes. Asks the host first when the approval policy says so; an
/// `Err` is a failing host callback.
pub async fn run(ctx: &ToolContext, call_id: &str, text: &str) -> crate::error::Result<ToolOutput> {
    let patch = match parse_patch(text) {
        Ok(patch) => patch,
        Err(e) => return Ok(failure(&e)),
    };
    let item_id = ctx.events.next_item_id();
    let changes = resolved_changes(&patch, &ctx.cwd);
    ctx.events.started(
        &item_id,
        ItemDetails::FileChange {
            changes: changes.clone(),
            status: PatchStatus::InProgress,
        },
    );
    let action = ApprovalAction::FileChange {
        changes: changes.clone(),
        patch: text.to_string(),
    };
    let writes_allowed = changes
        .iter()
        .all(|c| ctx.sandbox.check_write(Path::new(&c.path)).is_ok());
    let requirement = approval::patch_requirement(ctx.approval_policy, writes_allowed);
    let asked = matches!(requirement, Requirement::Ask { .. });
    let approval = match requirement {
        Requirement::Ask { reason } => ask_approval(ctx, call_id, &ctx.cwd, action, reason).await,
        _ => Ok(Approval::Run),
    };
    let approval = match approval {
        Ok(approval) => approval,
        Err(e) => {
            // The item must not stay in progress while the turn fails.
            ctx.events.completed(
                &item_id,
                ItemDetails::FileChange {
                    changes,
                    status: PatchStatus::Failed,
                },
            );
            return Err(e);
        }
    };
    if approval != Approval::Run {
        ctx.events.completed(
            &item_id,
            ItemDetails::FileChange {
                changes,
                status: PatchStatus::Declined,
            },
        );
        return Ok(ToolOutput::error(
            approval.declined_text("apply this patch"),
        ));
    }
    // Writes the sandbox would refuse go ahead only when the host approved
    // exactly this patch.
    let sandbox = if asked && !writes_allowed {
        SandboxPolicy::full_access()
    } else {
        ctx.sandbox.clone()
    };
    let cwd = ctx.cwd.clone();
    // File system work, off the async threads.
    let result = tokio::task::spawn_blocking(move || {
        apply_parsed(&patch, &cwd, &|path| sandbox.check_write(path))
    })
    .await;
    let (status, output) = match result {
        Ok(Ok(applied)) => (PatchStatus::Completed, ToolOutput::success(applied.summary)),
        Ok(Err(e)) => (PatchStatus::Failed, failure(&e)),
        Err(e) => (
            PatchStatus::Failed,
            ToolOutput::error(format!(
                "apply_patch stopped unexpectedly ({e}); check the files it names, they may be \
                 partly changed"
            )),
        ),
    };
    ctx.events
        .completed(&item_id, ItemDetails::FileChange { changes, status });
    Ok(output)
}

fn failure(e: &PatchError) -> ToolOutput {
    if e.tree_untouched() {
        ToolOutput::error(format!(
            "{e}\nThe patch was not applied; no file was changed."
        ))
    } else {
        ToolOutput::error(e.to_string())
    }
}
