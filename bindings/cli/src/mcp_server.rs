//! `codeloop mcp-server`: codeloop as an MCP server on stdio, shaped like
//! `codex mcp-server` so that its clients work unchanged.
//!
//! Two tools: `codex` starts a thread and runs one turn on it; `codex-reply`
//! runs the next turn of a thread by id. Both answer with the turn's last
//! agent message and the thread id (`structuredContent: {threadId, content}`).
//! While a turn runs, each of its thread events goes to the client as a
//! `codex/event` notification; a `notifications/cancelled` for the call
//! interrupts the turn. Approvals become `elicitation/create` requests when
//! the client declared the elicitation capability, and are denied otherwise
//! (the model is told; nothing waits).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use codeloop_core::agent::recorded_options;
use codeloop_core::config::resolve_options;
use codeloop_core::protocol::{
    ApprovalAction, ApprovalDecision, ApprovalPolicy, ApprovalRequest, SandboxMode, ThreadEvent,
};
use codeloop_core::session::SessionStore;
use codeloop_core::{Agent, AgentOptions, Host, RunCollector, Thread};
use futures::StreamExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientResult, ContentBlock,
    CustomNotification, CustomRequest, ElicitationAction, Implementation, InitializeResult,
    JsonObject, ListToolsResult, PaginatedRequestParams, ProtocolVersion, RequestId,
    ServerCapabilities, ServerConfig, ServerNotification, ServerRequest, Tool,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// How long an exiting server waits for interrupted turns to end.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// `codeloop mcp-server` flags.
#[derive(Debug, clap::Args)]
pub struct McpServerArgs {
    /// Override a config value for every session: key=value, value as TOML (repeatable).
    #[arg(short = 'c', long = "config", value_name = "key=value")]
    config: Vec<String>,
}

pub fn main(args: McpServerArgs) -> ExitCode {
    crate::block_on(async { serve(args).await.map(|()| ExitCode::SUCCESS) })
}

async fn serve(args: McpServerArgs) -> anyhow::Result<()> {
    let overrides = crate::exec::parse_overrides(&args.config)?;
    let server = McpServer {
        state: Arc::new(State {
            overrides,
            threads: Mutex::default(),
            agents: Mutex::default(),
            calls: Arc::default(),
            closing: CancellationToken::new(),
        }),
    };
    // A broken config.toml fails now, not on every call.
    server.options(AgentOptions::default(), Default::default())?;
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel();
    let stdin = EofWatch {
        inner: tokio::io::stdin(),
        eof: Some(eof_tx),
    };
    let running = server
        .clone()
        .serve((stdin, tokio::io::stdout()))
        .await
        .map_err(|e| anyhow::anyhow!("the MCP handshake failed: {e}"))?;
    // The client closed our stdin: stop the turns now, and drop the
    // notifications that can no longer be sent, so the calls end at once
    // (the service waits for them, up to its drain timeout).
    let state = server.state.clone();
    tokio::spawn(async move {
        if eof_rx.await.is_ok() {
            state.closing.cancel();
            state.stop_all().await;
        }
    });
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let quit = tokio::select! {
        quit = running.waiting() => quit
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("the MCP service stopped: {e}")),
        _ = terminate.recv() => Ok(()),
        _ = interrupt.recv() => Ok(()),
    };
    // However it ended, no command outlives the server.
    server.state.stop_all().await;
    quit
}

/// Stdin that reports its end once, as soon as a read finds it.
struct EofWatch {
    inner: tokio::io::Stdin,
    eof: Option<tokio::sync::oneshot::Sender<()>>,
}

impl tokio::io::AsyncRead for EofWatch {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let (room, before) = (buf.remaining(), buf.filled().len());
        let poll = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, std::task::Poll::Ready(Ok(())))
            && room > 0
            && buf.filled().len() == before
        {
            if let Some(eof) = this.eof.take() {
                let _ = eof.send(());
            }
        }
        poll
    }
}

