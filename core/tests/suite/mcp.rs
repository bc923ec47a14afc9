//! The MCP client against real MCP servers nobody here wrote:
//! `@modelcontextprotocol/server-everything` and `server-filesystem` over
//! stdio (npm), and a FastMCP server (PyPI) over streamable HTTP, each driven
//! by the real agent loop with the mock model server calling their tools.
//! `make mcp-deps` installs them (tests/mcp).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codeloop_core::config::ConfigToml;
use codeloop_core::mcp::McpServerConfig;
use codeloop_core::protocol::{
    AgentOptions, ApprovalAction, ApprovalDecision, ApprovalPolicy, ApprovalRequest, ErrorCode,
    HookDecision, HookEvent, HookOutcome, ItemDetails, ThreadEvent, ToolCallStatus,
};
use codeloop_core::{Agent, Error, Host};
use codeloop_mock_server::responses;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use super::support::{call, output_for, Harness};

// ---------------------------------------------------------------- fixtures

fn mcp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/mcp")
}

const RUN_MCP_DEPS: &str =
    "the MCP test servers are not installed: run `make mcp-deps` (npm ci in tests/mcp and pip install -r tests/mcp/requirements.txt into .venv)";

fn npm_server(package: &str) -> PathBuf {
    let entry = mcp_dir()
        .join("node_modules/@modelcontextprotocol")
        .join(package)
        .join("dist/index.js");
    assert!(
        entry.is_file(),
        "{RUN_MCP_DEPS} ({} is missing)",
        entry.display()
    );
    entry
}

/// server-everything over stdio; `marker` lands in its environment so the
/// test can find its process.
fn everything(marker: &str) -> McpServerConfig {
    McpServerConfig {
        command: Some("node".into()),
        args: vec![
            npm_server("server-everything").display().to_string(),
            "stdio".into(),
        ],
        env: BTreeMap::from([("CODELOOP_MCP_MARKER".to_string(), marker.to_string())]),
        ..McpServerConfig::default()
    }
}

fn filesystem(root: &Path) -> McpServerConfig {
    McpServerConfig {
        command: Some("node".into()),
        args: vec![
            npm_server("server-filesystem").display().to_string(),
            root.display().to_string(),
        ],
        ..McpServerConfig::default()
    }
}

/// Variables of this test process the servers must or must not see. Set
/// once, before any server starts.
const SECRET_VAR: &str = "CODELOOP_MCP_TEST_SECRET_TOKEN";
const PASSED_VAR: &str = "CODELOOP_MCP_TEST_PASSED";
const TOKEN_VAR: &str = "CODELOOP_MCP_TEST_BEARER";
const HEADER_VAR: &str = "CODELOOP_MCP_TEST_HEADER";
const TOKEN: &str = "tok-1f3a9";

fn test_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var(SECRET_VAR, "do-not-leak");
        std::env::set_var(PASSED_VAR, "passed-through");
        std::env::set_var(TOKEN_VAR, TOKEN);
        std::env::set_var(HEADER_VAR, "from-env");
    });
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// The pid of the process whose environment holds `CODELOOP_MCP_MARKER=marker`.
fn pid_with_marker(marker: &str) -> Option<i32> {
    let needle = format!("CODELOOP_MCP_MARKER={marker}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|b| *b == 0)
                .any(|kv| kv == needle.as_bytes())
                .then_some(pid)
        })
}

async fn harness() -> Harness {
    test_env();
    Harness::new().await
}

/// The harness's options with these MCP servers, the default sandbox and no
/// config files.
fn mcp_options(h: &Harness, servers: Vec<(&str, McpServerConfig)>) -> AgentOptions {
    AgentOptions {
        sandbox: None,
        load_config_files: Some(false),
        mcp_servers: servers
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect(),
        ..h.options()
    }
}

fn mcp_agent(h: &Harness, servers: Vec<(&str, McpServerConfig)>) -> Agent {
    Agent::new(mcp_options(h, servers)).unwrap()
}

/// Completed mcp_tool_call items: (server, tool, result, error, status).
type McpItem = (
    String,
    String,
    Option<codeloop_core::protocol::McpToolCallResult>,
    Option<String>,
    ToolCallStatus,
);

