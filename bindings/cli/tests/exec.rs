//! `codeloop exec` and `codeloop apply-patch` as a user (or `@openai/codex-sdk`)
//! runs them: the real binary, the mock model server on loopback, temp dirs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use codeloop_mock_server::responses;
use serde_json::{json, Value};

mod common;
use common::{
    background_sleep_turn, events, read_pid, run, signal_once_started, wait_dead, Env, BIN,
};

/// The command as the Codex SDK builds it: `--experimental-json`, the
/// provider named in full through `--config`.
fn codex_exec(env: &Env) -> Command {
    let mut cmd = env.exec_with("--experimental-json");
    cmd.args(["--config", "model_providers.mock.name=\"Mock\""])
        .args(["--config", "model_providers.mock.wire_api=\"responses\""]);
    cmd
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn json_events_and_resume_as_the_codex_sdk_drives_it() {
    let env = Env::new().await;
    env.server.push(responses::function_call_turn(
        "resp_1",
        "call_1",
        "shell_command",
        r#"{"command":"echo from-shell"}"#,
    ));
    env.server
        .push(responses::text_turn("resp_2", "first done"));
    let mut cmd = codex_exec(&env);
    cmd.args(["--config", "model_reasoning_effort=\"high\""])
        .args(["--config", "approval_policy=\"never\""])
        .args(["--config", "sandbox_workspace_write.network_access=true"])
        .arg("--skip-git-repo-check");
    let out = run(cmd, "list things").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = events(&out);
    assert_eq!(
        types(&evs),
        [
            "thread.started",
            "turn.started",
            "item.started",
            "item.completed",
            "item.completed",
            "turn.completed"
        ]
    );
    let thread_id = evs[0]["thread_id"].as_str().unwrap().to_string();
    let cmd_item = &evs[3]["item"];
    assert_eq!(cmd_item["type"], "command_execution");
    assert_eq!(cmd_item["id"], evs[2]["item"]["id"]);
    assert_eq!(cmd_item["exit_code"], 0);
    assert_eq!(cmd_item["status"], "completed");
    assert!(cmd_item["aggregated_output"]
        .as_str()
        .unwrap()
        .contains("from-shell"));
    assert_eq!(
        evs[4]["item"],
        json!({"id": evs[4]["item"]["id"], "type": "agent_message", "text": "first done"})
    );
    let usage = &evs[5]["usage"];
    for k in [
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
    ] {
        assert!(usage[k].is_u64(), "usage.{k} missing: {usage}");
    }
    let req = &env.server.requests()[0];
    assert_eq!(req.header("authorization"), Some("Bearer mock-secret"));
    assert_eq!(req.body["model"], "mock-model");
    assert_eq!(req.body["reasoning"]["effort"], "high");

    // A second process continues the thread from its session file.
    env.server
        .push(responses::text_turn("resp_3", "second done"));
    let mut cmd = codex_exec(&env);
    cmd.args(["resume", &thread_id]);
    let out = run(cmd, "and now?").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = events(&out);
    assert_eq!(evs[0]["thread_id"], thread_id.as_str());
    let req = &env.server.requests()[2];
    let texts: Vec<&str> = req
        .input()
        .iter()
        .filter_map(|i| i["content"][0]["text"].as_str())
        .collect();
    assert!(
        texts.ends_with(&["list things", "first done", "and now?"]),
        "{texts:?}"
    );
    assert!(req
        .input()
        .iter()
        .any(|i| i["type"] == "function_call_output" && i["call_id"] == "call_1"));
}

#[tokio::test]
async fn failed_turn_exits_non_zero_with_turn_failed() {
    let env = Env::new().await;
    env.server.push(codeloop_mock_server::Reply::unauthorized());
    let out = run(codex_exec(&env), "hi").await;
    assert_eq!(out.status.code(), Some(1));
    let evs = events(&out);
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "turn.failed");
    assert!(last["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unauthorized"));
}

#[tokio::test]
async fn refuses_to_run_outside_a_git_repo_unless_told() {
    let env = Env::new().await;
    let outside = tempfile::tempdir().unwrap();
    let mut cmd = codex_exec(&env);
    cmd.arg("--cd").arg(outside.path());
    let out = run(cmd, "hi").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip-git-repo-check"));
    assert!(env.server.requests().is_empty());
}