#[derive(Clone)]
struct McpServer {
    state: Arc<State>,
}

struct State {
    /// The server's `-c key=value` flags, under each call's own `config`.
    overrides: Vec<(String, toml::Value)>,
    /// Every thread this server started or resumed, by id, for the
    /// server's lifetime.
    threads: Mutex<HashMap<String, Thread>>,
    /// One agent per distinct set of options (by their JSON), so calls with
    /// the same settings share one agent — and one set of MCP servers.
    agents: Mutex<HashMap<String, Agent>>,
    /// The `tools/call` request each running turn answers, by thread id: the
    /// correlation id sent with its approval requests.
    calls: Calls,
    /// Cancelled when the client closed the connection: notifications still
    /// being sent are dropped, so the calls can end.
    closing: CancellationToken,
}

type Calls = Arc<Mutex<HashMap<String, RequestId>>>;

impl State {
    /// Interrupt every running turn, wait (a bounded time) for the turns to
    /// end, their commands killed, and forget the threads.
    async fn stop_all(&self) {
        lock(&self.agents).clear();
        let threads: Vec<Thread> = lock(&self.threads).drain().map(|(_, t)| t).collect();
        for thread in &threads {
            thread.interrupt();
        }
        let ended = futures::future::join_all(threads.iter().map(|t| t.history()));
        if tokio::time::timeout(SHUTDOWN_GRACE, ended).await.is_err() {
            eprintln!("codeloop mcp-server: a turn did not stop in time; exiting anyway");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Arguments of the `codex` tool (Codex's kebab-case names).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct CodexArgs {
    prompt: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    cwd: Option<PathBuf>,
    #[serde(default)]
    approval_policy: Option<ApprovalPolicy>,
    #[serde(default)]
    sandbox: Option<SandboxMode>,
    #[serde(default)]
    config: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    base_instructions: Option<String>,
    #[serde(default)]
    developer_instructions: Option<String>,
}

/// Arguments of the `codex-reply` tool; `conversationId` is the older name of
/// `threadId`, still sent by some clients.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReplyArgs {
    prompt: String,
    #[serde(default)]
    thread_id: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
}

fn object(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::default(),
    }
}

fn output_schema() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "properties": {
            "threadId": {"type": "string"},
            "content": {"type": "string"}
        },
        "required": ["threadId", "content"]
    }))
}

fn codex_tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {
            "prompt": {
                "type": "string",
                "description": "The *initial user prompt* to start the conversation."
            },
            "model": {
                "type": "string",
                "description": "Optional override for the model name."
            },
            "cwd": {
                "type": "string",
                "description": "Working directory for the session. If relative, it is resolved \
                                against the server process's current working directory."
            },
            "approval-policy": {
                "type": "string",
                "enum": ["untrusted", "on-request", "never"],
                "description": "Approval policy for shell commands generated by the model: \
                                `untrusted`, `on-request`, `never`. Default: config.toml's, \
                                else `on-request`."
            },
            "sandbox": {
                "type": "string",
                "enum": ["read-only", "workspace-write", "danger-full-access"],
                "description": "Sandbox mode: `read-only`, `workspace-write`, or \
                                `danger-full-access`. Default: config.toml's, else `read-only`."
            },
            "config": {
                "type": "object",
                "additionalProperties": true,
                "description": "Individual config settings that will override what is in \
                                CODELOOP_HOME/config.toml (dotted keys, as `-c key=value`)."
            },
            "base-instructions": {
                "type": "string",
                "description": "The set of instructions to use instead of the default ones."
            },
            "developer-instructions": {
                "type": "string",
                "description": "Developer instructions that should be injected as a developer \
                                role message."
            }
        },
        "required": ["prompt"]
    });
    Tool::new(
        "codex",
        "Run a codeloop session (a Codex-compatible coding agent) on a prompt: one turn on a \
         new thread. Answers with the final message and the thread id.",
        object(schema),
    )
    .with_title("Codex")
    .with_raw_output_schema(output_schema())
}

