//! MCP client: the agent's MCP servers (stdio and streamable HTTP, through
//! `rmcp`), started once per agent, in parallel and in the background (one
//! that failed is started again at the next run), and shut down with it.
//! Their tools are offered as `mcp__<server>__<tool>`; calls run through
//! [`crate::tools::mcp`].

mod config;
pub mod names;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

pub use config::{McpServerConfig, DEFAULT_STARTUP_TIMEOUT, DEFAULT_TOOL_TIMEOUT};

use crate::error::{Error, Result};
use crate::protocol::{AgentOptions, ToolSpec};

/// Variables of this process a stdio server gets (Codex's list); anything
/// else only through `env` or `env_vars`.
const STDIO_BASE_ENV: &[&str] = &[
    "HOME", "LOGNAME", "PATH", "SHELL", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ",
];

/// Lines of a stdio server's stderr kept to explain why it failed.
const STDERR_TAIL_LINES: usize = 20;

/// The MCP servers of one agent. The first start happens in the background,
/// from [`McpManager::start`]; turns wait for it with [`McpManager::ready`].
/// A server that failed to start is started again at the next run (only
/// it: the servers that started stay up).
pub struct McpManager {
    starter: Starter,
    state: Arc<tokio::sync::Mutex<StartState>>,
}

/// What starting a server needs, apart from the manager (the background
/// start holds no reference to it).
#[derive(Clone)]
struct Starter {
    servers: Arc<BTreeMap<String, McpServerConfig>>,
    cwd: PathBuf,
    allowed_tools: Option<Vec<String>>,
    disallowed_tools: Vec<String>,
}

/// What starting the servers gave so far.
#[derive(Default)]
struct StartState {
    /// Whether every server was started once.
    begun: bool,
    /// The servers that started, with their offered tools.
    running: BTreeMap<String, RunningServer>,
    /// Qualified names handed out so far: a server that starts later never
    /// renames another's tools.
    taken: HashSet<String>,
    /// The tools of the running servers, as turns get them.
    tools: Arc<McpTools>,
    /// Servers whose last start failed.
    failed: BTreeMap<String, Failure>,
    /// Set by [`McpManager::close`]: nothing starts again.
    closed: bool,
}

struct RunningServer {
    connection: Arc<Connection>,
    tools: Vec<(McpTool, ToolSpec)>,
}

struct Failure {
    why: String,
    required: bool,
    /// Whether a run was told (it is started again at the run after).
    reported: bool,
}

/// The tools of the servers that started, and their connections.
#[derive(Default)]
pub struct McpTools {
    tools: BTreeMap<String, McpTool>,
    specs: Vec<ToolSpec>,
    connections: BTreeMap<String, Arc<Connection>>,
}

/// One offered MCP tool.
#[derive(Debug, Clone)]
pub struct McpTool {
    /// The name the model calls: `mcp__<server>__<tool>`.
    pub qualified_name: String,
    pub server: String,
    /// The tool's name on its server.
    pub tool: String,
    /// The server says the tool does not modify its environment
    /// (`annotations.readOnlyHint`).
    pub read_only: bool,
}

/// Why a tool call has no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpCallError {
    /// The turn was interrupted; the server was told to cancel.
    Interrupted,
    /// The call failed (server gone, transport error, timeout, protocol error).
    Failed(String),
}