#[tokio::test]
async fn output_schema_and_images_reach_the_request() {
    let env = Env::new().await;
    env.server
        .push(responses::text_turn("resp_1", r#"{"ok":true}"#));
    let schema = env.repo.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}"#,
    )
    .unwrap();
    let png = env.repo.path().join("pic.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n0000").unwrap();
    let mut cmd = codex_exec(&env);
    cmd.arg("--output-schema")
        .arg(&schema)
        .arg("--image")
        .arg(&png);
    let out = run(cmd, "describe").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let req = &env.server.requests()[0];
    assert_eq!(req.body["text"]["format"]["type"], "json_schema");
    assert_eq!(
        req.body["text"]["format"]["schema"]["required"],
        json!(["ok"])
    );
    let user = req.input().last().unwrap();
    assert_eq!(user["content"][0]["text"], "describe");
    assert!(user["content"][1]["image_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
}

#[tokio::test]
async fn deltas_only_with_include_deltas() {
    let env = Env::new().await;
    for _ in 0..2 {
        env.server.push(responses::sse([
            responses::created(),
            responses::output_text_delta("Hi"),
            responses::message("m1", "Hi"),
            responses::completed("r1", 1, 1),
        ]));
    }
    let plain = run(codex_exec(&env), "x").await;
    assert!(!types(&events(&plain)).contains(&"item.delta".to_string()));
    let mut cmd = codex_exec(&env);
    cmd.arg("--include-deltas");
    let with = run(cmd, "x").await;
    assert!(types(&events(&with)).contains(&"item.delta".to_string()));
}

#[tokio::test]
async fn live_view_for_a_person() {
    let env = Env::new().await;
    env.server.push(responses::function_call_turn(
        "resp_1",
        "call_1",
        "shell_command",
        r#"{"command":"echo visible-output"}"#,
    ));
    env.server
        .push(responses::text_turn("resp_2", "All fixed."));
    let mut cmd = Command::new(BIN);
    cmd.env("CODELOOP_HOME", env.home.path())
        .env("OPENAI_API_KEY", "k")
        .env("OPENAI_BASE_URL", env.server.base_url())
        .args([
            "exec",
            "--sandbox",
            "danger-full-access",
            "--ephemeral",
            "--cd",
        ])
        .arg(env.repo.path())
        .arg("fix it");
    let out = run(cmd, "").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("> fix it"), "{stderr}");
    assert!(stderr.contains("echo visible-output"), "{stderr}");
    assert!(stderr.contains("visible-output\n"), "{stderr}");
    assert!(stderr.contains("tokens:"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "All fixed.\n");
}

fn apply_patch(dir: &Path, patch: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("apply-patch")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(patch.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn apply_patch_command_applies_or_leaves_the_tree_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "x\n").unwrap();
    let ok = apply_patch(
        dir.path(),
        "*** Begin Patch\n*** Update File: a.txt\n@@\n-x\n+y\n*** End Patch\n",
    );
    assert!(ok.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        "Success. Updated the following files:\nM a.txt\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "y\n"
    );
    let bad = apply_patch(
        dir.path(),
        "*** Begin Patch\n*** Add File: new.txt\n+n\n*** Update File: a.txt\n@@\n-nope\n+z\n*** End Patch\n",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&bad.stderr).is_empty());
    assert!(!dir.path().join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "y\n"
    );
}

/// The committed demo cassette still replays against today's agent loop and
/// really fixes the sample repo (what `make demo` shows).
#[test]
fn demo_cassette_replays_and_fixes_the_sample_repo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    for name in ["stats.py", "test_stats.py"] {
        std::fs::copy(
            root.join("examples/sample-repo").join(name),
            work.path().join(name),
        )
        .unwrap();
    }
    std::fs::create_dir(work.path().join(".git")).unwrap();
    let tests = |dir: &Path| {
        Command::new("python3")
            .args(["-m", "unittest"])
            .current_dir(dir)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(!tests(work.path()), "the sample repo should start broken");
    let out = Command::new(BIN)
        .env("CODELOOP_HOME", work.path().join(".home"))
        .args([
            "exec",
            "--json",
            "--sandbox",
            "danger-full-access",
            "--ephemeral",
        ])
        .arg("--cassette")
        .arg(root.join("examples/demo/cassette.json"))
        .arg("--cd")
        .arg(work.path())
        .arg("The tests fail (python3 -m unittest). Find the bug, fix it, and run the tests again.")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let evs = events(&out);
    assert_eq!(evs.last().unwrap()["type"], "turn.completed");
    assert!(evs.iter().any(|e| e["item"]["type"] == "file_change"));
    assert!(
        tests(work.path()),
        "the agent's fix did not make the tests pass"
    );
}

#[test]
fn replay_mismatch_names_the_difference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .env("CODELOOP_HOME", work.path().join(".home"))
        .args(["exec", "--json", "--skip-git-repo-check", "--ephemeral"])
        .arg("--cassette")
        .arg(root.join("examples/demo/cassette.json"))
        .arg("--cd")
        .arg(work.path())
        .arg("a different prompt")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let evs = events(&out);
    let message = evs.last().unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("a different prompt"), "{message}");
    assert!(message.contains("differs"), "{message}");
}