fn codex_reply_tool() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {
            "prompt": {
                "type": "string",
                "description": "The *next user prompt* to continue the conversation."
            },
            "threadId": {
                "type": "string",
                "description": "The thread id for this session. Required, but optional in the \
                                schema for clients that still send conversationId."
            },
            "conversationId": {
                "type": "string",
                "description": "DEPRECATED: use threadId instead."
            }
        },
        "required": ["prompt"]
    });
    Tool::new(
        "codex-reply",
        "Continue a codeloop conversation by providing the thread id and prompt.",
        object(schema),
    )
    .with_title("Codex Reply")
    .with_raw_output_schema(output_schema())
}

/// The answer of a call that ran (or tried to run) a turn on `thread_id`.
fn thread_result(thread_id: &str, text: String, is_error: bool) -> CallToolResult {
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text.clone())])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text.clone())])
    };
    // Some clients read only structuredContent: it carries the text too.
    result.structured_content = Some(json!({"threadId": thread_id, "content": text}));
    result
}

/// The answer of a call that never got to a thread (bad arguments, config).
fn call_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

impl McpServer {
    /// `explicit` over the call's `config`, the server's `-c` flags and the
    /// config files (core layers them when the agent is built), with
    /// `codex mcp-server`'s default approval policy, `on-request`, when none
    /// of them chose one. The sandbox defaults to `read-only` in core.
    fn options(
        &self,
        explicit: AgentOptions,
        call_config: serde_json::Map<String, Value>,
    ) -> anyhow::Result<AgentOptions> {
        let mut options = explicit;
        crate::exec::apply_config(&mut options, &self.state.overrides)?;
        options.config_overrides.extend(call_config);
        if options.approval_policy.is_none() && !approval_configured(&options)? {
            options.approval_policy = Some(ApprovalPolicy::OnRequest);
        }
        Ok(options)
    }

    /// The agent for `options`: an existing one with the same options, or a
    /// new one (its MCP servers start once, for every call that shares it).
    fn agent(&self, options: AgentOptions, peer: &Peer<RoleServer>) -> anyhow::Result<Agent> {
        let key = serde_json::to_string(&options)?;
        let mut agents = lock(&self.state.agents);
        if let Some(agent) = agents.get(&key) {
            return Ok(agent.clone());
        }
        let agent = Agent::with_host(options, self.host(peer))?;
        agents.insert(key, agent.clone());
        Ok(agent)
    }

    fn host(&self, peer: &Peer<RoleServer>) -> Arc<dyn Host> {
        Arc::new(McpHost {
            peer: peer.clone(),
            calls: self.state.calls.clone(),
        })
    }

    async fn codex(&self, args: Value, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let args: CodexArgs = match serde_json::from_value(args) {
            Ok(a) => a,
            Err(e) => return call_error(format!("invalid arguments for tool `codex`: {e}")),
        };
        if args.prompt.trim().is_empty() {
            return call_error("invalid arguments for tool `codex`: the prompt is empty");
        }
        let explicit = AgentOptions {
            model: args.model,
            cwd: args.cwd,
            sandbox: args.sandbox,
            approval_policy: args.approval_policy,
            instructions: args.base_instructions,
            developer_instructions: args.developer_instructions,
            ..AgentOptions::default()
        };
        let agent = self
            .options(explicit, args.config.unwrap_or_default())
            .and_then(|options| self.agent(options, &ctx.peer));
        let agent = match agent {
            Ok(a) => a,
            Err(e) => return call_error(format!("cannot start a codeloop session: {e:#}")),
        };
        let thread = agent.start_thread();
        lock(&self.state.threads).insert(thread.id().to_string(), thread.clone());
        self.run(thread, args.prompt, ctx).await
    }

