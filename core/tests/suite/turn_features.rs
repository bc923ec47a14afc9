//! Structured output, budgets, compaction and steering, end to end against
//! the mock model server on loopback, with real commands and rollout files.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codeloop_core::protocol::{
    AgentOptions, CompactionTrigger, ErrorCode, HookEvent, HookOutcome, HostToolCall,
    HostToolResult, HostToolSpec, ModelPrice, RunOptions, ThreadError, ThreadEvent, WireApi,
};
use codeloop_core::{Agent, Error, Host, Thread};
use codeloop_mock_server::{chat, responses, Reply};
use futures::StreamExt;
use serde_json::{json, Value};

use super::support::{interrupt, output_of, read_pid, wait_dead, Harness};

/// Every test's thread writes a rollout, so it can be resumed.
async fn harness() -> Harness {
    Harness::new().await.with_sessions()
}

/// A response with these items and this usage.
fn reply(id: &str, items: Vec<Value>, input_tokens: u64, output_tokens: u64) -> Reply {
    let mut events = vec![responses::created_with_id(id)];
    for item in items {
        events.push(responses::output_item_done(item));
    }
    events.push(responses::completed(id, input_tokens, output_tokens));
    responses::sse(events)
}

fn text(id: &str, text: &str) -> Reply {
    responses::text_turn(id, text)
}

/// A response with one shell call and this usage.
fn shell_reply(
    id: &str,
    call_id: &str,
    command: &str,
    input_tokens: u64,
    output_tokens: u64,
) -> Reply {
    let call = responses::function_call_item(
        call_id,
        "shell_command",
        &json!({ "command": command }).to_string(),
    );
    reply(id, vec![call], input_tokens, output_tokens)
}

/// The error of the run these events end with; panics unless it failed.
fn failed_with(events: &[ThreadEvent]) -> &ThreadError {
    match events.last() {
        Some(ThreadEvent::TurnFailed { error }) => error,
        _ => panic!("{events:#?}"),
    }
}

/// The texts of the messages of a recorded request, in order.
fn message_texts(input: &[Value]) -> Vec<String> {
    input
        .iter()
        .filter(|i| i["type"] == "message")
        .map(|i| {
            i["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["text"].as_str())
                .collect::<String>()
        })
        .collect()
}

/// The harness's options with `schema()` as the output schema.
fn with_schema(h: &Harness) -> AgentOptions {
    AgentOptions {
        output_schema: Some(schema()),
        ..h.options()
    }
}

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["pass", "fail"]},
                       "count": {"type": "integer"}},
        "required": ["verdict", "count"],
        "additionalProperties": false
    })
}

// ---------------------------------------------------------------- output

