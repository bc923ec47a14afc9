//! `codeloop exec`: one turn, printed as Codex JSONL (`--json`) or as a live
//! view for a person. Flags are those `codex exec` takes and that
//! `@openai/codex-sdk` passes.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use codeloop_core::config::parse_override;
use codeloop_core::protocol::{AgentOptions, ApprovalPolicy, SandboxMode, ThreadEvent};
use codeloop_core::{Agent, Input, UserInput};
use futures::StreamExt;

use crate::view::LiveView;

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true, args_override_self = true)]
pub struct ExecArgs {
    #[command(subcommand)]
    resume: Option<ExecCommand>,

    /// The prompt; read from stdin when omitted or `-`.
    prompt: Option<String>,

    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum ExecCommand {
    /// Continue an earlier thread by id (or the latest with --last).
    Resume {
        /// The thread id.
        session_id: Option<String>,
        /// The prompt; read from stdin when omitted or `-`.
        prompt: Option<String>,
        /// Resume the most recent session of the working directory.
        #[arg(long)]
        last: bool,
        /// With --last, pick from the sessions of every working directory.
        #[arg(long, requires = "last")]
        all: bool,
    },
    /// Start a new thread from an earlier one's history (all of it, or up
    /// to the end of turn N) and run the prompt there; the earlier thread
    /// is left as it was.
    Fork {
        /// The thread id to fork.
        session_id: String,
        /// The prompt; read from stdin when omitted or `-`.
        prompt: Option<String>,
        /// Keep the history up to the end of this turn (counting from 1).
        #[arg(long, value_name = "N")]
        at_turn: Option<u64>,
    },
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Print events as JSON lines (the Codex `exec --json` format).
    #[arg(long, global = true, visible_alias = "experimental-json")]
    json: bool,
    /// With --json, also print `item.delta` streaming events.
    #[arg(long, global = true)]
    include_deltas: bool,
    /// Model to use.
    #[arg(short, long, global = true)]
    model: Option<String>,
    /// Provider: openai, ollama, lmstudio, replay, or one from config.toml.
    #[arg(long, global = true)]
    provider: Option<String>,
    /// Use the local open-source provider (ollama), as `codex exec --oss`.
    #[arg(long, global = true)]
    oss: bool,
    /// Replay provider: the cassette to serve model responses from.
    #[arg(long, global = true, value_name = "FILE")]
    cassette: Option<PathBuf>,
    /// Record every model exchange into this cassette file.
    #[arg(long, global = true, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Sandbox mode: read-only, workspace-write, danger-full-access.
    #[arg(short, long, global = true, value_parser = parse_sandbox)]
    sandbox: Option<SandboxMode>,
    /// Working directory of the agent.
    #[arg(short = 'C', long = "cd", global = true, value_name = "DIR")]
    cd: Option<PathBuf>,
    /// Extra writable directory (repeatable).
    #[arg(long = "add-dir", global = true, value_name = "DIR")]
    add_dir: Vec<PathBuf>,
    /// Run outside a git repository.
    #[arg(long, global = true)]
    skip_git_repo_check: bool,
    /// JSON Schema file the final answer must follow.
    #[arg(long, global = true, value_name = "FILE")]
    output_schema: Option<PathBuf>,
    /// Image to attach to the prompt (repeatable, or comma-separated).
    #[arg(short, long, global = true, value_name = "FILE", value_delimiter = ',')]
    image: Vec<PathBuf>,
    /// Override a config value: key=value, value as TOML (repeatable).
    #[arg(short = 'c', long = "config", global = true, value_name = "key=value")]
    config: Vec<String>,
    /// Write the last agent message to this file.
    #[arg(short = 'o', long, global = true, value_name = "FILE")]
    output_last_message: Option<PathBuf>,
    /// Keep no session file for this run.
    #[arg(long, global = true)]
    ephemeral: bool,
    /// The most model requests this run may make.
    #[arg(long, global = true)]
    max_turns: Option<u32>,
    /// Accepted for compatibility; colors follow the terminal.
    #[arg(long, global = true, value_name = "WHEN")]
    color: Option<String>,
    /// Accepted for compatibility with `@openai/codex-sdk`; codeloop records no thread source.
    #[arg(long, global = true, hide = true, value_name = "SOURCE")]
    thread_source: Option<String>,
    /// Accepted for compatibility with `@openai/codex-sdk`; has no effect in codeloop.
    #[arg(long, global = true, hide = true, value_name = "PROGRAM")]
    cyber_access_program: Option<String>,
    /// Alias for `--sandbox workspace-write` (as in Codex).
    #[arg(long, global = true)]
    full_auto: bool,
    /// Run commands with no sandbox and no approvals.
    #[arg(long = "dangerously-bypass-approvals-and-sandbox", global = true)]
    yolo: bool,
}

fn parse_sandbox(s: &str) -> Result<SandboxMode, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        format!("`{s}` is not a sandbox mode (read-only, workspace-write, danger-full-access)")
    })
}