fn mcp_items(events: &[ThreadEvent]) -> Vec<McpItem> {
    events
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::ItemCompleted { item } => match &item.details {
                ItemDetails::McpToolCall {
                    server,
                    tool,
                    result,
                    error,
                    status,
                    ..
                } => Some((
                    server.clone(),
                    tool.clone(),
                    result.clone(),
                    error.as_ref().map(|e| e.message.clone()),
                    *status,
                )),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn tool_names(request: &codeloop_mock_server::RecordedRequest) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect()
}

fn first_text(result: &codeloop_core::protocol::McpToolCallResult) -> String {
    result.content[0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------- stdio: server-everything

#[tokio::test]
async fn everything_tools_over_stdio_echo_sum_structured_and_error() {
    let h = harness().await;
    let marker = unique("everything");
    h.server.push(call(
        "c1",
        "mcp__everything__echo",
        json!({"message": "hi there"}),
    ));
    h.server.push(call(
        "c2",
        "mcp__everything__get-sum",
        json!({"a": 2, "b": 40}),
    ));
    h.server.push(call(
        "c3",
        "mcp__everything__get-structured-content",
        json!({"location": "Chicago"}),
    ));
    h.server
        .push(call("c4", "mcp__everything__get-sum", json!({"a": "two"})));
    h.server.push(responses::text_turn("resp_end", "done"));
    let agent = mcp_agent(&h, vec![("everything", everything(&marker))]);
    let thread = agent.start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("use the tools").collect().await;
    assert!(
        matches!(events.last(), Some(ThreadEvent::TurnCompleted { .. })),
        "{events:#?}"
    );

    // Offered under Codex's names with the server's input schema.
    let requests = h.server.requests();
    let first = &requests[0];
    let names = tool_names(first);
    assert!(
        names.contains(&"mcp__everything__echo".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"shell_command".to_string()), "{names:?}");
    let echo_spec = first.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "mcp__everything__echo")
        .unwrap();
    assert_eq!(echo_spec["type"], "function");
    assert!(
        echo_spec["parameters"]["properties"]["message"].is_object(),
        "{echo_spec}"
    );

    // Items: started in progress, completed with the result.
    let started: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::ItemStarted { item } => match &item.details {
                ItemDetails::McpToolCall {
                    status, arguments, ..
                } => Some((*status, arguments.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 4, "{started:?}");
    assert_eq!(
        started[0],
        (ToolCallStatus::InProgress, json!({"message": "hi there"}))
    );
    let items = mcp_items(&events);
    assert_eq!(items.len(), 4);
    let (server, tool, result, error, status) = &items[0];
    assert_eq!(
        (server.as_str(), tool.as_str(), *status),
        ("everything", "echo", ToolCallStatus::Completed)
    );
    assert!(error.is_none());
    assert_eq!(first_text(result.as_ref().unwrap()), "Echo: hi there");
    assert_eq!(items[1].4, ToolCallStatus::Completed);
    assert!(first_text(items[1].2.as_ref().unwrap()).contains("42"));
    let structured = items[2]
        .2
        .as_ref()
        .unwrap()
        .structured_content
        .clone()
        .unwrap();
    assert!(structured["temperature"].is_number(), "{structured}");
    // Bad arguments: the server answers with an error result.
    assert_eq!(items[3].4, ToolCallStatus::Failed, "{:?}", items[3]);
    assert!(items[3].3.is_some());

    // What the model read: Codex's format (content JSON, or the structured content).
    let last = requests.last().unwrap().input();
    let echo_out: Value = serde_json::from_str(&output_for(last, "c1")).unwrap();
    assert_eq!(
        echo_out,
        json!([{"type": "text", "text": "Echo: hi there"}])
    );
    let structured_out: Value = serde_json::from_str(&output_for(last, "c3")).unwrap();
    assert_eq!(structured_out, structured);
    assert!(!output_for(last, "c4").is_empty());

    // Shut down with the agent: its process goes.
    let pid = pid_with_marker(&marker).expect("the server process");
    drop(thread);
    drop(agent);
    assert!(
        super::support::wait_dead(pid, Duration::from_secs(10)),
        "server {pid} outlived its agent"
    );
}

#[tokio::test]
async fn enabled_and_disabled_tools_filter_and_the_environment_is_minimal() {
    let h = harness().await;
    let mut config = everything(&unique("env"));
    config.enabled_tools = Some(vec!["echo".into(), "get-sum".into(), "get-env".into()]);
    config.disabled_tools = vec!["get-sum".into()];
    config.env_vars = vec![PASSED_VAR.into()];
    config.env.insert("SET_BY_CONFIG".into(), "yes".into());
    h.server.push(call("c1", "mcp__ev__get-env", json!({})));
    h.server.push(responses::text_turn("resp_end", "done"));
    let thread = mcp_agent(&h, vec![("ev", config)]).start_thread();
    let result = thread.run("env?").await.unwrap();
    assert_eq!(result.final_response, "done");

    let requests = h.server.requests();
    let mcp_names: Vec<String> = tool_names(&requests[0])
        .into_iter()
        .filter(|n| n.starts_with("mcp__"))
        .collect();
    assert_eq!(mcp_names, vec!["mcp__ev__echo", "mcp__ev__get-env"]);

    let env_text = output_for(requests[1].input(), "c1");
    let content: Value = serde_json::from_str(&env_text).unwrap();
    let env: Value = serde_json::from_str(content[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(env["SET_BY_CONFIG"], "yes");
    assert_eq!(env[PASSED_VAR], "passed-through");
    assert!(env.get(SECRET_VAR).is_none(), "a secret leaked: {env}");
    assert!(env.get("PATH").is_some());
}

#[tokio::test]
async fn an_interrupt_cancels_a_long_running_call() {
    let h = harness().await;
    h.server.push(call(
        "c1",
        "mcp__everything__trigger-long-running-operation",
        json!({"duration": 60, "steps": 60}),
    ));
    let thread = mcp_agent(&h, vec![("everything", everything(&unique("long")))]).start_thread();
    let begun = Instant::now();
    let mut stream = thread.run_streamed("wait");
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        if let ThreadEvent::ItemStarted { item } = &event {
            if matches!(item.details, ItemDetails::McpToolCall { .. }) {
                thread.interrupt();
            }
        }
        events.push(event);
    }
    assert!(
        begun.elapsed() < Duration::from_secs(20),
        "{:?}",
        begun.elapsed()
    );
    match events.last() {
        Some(ThreadEvent::TurnFailed { error }) => {
            assert_eq!(error.code, Some(ErrorCode::Interrupted))
        }
        other => panic!("expected turn.failed, got {other:?}"),
    }
    let items = mcp_items(&events);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].4, ToolCallStatus::Failed);
    assert!(
        items[0].3.as_deref().unwrap().contains("interrupted"),
        "{items:?}"
    );
}

#[tokio::test]
async fn tool_timeout_sec_fails_the_call_and_the_turn_goes_on() {
    let h = harness().await;
    let mut config = everything(&unique("timeout"));
    config.tool_timeout_sec = Some(0.5);
    h.server.push(call(
        "c1",
        "mcp__everything__trigger-long-running-operation",
        json!({"duration": 30, "steps": 3}),
    ));
    h.server.push(responses::text_turn("resp_end", "gave up"));
    let thread = mcp_agent(&h, vec![("everything", config)]).start_thread();
    let begun = Instant::now();
    let events: Vec<ThreadEvent> = thread.run_streamed("wait").collect().await;
    assert!(begun.elapsed() < Duration::from_secs(20));
    assert!(matches!(
        events.last(),
        Some(ThreadEvent::TurnCompleted { .. })
    ));
    let items = mcp_items(&events);
    assert_eq!(items[0].4, ToolCallStatus::Failed);
    let error = items[0].3.clone().unwrap();
    assert!(
        error.contains("tool_timeout_sec") && error.contains("everything"),
        "{error}"
    );
    let told = output_for(h.server.requests()[1].input(), "c1");
    assert!(told.contains("tool_timeout_sec"), "{told}");
}

#[tokio::test]
async fn a_server_killed_mid_call_fails_the_call_not_the_turn() {
    let h = harness().await;
    let marker = unique("killed");
    h.server.push(call(
        "c1",
        "mcp__everything__trigger-long-running-operation",
        json!({"duration": 60, "steps": 60}),
    ));
    h.server.push(call(
        "c2",
        "mcp__everything__echo",
        json!({"message": "still there?"}),
    ));
    h.server.push(responses::text_turn("resp_end", "ok"));
    let thread = mcp_agent(&h, vec![("everything", everything(&marker))]).start_thread();
    let begun = Instant::now();
    let mut stream = thread.run_streamed("go");
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        if let ThreadEvent::ItemStarted { item } = &event {
            if matches!(&item.details, ItemDetails::McpToolCall { tool, .. } if tool.starts_with("trigger"))
            {
                let pid = pid_with_marker(&marker).expect("the server process");
                // SAFETY: signalling a process this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        events.push(event);
    }
    assert!(begun.elapsed() < Duration::from_secs(20));
    assert!(
        matches!(events.last(), Some(ThreadEvent::TurnCompleted { .. })),
        "{events:#?}"
    );
    let items = mcp_items(&events);
    assert_eq!(items.len(), 2);
    for (_, _, _, error, status) in &items {
        assert_eq!(*status, ToolCallStatus::Failed);
        let error = error.clone().unwrap();
        assert!(
            error.contains("`everything`") && error.contains("closed"),
            "{error}"
        );
    }
}

// ---------------------------------------------------------------- startup failures

#[tokio::test]
async fn a_required_server_that_cannot_start_fails_the_run_quickly() {
    let h = harness().await;
    let config = McpServerConfig {
        command: Some("/nonexistent/codeloop-mcp-server".into()),
        required: true,
        ..McpServerConfig::default()
    };
    let begun = Instant::now();
    let thread = mcp_agent(&h, vec![("needed", config)]).start_thread();
    let err = thread.run("hi").await.unwrap_err();
    assert!(begun.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("`needed`")
            && message.contains("required")
            && message.contains("cannot run"),
        "{message}"
    );
    assert!(h.server.requests().is_empty(), "the model was asked anyway");
}

#[tokio::test]
async fn a_failing_optional_server_is_a_warning_and_the_rest_works() {
    let h = harness().await;
    let broken = McpServerConfig {
        command: Some("/nonexistent/codeloop-mcp-server".into()),
        ..McpServerConfig::default()
    };
    // Never answers the handshake: bounded by startup_timeout_sec, then killed.
    let slow_marker = unique("slow");
    let slow = McpServerConfig {
        command: Some("sleep".into()),
        args: vec!["300".into()],
        env: BTreeMap::from([("CODELOOP_MCP_MARKER".to_string(), slow_marker.clone())]),
        startup_timeout_sec: Some(1.0),
        ..McpServerConfig::default()
    };
    h.server
        .push(call("c1", "mcp__everything__echo", json!({"message": "x"})));
    h.server.push(responses::text_turn("resp_end", "fine"));
    h.server.push(responses::text_turn("resp_again", "again"));
    let begun = Instant::now();
    let ok_marker = unique("ok");
    let thread = mcp_agent(
        &h,
        vec![
            ("broken", broken),
            ("everything", everything(&ok_marker)),
            ("slow", slow),
        ],
    )
    .start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("hi").collect().await;
    assert!(begun.elapsed() < Duration::from_secs(15));
    let warnings: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::Error { message } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("`broken`") && warnings[0].contains("cannot run"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("`slow`") && warnings[1].contains("startup_timeout_sec"),
        "{}",
        warnings[1]
    );
    if let Some(pid) = pid_with_marker(&slow_marker) {
        assert!(
            super::support::wait_dead(pid, Duration::from_secs(5)),
            "the slow server was left running"
        );
    }
    assert_eq!(mcp_items(&events)[0].4, ToolCallStatus::Completed);
    let names = tool_names(&h.server.requests()[0]);
    assert!(!names
        .iter()
        .any(|n| n.starts_with("mcp__broken") || n.starts_with("mcp__slow")));
    // The next run starts the failed servers again (only them: the one that
    // started stays up) and warns again as they fail again.
    let ok_pid = pid_with_marker(&ok_marker).expect("server-everything runs");
    let again: Vec<ThreadEvent> = thread.run_streamed("again").collect().await;
    let warnings: Vec<&String> = again
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::Error { message } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 2, "{again:#?}");
    assert!(warnings[0].contains("`broken`"), "{}", warnings[0]);
    assert!(warnings[1].contains("`slow`"), "{}", warnings[1]);
    assert!(matches!(
        again.last(),
        Some(ThreadEvent::TurnCompleted { .. })
    ));
    assert_eq!(pid_with_marker(&ok_marker), Some(ok_pid));
    assert!(tool_names(&h.server.requests()[2])
        .iter()
        .any(|n| n == "mcp__everything__echo"));
}

// ---------------------------------------------------------------- stdio: server-filesystem

#[tokio::test]
async fn filesystem_reads_inside_its_root_and_refuses_outside() {
    let h = harness().await;
    let root = h.dir.path().canonicalize().unwrap();
    std::fs::write(root.join("notes.txt"), "the quick brown fox\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "nope").unwrap();
    h.server.push(call(
        "c1",
        "mcp__fs__read_text_file",
        json!({"path": root.join("notes.txt")}),
    ));
    h.server.push(call(
        "c2",
        "mcp__fs__read_text_file",
        json!({"path": outside.path().join("secret.txt")}),
    ));
    h.server.push(responses::text_turn("resp_end", "read"));
    let thread = mcp_agent(&h, vec![("fs", filesystem(&root))]).start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("read").collect().await;
    let items = mcp_items(&events);
    assert_eq!(items[0].4, ToolCallStatus::Completed);
    let input = h.server.requests()[2].input().to_vec();
    let read: Value = serde_json::from_str(&output_for(&input, "c1")).unwrap();
    assert_eq!(read["content"], "the quick brown fox\n");
    assert_eq!(items[1].4, ToolCallStatus::Failed, "{:?}", items[1]);
    let error = items[1].3.clone().unwrap();
    assert!(
        error.contains("Access denied") || error.contains("outside"),
        "{error}"
    );
    assert!(!output_for(&input, "c2").contains("nope"));
}

/// Denies every approval and records what was asked.
#[derive(Default)]
struct DenyingHost {
    asked: Mutex<Vec<ApprovalRequest>>,
}

#[async_trait]
impl Host for DenyingHost {
    async fn approve(&self, request: ApprovalRequest) -> codeloop_core::Result<ApprovalDecision> {
        self.asked.lock().unwrap().push(request);
        Ok(ApprovalDecision::Deny)
    }
}

#[tokio::test]
async fn untrusted_asks_before_tools_that_are_not_read_only() {
    let h = harness().await;
    let root = h.dir.path().canonicalize().unwrap();
    std::fs::write(root.join("a.txt"), "A").unwrap();
    let target = root.join("written.txt");
    h.server.push(call(
        "c1",
        "mcp__fs__read_text_file",
        json!({"path": root.join("a.txt")}),
    ));
    h.server.push(call(
        "c2",
        "mcp__fs__write_file",
        json!({"path": target, "content": "pwned"}),
    ));
    h.server.push(responses::text_turn("resp_end", "ok"));
    let host = Arc::new(DenyingHost::default());
    let mut options = mcp_options(&h, vec![("fs", filesystem(&root))]);
    options.approval_policy = Some(ApprovalPolicy::Untrusted);
    let agent = Agent::with_host(options, host.clone()).unwrap();
    let events: Vec<ThreadEvent> = agent.start_thread().run_streamed("go").collect().await;

    let asked = host.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "only the write is asked about: {asked:?}");
    match &asked[0].action {
        ApprovalAction::Tool { tool, arguments } => {
            assert_eq!(tool, "mcp__fs__write_file");
            assert_eq!(arguments["content"], "pwned");
        }
        other => panic!("unexpected action {other:?}"),
    }
    let items = mcp_items(&events);
    assert_eq!(items[0].4, ToolCallStatus::Completed);
    assert_eq!(items[1].4, ToolCallStatus::Declined);
    assert!(!target.exists(), "a declined call ran");
    let told = output_for(h.server.requests()[2].input(), "c2");
    assert!(told.starts_with("rejected by user"), "{told}");
}

/// Denies PreToolUse for one tool name; records the hook tool names.
struct HookHost {
    deny: String,
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl Host for HookHost {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        match &event {
            HookEvent::PreToolUse { tool_name, .. } => {
                self.seen.lock().unwrap().push(format!("pre:{tool_name}"));
                if *tool_name == self.deny {
                    return Ok(HookOutcome {
                        decision: HookDecision::Deny,
                        reason: Some("not this one".into()),
                        ..HookOutcome::default()
                    });
                }
            }
            HookEvent::PostToolUse {
                tool_name,
                tool_response,
                ..
            } => {
                self.seen.lock().unwrap().push(format!(
                    "post:{tool_name}:{}",
                    tool_response.as_str().unwrap_or("")
                ));
            }
            _ => {}
        }
        Ok(HookOutcome::default())
    }
}

#[tokio::test]
async fn pre_tool_use_hooks_see_and_can_block_mcp_calls() {
    let h = harness().await;
    h.server.push(call(
        "c1",
        "mcp__everything__get-sum",
        json!({"a": 1, "b": 2}),
    ));
    h.server.push(call(
        "c2",
        "mcp__everything__echo",
        json!({"message": "blocked?"}),
    ));
    h.server.push(responses::text_turn("resp_end", "ok"));
    let host = Arc::new(HookHost {
        deny: "mcp__everything__echo".into(),
        seen: Mutex::new(Vec::new()),
    });
    let options = mcp_options(&h, vec![("everything", everything(&unique("hooks")))]);
    let agent = Agent::with_host(options, host.clone()).unwrap();
    let events: Vec<ThreadEvent> = agent.start_thread().run_streamed("go").collect().await;
    let seen = host.seen.lock().unwrap().clone();
    assert_eq!(seen[0], "pre:mcp__everything__get-sum");
    assert!(
        seen[1].starts_with("post:mcp__everything__get-sum:") && seen[1].contains('3'),
        "{seen:?}"
    );
    assert_eq!(seen[2], "pre:mcp__everything__echo");
    assert_eq!(seen.len(), 3, "{seen:?}");
    // The blocked call never reached the server.
    let items = mcp_items(&events);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].1, "get-sum");
    let told = output_for(h.server.requests()[2].input(), "c2");
    assert!(
        told.contains("PreToolUse") && told.contains("not this one"),
        "{told}"
    );
}

// ---------------------------------------------------------------- streamable HTTP: FastMCP

/// The FastMCP test server, killed when dropped.
struct FastMcp {
    _child: tokio::process::Child,
    url: String,
}

impl FastMcp {
    async fn start() -> FastMcp {
        test_env();
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
        assert!(
            python.is_file(),
            "{RUN_MCP_DEPS} ({} is missing)",
            python.display()
        );
        let mut child = tokio::process::Command::new(&python)
            .arg(mcp_dir().join("fastmcp_server.py"))
            .env("MCP_TEST_TOKEN", TOKEN)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("READY ") {
                    return Some(url.to_string());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(url) = ready else {
            let mut err = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut err).await;
            if err.contains("No module named") {
                panic!("{RUN_MCP_DEPS}: {err}");
            }
            panic!("the FastMCP server did not start: {err}");
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut stderr, &mut sink).await;
        });
        FastMcp { _child: child, url }
    }

    /// Requests the server saw: `{"methods": {"POST": n, ...}, "unauthorized": n}`.
    async fn stats(&self) -> Value {
        let url = format!("{}/stats", self.url.trim_end_matches("/mcp"));
        let client = codeloop_core::net::http_client_builder()
            .unwrap()
            .build()
            .unwrap();
        client.get(url).send().await.unwrap().json().await.unwrap()
    }

    fn config(&self) -> McpServerConfig {
        McpServerConfig {
            url: Some(self.url.clone()),
            bearer_token_env_var: Some(TOKEN_VAR.into()),
            http_headers: BTreeMap::from([("x-static".to_string(), "one".to_string())]),
            env_http_headers: BTreeMap::from([
                ("x-from-env".to_string(), HEADER_VAR.to_string()),
                (
                    "x-unset".to_string(),
                    "CODELOOP_MCP_TEST_NOT_SET".to_string(),
                ),
            ]),
            startup_timeout_sec: Some(30.0),
            ..McpServerConfig::default()
        }
    }
}

