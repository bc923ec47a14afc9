//! What the model is told before the conversation: base instructions and the
//! environment context message.

use std::path::Path;

use crate::protocol::{ApprovalPolicy, SandboxMode};

/// The built-in base instructions (`instructions` in the request).
pub const BASE_INSTRUCTIONS: &str = "\
You are codeloop, a coding agent running inside the user's program or terminal. You and the user \
share one workspace: you read and change its files and run commands in it to get the task done.

How to work:
- Explore before you change things: list and read the relevant files, run the project's tests.
- Keep changes small and focused on the task; match the code's existing style.
- Edit files with the `apply_patch` tool. Run commands with the shell tool; prefer `rg` for search.
- For multi-step work, keep a short plan with `update_plan` and update it as steps finish.
- Verify your work: run the tests or the program you changed when you can.
- Commands may run in a sandbox; when one is refused, say what you needed and why.
- When you are done, reply with a short summary of what you changed and how you checked it.";

/// How the environment context message begins.
pub const ENVIRONMENT_CONTEXT_TAG: &str = "<environment_context>";

/// The user-role message that tells the model where it runs, as the Codex CLI
/// sends it at the start of a thread.
pub fn environment_context(
    cwd: &Path,
    approval: ApprovalPolicy,
    sandbox: SandboxMode,
    network_access: bool,
) -> String {
    let approval = match approval {
        ApprovalPolicy::Never => "never",
        ApprovalPolicy::OnRequest => "on-request",
        ApprovalPolicy::Untrusted => "untrusted",
    };
    let network = if sandbox == SandboxMode::DangerFullAccess || network_access {
        "enabled"
    } else {
        "restricted"
    };
    format!(
        "{ENVIRONMENT_CONTEXT_TAG}\n  <cwd>{}</cwd>\n  <approval_policy>{approval}</approval_policy>\n  \
         <sandbox_mode>{}</sandbox_mode>\n  <network_access>{network}</network_access>\n  \
         <shell>bash</shell>\n</environment_context>",
        cwd.display(),
        sandbox.as_str()
    )
}