#[tokio::test]
async fn sigterm_interrupts_the_turn_and_kills_running_commands() {
    let env = Env::new().await;
    let pidfile = env.repo.path().join("grandchild.pid");
    env.server.push(background_sleep_turn("resp_1", &pidfile));
    let mut cmd = codex_exec(&env);
    cmd.arg("--include-deltas").arg("go");
    let (status, events) = signal_once_started(cmd, libc::SIGTERM).await;
    assert_eq!(status.code(), Some(130));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "turn.failed");
    assert_eq!(last["error"]["code"], "interrupted");
    let pid = read_pid(&pidfile);
    assert!(
        wait_dead(pid, std::time::Duration::from_secs(10)),
        "the command's background child {pid} outlived codeloop"
    );
}

/// `[mcp_servers.NAME]` in the user's config.toml reaches `exec`: the real
/// server-everything (installed by `make mcp-deps`) is called, and the call
/// is an `mcp_tool_call` item in the JSON events and a line in the live view.
#[tokio::test]
async fn mcp_servers_from_config_toml_are_called_and_reported() {
    let server = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        server.is_file(),
        "the MCP test servers are not installed: run `make mcp-deps` ({} is missing)",
        server.display()
    );
    let env = Env::new().await;
    std::fs::write(
        env.home.path().join("config.toml"),
        format!(
            "[mcp_servers.everything]\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\nenabled_tools = [\"echo\"]\n",
            server.display().to_string()
        ),
    )
    .unwrap();
    for _ in 0..2 {
        env.server.push(responses::function_call_turn(
            "resp_1",
            "call_1",
            "mcp__everything__echo",
            r#"{"message":"via config"}"#,
        ));
        env.server.push(responses::text_turn("resp_2", "echoed"));
    }
    let out = run(codex_exec(&env), "echo it").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out);
    let item = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "mcp_tool_call")
        .unwrap_or_else(|| panic!("no mcp_tool_call in {events:#?}"));
    assert_eq!(item["item"]["server"], "everything");
    assert_eq!(item["item"]["tool"], "echo");
    assert_eq!(item["item"]["arguments"], json!({"message": "via config"}));
    assert_eq!(item["item"]["status"], "completed");
    assert_eq!(
        item["item"]["result"]["content"][0]["text"],
        "Echo: via config"
    );
    let offered = env.server.requests()[0].body["tools"].clone();
    let mcp: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .filter(|n| n.starts_with("mcp__"))
        .collect();
    assert_eq!(mcp, ["mcp__everything__echo"]);

    // The live view for a person shows the call.
    let json = codex_exec(&env);
    let mut human = Command::new(BIN);
    human.env_clear();
    for (key, value) in json.get_envs() {
        if let Some(value) = value {
            human.env(key, value);
        }
    }
    human.args(json.get_args().filter(|a| *a != "--experimental-json"));
    let out = run(human, "echo it").await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("everything.echo"), "{stderr}");
}