impl McpManager {
    /// The manager for `options.mcp_servers` (validated; disabled ones left
    /// out), or `None` when no server is enabled.
    pub fn new(options: &AgentOptions, cwd: &Path) -> Result<Option<Arc<McpManager>>> {
        let mut servers = BTreeMap::new();
        for (name, config) in &options.mcp_servers {
            config.validate(name)?;
            if config.enabled {
                servers.insert(name.clone(), config.clone());
            }
        }
        if servers.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(McpManager {
            starter: Starter {
                servers: Arc::new(servers),
                cwd: cwd.to_path_buf(),
                allowed_tools: options.allowed_tools.clone(),
                disallowed_tools: options.disallowed_tools.clone(),
            },
            state: Arc::default(),
        })))
    }

    /// Start the servers in the background. The task holds no reference to
    /// the manager: an agent dropped meanwhile still shuts them down (when
    /// their start finishes, bounded by `startup_timeout_sec`).
    pub fn start(&self) {
        let state = self.state.clone();
        let starter = self.starter.clone();
        if let Err(e) = crate::runtime::spawn(async move {
            let mut state = state.lock().await;
            if !state.begun && !state.closed {
                let all: Vec<String> = starter.servers.keys().cloned().collect();
                state.start(&starter, &all).await;
            }
        }) {
            // Without a runtime now, the first turn starts them instead.
            tracing::warn!("MCP servers not started in the background: {e}");
        }
    }

    /// Shut every server down now (the agent's `close`; a start under way
    /// is waited for first): calls in flight fail, and later runs fail with
    /// an error saying the agent was closed.
    pub async fn close(&self) {
        let mut state = self.state.lock().await;
        state.closed = true;
        for server in state.running.values() {
            server.connection.close();
        }
        state.running.clear();
        state.tools = Arc::default();
    }

    /// Wait until the servers have started. Servers whose failure a run was
    /// already told of are started again first. A required server that
    /// failed is an error; servers that are not required and failed come
    /// back as warnings. Either is reported once per failed start.
    pub async fn ready(&self, cancel: &CancellationToken) -> Result<(Arc<McpTools>, Vec<String>)> {
        let mut state = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::Interrupted),
            s = self.state.lock() => s,
        };
        if state.closed {
            return Err(Error::Config(
                "the agent was closed: its MCP servers are shut down".into(),
            ));
        }
        let again: Vec<String> = if state.begun {
            state
                .failed
                .iter()
                .filter(|(_, f)| f.reported)
                .map(|(name, _)| name.clone())
                .collect()
        } else {
            self.starter.servers.keys().cloned().collect()
        };
        if !again.is_empty() {
            if state.begun {
                tracing::info!(servers = ?again, "starting MCP servers that failed again");
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Interrupted),
                _ = state.start(&self.starter, &again) => {}
            }
        }
        let mut fatal = Vec::new();
        let mut warnings = Vec::new();
        for (name, failure) in state.failed.iter_mut().filter(|(_, f)| !f.reported) {
            failure.reported = true;
            let why = &failure.why;
            if failure.required {
                fatal.push(format!(
                    "MCP server `{name}` is required but failed to start: {why} \
                     (the next run tries to start it again)"
                ));
            } else {
                warnings.push(format!(
                    "MCP server `{name}` failed to start and its tools are not available: {why} \
                     (the next run tries to start it again)"
                ));
            }
        }
        if !fatal.is_empty() {
            return Err(Error::Config(fatal.join("\n")));
        }
        Ok((state.tools.clone(), warnings))
    }
}

impl StartState {
    /// Start the servers `names` (in parallel) and take in what they gave.
    async fn start(&mut self, starter: &Starter, names: &[String]) {
        let starts = names.iter().filter_map(|name| {
            let config = starter.servers.get(name)?;
            let cwd = &starter.cwd;
            Some(async move {
                let timeout = config.startup_timeout();
                let outcome =
                    match tokio::time::timeout(timeout, start_one(name, config, cwd)).await {
                        Ok(r) => r,
                        Err(_) => Err(format!(
                            "did not start within startup_timeout_sec ({}s)",
                            timeout.as_secs_f64()
                        )),
                    };
                (name, config, outcome)
            })
        });
        for (name, config, outcome) in futures::future::join_all(starts).await {
            match outcome {
                Ok((conn, listed)) => {
                    self.failed.remove(name);
                    let tools = offered_tools(starter, name, config, listed, &mut self.taken);
                    self.running.insert(
                        name.clone(),
                        RunningServer {
                            connection: Arc::new(conn),
                            tools,
                        },
                    );
                }
                Err(why) => {
                    self.failed.insert(
                        name.clone(),
                        Failure {
                            why,
                            required: config.required,
                            reported: false,
                        },
                    );
                }
            }
        }
        self.begun = true;
        // In server order, then tool order, whenever each started.
        let mut tools = McpTools::default();
        for (name, server) in &self.running {
            for (tool, spec) in &server.tools {
                tools
                    .tools
                    .insert(tool.qualified_name.clone(), tool.clone());
                tools.specs.push(spec.clone());
            }
            tools
                .connections
                .insert(name.clone(), server.connection.clone());
        }
        self.tools = Arc::new(tools);
    }
}

impl McpTools {
    /// The tool the model calls `name`, if it is an offered MCP tool.
    pub fn get(&self, name: &str) -> Option<&McpTool> {
        self.tools.get(name)
    }

