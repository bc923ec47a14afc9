//! The agent: [`Agent`] holds the options, the model client and the tools;
//! [`Thread`] is one conversation; a turn runs in [`turn`].

pub mod budget;
mod compact;
pub mod host;
mod output;
pub mod prompt;
mod reader;
mod thread;
mod turn;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{build_client, ModelClient, ProviderConfig};
use crate::protocol::{AgentOptions, ThreadItem, Usage};
use crate::sandbox::SandboxPolicy;
use crate::session::{SessionMeta, SessionStore};
use crate::tools::ToolRouter;

pub use host::{hook_name, hook_session, HeadlessHost, Host, HostRequestKind, JsonHost};
pub use reader::RunReader;
pub use thread::{EventStream, RunCollector, RunInterrupt, Thread};

/// Default timeout of one shell command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// A configured agent. Cheap to clone; threads share it.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<AgentInner>,
}

pub(crate) struct AgentInner {
    pub options: AgentOptions,
    pub model: String,
    pub cwd: PathBuf,
    pub provider: ProviderConfig,
    pub client: Arc<dyn ModelClient>,
    pub router: ToolRouter,
    pub host: Arc<dyn Host>,
    pub sandbox: SandboxPolicy,
    pub sessions: Option<SessionStore>,
    pub approvals: Arc<crate::sandbox::approval::ApprovalCache>,
    /// Compact once the context reaches this many tokens; `None`: never
    /// automatically.
    pub compact_limit: Option<u64>,
    /// The agent's MCP servers, when any is enabled; shut down with the agent.
    pub mcp: Option<Arc<crate::mcp::McpManager>>,
    /// Findings of the configuration layers, sent when a thread starts.
    pub config_warnings: Vec<String>,
    pub project_root: PathBuf,
    /// The codeloop home in use (global AGENTS.md, skills).
    pub home: Option<PathBuf>,
    pub hooks: Arc<crate::config::hooks::HookRegistry>,
}

impl Agent {
    /// An agent whose host requests get the headless defaults.
    pub fn new(options: AgentOptions) -> Result<Agent> {
        Agent::with_host(options, Arc::new(HeadlessHost))
    }

    /// An agent whose host requests go to `host`. The options are layered
    /// over the config files (see [`crate::config::resolve_options`]).
    pub fn with_host(options: AgentOptions, host: Arc<dyn Host>) -> Result<Agent> {
        let resolved = crate::config::resolve_options(options)?;
        let provider = ProviderConfig::from_options(&resolved.options)?;
        let client = build_client(&provider)?;
        Agent::build(resolved, host, provider, client)
    }

    /// An agent over a given model client (tests, custom providers). The
    /// options are taken as they are: no config files are read.
    pub fn with_client(
        options: AgentOptions,
        host: Arc<dyn Host>,
        provider: ProviderConfig,
        client: Arc<dyn ModelClient>,
    ) -> Result<Agent> {
        let resolved = crate::config::resolve_options(AgentOptions {
            load_config_files: Some(false),
            ..options
        })?;
        Agent::build(resolved, host, provider, client)
    }