#[tokio::test]
async fn fastmcp_over_streamable_http_with_a_bearer_token_and_headers() {
    let fast = FastMcp::start().await;
    let h = harness().await;
    h.server
        .push(call("c1", "mcp__py__multiply", json!({"a": 6, "b": 7})));
    h.server
        .push(call("c2", "mcp__py__header", json!({"name": "x-static"})));
    h.server
        .push(call("c3", "mcp__py__header", json!({"name": "x-from-env"})));
    h.server.push(call(
        "c4",
        "mcp__py__fail",
        json!({"message": "boom from python"}),
    ));
    h.server.push(responses::text_turn("resp_end", "done"));
    let mut config = fast.config();
    config.required = true;
    let agent = mcp_agent(&h, vec![("py", config)]);
    let thread = agent.start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("compute").collect().await;
    assert!(
        matches!(events.last(), Some(ThreadEvent::TurnCompleted { .. })),
        "{events:#?}"
    );
    let items = mcp_items(&events);
    assert_eq!(items.len(), 4);
    assert_eq!(items[0].4, ToolCallStatus::Completed);
    let input = h.server.requests()[4].input().to_vec();
    let product: Value = serde_json::from_str(&output_for(&input, "c1")).unwrap();
    assert_eq!(product, json!({"result": 42}));
    assert!(output_for(&input, "c2").contains("\"one\""));
    assert!(output_for(&input, "c3").contains("from-env"));
    assert_eq!(items[3].4, ToolCallStatus::Failed);
    assert!(
        items[3].3.as_deref().unwrap().contains("boom from python"),
        "{items:?}"
    );

    // Shutting the agent down ends the HTTP session with a DELETE.
    let stats = fast.stats().await;
    assert_eq!(stats["unauthorized"], 0, "{stats}");
    assert!(stats["methods"].get("DELETE").is_none(), "{stats}");
    drop(thread);
    drop(agent);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = fast.stats().await;
        if stats["methods"]["DELETE"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no DELETE after the agent was dropped: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn fastmcp_refuses_a_wrong_token_and_a_required_server_fails_the_run() {
    let fast = FastMcp::start().await;
    let h = harness().await;
    let mut config = fast.config();
    config.bearer_token_env_var = Some(SECRET_VAR.into()); // holds another value
    config.required = true;
    let thread = mcp_agent(&h, vec![("py", config)]).start_thread();
    let err = thread.run("hi").await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`py`") && message.contains("required"),
        "{message}"
    );
    assert!(h.server.requests().is_empty());
    let stats = fast.stats().await;
    assert!(stats["unauthorized"].as_u64().unwrap() >= 1, "{stats}");

    // A variable that is not set is named.
    let mut config = fast.config();
    config.bearer_token_env_var = Some("CODELOOP_MCP_TEST_NOT_SET".into());
    config.required = true;
    let err = mcp_agent(&h, vec![("py", config)])
        .start_thread()
        .run("hi")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("CODELOOP_MCP_TEST_NOT_SET"),
        "{err}"
    );
}