pub fn main(args: ExecArgs) -> ExitCode {
    crate::block_on(run(args))
}

struct Resume {
    id: Option<String>,
    last: bool,
    /// `--last --all`: the latest of any working directory.
    all: bool,
    fork_at: Option<Option<u64>>,
}

async fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    let c = args.common;
    let (prompt, resume) = match args.resume {
        Some(ExecCommand::Resume {
            session_id,
            prompt,
            last,
            all,
        }) => {
            // With --last, a lone positional is the prompt.
            let (id, prompt) = if last && prompt.is_none() {
                (None, session_id)
            } else {
                (session_id, prompt)
            };
            if id.is_none() && !last {
                bail!("`exec resume` needs a thread id or --last");
            }
            (
                prompt,
                Some(Resume {
                    id,
                    last,
                    all,
                    fork_at: None,
                }),
            )
        }
        Some(ExecCommand::Fork {
            session_id,
            prompt,
            at_turn,
        }) => (
            prompt,
            Some(Resume {
                id: Some(session_id),
                last: false,
                all: false,
                fork_at: Some(at_turn),
            }),
        ),
        None => (args.prompt, None),
    };

    let options = build_options(&c)?;
    let cwd = options.cwd.clone().unwrap_or_default();
    if !c.skip_git_repo_check && !inside_git_repo(&cwd) {
        bail!("Not inside a trusted directory and --skip-git-repo-check was not specified.");
    }
    let prompt = read_prompt(prompt)?;
    let mut input = vec![UserInput::Text { text: prompt }];
    input.extend(
        c.image
            .iter()
            .map(|p| UserInput::LocalImage { path: p.clone() }),
    );

    let agent = Agent::new(options)?;
    let thread = match resume {
        None => agent.start_thread(),
        Some(Resume {
            id: Some(id),
            fork_at: Some(at_turn),
            ..
        }) => agent.fork_thread(&id, at_turn)?,
        Some(Resume { id: Some(id), .. }) => agent.resume_thread(&id)?,
        Some(Resume {
            last: true,
            all: true,
            ..
        }) => agent.resume_last_anywhere()?,
        Some(Resume { last: true, .. }) => agent.resume_last()?,
        Some(_) => bail!("`exec resume` needs a thread id or --last"),
    };

    let input = Input(input);
    let mut view = (!c.json).then(|| LiveView::new(&agent, std::io::stderr().is_terminal()));
    if let Some(v) = view.as_mut() {
        v.header(&input.text());
    }
    let mut events = thread.run_streamed(input);
    let mut stdout = std::io::stdout().lock();
    let mut last_message = None;
    let mut failed = false;
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(80));
    let mut signals = Signals::new()?;
    let mut interrupted = false;
    loop {
        let event = tokio::select! {
            e = events.next() => match e { Some(e) => e, None => break },
            _ = ticker.tick() => {
                if let Some(v) = view.as_mut() { v.tick(); }
                continue;
            }
            signal = signals.recv() => {
                if interrupted {
                    // A second signal: the person (or the SDK) wants out now.
                    eprintln!("codeloop: {signal} again; exiting without waiting for the turn");
                    std::process::exit(130);
                }
                // The first one interrupts the turn, which kills running
                // commands with their process groups, then exits normally.
                interrupted = true;
                thread.interrupt();
                continue;
            }
        };
        match &event {
            ThreadEvent::ItemCompleted { item } => {
                if let codeloop_core::protocol::ItemDetails::AgentMessage { text } = &item.details {
                    last_message = Some(text.clone());
                }
            }
            ThreadEvent::TurnFailed { .. } => failed = true,
            _ => {}
        }
        if c.json {
            if matches!(event, ThreadEvent::ItemDelta { .. }) && !c.include_deltas {
                continue;
            }
            serde_json::to_writer(&mut stdout, &event)?;
            stdout.write_all(b"\n")?;
            stdout.flush()?;
        } else if let Some(v) = view.as_mut() {
            v.event(&event);
        }
    }
    if let Some(path) = &c.output_last_message {
        std::fs::write(path, last_message.as_deref().unwrap_or_default())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    // The live view already showed the answer on the terminal; a pipe gets it
    // on stdout for scripts.
    if !c.json && !stdout.is_terminal() {
        if let Some(text) = &last_message {
            writeln!(stdout, "{text}")?;
        }
    }
    Ok(if interrupted {
        ExitCode::from(130)
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// SIGINT, SIGTERM and SIGHUP: how a person (Ctrl-C), an SDK aborting a run,
/// or a closed terminal stop `exec`. All three interrupt the turn first so
/// no command outlives the process.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

fn build_options(c: &CommonArgs) -> anyhow::Result<AgentOptions> {
    let mut options = AgentOptions {
        model: c.model.clone(),
        provider: c
            .provider
            .clone()
            .or_else(|| c.oss.then(|| "ollama".to_string())),
        cassette: c.cassette.clone(),
        record: c.record.clone(),
        ephemeral: c.ephemeral,
        max_turns: c.max_turns,
        ..AgentOptions::default()
    };
    // The config files and these overrides are layered in core (Agent::new).
    apply_config(&mut options, &parse_overrides(&c.config)?)?;
    if c.full_auto {
        options.sandbox = Some(SandboxMode::WorkspaceWrite);
    }
    if let Some(mode) = c.sandbox {
        options.sandbox = Some(mode);
    }
    if c.yolo {
        options.sandbox = Some(SandboxMode::DangerFullAccess);
        options.approval_policy = Some(ApprovalPolicy::Never);
    }
    let cwd = match &c.cd {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => std::env::current_dir()?,
    };
    if !cwd.is_dir() {
        bail!("--cd {}: not a directory", cwd.display());
    }
    options.cwd = Some(cwd);
    options.writable_roots.extend(c.add_dir.iter().cloned());
    if let Some(path) = &c.output_schema {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --output-schema {}", path.display()))?;
        let schema: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("--output-schema {} is not valid JSON", path.display()))?;
        if !schema.is_object() {
            bail!(
                "--output-schema {} must hold a JSON Schema object",
                path.display()
            );
        }
        options.output_schema = Some(schema);
    }
    Ok(options)
}

/// `--config key=value` flags, parsed (values are TOML literals).
pub(crate) fn parse_overrides(flags: &[String]) -> anyhow::Result<Vec<(String, toml::Value)>> {
    Ok(flags
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Hand `overrides` to core as `options.config_overrides`: core layers the
/// config files (user, trusted project), these overrides and the explicit
/// options when the agent is built, as for every front. `exec` and
/// `mcp-server` pass their `--config` flags through this one function.
pub(crate) fn apply_config(
    options: &mut AgentOptions,
    overrides: &[(String, toml::Value)],
) -> anyhow::Result<()> {
    for (key, value) in overrides {
        let value = serde_json::to_value(value)
            .with_context(|| format!("--config {key}: not representable as JSON"))?;
        options.config_overrides.insert(key.clone(), value);
    }
    Ok(())
}

fn read_prompt(prompt: Option<String>) -> anyhow::Result<String> {
    let prompt = match prompt {
        Some(p) if p != "-" => p,
        _ => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("no prompt given: pass it as an argument or on stdin");
            }
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .context("reading the prompt from stdin")?;
            text
        }
    };
    if prompt.trim().is_empty() {
        bail!("the prompt is empty");
    }
    Ok(prompt)
}

fn inside_git_repo(dir: &Path) -> bool {
    dir.ancestors().any(|d| d.join(".git").exists())
}
