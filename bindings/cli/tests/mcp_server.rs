//! `codeloop mcp-server` on the wire, as a client built on Codex's shapes
//! talks to it: raw JSON-RPC lines over the real binary's stdin and stdout,
//! the mock model server on loopback, a temp dir. (The official Python client
//! drives it in tests/mcp/test_mcp_server.py.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use codeloop_mock_server::{responses, MockServer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

mod common;

/// Only turns a hang into a failure; every wait is on a message.
const TIMEOUT: Duration = Duration::from_secs(60);

struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Client {
    fn start(server: &MockServer, home: &std::path::Path) -> Client {
        let mut child = Command::from(common::codeloop(home))
            .arg("mcp-server")
            .env("OPENAI_BASE_URL", server.base_url())
            .env("OPENAI_API_KEY", "test-key")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Client {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            child,
        }
    }

    async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(TIMEOUT, self.stdout.next_line())
            .await
            .expect("no message from the server in time")
            .unwrap()
            .expect("the server closed its stdout");
        serde_json::from_str(&line).unwrap()
    }

    /// Read messages until the response to request `id`; returns it and
    /// what came before it.
    async fn until_response(&mut self, id: i64) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let message = self.next().await;
            if message["id"] == json!(id) && message.get("method").is_none() {
                return (message, before);
            }
            before.push(message);
        }
    }

    /// Call the `codex` tool as request `id`: `prompt` in `cwd`, unsandboxed,
    /// under `approval_policy`.
    async fn codex(&mut self, id: i64, prompt: &str, cwd: &std::path::Path, approval_policy: &str) {
        self.send(json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "codex", "arguments": {
                "prompt": prompt,
                "cwd": cwd,
                "approval-policy": approval_policy,
                "sandbox": "danger-full-access"
            }}
        }))
        .await;
    }

    async fn initialize(&mut self, capabilities: Value) -> Value {
        self.send(json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": capabilities,
                "clientInfo": {"name": "codex-style-client", "version": "1.0"}
            }
        }))
        .await;
        let (response, _) = self.until_response(0).await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        response
    }
}

#[tokio::test]
async fn initialize_and_tools_list_over_a_pipe() {
    let server = MockServer::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut client = Client::start(&server, home.path());
    let init = client.initialize(json!({})).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "codeloop-mcp-server");
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert!(init["result"]["capabilities"]["tools"].is_object());

    client
        .send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    let (list, _) = client.until_response(1).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["codex", "codex-reply"]);
}

/// A Codex client reads the `codex_*` fields of the elicitation and answers
/// `{"decision": "approved"}` (not a standard elicitation result).
#[tokio::test]
async fn codex_style_approval_answer_runs_the_command() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::function_call_turn(
        "resp_1",
        "call_1",
        "shell_command",
        r#"{"command": "touch codex-style.txt", "login": false}"#,
    ));
    server.push(responses::text_turn("resp_2", "done"));
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut client = Client::start(&server, home.path());
    client.initialize(json!({"elicitation": {}})).await;

    client
        .codex(2, "make the file", work.path(), "untrusted")
        .await;
    let elicitation = loop {
        let message = client.next().await;
        if message["method"] == "elicitation/create" {
            break message;
        }
        assert_eq!(message["method"], "codex/event", "{message}");
        assert_eq!(message["params"]["_meta"]["requestId"], 2);
    };
    let params = &elicitation["params"];
    assert_eq!(params["codex_elicitation"], "exec-approval");
    assert_eq!(params["codex_call_id"], "call_1");
    assert_eq!(params["codex_mcp_tool_call_id"], "2");
    assert_eq!(
        params["codex_command"],
        json!(["bash", "-c", "touch codex-style.txt"])
    );
    assert!(params["threadId"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(params["message"]
        .as_str()
        .unwrap()
        .contains("touch codex-style.txt"));
    assert_eq!(params["requestedSchema"]["type"], "object");
    client
        .send(
            json!({"jsonrpc": "2.0", "id": elicitation["id"], "result": {"decision": "approved"}}),
        )
        .await;

    let (response, events) = client.until_response(2).await;
    let result = &response["result"];
    assert_ne!(result["isError"], true, "{result}");
    assert_eq!(result["structuredContent"]["content"], "done");
    assert_eq!(result["structuredContent"]["threadId"], params["threadId"]);
    assert!(work.path().join("codex-style.txt").is_file());
    let completed: Vec<&Value> = events
        .iter()
        .map(|e| &e["params"]["msg"])
        .filter(|m| m["type"] == "item.completed" && m["item"]["type"] == "command_execution")
        .collect();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["item"]["status"], "completed");
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
fn is_gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

/// A client that goes away mid-turn: the server interrupts the turn, kills
/// its command and exits, instead of leaving the command behind.
#[tokio::test]
async fn closing_stdin_stops_the_running_turn_and_its_command() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::function_call_turn(
        "resp_1",
        "call_1",
        "shell_command",
        r#"{"command": "echo pid=$$; exec sleep 600", "login": false}"#,
    ));
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut client = Client::start(&server, home.path());
    client.initialize(json!({})).await;
    client.codex(1, "wait", work.path(), "never").await;
    let pid: i32 = loop {
        let message = client.next().await;
        let msg = &message["params"]["msg"];
        if msg["type"] == "item.delta" && msg["item_type"] == "command_output" {
            let text = msg["delta"].as_str().unwrap();
            if let Some(pid) = text.trim().strip_prefix("pid=") {
                break pid.parse().unwrap();
            }
        }
    };
    assert!(!is_gone(pid), "the command should be running");

    drop(client.stdin.take());
    let status = tokio::time::timeout(TIMEOUT, client.child.wait())
        .await
        .expect("the server did not exit")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(is_gone(pid), "the command {pid} outlived the server");
}