    async fn codex_reply(&self, args: Value, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let args: ReplyArgs = match serde_json::from_value(args) {
            Ok(a) => a,
            Err(e) => return call_error(format!("invalid arguments for tool `codex-reply`: {e}")),
        };
        let Some(id) = args.thread_id.or(args.conversation_id) else {
            return call_error(
                "invalid arguments for tool `codex-reply`: either threadId or conversationId \
                 must be provided",
            );
        };
        if args.prompt.trim().is_empty() {
            return call_error("invalid arguments for tool `codex-reply`: the prompt is empty");
        }
        let thread = match self.thread(&id, &ctx.peer) {
            Ok(t) => t,
            Err(e) => {
                return thread_result(
                    &id,
                    format!("Session not found for thread_id: {id}: {e:#}"),
                    true,
                )
            }
        };
        self.run(thread, args.prompt, ctx).await
    }

    /// Thread `id`: the one in memory, else resumed from the session store
    /// (in the directory and with the model it was started with).
    fn thread(&self, id: &str, peer: &Peer<RoleServer>) -> anyhow::Result<Thread> {
        // Held while resuming, so two calls never open the same rollout twice.
        let mut threads = lock(&self.state.threads);
        if let Some(thread) = threads.get(id) {
            return Ok(thread.clone());
        }
        let root = SessionStore::default_root()
            .ok_or_else(|| anyhow::anyhow!("no session directory (set CODELOOP_HOME or HOME)"))?;
        let meta = SessionStore::load(&SessionStore::new(root).find(id)?)?.meta;
        let options = self.options(recorded_options(&meta), Default::default())?;
        let agent = self.agent(options, peer)?;
        let thread = agent.resume_thread(id)?;
        threads.insert(id.to_string(), thread.clone());
        Ok(thread)
    }

    /// Run one turn of `thread`, streaming its events to the client, until
    /// it ends or the call is cancelled (which interrupts it).
    async fn run(
        &self,
        thread: Thread,
        prompt: String,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let thread_id = thread.id().to_string();
        let owns_call = {
            let mut calls = lock(&self.state.calls);
            let free = !calls.contains_key(&thread_id);
            if free {
                calls.insert(thread_id.clone(), ctx.id.clone());
            }
            free
        };
        let mut events = thread.run_streamed(prompt);
        let interrupter = events.interrupter();
        let mut collector = RunCollector::new(&thread_id);
        let mut cancelled = false;
        let outcome = loop {
            let event = tokio::select! {
                _ = ctx.ct.cancelled(), if !cancelled => {
                    cancelled = true;
                    interrupter.interrupt();
                    continue;
                }
                event = events.next() => event,
            };
            let Some(event) = event else {
                break Err(collector.ended_early());
            };
            send_event(&ctx, &thread_id, &event, &self.state.closing).await;
            if let Some(outcome) = collector.push(&event, &events) {
                break outcome;
            }
        };
        if owns_call {
            lock(&self.state.calls).remove(&thread_id);
        }
        match outcome {
            Ok(result) => thread_result(&thread_id, result.final_response, false),
            Err(e) => thread_result(&thread_id, e.to_string(), true),
        }
    }
}

/// Whether the config files or overrides under `options` choose an approval
/// policy.
fn approval_configured(options: &AgentOptions) -> anyhow::Result<bool> {
    Ok(resolve_options(options.clone())?.approval_policy_chosen)
}