    fn build(
        resolved: crate::config::Resolved,
        host: Arc<dyn Host>,
        provider: ProviderConfig,
        client: Arc<dyn ModelClient>,
    ) -> Result<Agent> {
        let crate::config::Resolved {
            options,
            warnings: config_warnings,
            project_root,
            home,
            ..
        } = resolved;
        let hooks = Arc::new(crate::config::hooks::HookRegistry::new(&options.hooks)?);
        let cwd = match &options.cwd {
            Some(c) => c.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::io("reading the current directory", e))?,
        };
        let mut names = std::collections::HashSet::new();
        for tool in &options.host_tools {
            if tool.name.is_empty()
                || !tool
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(Error::Config(format!(
                    "host tool name `{}` must be non-empty and use only letters, digits, `_` and `-`",
                    tool.name
                )));
            }
            if crate::tools::is_builtin_tool_name(&tool.name) {
                return Err(Error::Config(format!(
                    "host tool `{}` has the name of a built-in tool; choose another name",
                    tool.name
                )));
            }
            if !names.insert(tool.name.as_str()) {
                return Err(Error::Config(format!(
                    "host tool `{}` is defined twice",
                    tool.name
                )));
            }
            if !tool.parameters.is_object() {
                return Err(Error::Config(format!(
                    "host tool `{}`: parameters must be a JSON Schema object",
                    tool.name
                )));
            }
        }
        if let Some(policy) = &options.shell_environment_policy {
            policy.validate()?;
        }
        let model = options
            .model
            .clone()
            .unwrap_or_else(|| crate::model::provider::DEFAULT_MODEL.to_string());
        if let Some(max) = options.max_cost_usd {
            let price = budget::model_price(&model, &options.model_prices);
            budget::check_cost_budget(max, &model, price.as_ref())?;
        }
        if let Some(schema) = &options.output_schema {
            output::compile(schema)?;
        }
        let compact_limit = budget::auto_compact_limit(
            budget::context_window(&model, options.model_context_window),
            options.auto_compact_token_limit,
        );
        let router = ToolRouter::new(&options, provider.wire_api);
        let mcp = crate::mcp::McpManager::new(&options, &cwd)?;
        let sandbox = SandboxPolicy::new(
            options.sandbox.unwrap_or_default(),
            &cwd,
            &options.writable_roots,
            options.network_access.unwrap_or(false),
        );
        let sessions = if options.ephemeral {
            None
        } else {
            options
                .session_dir
                .clone()
                .or_else(SessionStore::default_root)
                .map(SessionStore::new)
        };
        if let Some(mcp) = &mcp {
            mcp.start();
        }
        Ok(Agent {
            inner: Arc::new(AgentInner {
                options,
                model,
                cwd,
                provider,
                client,
                router,
                host,
                sandbox,
                sessions,
                approvals: Arc::default(),
                compact_limit,
                mcp,
                config_warnings,
                project_root,
                home,
                hooks,
            }),
        })
    }

    pub fn options(&self) -> &AgentOptions {
        &self.inner.options
    }

    pub fn cwd(&self) -> &Path {
        &self.inner.cwd
    }

    /// What the configuration layers reported (also sent as `error` events
    /// when a thread starts).
    pub fn config_warnings(&self) -> &[String] {
        &self.inner.config_warnings
    }

    /// The project root: the nearest ancestor of cwd holding `.git`, else cwd.
    pub fn project_root(&self) -> &Path {
        &self.inner.project_root
    }

    pub fn model(&self) -> &str {
        &self.inner.model
    }

    /// The resolved provider (id, base URL, wire format; the key is redacted in `Debug`).
    pub fn provider(&self) -> &ProviderConfig {
        &self.inner.provider
    }

    /// Shut the agent's MCP servers down now, even while threads of it are
    /// alive (otherwise they stop when the last agent and thread handle is
    /// dropped). Calls in flight fail; later runs of its threads that need
    /// the servers fail with a config error saying the agent was closed.
    /// Idempotent; an agent without MCP servers has nothing to close.
    pub async fn close(&self) {
        if let Some(mcp) = &self.inner.mcp {
            mcp.close().await;
        }
    }

    /// A new, empty thread. Its rollout file is created on its first run.
    pub fn start_thread(&self) -> Thread {
        Thread::new(
            self.inner.clone(),
            new_thread_id(),
            Vec::new(),
            Usage::default(),
            None,
            0,
        )
    }

    /// Continue thread `id` from its rollout file, with its full history.
    pub fn resume_thread(&self, id: &str) -> Result<Thread> {
        let store = self.inner.sessions.as_ref().ok_or_else(|| {
            Error::Config("cannot resume: this agent keeps no sessions (ephemeral)".into())
        })?;
        let path = store.find(id)?;
        self.resume_from(&path)
    }

    /// Continue the most recent thread that ran in this agent's working
    /// directory (as Codex's `resume --last`): jobs in other directories
    /// that share the session directory are not picked.
    pub fn resume_last(&self) -> Result<Thread> {
        let store = self.inner.sessions.as_ref().ok_or_else(|| {
            Error::Config("cannot resume: this agent keeps no sessions (ephemeral)".into())
        })?;
        let path = store.latest_in(&self.inner.cwd).ok_or_else(|| {
            Error::Config(format!(
                "no sessions of {} under {}",
                self.inner.cwd.display(),
                store.root().display()
            ))
        })?;
        self.resume_from(&path)
    }

    /// Continue the most recent thread of the whole session directory,
    /// whatever directory it ran in (`resume --last --all`).
    pub fn resume_last_anywhere(&self) -> Result<Thread> {
        let store = self.inner.sessions.as_ref().ok_or_else(|| {
            Error::Config("cannot resume: this agent keeps no sessions (ephemeral)".into())
        })?;
        let path = store.latest().ok_or_else(|| {
            Error::Config(format!("no sessions under {}", store.root().display()))
        })?;
        self.resume_from(&path)
    }

    fn resume_from(&self, path: &Path) -> Result<Thread> {
        // Opened before it is read: a turn another process writes in between
        // then shows as a stale copy at this thread's next turn, never as a
        // silent fork of the history.
        let rollout = crate::session::Rollout::open(path.to_path_buf())?;
        let loaded = SessionStore::load(path)?;
        Ok(Thread::new(
            self.inner.clone(),
            loaded.meta.id,
            loaded.history,
            loaded.usage,
            Some(rollout),
            loaded.turns,
        ))
    }

    /// A new thread that starts from thread `id`'s history: all of it, or up
    /// to the end of turn `at_turn` (turns count from 1). It gets its own id
    /// and rollout file, whose meta records `forked_from`; the source file is
    /// only read. Tool calls left unanswered at the cut are answered as
    /// aborted.
    pub fn fork_thread(&self, id: &str, at_turn: Option<u64>) -> Result<Thread> {
        let store = self.inner.sessions.as_ref().ok_or_else(|| {
            Error::Config("cannot fork: this agent keeps no sessions (ephemeral)".into())
        })?;
        let source = SessionStore::load(&store.find(id)?)?;
        let records = source.records_through(at_turn)?;
        let new_id = new_thread_id();
        let mut meta = self.inner.session_meta(&new_id);
        meta.forked_from = Some(crate::session::ForkedFrom {
            id: source.meta.id.clone(),
            turn: at_turn,
        });
        let rollout = store.create_with(meta, records)?;
        let state = crate::session::replay(records);
        Ok(Thread::new(
            self.inner.clone(),
            new_id,
            state.history,
            state.usage,
            Some(rollout),
            state.turns,
        ))
    }
}