// ---------------------------------------------------------------- configuration

#[test]
fn config_toml_mcp_servers_parse_and_bad_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        r#"
[mcp_servers.docs]
command = "docs-server"
args = ["--stdio"]
env = { A = "1" }
startup_timeout_sec = 5
tool_timeout_sec = 2.5
enabled_tools = ["search"]

[mcp_servers.remote]
url = "https://mcp.example.com/mcp"
bearer_token_env_var = "REMOTE_TOKEN"
http_headers = { "x-team" = "core" }
required = true
"#,
    )
    .unwrap();
    let config = ConfigToml::load(Some(&path), &[]).unwrap();
    let docs = &config.mcp_servers["docs"];
    assert_eq!(docs.command.as_deref(), Some("docs-server"));
    assert_eq!(docs.startup_timeout(), Duration::from_secs(5));
    assert_eq!(docs.tool_timeout(), Duration::from_millis(2500));
    assert!(docs.enabled && !docs.required);
    assert!(docs.tool_allowed("search") && !docs.tool_allowed("other"));
    assert!(config.mcp_servers["remote"].required);

    // Options win per server name; the others come from the file.
    let mut options = AgentOptions::default();
    options.mcp_servers.insert(
        "docs".into(),
        McpServerConfig {
            command: Some("mine".into()),
            ..McpServerConfig::default()
        },
    );
    config.apply(&mut options).unwrap();
    assert_eq!(options.mcp_servers["docs"].command.as_deref(), Some("mine"));
    assert_eq!(
        options.mcp_servers["remote"].url.as_deref(),
        Some("https://mcp.example.com/mcp")
    );

    std::fs::write(
        &path,
        "[mcp_servers.bad]\ncommand = \"x\"\ncomand = \"typo\"\n",
    )
    .unwrap();
    let err = ConfigToml::load(Some(&path), &[]).unwrap_err().to_string();
    assert!(
        err.contains("mcp_servers.bad") && err.contains("comand"),
        "{err}"
    );
}