/// One thread event as Codex's `codex/event` notification: the event under
/// `msg`, the call and thread it belongs to under `_meta`.
async fn send_event(
    ctx: &RequestContext<RoleServer>,
    thread_id: &str,
    event: &ThreadEvent,
    closing: &CancellationToken,
) {
    let params = json!({
        "_meta": {"requestId": ctx.id, "threadId": thread_id},
        "id": ctx.id.to_string(),
        "msg": event,
    });
    let notification = CustomNotification::new("codex/event", Some(params));
    let send = ctx
        .peer
        .send_notification(ServerNotification::CustomNotification(notification));
    // A client that went away cannot be told; the turn goes on to its end
    // (or is interrupted by the closed connection).
    tokio::select! {
        _ = send => {}
        _ = closing.cancelled() => {}
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("codeloop-mcp-server", env!("CARGO_PKG_VERSION"))
                    .with_title("codeloop"),
            )
            .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    /// Approvals are requests to the client, which protocol 2026-07-28 no
    /// longer allows; stop before it.
    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(vec![
            codex_tool(),
            codex_reply_tool(),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let result = match request.name.as_ref() {
            "codex" => self.codex(args, ctx).await,
            "codex-reply" => self.codex_reply(args, ctx).await,
            other => call_error(format!(
                "unknown tool `{other}`: this server has `codex` and `codex-reply`"
            )),
        };
        Ok(result.into())
    }
}

/// The [`Host`] of the server's agents: approvals go to the client as
/// elicitation requests; everything else gets the headless answers.
struct McpHost {
    peer: Peer<RoleServer>,
    calls: Calls,
}

#[async_trait]
impl Host for McpHost {
    async fn approve(&self, request: ApprovalRequest) -> codeloop_core::Result<ApprovalDecision> {
        let can_ask = self
            .peer
            .peer_info()
            .is_some_and(|info| info.capabilities.elicitation.is_some());
        if !can_ask {
            return Ok(ApprovalDecision::Deny);
        }
        let call_id = lock(&self.calls)
            .get(&request.thread_id)
            .map(|id| id.to_string())
            .unwrap_or_default();
        let params = elicitation_params(&request, &call_id);
        let answer = self
            .peer
            .send_request(ServerRequest::CustomRequest(CustomRequest::new(
                "elicitation/create",
                Some(params),
            )))
            .await;
        Ok(match answer {
            Ok(answer) => decision_of(answer),
            Err(e) => {
                eprintln!(
                    "codeloop mcp-server: the approval request for call {} failed ({e}); denied",
                    request.call_id
                );
                ApprovalDecision::Deny
            }
        })
    }
}

/// Codex's elicitation for an approval: a form with no fields (accept,
/// decline or cancel), and the request's details beside it under Codex's
/// `codex_*` names; `codeloop_approval` is the whole request in codeloop's
/// protocol.
fn elicitation_params(request: &ApprovalRequest, call_id: &str) -> Value {
    let mut params = json!({
        "mode": "form",
        "requestedSchema": {"type": "object", "properties": {}},
        "threadId": request.thread_id,
        "codex_mcp_tool_call_id": call_id,
        "codex_event_id": call_id,
        "codex_call_id": request.call_id,
        "codeloop_approval": request,
    });
    let reason = request
        .reason
        .as_deref()
        .map(|r| format!("{r}\n"))
        .unwrap_or_default();
    let (kind, message, extra) = match &request.action {
        ApprovalAction::Command { command } => (
            "exec-approval",
            format!(
                "{reason}Allow codeloop to run `{}` in `{}`?",
                shell_words(command),
                request.cwd
            ),
            json!({"codex_command": command, "codex_cwd": request.cwd}),
        ),
        ApprovalAction::FileChange { changes, .. } => (
            "patch-approval",
            format!(
                "{reason}Allow codeloop to apply proposed code changes ({} file{})?",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            ),
            json!({"codex_reason": request.reason}),
        ),
        ApprovalAction::Tool { tool, arguments } => (
            "tool-approval",
            format!("{reason}Allow codeloop to call tool `{tool}`?"),
            json!({"codex_tool": tool, "codex_arguments": arguments}),
        ),
    };
    if let (Value::Object(p), Value::Object(extra)) = (&mut params, extra) {
        p.insert("message".into(), Value::String(message));
        p.insert("codex_elicitation".into(), Value::String(kind.into()));
        p.extend(extra);
    }
    params
}

/// `argv` as one line a person can read (quoted where a shell would need it).
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The client's answer as a decision. A standard elicitation result says
/// accept (approve; `content.decision` may say more), decline (deny) or
/// cancel (deny and stop the turn); Codex's own clients answer
/// `{"decision": "approved" | "approved_for_session" | "denied" | "abort"}`.
/// Anything else denies.
fn decision_of(answer: ClientResult) -> ApprovalDecision {
    match answer {
        ClientResult::ElicitResult(result) => match result.action {
            ElicitationAction::Accept => result
                .content
                .as_ref()
                .and_then(named_decision)
                .unwrap_or(ApprovalDecision::Approve),
            ElicitationAction::Decline => ApprovalDecision::Deny,
            ElicitationAction::Cancel => ApprovalDecision::Abort,
            _ => ApprovalDecision::Deny,
        },
        ClientResult::CustomResult(custom) => {
            named_decision(&custom.0).unwrap_or(ApprovalDecision::Deny)
        }
        _ => ApprovalDecision::Deny,
    }
}

/// `{"decision": NAME}` in Codex's or codeloop's words.
fn named_decision(value: &Value) -> Option<ApprovalDecision> {
    Some(match value.get("decision")?.as_str()? {
        "approved" | "approve" => ApprovalDecision::Approve,
        "approved_for_session" | "approve_for_session" => ApprovalDecision::ApproveForSession,
        "denied" | "deny" => ApprovalDecision::Deny,
        "abort" => ApprovalDecision::Abort,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{CustomResult, ElicitResult};

    #[test]
    fn answers_become_decisions() {
        let accept = ElicitResult::new(ElicitationAction::Accept);
        assert_eq!(
            decision_of(ClientResult::ElicitResult(accept.clone())),
            ApprovalDecision::Approve
        );
        let for_session = accept.with_content(json!({"decision": "approved_for_session"}));
        assert_eq!(
            decision_of(ClientResult::ElicitResult(for_session)),
            ApprovalDecision::ApproveForSession
        );
        assert_eq!(
            decision_of(ClientResult::ElicitResult(ElicitResult::new(
                ElicitationAction::Decline
            ))),
            ApprovalDecision::Deny
        );
        assert_eq!(
            decision_of(ClientResult::ElicitResult(ElicitResult::new(
                ElicitationAction::Cancel
            ))),
            ApprovalDecision::Abort
        );
        let codex = CustomResult::new(json!({"decision": "approved"}));
        assert_eq!(
            decision_of(ClientResult::CustomResult(codex)),
            ApprovalDecision::Approve
        );
        let nonsense = CustomResult::new(json!({"decision": "maybe"}));
        assert_eq!(
            decision_of(ClientResult::CustomResult(nonsense)),
            ApprovalDecision::Deny
        );
    }

    #[test]
    fn command_elicitation_names_the_command_and_the_call() {
        let request = ApprovalRequest {
            thread_id: "t1".into(),
            call_id: "call_1".into(),
            cwd: "/work".into(),
            reason: Some("needs the network".into()),
            action: ApprovalAction::Command {
                command: vec!["curl".into(), "-s".into(), "a b".into()],
            },
        };
        let params = elicitation_params(&request, "7");
        assert_eq!(params["codex_elicitation"], "exec-approval");
        assert_eq!(params["codex_mcp_tool_call_id"], "7");
        assert_eq!(params["codex_call_id"], "call_1");
        assert_eq!(params["threadId"], "t1");
        assert_eq!(params["codex_command"], json!(["curl", "-s", "a b"]));
        assert_eq!(
            params["message"],
            "needs the network\nAllow codeloop to run `curl -s 'a b'` in `/work`?"
        );
        assert_eq!(params["codeloop_approval"]["kind"], "command");
    }
}