impl AgentInner {
    pub(crate) fn session_meta(&self, id: &str) -> SessionMeta {
        SessionMeta {
            id: id.to_string(),
            cwd: self.cwd.display().to_string(),
            model: self.model.clone(),
            originator: "codeloop".into(),
            cli_version: env!("CARGO_PKG_VERSION").into(),
            // What a front needs to resume the thread as it ran
            // (`recorded_options`).
            extra: serde_json::json!({
                "sandbox": self.options.sandbox,
                "approval_policy": self.options.approval_policy,
            }),
            forked_from: None,
        }
    }
}

/// The options a thread's rollout recorded (its cwd when it still exists,
/// model, sandbox mode and approval policy), to resume it with the settings
/// it ran under; what a rollout lacks stays unset (config, then defaults).
pub fn recorded_options(meta: &SessionMeta) -> AgentOptions {
    let cwd = PathBuf::from(&meta.cwd);
    let field = |name: &str| meta.extra.get(name).cloned().unwrap_or_default();
    AgentOptions {
        cwd: cwd.is_dir().then_some(cwd),
        model: Some(meta.model.clone()).filter(|m| !m.is_empty()),
        sandbox: serde_json::from_value(field("sandbox")).unwrap_or_default(),
        approval_policy: serde_json::from_value(field("approval_policy")).unwrap_or_default(),
        ..AgentOptions::default()
    }
}

fn new_thread_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// One piece of user input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserInput {
    Text {
        text: String,
    },
    /// An image file to attach (PNG, JPEG, GIF, WebP).
    LocalImage {
        path: PathBuf,
    },
}

/// The input of a run: text and images.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Input(pub Vec<UserInput>);

impl Input {
    /// The text parts joined, for hooks and display.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .filter_map(|i| match i {
                UserInput::Text { text } => Some(text.as_str()),
                UserInput::LocalImage { .. } => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl From<&str> for Input {
    fn from(s: &str) -> Self {
        Input(vec![UserInput::Text { text: s.into() }])
    }
}

impl From<String> for Input {
    fn from(s: String) -> Self {
        Input(vec![UserInput::Text { text: s }])
    }
}

impl From<Vec<UserInput>> for Input {
    fn from(v: Vec<UserInput>) -> Self {
        Input(v)
    }
}

/// The result of [`Thread::run`], also as JSON (its serde form) for fronts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    pub thread_id: String,
    /// The text of the last agent message of the turn.
    pub final_response: String,
    /// The completed items of the turn, in order.
    pub items: Vec<ThreadItem>,
    /// Cumulative usage of the thread.
    pub usage: Usage,
    /// The final answer parsed as JSON, when the run had an output schema
    /// (it matched the schema, or the run would have failed).
    pub output: Option<serde_json::Value>,
}
