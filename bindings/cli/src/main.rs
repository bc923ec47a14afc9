//! `codeloop`: the command-line front of codeloop-core.
//!
//! `codeloop exec` is a drop-in for `codex exec --json` (it works as the binary
//! `@openai/codex-sdk` spawns); `codeloop mcp-server` serves the agent over MCP
//! on stdio (like `codex mcp-server`); `codeloop apply-patch` applies a Codex patch.

mod exec;
mod mcp_server;
mod view;

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "codeloop",
    version,
    about = "A coding agent you can embed; this is its command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent non-interactively on one prompt (like `codex exec`).
    #[command(visible_alias = "e")]
    Exec(Box<exec::ExecArgs>),
    /// Serve the agent as an MCP server on stdio (like `codex mcp-server`):
    /// tools `codex` (run a turn on a new thread) and `codex-reply` (continue one).
    McpServer(mcp_server::McpServerArgs),
    /// Apply a Codex-format patch in the current directory (patch as argument or on stdin).
    ApplyPatch {
        /// The patch text; read from stdin when omitted.
        patch: Option<String>,
    },
    /// Print the JSON Schema of the protocol (options, events, items, host requests).
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Spans go to an OTLP collector when the OTEL_* variables name one
    // (flushed at exit, however the process exits).
    if let Err(e) = codeloop_core::telemetry::init_from_env() {
        eprintln!("codeloop: warning: {e}");
    }
    match cli.command {
        Command::Exec(args) => exec::main(*args),
        Command::McpServer(args) => mcp_server::main(args),
        Command::ApplyPatch { patch } => apply_patch(patch),
        Command::Schema => {
            print!("{}", codeloop_core::protocol::schema::protocol_schema());
            ExitCode::SUCCESS
        }
    }
}

/// Run a command's future on a new multi-threaded runtime; an error is
/// printed as `Error: …` (with its causes) and exits 1.
fn block_on(fut: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("codeloop: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn apply_patch(patch: Option<String>) -> ExitCode {
    let patch = match patch {
        Some(p) => p,
        None => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("codeloop apply-patch: cannot read the patch from stdin: {e}");
                return ExitCode::FAILURE;
            }
            text
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("codeloop apply-patch: cannot read the current directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    match codeloop_core::tools::apply_patch::apply_patch(&patch, &cwd, &|_| Ok(())) {
        Ok(applied) => {
            print!("{}", applied.summary);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