#[tokio::test]
async fn invalid_server_entries_are_refused_naming_server_and_key() {
    let h = harness().await;
    let cases = [
        (
            McpServerConfig {
                command: Some("x".into()),
                url: Some("http://127.0.0.1:1/mcp".into()),
                ..McpServerConfig::default()
            },
            "mcp_servers.s.url",
        ),
        (McpServerConfig::default(), "mcp_servers.s"),
        (
            McpServerConfig {
                command: Some("x".into()),
                bearer_token_env_var: Some("T".into()),
                ..McpServerConfig::default()
            },
            "mcp_servers.s.bearer_token_env_var",
        ),
        (
            McpServerConfig {
                url: Some("ftp://host/".into()),
                ..McpServerConfig::default()
            },
            "mcp_servers.s.url",
        ),
        (
            McpServerConfig {
                command: Some("x".into()),
                tool_timeout_sec: Some(-1.0),
                ..McpServerConfig::default()
            },
            "mcp_servers.s.tool_timeout_sec",
        ),
    ];
    for (config, expected) in cases {
        let err = match Agent::new(mcp_options(&h, vec![("s", config.clone())])) {
            Ok(_) => panic!("{config:?} was accepted"),
            Err(e) => e,
        };
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(
            err.to_string().contains(expected),
            "{err} (wanted {expected})"
        );
    }
    // Options JSON uses the same keys; unknown ones are refused.
    let err = serde_json::from_value::<AgentOptions>(json!({
        "mcp_servers": {"s": {"command": "x", "timeout": 3}}
    }))
    .unwrap_err();
    assert!(err.to_string().contains("timeout"), "{err}");
}