    /// Function specs for the model, in server then tool order.
    pub fn specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// Call `tool` with `arguments` (a JSON object, or null for none),
    /// bounded by the server's `tool_timeout_sec` and by `cancel`.
    pub async fn call(
        &self,
        tool: &McpTool,
        arguments: Value,
        cancel: &CancellationToken,
    ) -> std::result::Result<CallToolResult, McpCallError> {
        let failed = |m: String| McpCallError::Failed(m);
        let conn = self
            .connections
            .get(&tool.server)
            .ok_or_else(|| failed(format!("MCP server `{}` is not connected", tool.server)))?;
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Err(failed(format!(
                    "arguments for `{}` must be a JSON object, not {other}",
                    tool.qualified_name
                )))
            }
        };
        if conn.service.peer().is_transport_closed() {
            return Err(failed(conn.gone_message()));
        }
        let mut params = CallToolRequestParams::new(tool.tool.clone());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        // Dropping the call (timeout, interrupt) makes rmcp send
        // `notifications/cancelled` for it.
        let call = tokio::time::timeout(conn.tool_timeout, conn.service.call_tool(params));
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(McpCallError::Interrupted),
            outcome = call => outcome,
        };
        match outcome {
            Err(_) => Err(failed(format!(
                "MCP server `{}` did not answer the call of `{}` within tool_timeout_sec ({}s)",
                tool.server,
                tool.tool,
                conn.tool_timeout.as_secs_f64()
            ))),
            Ok(Ok(result)) => Ok(result),
            Ok(Err(rmcp::ServiceError::TransportClosed)) => Err(failed(conn.gone_message())),
            Ok(Err(e)) if conn.service.peer().is_transport_closed() => {
                Err(failed(format!("{} ({e})", conn.gone_message())))
            }
            Ok(Err(e)) => Err(failed(format!(
                "MCP server `{}` failed the call of `{}`: {e}",
                tool.server, tool.tool
            ))),
        }
    }
}

/// A live connection to one server. Dropping it ends the session: rmcp
/// closes the transport (an HTTP session gets its DELETE) and a stdio
/// server's whole process group is killed.
struct Connection {
    name: String,
    service: RunningService<RoleClient, ClientConfig>,
    tool_timeout: Duration,
    child: Mutex<Option<StdioChild>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Connection {
    /// End the session now, whoever still holds the connection: the
    /// transport is closed (an HTTP session gets its DELETE) and a stdio
    /// server's process group is killed. Calls in flight fail.
    fn close(&self) {
        self.service.cancellation_token().cancel();
        drop(self.child.lock().unwrap_or_else(|p| p.into_inner()).take());
    }

    fn gone_message(&self) -> String {
        let mut message = format!(
            "MCP server `{}` closed the connection (it exited or was killed)",
            self.name
        );
        message.push_str(&stderr_note(&self.stderr));
        message
    }
}

/// A stdio server's process, leader of its own process group.
struct StdioChild {
    child: tokio::process::Child,
}

impl Drop for StdioChild {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) on the group this child leads (spawned with
            // process_group(0)), so its own children go too.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        // Reaped by tokio in the background (kill_on_drop).
        let _ = self.child.start_kill();
    }
}

fn stderr_note(tail: &Mutex<VecDeque<String>>) -> String {
    let lines = tail.lock().unwrap_or_else(|p| p.into_inner());
    if lines.is_empty() {
        String::new()
    } else {
        format!(
            "; its stderr ended with:\n{}",
            lines.iter().cloned().collect::<Vec<_>>().join("\n")
        )
    }
}

fn client_info() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("codeloop", env!("CARGO_PKG_VERSION")),
    )
}

/// The tools of a server that started that are offered, with their specs.
fn offered_tools(
    starter: &Starter,
    name: &str,
    config: &McpServerConfig,
    listed: Vec<rmcp::model::Tool>,
    taken: &mut HashSet<String>,
) -> Vec<(McpTool, ToolSpec)> {
    let allowed = starter.allowed_tools.as_deref();
    let mut out = Vec::new();
    for tool in listed {
        if !config.tool_allowed(&tool.name) {
            continue;
        }
        let qualified = names::qualified_name(name, &tool.name, taken);
        if !allowed.is_none_or(|a| a.contains(&qualified))
            || starter.disallowed_tools.contains(&qualified)
        {
            continue;
        }
        let spec = ToolSpec::Function {
            name: qualified.clone(),
            description: tool
                .description
                .as_deref()
                .map(str::to_string)
                .or_else(|| tool.title.clone())
                .unwrap_or_default(),
            strict: false,
            parameters: parameters_schema(&tool.input_schema),
        };
        let tool = McpTool {
            qualified_name: qualified,
            server: name.to_string(),
            tool: tool.name.to_string(),
            read_only: tool
                .annotations
                .as_ref()
                .and_then(|a| a.read_only_hint)
                .unwrap_or(false),
        };
        out.push((tool, spec));
    }
    out
}