#[tokio::test]
async fn a_matching_answer_is_returned_parsed() {
    let h = harness().await;
    h.server
        .push(text("r1", r#"{"verdict": "pass", "count": 3}"#));
    let agent = Agent::new(with_schema(&h)).unwrap();
    let result = agent.start_thread().run("check it").await.unwrap();
    assert_eq!(result.output, Some(json!({"verdict": "pass", "count": 3})));
    assert_eq!(result.final_response, r#"{"verdict": "pass", "count": 3}"#);
    let body = &h.server.requests()[0].body;
    assert_eq!(body["text"]["format"]["type"], "json_schema");
    assert_eq!(body["text"]["format"]["schema"], schema());
    // The result's JSON form carries it for the fronts.
    let as_json = serde_json::to_value(&result).unwrap();
    assert_eq!(as_json["output"]["count"], 3);

    // A streamed run's `turn.completed` carries it too (and a run without
    // a schema leaves the field out, as the Codex event has none).
    h.server
        .push(text("r2", r#"{"verdict": "fail", "count": 0}"#));
    h.server.push(text("r3", "plain"));
    let thread = agent.start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("again").collect().await;
    let completed = serde_json::to_value(events.last().unwrap()).unwrap();
    assert_eq!(completed["type"], "turn.completed");
    assert_eq!(completed["output"], json!({"verdict": "fail", "count": 0}));
    let plain = Agent::new(h.options()).unwrap().start_thread();
    let events: Vec<ThreadEvent> = plain.run_streamed("no schema").collect().await;
    let completed = serde_json::to_value(events.last().unwrap()).unwrap();
    assert_eq!(completed["type"], "turn.completed");
    assert!(completed.get("output").is_none(), "{completed}");
}

/// Ends the turn from PostToolUse (`continue: false`).
struct StoppingHost;

#[async_trait]
impl Host for StoppingHost {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        Ok(match event {
            HookEvent::PostToolUse { .. } => HookOutcome {
                stop: true,
                stop_reason: Some("enough for today".into()),
                ..HookOutcome::default()
            },
            _ => HookOutcome::default(),
        })
    }
}

#[tokio::test]
async fn a_hook_ending_the_turn_before_a_final_answer_fails_a_structured_run() {
    let h = harness().await;
    h.server.push(shell_reply("r1", "c1", "true", 10, 5));
    let agent = Agent::with_host(with_schema(&h), Arc::new(StoppingHost)).unwrap();
    let err = agent.start_thread().run("check it").await.unwrap_err();
    let Error::OutputInvalid { errors } = &err else {
        panic!("{err:?}")
    };
    assert!(errors[0].contains("enough for today"), "{errors:?}");
    // Without a schema the same stop is a plain end of the turn.
    h.server.push(shell_reply("r2", "c2", "true", 10, 5));
    let agent = Agent::with_host(h.options(), Arc::new(StoppingHost)).unwrap();
    let result = agent.start_thread().run("check it").await.unwrap();
    assert_eq!(result.output, None);
    assert_eq!(h.server.requests().len(), 2, "no request after the stop");
}

#[tokio::test]
async fn a_mismatching_answer_fails_with_the_validation_errors() {
    let h = harness().await;
    h.server
        .push(text("r1", r#"{"verdict": "maybe", "count": "three"}"#));
    let agent = Agent::new(with_schema(&h)).unwrap();
    let thread = agent.start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("check it").collect().await;
    let error = failed_with(&events);
    assert_eq!(error.code, Some(ErrorCode::OutputInvalid));
    assert!(error.message.contains("/verdict"), "{}", error.message);
    assert!(error.message.contains("/count"), "{}", error.message);

    h.server.push(text("r2", r#"{"verdict": "maybe"}"#));
    let err = thread.run("again").await.unwrap_err();
    let Error::OutputInvalid { errors } = &err else {
        panic!("{err:?}")
    };
    assert!(errors.iter().any(|e| e.contains("count")), "{errors:?}");
    assert_eq!(err.code(), ErrorCode::OutputInvalid);
}

#[tokio::test]
async fn an_answer_that_is_not_json_fails() {
    let h = harness().await;
    h.server.push(text("r1", "The verdict is pass."));
    let agent = Agent::new(with_schema(&h)).unwrap();
    let err = agent.start_thread().run("check it").await.unwrap_err();
    let Error::OutputInvalid { errors } = &err else {
        panic!("{err:?}")
    };
    assert!(errors[0].contains("not JSON"), "{errors:?}");
}

#[tokio::test]
async fn a_reask_gets_a_valid_answer_on_the_second_try() {
    let h = harness().await;
    h.server.push(text("r1", r#"{"verdict": "pass"}"#));
    h.server
        .push(text("r2", r#"{"verdict": "pass", "count": 1}"#));
    let agent = Agent::new(AgentOptions {
        output_schema_retries: Some(1),
        ..with_schema(&h)
    })
    .unwrap();
    let result = agent.start_thread().run("check it").await.unwrap();
    assert_eq!(result.output, Some(json!({"verdict": "pass", "count": 1})));
    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    let texts = message_texts(requests[1].input());
    let reask = texts.last().unwrap();
    assert!(
        reask.contains("does not match") && reask.contains("count"),
        "{reask}"
    );
    assert_eq!(texts[texts.len() - 2], r#"{"verdict": "pass"}"#);
}

#[tokio::test]
async fn chat_wire_sends_response_format_and_checks_a_per_run_schema() {
    let h = harness().await;
    h.server
        .push(chat::text_turn(r#"{"verdict": "fail", "count": 0}"#));
    h.server.push(chat::text_turn("not json at all"));
    let agent = Agent::new(AgentOptions {
        wire_api: Some(WireApi::Chat),
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let run = RunOptions {
        output_schema: Some(schema()),
        ..RunOptions::default()
    };
    let result = thread.run_with("check it", run.clone()).await.unwrap();
    assert_eq!(result.output, Some(json!({"verdict": "fail", "count": 0})));
    let body = &h.server.requests()[0].body;
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["schema"], schema());
    let err = thread.run_with("again", run).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::OutputInvalid, "{err}");
}

#[tokio::test]
async fn an_invalid_schema_is_a_config_error() {
    let h = harness().await;
    let err = Agent::new(AgentOptions {
        output_schema: Some(json!({"type": "no-such-type"})),
        ..h.options()
    })
    .err()
    .unwrap();
    assert_eq!(err.code(), ErrorCode::Config, "{err}");
}

// ---------------------------------------------------------------- budgets

/// After a budget stopped a run, the thread runs again and the model sees a
/// well-formed history: the stopped call answered.
async fn resumes_cleanly(h: &Harness, thread: &Thread, call_id: &str) {
    h.server.push(text("r_after", "picked up"));
    let result = thread.run("go on").await.unwrap();
    assert_eq!(result.final_response, "picked up");
    let requests = h.server.requests();
    let input = requests.last().unwrap().input();
    assert!(output_of(input, call_id).is_some(), "{input:#?}");
    // A resumed copy from the rollout runs too.
    let resumed = Agent::new(h.options())
        .unwrap()
        .resume_thread(thread.id())
        .unwrap();
    h.server.push(text("r_resumed", "still fine"));
    assert_eq!(
        resumed.run("and again").await.unwrap().final_response,
        "still fine"
    );
}

#[tokio::test]
async fn max_tokens_stops_before_the_calls_of_the_response_that_used_it_up() {
    let h = harness().await;
    h.server
        .push(shell_reply("r1", "c1", "touch ran-anyway", 900, 200));
    let agent = Agent::new(AgentOptions {
        max_tokens: Some(1000),
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("work").collect().await;
    let error = failed_with(&events);
    assert_eq!(error.code, Some(ErrorCode::BudgetExceeded));
    assert!(
        error.message.contains("max_tokens (1000)") && error.message.contains("1100"),
        "{}",
        error.message
    );
    assert!(!h.dir.path().join("ran-anyway").exists());
    assert_eq!(thread.usage().total_tokens(), 1100);
    resumes_cleanly(&h, &thread, "c1").await;
}

#[tokio::test]
async fn max_cost_trips_with_a_price_override() {
    let h = harness().await;
    // 1 USD per 1M tokens: the budget of 0.001 USD is 1000 tokens.
    let prices = BTreeMap::from([(
        "test-model".to_string(),
        ModelPrice {
            input: 1.0,
            cached_input: None,
            output: 1.0,
        },
    )]);
    h.server.push(shell_reply("r1", "c1", "echo one", 400, 100));
    h.server.push(shell_reply("r2", "c2", "echo two", 500, 100));
    let agent = Agent::new(AgentOptions {
        max_cost_usd: Some(0.001),
        model_prices: prices,
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let err = thread.run("work").await.unwrap_err();
    let Error::BudgetExceeded(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("max_cost_usd (0.001)") && message.contains("$0.001100"),
        "{message}"
    );
    // The first call ran and was kept; the second never ran.
    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    assert!(output_of(requests[1].input(), "c1")
        .unwrap()
        .contains("one"));
    resumes_cleanly(&h, &thread, "c2").await;
}

#[tokio::test]
async fn a_cost_budget_without_a_price_fails_closed() {
    let h = harness().await;
    let err = Agent::new(AgentOptions {
        max_cost_usd: Some(1.0),
        model: Some("unpriced-local-model".into()),
        ..h.options()
    })
    .err()
    .unwrap();
    assert_eq!(err.code(), ErrorCode::Config);
    assert!(err.to_string().contains("unpriced-local-model"), "{err}");
    // A per-run cost budget is checked the same way, before anything is sent.
    let thread = h.agent().start_thread();
    let err = thread
        .run_with(
            "work",
            RunOptions {
                max_cost_usd: Some(1.0),
                ..RunOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Config, "{err}");
    assert!(h.server.requests().is_empty());
}

#[tokio::test]
async fn timeout_kills_the_running_command_and_is_a_budget_error() {
    let h = harness().await;
    h.server.push(shell_reply(
        "r1",
        "c1",
        "echo $$ > pid; exec sleep 60",
        10,
        10,
    ));
    // The command writes its pid at once; 3 s leaves a wide margin before
    // the timeout kills it.
    let agent = Agent::new(AgentOptions {
        timeout_ms: Some(3000),
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let started = Instant::now();
    let err = thread.run("work").await.unwrap_err();
    let elapsed = started.elapsed();
    let Error::BudgetExceeded(message) = &err else {
        panic!("expected a budget error, got {err:?}")
    };
    assert!(message.contains("timeout_ms (3000)"), "{message}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let pid = read_pid(&h.dir.path().join("pid"));
    assert!(
        wait_dead(pid, Duration::from_secs(10)),
        "the command still runs"
    );
    resumes_cleanly(&h, &thread, "c1").await;
}

#[tokio::test]
async fn max_turns_per_run_overrides_the_agent() {
    let h = harness().await;
    h.server.push(shell_reply("r1", "c1", "echo hi", 10, 10));
    let thread = h.agent().start_thread();
    let err = thread
        .run_with(
            "work",
            RunOptions {
                max_turns: Some(1),
                ..RunOptions::default()
            },
        )
        .await
        .unwrap_err();
    let Error::BudgetExceeded(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("max_turns (1)"), "{message}");
    resumes_cleanly(&h, &thread, "c1").await;
}

// ---------------------------------------------------------------- compaction

const SUMMARY: &str = "SUMMARY: ran the first command, it printed OLD-TOOL-OUTPUT";

#[tokio::test]
async fn a_full_context_is_compacted_and_a_resumed_thread_gets_the_same_history() {
    let h = harness().await;
    // Window 1000: compaction at 900. The first response reports 1000.
    h.server
        .push(shell_reply("r1", "c1", "echo OLD-TOOL-OUTPUT", 950, 50));
    h.server.push(reply(
        "r_sum",
        vec![responses::message_item("m_sum", SUMMARY)],
        300,
        20,
    ));
    h.server.push(reply(
        "r2",
        vec![responses::message_item("m2", "all done")],
        200,
        10,
    ));
    let agent = Agent::new(AgentOptions {
        model_context_window: Some(1000),
        ..h.options()
    })
    .unwrap();
    let thread = agent.start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("first task").collect().await;
    assert!(
        matches!(events.last(), Some(ThreadEvent::TurnCompleted { .. })),
        "{events:#?}"
    );
    let compacted: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::ThreadCompacted(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(compacted.len(), 1, "{events:#?}");
    assert_eq!(compacted[0].trigger, CompactionTrigger::Auto);
    assert_eq!(compacted[0].tokens_before, 1000);
    assert!(compacted[0].items_after < compacted[0].items_before);
    let wire = serde_json::to_value(&events[events.len() - 3..]).unwrap();
    assert!(
        wire.as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "thread.compacted"),
        "{wire}"
    );

    let requests = h.server.requests();
    assert_eq!(requests.len(), 3);
    // The summary request: the whole history plus the prompt, no tools.
    let summary_request = &requests[1];
    assert!(summary_request.tool_names().is_empty());
    assert!(output_of(summary_request.input(), "c1")
        .unwrap()
        .contains("OLD-TOOL-OUTPUT"));
    assert!(message_texts(summary_request.input())
        .last()
        .unwrap()
        .contains("handoff"));
    // The next request: opening context, the user's message, the summary.
    let next = requests[2].input();
    let texts = message_texts(next);
    assert!(texts[0].starts_with("<environment_context>"), "{texts:#?}");
    assert!(texts.iter().any(|t| t == "first task"), "{texts:#?}");
    assert!(texts.last().unwrap().ends_with(SUMMARY), "{texts:#?}");
    assert!(texts.last().unwrap().contains("context compacted"));
    assert!(
        next.iter().all(|i| i["type"] == "message"),
        "tool traffic survived: {next:#?}"
    );
    assert!(!serde_json::to_string(next).unwrap().contains("echo OLD"));

    // The rollout rebuilds exactly this history.
    let history = thread.history().await;
    let resumed = Agent::new(h.options())
        .unwrap()
        .resume_thread(thread.id())
        .unwrap();
    assert_eq!(resumed.history().await, history);
    h.server.push(text("r3", "resumed"));
    resumed.run("second task").await.unwrap();
    let texts = message_texts(h.server.requests()[3].input());
    assert!(texts.iter().any(|t| t.ends_with(SUMMARY)), "{texts:#?}");
    assert_eq!(texts.last().unwrap(), "second task");
}

#[tokio::test]
async fn manual_compact_replaces_the_history_and_keeps_it_on_failure() {
    let h = harness().await;
    h.server
        .push(shell_reply("r1", "c1", "echo TOOL-OUT", 10, 10));
    h.server.push(text("r2", "done"));
    let thread = h.agent().start_thread();
    thread.run("task one").await.unwrap();
    let before = thread.history().await;

    // A model error leaves the history as it was.
    h.server.push(Reply::error(
        400,
        "bad request",
        "invalid_request_error",
        None,
    ));
    let err = thread.compact().await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ModelApi, "{err}");
    assert_eq!(thread.history().await, before);

    h.server.push(text("r_sum", SUMMARY));
    let done = thread.compact().await.unwrap();
    assert_eq!(done.trigger, CompactionTrigger::Manual);
    // The context as the last request of the run reported it.
    assert_eq!(
        done.tokens_before,
        responses::TURN_INPUT_TOKENS + responses::TURN_OUTPUT_TOKENS
    );
    assert_eq!(done.items_before, before.len());
    let after = thread.history().await;
    assert_eq!(done.items_after, after.len());
    assert!(after.len() < before.len());
    let last = after.last().unwrap().message_text().unwrap();
    assert!(last.ends_with(SUMMARY), "{last}");

    h.server.push(text("r3", "ok"));
    thread.run("task two").await.unwrap();
    let texts = message_texts(h.server.requests().last().unwrap().input());
    assert!(texts.iter().any(|t| t == "task one"), "{texts:#?}");
    assert!(texts.iter().any(|t| t.ends_with(SUMMARY)), "{texts:#?}");
    assert_eq!(texts.last().unwrap(), "task two");
}

#[tokio::test]
async fn an_overflowing_request_is_compacted_and_asked_again() {
    let h = harness().await;
    h.server
        .push(shell_reply("r1", "c1", "echo OLD-TOOL-OUTPUT", 10, 10));
    h.server.push(Reply::context_length_exceeded());
    // The summary request overflows too: its older half is cut and it is retried.
    h.server.push(Reply::context_length_exceeded());
    h.server.push(text("r_sum", SUMMARY));
    h.server.push(text("r2", "finished"));
    // A model without a known window: only the overflow triggers compaction.
    let thread = h.agent().start_thread();
    let events: Vec<ThreadEvent> = thread.run_streamed("big task").collect().await;
    assert!(
        matches!(events.last(), Some(ThreadEvent::TurnCompleted { .. })),
        "{events:#?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, ThreadEvent::ThreadCompacted(c) if c.trigger == CompactionTrigger::Auto)
    ));
    let requests = h.server.requests();
    assert_eq!(requests.len(), 5);
    let (first_try, trimmed) = (requests[2].input(), requests[3].input());
    assert!(trimmed.len() < first_try.len(), "{trimmed:#?}");
    assert!(message_texts(trimmed).last().unwrap().contains("handoff"));
    let last = message_texts(requests[4].input());
    assert!(last.last().unwrap().ends_with(SUMMARY), "{last:#?}");

    // Switched off, an overflow fails the run.
    let h = harness().await;
    h.server.push(Reply::context_length_exceeded());
    let thread = Agent::new(AgentOptions {
        auto_compact: Some(false),
        ..h.options()
    })
    .unwrap()
    .start_thread();
    let err = thread.run("big task").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ContextWindowExceeded, "{err}");
}

#[tokio::test]
async fn compact_while_a_turn_runs_is_busy() {
    let h = harness().await;
    let (thread, stream) = h.streaming_turn().await;
    let err = thread.compact().await.unwrap_err();
    assert!(matches!(err, Error::Busy), "{err:?}");
    interrupt(&thread, stream).await;
}

// ---------------------------------------------------------------- steering

/// A response calling the host tool `check` (call c1).
fn check_call(id: &str) -> Reply {
    reply(
        id,
        vec![responses::function_call_item("c1", "check", "{}")],
        10,
        10,
    )
}

/// A thread of an agent with these options whose host tool `check` steers it.
fn steering_thread(options: AgentOptions) -> Thread {
    let host = Arc::new(SteeringHost::default());
    let agent = Agent::with_host(
        AgentOptions {
            host_tools: vec![HostToolSpec {
                name: "check".into(),
                description: "checks".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }],
            ..options
        },
        host.clone(),
    )
    .unwrap();
    let thread = agent.start_thread();
    host.thread.set(thread.clone()).ok().unwrap();
    thread
}

/// A host tool that steers the thread it runs in, then returns.
#[derive(Default)]
struct SteeringHost {
    thread: OnceLock<Thread>,
}

#[async_trait]
impl Host for SteeringHost {
    async fn call_tool(&self, _call: HostToolCall) -> HostToolResult {
        let thread = self.thread.get().unwrap();
        match thread.steer("STEERED: also update the docs") {
            Ok(()) => HostToolResult::Output {
                output: "checked".into(),
            },
            Err(e) => HostToolResult::Error {
                message: e.to_string(),
            },
        }
    }
}

#[tokio::test]
async fn steered_input_reaches_the_next_request() {
    let h = harness().await;
    let thread = steering_thread(h.options());
    h.server.push(check_call("r1"));
    h.server.push(text("r2", "done, docs too"));
    let result = thread.run("fix it").await.unwrap();
    assert_eq!(result.final_response, "done, docs too");
    let requests = h.server.requests();
    let input = requests[1].input();
    assert_eq!(output_of(input, "c1").unwrap(), "checked");
    let texts = message_texts(input);
    assert_eq!(texts.last().unwrap(), "STEERED: also update the docs");
    // After the call's output, as the API wants it.
    let last = input.last().unwrap();
    assert_eq!(last["role"], "user");

    let err = thread.steer("too late").unwrap_err();
    assert!(matches!(err, Error::NoActiveTurn), "{err:?}");
    assert_eq!(err.code(), ErrorCode::NoActiveTurn);
}

/// Steers from the Stop hook: right after the final answer, before the turn ends.
#[derive(Default)]
struct LateSteeringHost {
    thread: OnceLock<Thread>,
    stops: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Host for LateSteeringHost {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        if let HookEvent::Stop { .. } = event {
            let first = self.stops.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            if first {
                self.thread.get().unwrap().steer("one more thing")?;
            }
        }
        Ok(HookOutcome::default())
    }
}

#[tokio::test]
async fn input_steered_as_the_turn_ends_is_answered_in_the_same_turn() {
    let h = harness().await;
    let host = Arc::new(LateSteeringHost::default());
    let thread = Agent::with_host(h.options(), host.clone())
        .unwrap()
        .start_thread();
    host.thread.set(thread.clone()).ok().unwrap();
    h.server.push(text("r1", "first answer"));
    h.server.push(text("r2", "second answer"));
    let result = thread.run("task").await.unwrap();
    assert_eq!(result.final_response, "second answer");
    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    let texts = message_texts(requests[1].input());
    assert_eq!(
        texts[texts.len() - 2..],
        ["first answer".to_string(), "one more thing".to_string()]
    );
}

#[tokio::test]
async fn input_steered_into_a_failed_turn_reaches_the_next_run() {
    let h = harness().await;
    let thread = steering_thread(AgentOptions {
        max_turns: Some(1),
        ..h.options()
    });
    h.server.push(check_call("r1"));
    let err = thread.run("fix it").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::BudgetExceeded, "{err}");
    h.server.push(text("r2", "ok"));
    thread.run("continue").await.unwrap();
    let texts = message_texts(h.server.requests()[1].input());
    assert!(
        texts.iter().any(|t| t == "STEERED: also update the docs"),
        "{texts:#?}"
    );
    assert_eq!(texts.last().unwrap(), "continue");
}

#[tokio::test]
async fn steer_without_a_turn_fails() {
    let h = harness().await;
    let thread = h.agent().start_thread();
    let err = thread.steer("hello").unwrap_err();
    assert!(matches!(err, Error::NoActiveTurn), "{err:?}");
    assert!(h.server.requests().is_empty());
}
