//! The agent loop end to end: real HTTP to the mock model server on loopback,
//! real subprocesses and files in temp dirs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use codeloop_core::protocol::{
    AgentOptions, CommandStatus, ErrorCode, HookDecision, HookEvent, HookOutcome, HostToolCall,
    HostToolResult, HostToolSpec, ItemDetails, PatchStatus, SandboxMode, ThreadEvent,
    ToolCallStatus, WireApi,
};
use codeloop_core::{Agent, Error, Host};
use codeloop_mock_server::{chat, responses, Reply};
use futures::StreamExt;
use serde_json::{json, Value};

use super::support::{call, interrupt, output_for, read_pid, wait_dead, Harness};

/// Two retries, as `retries_are_reported_as_error_events_and_the_turn_succeeds`
/// counts them.
async fn harness() -> Harness {
    Harness::new().await.with_retries(2)
}

async fn collect(stream: codeloop_core::EventStream) -> Vec<ThreadEvent> {
    stream.collect().await
}

/// The first text of every input item that has one.
fn first_texts(input: &[Value]) -> Vec<String> {
    input
        .iter()
        .filter_map(|i| i["content"][0]["text"].as_str().map(String::from))
        .collect()
}

fn completed_items(events: &[ThreadEvent]) -> Vec<ItemDetails> {
    events
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::ItemCompleted { item } => Some(item.details.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn text_turn_emits_codex_event_sequence_and_request_shape() {
    let h = harness().await;
    h.server.push(responses::text_turn("resp_1", "Hello there"));
    let thread = h.agent().start_thread();
    let events = collect(thread.run_streamed("say hello")).await;

    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| !matches!(e, ThreadEvent::ItemDelta { .. }))
        .map(|e| match e {
            ThreadEvent::ThreadStarted { .. } => "thread.started",
            ThreadEvent::TurnStarted {} => "turn.started",
            ThreadEvent::ItemCompleted { .. } => "item.completed",
            ThreadEvent::TurnCompleted { .. } => "turn.completed",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "thread.started",
            "turn.started",
            "item.completed",
            "turn.completed"
        ]
    );
    assert_eq!(
        events[0],
        ThreadEvent::ThreadStarted {
            thread_id: thread.id().to_string()
        }
    );
    assert_eq!(
        completed_items(&events),
        vec![ItemDetails::AgentMessage {
            text: "Hello there".into()
        }]
    );
    let req = &h.server.requests()[0];
    assert_eq!(req.path, "/v1/responses");
    assert_eq!(req.header("authorization"), Some("Bearer test-key"));
    assert_eq!(req.body["model"], "test-model");
    assert_eq!(req.body["stream"], true);
    assert_eq!(req.body["prompt_cache_key"], thread.id());
    assert!(req.body["instructions"]
        .as_str()
        .unwrap()
        .contains("codeloop"));
    let input = req.input();
    assert!(input[0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("<environment_context>"));
    assert_eq!(input.last().unwrap()["content"][0]["text"], "say hello");
    let tools = req.tool_names();
    for t in [
        "shell_command",
        "apply_patch",
        "update_plan",
        "view_image",
        "read_file",
    ] {
        assert!(tools.contains(&t.to_string()), "{t} missing from {tools:?}");
    }
}

#[tokio::test]
async fn shell_call_runs_and_output_goes_back_to_the_model() {
    let h = harness().await;
    h.server.push(call(
        "c1",
        "shell_command",
        json!({"command": "echo out-$((40+2)); echo err >&2; exit 3"}),
    ));
    h.server.push(responses::text_turn("resp_2", "done"));
    let thread = h.agent().start_thread();
    let events = collect(thread.run_streamed("run it")).await;

    let started = events.iter().find_map(|e| match e {
        ThreadEvent::ItemStarted { item } => Some(item.clone()),
        _ => None,
    });
    let started = started.expect("command item started");
    match &started.details {
        ItemDetails::CommandExecution {
            status, exit_code, ..
        } => {
            assert_eq!(*status, CommandStatus::InProgress);
            assert_eq!(*exit_code, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    let items = completed_items(&events);
    match &items[0] {
        ItemDetails::CommandExecution {
            aggregated_output,
            exit_code,
            status,
            command,
        } => {
            assert!(command.contains("echo out-"), "{command}");
            assert!(aggregated_output.contains("out-42"));
            assert!(aggregated_output.contains("err"));
            assert_eq!(*exit_code, Some(3));
            assert_eq!(*status, CommandStatus::Failed);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        events.last(),
        Some(ThreadEvent::TurnCompleted { .. })
    ));
    let second = &h.server.requests()[1];
    let out = output_for(second.input(), "c1");
    assert!(out.starts_with("Exit code: 3\nWall time: "), "{out}");
    assert!(out.contains("Output:\n") && out.contains("out-42"), "{out}");
}

/// A write the sandbox stops fails like any other command: the model gets
/// the error and the turn goes on.
#[tokio::test]
async fn sandbox_failures_go_back_to_the_model_and_the_turn_goes_on() {
    let h = harness().await;
    // Outside every writable root (/tmp, where the workspace is, is one).
    let outside = tempfile::tempdir_in(super::support::lab_parent()).unwrap();
    let marker = outside.path().join("ran");
    h.server.push(call(
        "c1",
        "shell_command",
        json!({"command": format!("touch {}", marker.display())}),
    ));
    h.server.push(responses::text_turn("resp_2", "ok"));
    let agent = Agent::new(AgentOptions {
        sandbox: Some(SandboxMode::WorkspaceWrite),
        ..h.options()
    })
    .unwrap();
    let result = agent.start_thread().run("touch it").await.unwrap();
    assert!(!marker.exists(), "the command escaped the sandbox");
    match &result.items[0].details {
        ItemDetails::CommandExecution {
            status, exit_code, ..
        } => {
            assert_eq!(*status, CommandStatus::Failed);
            assert_eq!(*exit_code, Some(1));
        }
        other => panic!("unexpected {other:?}"),
    }
    let out = output_for(h.server.requests()[1].input(), "c1");
    assert!(out.starts_with("Exit code: 1"), "{out}");
    assert!(out.contains("touch: cannot touch"), "{out}");
    assert_eq!(result.final_response, "ok");
}

#[tokio::test]
async fn apply_patch_freeform_call_changes_files() {
    let h = harness().await;
    std::fs::write(h.dir.path().join("a.txt"), "one\ntwo\n").unwrap();
    let patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+TWO\n*** Add File: b.txt\n+new\n*** End Patch";
    h.server.push(responses::turn(
        "resp_1",
        [responses::custom_tool_call_item("p1", "apply_patch", patch)],
    ));
    h.server.push(responses::text_turn("resp_2", "patched"));
    let result = h.agent().start_thread().run("patch").await.unwrap();
    assert_eq!(
        std::fs::read_to_string(h.dir.path().join("a.txt")).unwrap(),
        "one\nTWO\n"
    );
    assert_eq!(
        std::fs::read_to_string(h.dir.path().join("b.txt")).unwrap(),
        "new\n"
    );
    match &result.items[0].details {
        ItemDetails::FileChange { changes, status } => {
            assert_eq!(*status, PatchStatus::Completed);
            assert_eq!(changes.len(), 2);
        }
        other => panic!("unexpected {other:?}"),
    }
    let req = &h.server.requests()[1];
    let out = req
        .input()
        .iter()
        .find(|i| i["type"] == "custom_tool_call_output")
        .unwrap();
    assert_eq!(out["call_id"], "p1");
    assert!(out["output"]
        .as_str()
        .unwrap()
        .starts_with("Success. Updated the following files:"));
}

#[tokio::test]
async fn parallel_calls_all_answered_in_order_and_unknown_tools_and_bad_json_are_tool_errors() {
    let h = harness().await;
    std::fs::write(h.dir.path().join("f.txt"), "alpha\n").unwrap();
    h.server.push(responses::turn(
        "resp_1",
        [
            responses::function_call_item("r1", "read_file", r#"{"file_path":"f.txt"}"#),
            responses::function_call_item("r2", "list_dir", r#"{"dir_path":"."}"#),
            responses::function_call_item("u1", "no_such_tool", "{}"),
            responses::function_call_item("b1", "shell_command", "{not json"),
        ],
    ));
    h.server.push(responses::text_turn("resp_2", "fine"));
    let result = h.agent().start_thread().run("go").await.unwrap();
    assert_eq!(result.final_response, "fine");
    let input = h.server.requests()[1].input().to_vec();
    let order: Vec<&str> = input
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| i["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["r1", "r2", "u1", "b1"]);
    assert!(output_for(&input, "r1").contains("alpha"));
    assert!(output_for(&input, "r2").contains("f.txt"));
    assert!(output_for(&input, "u1").contains("unknown tool `no_such_tool`"));
    assert!(output_for(&input, "b1").contains("invalid arguments for tool `shell_command`"));
}

#[tokio::test]
async fn max_turns_stops_the_run_with_a_budget_error() {
    let h = harness().await;
    h.server
        .push(call("c1", "shell_command", json!({"command": "true"})));
    h.server
        .push(call("c2", "shell_command", json!({"command": "true"})));
    let agent = Agent::new(AgentOptions {
        max_turns: Some(2),
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let events = collect(thread.run_streamed("loop")).await;
    match events.last() {
        Some(ThreadEvent::TurnFailed { error }) => {
            assert_eq!(error.code, Some(ErrorCode::BudgetExceeded));
            assert!(error.message.contains("max_turns (2)"), "{}", error.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        completed_items(&events).len(),
        2,
        "the items so far are kept"
    );
    assert_eq!(h.server.requests().len(), 2);
}

#[tokio::test]
async fn usage_is_cumulative_across_turns() {
    let h = harness().await;
    h.server.push(responses::sse([
        responses::created(),
        responses::message("m1", "a"),
        responses::completed_with_details("r1", 100, 20, 30, 5),
    ]));
    h.server.push(responses::sse([
        responses::created(),
        responses::message("m2", "b"),
        responses::completed_with_details("r2", 200, 80, 10, 0),
    ]));
    let thread = h.agent().start_thread();
    let first = thread.run("one").await.unwrap();
    assert_eq!(first.usage.input_tokens, 100);
    assert_eq!(first.usage.cached_input_tokens, 20);
    assert_eq!(first.usage.output_tokens, 30);
    assert_eq!(first.usage.reasoning_output_tokens, 5);
    let second = thread.run("two").await.unwrap();
    assert_eq!(second.usage.input_tokens, 300);
    assert_eq!(second.usage.cached_input_tokens, 100);
    assert_eq!(second.usage.output_tokens, 40);
    // The second request carries the whole history: both prompts and the first answer.
    let texts = first_texts(h.server.requests()[1].input());
    assert!(
        texts.ends_with(&["one".into(), "a".into(), "two".into()]),
        "{texts:?}"
    );
}

#[tokio::test]
async fn interrupt_kills_the_command_group_and_the_thread_runs_again() {
    let h = harness().await;
    let pidfile = h.dir.path().join("grandchild.pid");
    h.server.push(call(
        "c1",
        "shell_command",
        json!({"command": format!("sleep 300 & echo $! > {}; echo started; wait", pidfile.display())}),
    ));
    h.server.push(responses::text_turn("resp_2", "after"));
    let thread = h.agent().start_thread();
    let mut stream = thread.run_streamed("sleep");
    let begun = std::time::Instant::now();
    let mut failed = None;
    while let Some(event) = stream.next().await {
        match &event {
            ThreadEvent::ItemDelta { delta, .. } if delta.contains("started") => thread.interrupt(),
            ThreadEvent::TurnFailed { error } => failed = Some(error.clone()),
            _ => {}
        }
    }
    let error = failed.expect("turn.failed");
    assert_eq!(error.code, Some(ErrorCode::Interrupted));
    assert!(begun.elapsed() < Duration::from_secs(60));
    let pid = read_pid(&pidfile);
    assert!(
        wait_dead(pid, Duration::from_secs(10)),
        "grandchild {pid} survived the interrupt"
    );

    // The thread is usable again and its history answers the interrupted call.
    let result = thread.run("again").await.unwrap();
    assert_eq!(result.final_response, "after");
    let out = output_for(h.server.requests()[1].input(), "c1");
    assert!(!out.is_empty());
}

#[tokio::test]
async fn a_second_run_while_one_is_running_is_busy() {
    let h = harness().await;
    let (thread, first) = h.streaming_turn().await;
    let err = thread.run("two").await.unwrap_err();
    assert!(matches!(err, Error::Busy), "{err:?}");
    interrupt(&thread, first).await;
}

#[derive(Default)]
struct RecordingHost {
    hooks: Mutex<Vec<String>>,
    tool_calls: AtomicUsize,
}

#[async_trait]
impl Host for RecordingHost {
    async fn call_tool(&self, call: HostToolCall) -> HostToolResult {
        self.tool_calls.fetch_add(1, Ordering::SeqCst);
        match call.arguments["id"].as_str() {
            Some("BUG-1") => HostToolResult::Output {
                output: "ticket BUG-1: median is wrong".into(),
            },
            _ => HostToolResult::Error {
                message: "no such ticket".into(),
            },
        }
    }

    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        let name = match &event {
            HookEvent::SessionStart { .. } => "SessionStart".to_string(),
            HookEvent::UserPromptSubmit { .. } => "UserPromptSubmit".to_string(),
            HookEvent::PreToolUse { tool_name, .. } => format!("PreToolUse:{tool_name}"),
            HookEvent::PostToolUse { tool_name, .. } => format!("PostToolUse:{tool_name}"),
            HookEvent::Stop { .. } => "Stop".to_string(),
        };
        self.hooks.lock().unwrap().push(name);
        if let HookEvent::PreToolUse { tool_name, .. } = &event {
            if tool_name == "Bash" {
                return Ok(HookOutcome {
                    decision: HookDecision::Deny,
                    reason: Some("no shell today".into()),
                    ..HookOutcome::default()
                });
            }
        }
        Ok(HookOutcome::default())
    }
}

#[tokio::test]
async fn host_tools_and_hooks_go_through_the_host() {
    let h = harness().await;
    let marker = h.dir.path().join("ran");
    h.server.push(responses::turn(
        "resp_1",
        [
            responses::function_call_item("t1", "lookup_ticket", r#"{"id":"BUG-1"}"#),
            responses::function_call_item("t2", "lookup_ticket", r#"{"id":"NOPE"}"#),
            responses::function_call_item(
                "s1",
                "shell_command",
                &json!({"command": format!("touch {}", marker.display())}).to_string(),
            ),
        ],
    ));
    h.server.push(responses::text_turn("resp_2", "done"));
    let host = Arc::new(RecordingHost::default());
    let agent = Agent::with_host(
        AgentOptions {
            host_tools: vec![HostToolSpec {
                name: "lookup_ticket".into(),
                description: "Look up a ticket".into(),
                parameters: json!({"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}),
            }],
            ..h.options()
        },
        host.clone(),
    )
    .unwrap();
    let result = agent.start_thread().run("check BUG-1").await.unwrap();
    assert_eq!(host.tool_calls.load(Ordering::SeqCst), 2);
    assert!(
        !marker.exists(),
        "the PreToolUse hook did not block the shell"
    );
    let input = h.server.requests()[1].input().to_vec();
    assert_eq!(output_for(&input, "t1"), "ticket BUG-1: median is wrong");
    assert!(output_for(&input, "t2").contains("no such ticket"));
    assert!(output_for(&input, "s1").contains("no shell today"));
    let statuses: Vec<ToolCallStatus> = result
        .items
        .iter()
        .filter_map(|i| match &i.details {
            ItemDetails::ToolCall { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [ToolCallStatus::Completed, ToolCallStatus::Failed]
    );
    assert!(h.server.requests()[0]
        .tool_names()
        .contains(&"lookup_ticket".to_string()));
    let hooks = host.hooks.lock().unwrap().clone();
    assert_eq!(hooks[0], "SessionStart");
    assert_eq!(hooks[1], "UserPromptSubmit");
    assert!(hooks.contains(&"PreToolUse:lookup_ticket".to_string()));
    assert!(hooks.contains(&"PostToolUse:lookup_ticket".to_string()));
    assert!(hooks.contains(&"PreToolUse:Bash".to_string()));
    assert_eq!(hooks.last().unwrap(), "Stop");
}

#[tokio::test]
async fn resume_continues_from_the_rollout_file() {
    let h = harness().await.with_sessions();
    h.server
        .push(responses::text_turn("resp_1", "first answer"));
    h.server
        .push(responses::text_turn("resp_2", "second answer"));
    let id = {
        let thread = h.agent().start_thread();
        thread.run("first question").await.unwrap();
        thread.id().to_string()
    };
    let resumed = h.agent().resume_thread(&id).unwrap();
    assert_eq!(resumed.id(), id);
    let result = resumed.run("second question").await.unwrap();
    assert_eq!(result.final_response, "second answer");
    let texts = first_texts(h.server.requests()[1].input());
    let n = texts.len();
    assert_eq!(
        texts[n - 3..],
        ["first question", "first answer", "second question"]
    );
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.starts_with("<environment_context>"))
            .count(),
        1,
        "a resumed thread is not primed twice"
    );
}

/// Records the `source` of every SessionStart hook and adds context to it.
#[derive(Default)]
struct SessionStartHost {
    sources: Mutex<Vec<String>>,
}

#[async_trait]
impl Host for SessionStartHost {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        if let HookEvent::SessionStart { source, .. } = &event {
            self.sources.lock().unwrap().push(source.clone());
            return Ok(HookOutcome {
                additional_context: Some(format!("context for {source}")),
                ..HookOutcome::default()
            });
        }
        Ok(HookOutcome::default())
    }
}

#[tokio::test]
async fn session_start_runs_once_per_thread_object_with_startup_then_resume() {
    let h = harness().await.with_sessions();
    for (i, text) in ["a", "b", "c"].iter().enumerate() {
        h.server
            .push(responses::text_turn(&format!("resp_{i}"), text));
    }
    let host = Arc::new(SessionStartHost::default());
    let agent = Agent::with_host(h.options(), host.clone()).unwrap();
    let thread = agent.start_thread();
    thread.run("one").await.unwrap();
    thread.run("two").await.unwrap();
    assert_eq!(*host.sources.lock().unwrap(), ["startup"]);
    let resumed = agent.resume_thread(thread.id()).unwrap();
    resumed.run("three").await.unwrap();
    assert_eq!(*host.sources.lock().unwrap(), ["startup", "resume"]);
    let texts = first_texts(h.server.requests()[2].input());
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.starts_with("context for "))
            .cloned()
            .collect::<Vec<_>>(),
        ["context for startup", "context for resume"]
    );
}

#[tokio::test]
async fn deltas_share_the_id_of_the_completed_message() {
    let h = harness().await;
    h.server.push(responses::sse([
        responses::created(),
        responses::output_item_added(
            json!({"type":"message","id":"m1","role":"assistant","content":[]}),
        ),
        responses::output_text_delta("Hel"),
        responses::output_text_delta("lo"),
        responses::message("m1", "Hello"),
        responses::completed("r1", 1, 1),
    ]));
    let events = collect(h.agent().start_thread().run_streamed("hi")).await;
    let deltas: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::ItemDelta { item_id, delta, .. } => Some((item_id.clone(), delta.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(deltas.len(), 2);
    let completed = events
        .iter()
        .find_map(|e| match e {
            ThreadEvent::ItemCompleted { item } => Some(item.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(deltas[0].0, completed.id);
    assert_eq!(deltas[1].0, completed.id);
    assert_eq!(format!("{}{}", deltas[0].1, deltas[1].1), "Hello");
}

#[tokio::test]
async fn update_plan_item_completes_at_turn_end() {
    let h = harness().await;
    h.server.push(call(
        "p1",
        "update_plan",
        json!({"plan":[{"step":"look","status":"completed"},{"step":"fix","status":"in_progress"}]}),
    ));
    h.server.push(responses::text_turn("resp_2", "planned"));
    let events = collect(h.agent().start_thread().run_streamed("plan")).await;
    let todo_started = events.iter().position(|e| {
        matches!(e, ThreadEvent::ItemStarted { item } if matches!(item.details, ItemDetails::TodoList { .. }))
    });
    let todo_completed = events.iter().position(|e| {
        matches!(e, ThreadEvent::ItemCompleted { item } if matches!(item.details, ItemDetails::TodoList { .. }))
    });
    let message = events.iter().position(|e| {
        matches!(e, ThreadEvent::ItemCompleted { item } if matches!(item.details, ItemDetails::AgentMessage { .. }))
    });
    assert!(todo_started.unwrap() < message.unwrap());
    assert!(todo_completed.unwrap() > message.unwrap());
}

#[tokio::test]
async fn retries_are_reported_as_error_events_and_the_turn_succeeds() {
    let h = harness().await;
    h.server.push(Reply::server_error());
    h.server.push(responses::text_turn("resp_1", "recovered"));
    let events = collect(h.agent().start_thread().run_streamed("hi")).await;
    assert!(events.iter().any(
        |e| matches!(e, ThreadEvent::Error { message } if message.contains("Reconnecting... 1/2"))
    ));
    assert!(matches!(
        events.last(),
        Some(ThreadEvent::TurnCompleted { .. })
    ));
    assert_eq!(h.server.requests().len(), 2);
}

#[tokio::test]
async fn fatal_model_errors_fail_the_turn_with_their_kind() {
    let h = harness().await;
    h.server.push(Reply::unauthorized());
    let err = h.agent().start_thread().run("hi").await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert_eq!(h.server.requests().len(), 1, "401 is not retried");
}

#[tokio::test]
async fn chat_provider_runs_a_tool_loop() {
    let h = harness().await;
    h.server.push(chat::tool_calls_turn(&[(
        "call_a",
        "shell_command",
        r#"{"command":"echo via-chat"}"#,
    )]));
    h.server.push(chat::text_turn("chat done"));
    let agent = Agent::new(AgentOptions {
        wire_api: Some(WireApi::Chat),
        ..h.options()
    })
    .unwrap();
    let result = agent.start_thread().run("use chat").await.unwrap();
    assert_eq!(result.final_response, "chat done");
    let reqs = h.server.requests();
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    // apply_patch is offered as a function on chat: there are no freeform tools.
    let apply = reqs[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "apply_patch")
        .cloned()
        .unwrap();
    assert_eq!(apply["type"], "function");
    let tool_msg = reqs[1]
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .unwrap();
    assert_eq!(tool_msg["tool_call_id"], "call_a");
    assert!(tool_msg["content"].as_str().unwrap().contains("via-chat"));
}

struct PanickingHost;

#[async_trait]
impl Host for PanickingHost {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        if let HookEvent::UserPromptSubmit { prompt, .. } = &event {
            if prompt == "boom" {
                panic!("host bug");
            }
        }
        Ok(HookOutcome::default())
    }
}

#[tokio::test]
async fn a_panicking_callback_fails_the_turn_and_the_thread_stays_usable() {
    let h = harness().await;
    h.server.push(responses::text_turn("resp_1", "fine"));
    let agent = Agent::with_host(h.options(), Arc::new(PanickingHost)).unwrap();
    let thread = agent.start_thread();
    let err = thread.run("boom").await.unwrap_err();
    match err {
        Error::Internal(message) => assert!(message.contains("host bug"), "{message}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(thread.run("calm").await.unwrap().final_response, "fine");
}

struct StuckHost;

#[async_trait]
impl Host for StuckHost {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        if matches!(event, HookEvent::UserPromptSubmit { .. }) {
            futures::future::pending::<()>().await;
        }
        Ok(HookOutcome::default())
    }
}

#[tokio::test]
async fn interrupt_does_not_wait_for_a_stuck_hook() {
    let h = harness().await;
    let agent = Agent::with_host(h.options(), Arc::new(StuckHost)).unwrap();
    let thread = agent.start_thread();
    let mut stream = thread.run_streamed("hi");
    let mut last = None;
    while let Some(event) = stream.next().await {
        if matches!(event, ThreadEvent::TurnStarted {}) {
            thread.interrupt();
        }
        last = Some(event);
    }
    match last {
        Some(ThreadEvent::TurnFailed { error }) => {
            assert_eq!(error.code, Some(ErrorCode::Interrupted))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(h.server.requests().is_empty());
}

#[tokio::test]
async fn back_to_back_runs_never_see_a_busy_thread() {
    let h = harness().await;
    let n = 30;
    for i in 0..n {
        h.server.push(responses::text_turn(
            &format!("resp_{i}"),
            &format!("answer {i}"),
        ));
    }
    let thread = h.agent().start_thread();
    for i in 0..n {
        let result = thread.run(format!("q{i}")).await.unwrap();
        assert_eq!(result.final_response, format!("answer {i}"));
    }
    // Usage is readable without waiting and adds up every turn's usage.
    let per_turn = thread.usage().input_tokens / n as u64;
    assert!(per_turn > 0);
    assert_eq!(thread.usage().input_tokens, per_turn * n as u64);
}

#[tokio::test]
async fn a_failed_run_keeps_the_original_error() {
    let h = harness().await;
    h.server.push(Reply::error(
        404,
        "The model `nope` does not exist",
        "invalid_request_error",
        Some("model_not_found"),
    ));
    let err = h.agent().start_thread().run("hi").await.unwrap_err();
    match err {
        Error::Api { status, message } => {
            assert_eq!(status, 404);
            assert!(message.contains("does not exist"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn host_tools_cannot_take_built_in_names() {
    let h = harness().await;
    for name in ["shell", "local_shell", "read_file", "apply_patch"] {
        let err = Agent::new(AgentOptions {
            host_tools: vec![HostToolSpec {
                name: name.into(),
                description: String::new(),
                parameters: json!({"type": "object"}),
            }],
            ..h.options()
        })
        .err()
        .unwrap_or_else(|| panic!("host tool `{name}` was accepted"));
        assert!(err.to_string().contains("built-in"), "{err}");
    }
}

#[tokio::test]
async fn commands_get_the_agents_environment_policy() {
    let h = harness().await;
    h.server.push(call(
        "c1",
        "shell_command",
        json!({"command": "echo \"flag=$CODELOOP_FLAG\"", "login": false}),
    ));
    h.server.push(responses::text_turn("resp_2", "ok"));
    let mut policy = codeloop_core::protocol::EnvPolicy::default();
    policy.set.insert("CODELOOP_FLAG".into(), "on".into());
    let agent = Agent::new(AgentOptions {
        shell_environment_policy: Some(policy),
        ..h.options()
    })
    .unwrap();
    agent.start_thread().run("env").await.unwrap();
    assert!(output_for(h.server.requests()[1].input(), "c1").contains("flag=on"));
    let mut bad = codeloop_core::protocol::EnvPolicy::default();
    bad.exclude.push("[".into());
    assert!(Agent::new(AgentOptions {
        shell_environment_policy: Some(bad),
        ..h.options()
    })
    .is_err());
}

#[tokio::test]
async fn an_interrupt_before_the_model_request_sends_nothing() {
    let h = harness().await;
    h.server.push(responses::text_turn("resp_1", "never asked"));
    let thread = h.agent().start_thread();
    for _ in 0..20 {
        let stream = thread.run_streamed("hi");
        thread.interrupt();
        let events: Vec<ThreadEvent> = stream.collect().await;
        match events.last() {
            Some(ThreadEvent::TurnFailed { error }) => {
                assert_eq!(error.code, Some(ErrorCode::Interrupted))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        h.server.requests().is_empty(),
        "an interrupted turn reached the model"
    );
}

/// Adds context in PreToolUse only.
struct PreContextHost;

#[async_trait]
impl Host for PreContextHost {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        Ok(match event {
            HookEvent::PreToolUse { .. } => HookOutcome {
                additional_context: Some("pre-note: mind the tests".into()),
                ..HookOutcome::default()
            },
            _ => HookOutcome::default(),
        })
    }
}

#[tokio::test]
async fn pre_tool_use_context_reaches_the_model_with_the_result() {
    let h = harness().await;
    h.server.push(responses::function_call_turn(
        "resp_1",
        "s1",
        "shell_command",
        &json!({"command": "echo ran-it", "login": false}).to_string(),
    ));
    h.server.push(responses::text_turn("resp_2", "done"));
    let agent = Agent::with_host(h.options(), Arc::new(PreContextHost)).unwrap();
    agent.start_thread().run("go").await.unwrap();
    let output = output_for(h.server.requests()[1].input(), "s1");
    assert!(output.contains("ran-it"), "{output}");
    assert!(output.contains("pre-note: mind the tests"), "{output}");
}
