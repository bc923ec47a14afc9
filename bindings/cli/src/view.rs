//! The live view of a turn for a person, on stderr: what the agent says, each
//! command with a spinner while it runs, each file change, and the usage.

use std::io::Write;
use std::time::Instant;

use codeloop_core::protocol::{
    CommandStatus, DeltaKind, ItemDetails, ItemError, PatchChangeKind, PatchStatus, ThreadEvent,
    ToolCallStatus,
};
use codeloop_core::Agent;

const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const OUTPUT_TAIL_LINES: usize = 6;

pub struct LiveView {
    tty: bool,
    frame: usize,
    /// The command shown with a spinner, and since when it runs.
    running: Option<(String, Instant)>,
    cwd: std::path::PathBuf,
    out: std::io::Stderr,
}

/// The script of a `bash -lc '<script>'` command, which is what the model
/// wrote; other commands as they are.
fn display_command(command: &str) -> String {
    for prefix in ["bash -lc '", "bash -c '"] {
        if let Some(inner) = command
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix('\''))
        {
            if !inner.contains('\'') {
                return inner.to_string();
            }
        }
    }
    command.to_string()
}

impl LiveView {
    pub fn new(agent: &Agent, tty: bool) -> Self {
        let view = LiveView {
            tty,
            frame: 0,
            running: None,
            cwd: agent.cwd().to_path_buf(),
            out: std::io::stderr(),
        };
        let p = agent.provider();
        let line = format!(
            "codeloop {} · model {} · provider {} · sandbox {} · {}",
            env!("CARGO_PKG_VERSION"),
            agent.model(),
            p.id,
            agent.options().sandbox.unwrap_or_default().as_str(),
            agent.cwd().display()
        );
        let _ = writeln!(&view.out, "{}", view.dim(&line));
        view
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.tty {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn header(&mut self, prompt: &str) {
        let text = format!("> {}", prompt.trim());
        let _ = writeln!(self.out, "{}", self.paint("1", &text));
    }

    /// Redraw the spinner line of the running command.
    pub fn tick(&mut self) {
        if !self.tty {
            return;
        }
        if let Some((cmd, since)) = &self.running {
            self.frame = (self.frame + 1) % SPINNER.len();
            let line = format!(
                "\r\x1b[2K{} $ {} {}",
                self.paint("36", SPINNER[self.frame]),
                cmd,
                self.dim(&format!("({:.0}s)", since.elapsed().as_secs_f64()))
            );
            let _ = write!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }

    fn clear_spinner(&mut self) {
        if self.tty && self.running.is_some() {
            let _ = write!(self.out, "\r\x1b[2K");
        }
    }

    pub fn event(&mut self, event: &ThreadEvent) {
        match event {
            ThreadEvent::ItemStarted { item } => {
                if let ItemDetails::TodoList { items } = &item.details {
                    self.clear_spinner();
                    self.plan(items);
                }
                if let ItemDetails::CommandExecution { command, .. } = &item.details {
                    let command = &display_command(command);
                    if self.tty {
                        self.running = Some((command.clone(), Instant::now()));
                        self.tick();
                    } else {
                        let _ = writeln!(self.out, "$ {command}");
                        self.running = Some((command.clone(), Instant::now()));
                    }
                }
            }
            ThreadEvent::ItemCompleted { item } => {
                self.clear_spinner();
                self.completed(&item.details);
            }
            ThreadEvent::ItemUpdated { item } => {
                if let ItemDetails::TodoList { items } = &item.details {
                    self.clear_spinner();
                    self.plan(items);
                }
            }
            ThreadEvent::ItemDelta {
                item_type: DeltaKind::CommandOutput,
                ..
            }
            | ThreadEvent::ItemDelta { .. } => {}
            ThreadEvent::TurnCompleted { usage, .. } => {
                let line = format!(
                    "tokens: {} in ({} cached) · {} out ({} reasoning)",
                    usage.input_tokens,
                    usage.cached_input_tokens,
                    usage.output_tokens,
                    usage.reasoning_output_tokens
                );
                let _ = writeln!(self.out, "{}", self.dim(&line));
            }
            ThreadEvent::TurnFailed { error } => {
                self.clear_spinner();
                let text = format!("✗ turn failed: {}", error.message);
                let _ = writeln!(self.out, "{}", self.paint("31", &text));
            }
            ThreadEvent::Error { message } => {
                let text = format!("! {message}");
                let _ = writeln!(self.out, "{}", self.paint("33", &text));
            }
            ThreadEvent::ThreadCompacted(c) => {
                let line = format!(
                    "context compacted ({} tokens, {} → {} items)",
                    c.tokens_before, c.items_before, c.items_after
                );
                let _ = writeln!(self.out, "{}", self.dim(&line));
            }
            ThreadEvent::ThreadStarted { .. } | ThreadEvent::TurnStarted {} => {}
        }
    }

    fn completed(&mut self, details: &ItemDetails) {
        match details {
            ItemDetails::AgentMessage { text } => {
                let _ = writeln!(
                    self.out,
                    "{}\n{}",
                    self.paint("35;1", "codeloop"),
                    text.trim_end()
                );
            }
            ItemDetails::Reasoning { text } => {
                let _ = writeln!(
                    self.out,
                    "{}",
                    self.dim(&format!("thinking: {}", text.trim()))
                );
            }
            ItemDetails::CommandExecution {
                command,
                aggregated_output,
                exit_code,
                status,
            } => {
                let command = display_command(command);
                let elapsed = self
                    .running
                    .take()
                    .map(|(_, t)| format!(" in {:.1}s", t.elapsed().as_secs_f64()))
                    .unwrap_or_default();
                let (mark, color) = match status {
                    CommandStatus::Completed => ("✓", "32"),
                    CommandStatus::Declined => ("⊘", "33"),
                    _ => ("✗", "31"),
                };
                let code = exit_code
                    .map(|c| format!("exit {c}"))
                    .unwrap_or_else(|| "not run".into());
                let _ = writeln!(
                    self.out,
                    "{} $ {} {}",
                    self.paint(color, mark),
                    command,
                    self.dim(&format!("({code}{elapsed})"))
                );
                let lines: Vec<&str> = aggregated_output.lines().collect();
                let skip = lines.len().saturating_sub(OUTPUT_TAIL_LINES);
                if skip > 0 {
                    let _ = writeln!(self.out, "{}", self.dim(&format!("  … {skip} lines")));
                }
                for line in &lines[skip..] {
                    let _ = writeln!(self.out, "{}", self.dim(&format!("  {line}")));
                }
            }
            ItemDetails::FileChange { changes, status } => {
                let failed = *status != PatchStatus::Completed;
                for change in changes {
                    let kind = match change.kind {
                        PatchChangeKind::Add => "A",
                        PatchChangeKind::Delete => "D",
                        PatchChangeKind::Update => "M",
                    };
                    let path = std::path::Path::new(&change.path);
                    let shown = path.strip_prefix(&self.cwd).unwrap_or(path);
                    let text = format!("✎ {kind} {}", shown.display());
                    let _ = writeln!(
                        self.out,
                        "{}",
                        self.paint(if failed { "31" } else { "34" }, &text)
                    );
                }
                if failed {
                    let _ = writeln!(self.out, "{}", self.paint("31", "  patch not applied"));
                }
            }
            // The plan was shown as it changed; its completion adds nothing new.
            ItemDetails::TodoList { .. } => {}
            ItemDetails::McpToolCall {
                server,
                tool,
                status,
                error,
                ..
            } => {
                let (mark, detail) = call_mark(*status, error.as_ref());
                let _ = writeln!(
                    self.out,
                    "{mark} {server}.{tool} {}",
                    self.dim(&format!("({status:?}){detail}"))
                );
            }
            ItemDetails::ToolCall {
                tool,
                status,
                error,
                ..
            } => {
                let (mark, detail) = call_mark(*status, error.as_ref());
                let _ = writeln!(self.out, "{mark} {tool}{}", self.dim(&detail));
            }
            ItemDetails::WebSearch { query, .. } => {
                let _ = writeln!(self.out, "🔎 {query}");
            }
            ItemDetails::Error { message } => {
                let _ = writeln!(self.out, "{}", self.paint("33", &format!("! {message}")));
            }
        }
    }

    fn plan(&mut self, items: &[codeloop_core::protocol::TodoItem]) {
        let _ = writeln!(self.out, "{}", self.paint("1", "plan"));
        for item in items {
            let mark = if item.completed { "☑" } else { "☐" };
            let _ = writeln!(self.out, "  {mark} {}", item.text);
        }
    }
}

/// The mark of a finished tool call and its error, if any, as `: message`.
fn call_mark(status: ToolCallStatus, error: Option<&ItemError>) -> (&'static str, String) {
    let mark = if status == ToolCallStatus::Completed {
        "⚙"
    } else {
        "✗"
    };
    let detail = error
        .map(|e| format!(": {}", e.message))
        .unwrap_or_default();
    (mark, detail)
}