// ---------------------------------------------------------------- retried starts

#[tokio::test]
async fn a_required_server_that_failed_to_start_is_started_again_at_the_next_run() {
    let h = harness().await;
    // A server whose program does not exist yet: the first run fails. The
    // script it will be is written now, so it is not still open for writing
    // (by a child another test forks meanwhile) when it runs.
    let bin = tempfile::tempdir().unwrap();
    let script = bin.path().join("everything.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec node {} stdio\n",
            npm_server("server-everything").display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    let program = bin.path().join("everything-server");
    let marker = unique("late");
    let config = McpServerConfig {
        command: Some(program.display().to_string()),
        env: BTreeMap::from([("CODELOOP_MCP_MARKER".to_string(), marker.clone())]),
        required: true,
        ..McpServerConfig::default()
    };
    let agent = mcp_agent(&h, vec![("late", config)]);
    let thread = agent.start_thread();
    let err = thread.run("hi").await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`late`")
            && message.contains("required")
            && message.contains("cannot run")
            && message.contains("next run"),
        "{message}"
    );
    assert!(h.server.requests().is_empty(), "the model was asked anyway");

    // The outage ends: the program appears, and the next run of the same
    // agent starts the server and offers its tools.
    std::os::unix::fs::symlink(&script, &program).unwrap();
    h.server
        .push(call("c1", "mcp__late__echo", json!({"message": "back"})));
    h.server.push(responses::text_turn("resp_end", "done"));
    let events: Vec<ThreadEvent> = thread.run_streamed("again").collect().await;
    assert!(
        matches!(events.last(), Some(ThreadEvent::TurnCompleted { .. })),
        "{events:#?}"
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, ThreadEvent::Error { .. })));
    let items = mcp_items(&events);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].4, ToolCallStatus::Completed);
    assert!(first_text(items[0].2.as_ref().unwrap()).contains("back"));
    // Started once, then kept: a later run reuses the same server.
    let pid = pid_with_marker(&marker).expect("the server runs");
    h.server.push(responses::text_turn("resp_more", "more"));
    thread.run("more").await.unwrap();
    assert_eq!(pid_with_marker(&marker), Some(pid));
}

#[tokio::test]
async fn close_shuts_the_servers_down_while_threads_live() {
    test_env();
    let h = Harness::new().await;
    let marker = unique("close");
    h.server.push(responses::text_turn("r1", "up"));
    let agent = mcp_agent(&h, vec![("everything", everything(&marker))]);
    let thread = agent.start_thread();
    thread.run("start").await.unwrap();
    let pid = pid_with_marker(&marker).expect("the server runs");

    agent.close().await;
    assert!(
        super::support::wait_dead(pid, Duration::from_secs(10)),
        "server {pid} outlived close()"
    );
    // The thread is still there; its next run says why it cannot go on.
    let err = thread.run("again").await.unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    agent.close().await; // idempotent
}