/// The server's input schema as function parameters: always an object
/// schema with `properties`, which the APIs require.
fn parameters_schema(schema: &rmcp::model::JsonObject) -> Value {
    let mut schema = schema.clone();
    schema
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    if schema.get("type") == Some(&Value::String("object".into())) {
        schema
            .entry("properties")
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Value::Object(schema)
}

async fn start_one(
    name: &str,
    config: &McpServerConfig,
    cwd: &Path,
) -> std::result::Result<(Connection, Vec<rmcp::model::Tool>), String> {
    let conn = match (&config.command, &config.url) {
        (Some(command), _) => start_stdio(name, command, config, cwd).await?,
        (None, Some(url)) => start_http(name, url, config).await?,
        (None, None) => return Err("neither `command` nor `url` is set".into()),
    };
    let tools = conn
        .service
        .peer()
        .list_all_tools()
        .await
        .map_err(|e| format!("listing its tools failed: {e}{}", stderr_note(&conn.stderr)))?;
    Ok((conn, tools))
}

async fn start_stdio(
    name: &str,
    command: &str,
    config: &McpServerConfig,
    cwd: &Path,
) -> std::result::Result<Connection, String> {
    let dir = match &config.cwd {
        Some(d) if d.is_absolute() => d.clone(),
        Some(d) => cwd.join(d),
        None => cwd.to_path_buf(),
    };
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(&config.args)
        .env_clear()
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    for var in STDIO_BASE_ENV
        .iter()
        .copied()
        .chain(config.env_vars.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    cmd.envs(&config.env);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{command}` (in {}): {e}", dir.display()))?;
    let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
        return Err("its stdio pipes could not be opened".into());
    };
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(pipe) = child.stderr.take() {
        let tail = stderr.clone();
        let server = name.to_string();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(server = %server, "MCP server stderr: {line}");
                let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
    }
    let child = StdioChild { child };
    let service = match client_info().serve((stdout, stdin)).await {
        Ok(s) => s,
        Err(e) => {
            drop(child);
            return Err(format!(
                "the MCP handshake failed: {e}{}",
                stderr_note(&stderr)
            ));
        }
    };
    Ok(Connection {
        name: name.to_string(),
        service,
        tool_timeout: config.tool_timeout(),
        child: Mutex::new(Some(child)),
        stderr,
    })
}

async fn start_http(
    name: &str,
    url: &str,
    config: &McpServerConfig,
) -> std::result::Result<Connection, String> {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    let mut headers = HeaderMap::new();
    let mut add = |key: &str, value: &str| -> std::result::Result<(), String> {
        let key = HeaderName::from_bytes(key.as_bytes())
            .map_err(|e| format!("bad header name `{key}`: {e}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| format!("bad value for header `{key}`: {e}"))?;
        headers.insert(key, value);
        Ok(())
    };
    for (key, value) in &config.http_headers {
        add(key, value)?;
    }
    for (key, var) in &config.env_http_headers {
        if let Ok(value) = std::env::var(var) {
            add(key, &value)?;
        }
    }
    // No idle pool, as rmcp's own client: a reused connection whose last
    // body was not read to the end stalls on delayed ACKs.
    let client = crate::net::http_client_builder()
        .map_err(|e| e.to_string())?
        .pool_max_idle_per_host(0)
        .default_headers(headers)
        .build()
        .map_err(|e| format!("cannot build its HTTP client: {e}"))?;
    let mut transport_config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    if let Some(var) = &config.bearer_token_env_var {
        let token = std::env::var(var).map_err(|_| {
            format!("bearer_token_env_var names `{var}`, which is not set (or not UTF-8)")
        })?;
        transport_config = transport_config.auth_header(token);
    }
    let transport = StreamableHttpClientTransport::with_client(client, transport_config);
    let service = client_info()
        .serve(transport)
        .await
        .map_err(|e| format!("connecting to {url} failed: {e}"))?;
    Ok(Connection {
        name: name.to_string(),
        service,
        tool_timeout: config.tool_timeout(),
        child: Mutex::new(None),
        stderr: Arc::default(),
    })
}
