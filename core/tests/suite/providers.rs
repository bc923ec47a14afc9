//! Model providers through the real HTTP stack against the mock model server
//! on loopback: Responses and Chat streaming, request shapes, error mapping,
//! retries (via `run_request`), and cassette record/replay.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeloop_core::model::provider::{builtin_provider_ids, BUILTIN_PROVIDERS};
use codeloop_core::model::replay::{load_cassette, ReplayClient};
use codeloop_core::model::retry::{run_request, CompletedResponse, Progress};
use codeloop_core::model::sse::MAX_EVENT_BYTES;
use codeloop_core::model::{
    build_client, ModelClient, ModelRequest, ProviderConfig, ReasoningConfig, ResponseEvent,
};
use codeloop_core::protocol::{
    AgentOptions, ContentItem, ReasoningContent, ReasoningEffort, ReasoningSummary,
    ReasoningSummaryMode, ResponseItem, ToolSpec, Usage, WireApi,
};
use codeloop_core::Error;
use codeloop_mock_server::{chat, responses, MockServer, Reply, SseEvent};
use serde_json::json;

// ---------------------------------------------------------------- helpers

fn options(server: &MockServer, wire: WireApi) -> AgentOptions {
    AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        provider: Some("mock".into()),
        base_url: Some(server.base_url()),
        wire_api: Some(wire),
        api_key: Some("sk-test".into()),
        request_max_retries: Some(3),
        stream_max_retries: Some(3),
        stream_idle_timeout_ms: Some(10_000),
        ..AgentOptions::default()
    }
}

fn client_with(options: &AgentOptions) -> Arc<dyn ModelClient> {
    let mut config = ProviderConfig::resolve(options, &|_| None).unwrap();
    // Retries in tests should not wait the production 200 ms × 2^n.
    config.retry.base_delay = Duration::from_millis(1);
    build_client(&config).unwrap()
}

fn client(server: &MockServer, wire: WireApi) -> Arc<dyn ModelClient> {
    client_with(&options(server, wire))
}

fn request(text: &str) -> ModelRequest {
    ModelRequest {
        model: "gpt-test".into(),
        instructions: None,
        input: vec![ResponseItem::user_text(text)],
        tools: vec![],
        parallel_tool_calls: false,
        reasoning: None,
        output_schema: None,
        prompt_cache_key: None,
    }
}

fn shell_tool() -> ToolSpec {
    ToolSpec::Function {
        name: "shell_command".into(),
        description: "Run a command".into(),
        strict: false,
        parameters: json!({
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
            "additionalProperties": false
        }),
    }
}

fn patch_tool() -> ToolSpec {
    ToolSpec::Custom {
        name: "apply_patch".into(),
        description: "Edit files".into(),
        format: json!({"type": "grammar", "syntax": "lark", "definition": "start: x"}),
    }
}

async fn run(
    client: &Arc<dyn ModelClient>,
    request: &ModelRequest,
) -> (codeloop_core::Result<CompletedResponse>, Vec<Progress>) {
    let mut progress = Vec::new();
    let result = run_request(client.as_ref(), request, &mut |p| progress.push(p)).await;
    (result, progress)
}

fn retries(progress: &[Progress]) -> Vec<(u32, Duration, String)> {
    progress
        .iter()
        .filter_map(|p| match p {
            Progress::Retrying {
                attempt,
                delay,
                message,
                ..
            } => Some((*attempt, *delay, message.clone())),
            _ => None,
        })
        .collect()
}

fn text_deltas(progress: &[Progress]) -> Vec<String> {
    progress
        .iter()
        .filter_map(|p| match p {
            Progress::TextDelta(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

fn assistant(text: &str) -> ResponseItem {
    ResponseItem::Message {
        id: None,
        role: "assistant".into(),
        content: vec![ContentItem::OutputText { text: text.into() }],
    }
}

/// Items as compared across providers: server-assigned ids dropped.
fn without_ids(items: Vec<ResponseItem>) -> Vec<ResponseItem> {
    items
        .into_iter()
        .map(|item| match item {
            ResponseItem::Message { role, content, .. } => ResponseItem::Message {
                id: None,
                role,
                content,
            },
            ResponseItem::FunctionCall {
                name,
                arguments,
                call_id,
                ..
            } => ResponseItem::FunctionCall {
                id: None,
                name,
                arguments,
                call_id,
            },
            ResponseItem::CustomToolCall {
                name,
                input,
                call_id,
                ..
            } => ResponseItem::CustomToolCall {
                id: None,
                name,
                input,
                call_id,
            },
            other => other,
        })
        .collect()
}

// ------------------------------------------------------------- responses

#[tokio::test]
async fn responses_streams_text_and_usage_even_split_mid_character() {
    let server = MockServer::start().await.unwrap();
    server.push(
        Reply::responses([
            responses::created_with_id("resp_1"),
            responses::output_item_added(json!({
                "type": "message", "id": "msg_1", "role": "assistant", "content": []
            })),
            responses::output_text_delta("Héllo, "),
            responses::output_text_delta("wörld 🌍"),
            responses::message("msg_1", "Héllo, wörld 🌍"),
            responses::completed_with_details("resp_1", 1200, 1000, 30, 7),
        ])
        // Tiny pieces split events, lines and UTF-8 sequences.
        .chunked_by(5),
    );
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;
    let done = result.unwrap();

    assert_eq!(done.response_id, "resp_1");
    assert_eq!(without_ids(done.items), vec![assistant("Héllo, wörld 🌍")]);
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 1200,
            cached_input_tokens: 1000,
            output_tokens: 30,
            reasoning_output_tokens: 7,
        }
    );
    assert_eq!(text_deltas(&progress), vec!["Héllo, ", "wörld 🌍"]);
    assert!(progress
        .iter()
        .any(|p| matches!(p, Progress::ItemAdded(ResponseItem::Message { .. }))));
}

#[tokio::test]
async fn responses_yields_function_and_custom_tool_calls() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::turn(
        "resp_tools",
        [
            responses::function_call_item("call_1", "shell_command", r#"{"command":"ls -la"}"#),
            responses::custom_tool_call_item(
                "call_2",
                "apply_patch",
                "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n",
            ),
        ],
    ));
    let client = client(&server, WireApi::Responses);

    let done = run(&client, &request("go")).await.0.unwrap();

    assert_eq!(
        done.items,
        vec![
            ResponseItem::FunctionCall {
                id: Some("fc_call_1".into()),
                name: "shell_command".into(),
                arguments: r#"{"command":"ls -la"}"#.into(),
                call_id: "call_1".into(),
            },
            ResponseItem::CustomToolCall {
                id: Some("ctc_call_2".into()),
                name: "apply_patch".into(),
                input: "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n".into(),
                call_id: "call_2".into(),
            },
        ]
    );
    assert_eq!(done.usage.input_tokens, responses::TURN_INPUT_TOKENS);
    assert_eq!(done.usage.output_tokens, responses::TURN_OUTPUT_TOKENS);
}

#[tokio::test]
async fn responses_streams_reasoning_summary_and_content() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::responses([
        responses::created(),
        responses::reasoning_summary_delta("**Planning**"),
        responses::reasoning_text_delta("look at the tests"),
        responses::reasoning("rs_1", "**Planning**"),
        responses::message("msg_1", "ok"),
        responses::completed("resp_r", 5, 6),
        // Anything after completed is never read.
        SseEvent::raw("data: {not json\n\n"),
    ]));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("think")).await;
    let done = result.unwrap();

    let reasoning: Vec<&Progress> = progress
        .iter()
        .filter(|p| matches!(p, Progress::ReasoningDelta(_)))
        .collect();
    assert_eq!(
        reasoning,
        vec![
            &Progress::ReasoningDelta("**Planning**".into()),
            &Progress::ReasoningDelta("look at the tests".into())
        ]
    );
    assert_eq!(
        done.items[0],
        ResponseItem::Reasoning {
            id: Some("rs_1".into()),
            summary: vec![ReasoningSummary::SummaryText {
                text: "**Planning**".into()
            }],
            content: None,
            encrypted_content: Some("enc:rs_1".into()),
        }
    );
    assert_eq!(done.items.len(), 2);
}

#[tokio::test]
async fn responses_request_body_and_headers() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("r1", "ok"));
    server.push(responses::text_turn("r2", "ok"));
    let mut opts = options(&server, WireApi::Responses);
    opts.http_headers
        .insert("OpenAI-Organization".into(), "org-1".into());
    opts.query_params
        .insert("api-version".into(), "2025-04-01".into());
    let client = client_with(&opts);

    let schema = json!({
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": false
    });
    let full = ModelRequest {
        model: "gpt-5.4".into(),
        instructions: Some("You are codeloop.".into()),
        input: vec![
            ResponseItem::developer_text("be brief"),
            ResponseItem::user_text("list files"),
            ResponseItem::FunctionCall {
                id: Some("fc_1".into()),
                name: "shell_command".into(),
                arguments: r#"{"command":"ls"}"#.into(),
                call_id: "call_1".into(),
            },
            ResponseItem::FunctionCallOutput {
                call_id: "call_1".into(),
                output: "a.txt".into(),
            },
        ],
        tools: vec![shell_tool(), patch_tool()],
        parallel_tool_calls: true,
        reasoning: Some(ReasoningConfig {
            effort: Some(ReasoningEffort::High),
            summary: Some(ReasoningSummaryMode::Auto),
        }),
        output_schema: Some(schema.clone()),
        prompt_cache_key: Some("thread-1".into()),
    };
    run(&client, &full).await.0.unwrap();
    run(&client, &request("plain")).await.0.unwrap();

    let requests = server.take_requests();
    assert_eq!(requests.len(), 2);
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/responses");
    assert_eq!(sent.query.as_deref(), Some("api-version=2025-04-01"));
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    assert_eq!(sent.header("openai-organization"), Some("org-1"));
    assert!(sent
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(
        sent.body,
        json!({
            "model": "gpt-5.4",
            "instructions": "You are codeloop.",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "be brief"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
                {"type": "function_call", "name": "shell_command", "arguments": "{\"command\":\"ls\"}", "call_id": "call_1"},
                {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}
            ],
            "tools": [
                {"type": "function", "name": "shell_command", "description": "Run a command", "strict": false,
                 "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                                "required": ["command"], "additionalProperties": false}},
                {"type": "custom", "name": "apply_patch", "description": "Edit files",
                 "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": true,
            "reasoning": {"effort": "high", "summary": "auto"},
            "store": false,
            "stream": true,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "thread-1",
            "text": {"format": {"type": "json_schema", "name": "codeloop_output_schema", "schema": schema, "strict": true}}
        })
    );

    let plain = &requests[1].body;
    for absent in [
        "instructions",
        "reasoning",
        "include",
        "text",
        "prompt_cache_key",
    ] {
        assert!(plain.get(absent).is_none(), "{absent} sent: {plain}");
    }
    assert_eq!(plain["stream"], true);
    assert_eq!(plain["store"], false);
    assert_eq!(plain["tools"], json!([]));
}

// ------------------------------------------------------- retries and errors

#[tokio::test]
async fn rate_limit_waits_for_retry_after_then_succeeds() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::rate_limited(1));
    server.push(responses::text_turn("r", "after the wait"));
    let client = client(&server, WireApi::Responses);

    let started = Instant::now();
    let (result, progress) = run(&client, &request("hi")).await;
    let elapsed = started.elapsed();

    assert_eq!(
        without_ids(result.unwrap().items),
        vec![assistant("after the wait")]
    );
    assert_eq!(server.requests().len(), 2);
    let retries = retries(&progress);
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].1, Duration::from_secs(1));
    assert!(retries[0].2.contains("429"), "{}", retries[0].2);
    assert!(
        elapsed >= Duration::from_millis(950),
        "retried after {elapsed:?}"
    );
}

#[tokio::test]
async fn retry_after_ms_is_honored() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::server_error().with_header("retry-after-ms", "40"));
    server.push(responses::text_turn("r", "ok"));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;

    result.unwrap();
    assert_eq!(retries(&progress)[0].1, Duration::from_millis(40));
}

#[tokio::test]
async fn server_error_is_retried() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::server_error());
    server.push(responses::text_turn("r", "recovered"));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;

    assert_eq!(
        without_ids(result.unwrap().items),
        vec![assistant("recovered")]
    );
    let retries = retries(&progress);
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].0, 1);
    assert!(
        retries[0].2.contains("The server had an error"),
        "{}",
        retries[0].2
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn exhausted_retries_fail_naming_the_attempts() {
    let server = MockServer::start().await.unwrap();
    server.push_all([
        Reply::server_error(),
        Reply::server_error(),
        Reply::server_error(),
    ]);
    let mut opts = options(&server, WireApi::Responses);
    opts.request_max_retries = Some(2);
    let client = client_with(&opts);

    let err = run(&client, &request("hi")).await.0.unwrap_err();

    let Error::Stream(message) = &err else {
        panic!("expected a stream error, got {err:?}")
    };
    assert!(message.contains("3 attempts"), "{message}");
    assert!(message.contains("500"), "{message}");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn an_exhausted_mock_script_is_visible_in_the_error() {
    let server = MockServer::start().await.unwrap();
    let mut opts = options(&server, WireApi::Responses);
    opts.request_max_retries = Some(0);
    let client = client_with(&opts);

    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert!(err.to_string().contains("script ran out"), "{err}");
}

#[tokio::test]
async fn dropped_stream_is_retried() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("r1", "lost").drop_after(2));
    server.push(responses::text_turn("r2", "kept"));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;

    let done = result.unwrap();
    assert_eq!(done.response_id, "r2");
    assert_eq!(without_ids(done.items), vec![assistant("kept")]);
    let retries = retries(&progress);
    assert_eq!(retries.len(), 1);
    assert!(retries[0].2.contains("dropped"), "{}", retries[0].2);
}

#[tokio::test]
async fn stream_ending_without_completed_is_retried() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::responses([
        responses::created(),
        responses::message("m", "half"),
    ]));
    server.push(responses::text_turn("r2", "whole"));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;

    assert_eq!(without_ids(result.unwrap().items), vec![assistant("whole")]);
    assert!(retries(&progress)[0].2.contains("response.completed"));
}

#[tokio::test]
async fn malformed_event_is_a_retryable_stream_error() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::responses([
        responses::created(),
        SseEvent::raw("event: response.output_text.delta\ndata: {not json\n\n"),
    ]));
    server.push(responses::text_turn("r2", "fine"));
    server.push(Reply::responses([SseEvent::raw("data: {not json\n\n")]));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;
    result.unwrap();
    let message = &retries(&progress)[0].2;
    assert!(message.contains("malformed"), "{message}");
    assert!(message.contains("response.output_text.delta"), "{message}");

    let mut opts = options(&server, WireApi::Responses);
    opts.stream_max_retries = Some(0);
    let err = run(&client_with(&opts), &request("hi"))
        .await
        .0
        .unwrap_err();
    assert!(
        matches!(&err, Error::Stream(m) if m.contains("malformed") && m.contains("{not json")),
        "{err:?}"
    );
}

#[tokio::test]
async fn idle_stream_times_out() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("r", "never finished").stall_after(2));
    let mut opts = options(&server, WireApi::Responses);
    opts.stream_idle_timeout_ms = Some(200);
    opts.stream_max_retries = Some(0);
    let client = client_with(&opts);

    let started = Instant::now();
    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert!(
        matches!(&err, Error::Stream(m) if m.contains("idle for 200 ms")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::server_error().with_delay_ms(60_000));
    let mut opts = options(&server, WireApi::Responses);
    opts.stream_idle_timeout_ms = Some(200);
    opts.request_max_retries = Some(0);
    let client = client_with(&opts);

    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert!(
        matches!(&err, Error::Stream(m) if m.contains("no response")),
        "{err:?}"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_server_message() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server, WireApi::Responses);

    server.push(Reply::error(
        400,
        "Invalid value for 'model': 'gpt-nope'.",
        "invalid_request_error",
        Some("model_not_found"),
    ));
    server.push(responses::text_turn("r", "a retry would get this"));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 400, message } if message == "Invalid value for 'model': 'gpt-nope'."),
        "{err:?}"
    );
    assert_eq!(server.take_requests().len(), 1);
    server.reset();

    server.push(Reply::unauthorized());
    server.push(responses::text_turn("r", "a retry would get this"));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized(m) if m.starts_with("Incorrect API key provided")),
        "{err:?}"
    );
    assert_eq!(server.take_requests().len(), 1);
    server.reset();

    server.push(Reply::http(404, json!("404 page not found")));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 404, message } if message == "404 page not found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_json_answer_to_a_stream_request_is_not_retried() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::http(
        200,
        json!({"id": "chatcmpl-1", "choices": [{"message": {"content": "hi"}}]}),
    ));
    server.push(chat::text_turn("a retry would get this"));
    let client = client(&server, WireApi::Chat);

    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert!(
        matches!(&err, Error::Api { status: 200, message } if message.contains("expected an event stream")),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn context_window_and_quota_errors_are_fatal() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server, WireApi::Responses);

    server.push(Reply::context_length_exceeded());
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::ContextWindowExceeded(m) if m.contains("maximum context length")),
        "{err:?}"
    );

    server.push(Reply::insufficient_quota());
    server.push(responses::text_turn("r", "a retry would get this"));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::QuotaExceeded(m) if m.contains("exceeded your current quota")),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 2, "quota errors are not retried");
}

#[tokio::test]
async fn response_failed_is_mapped_by_code() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server, WireApi::Responses);

    server.push(Reply::responses([
        responses::created(),
        responses::failed("invalid_prompt", "Your prompt was flagged."),
    ]));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::ResponseFailed(m) if m.contains("Your prompt was flagged.")),
        "{err:?}"
    );

    server.push(Reply::responses([responses::failed(
        "context_length_exceeded",
        "Your input exceeds the context window of this model.",
    )]));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(matches!(err, Error::ContextWindowExceeded(_)), "{err:?}");

    server.push(Reply::responses([responses::failed(
        "insufficient_quota",
        "You exceeded your current quota.",
    )]));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err:?}");

    server.push(Reply::responses([responses::failed(
        "server_is_overloaded",
        "The server is overloaded.",
    )]));
    server.push(responses::text_turn("r", "second time lucky"));
    let (result, progress) = run(&client, &request("hi")).await;
    result.unwrap();
    assert!(retries(&progress)[0].2.contains("overloaded"));

    server.push(Reply::responses([responses::failed(
        "rate_limit_exceeded",
        "Rate limit reached. Please try again in 30ms.",
    )]));
    server.push(responses::text_turn("r", "ok"));
    let (result, progress) = run(&client, &request("hi")).await;
    result.unwrap();
    assert_eq!(retries(&progress)[0].1, Duration::from_millis(30));
}

#[tokio::test]
async fn response_incomplete_is_a_failed_response() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::responses([
        responses::created(),
        responses::output_text_delta("trunc"),
        responses::incomplete("max_output_tokens"),
    ]));
    let client = client(&server, WireApi::Responses);

    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert!(
        matches!(&err, Error::ResponseFailed(m) if m == "incomplete: max_output_tokens"),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let server = MockServer::start().await.unwrap();
    let mut opts = options(&server, WireApi::Responses);
    opts.request_max_retries = Some(1);
    drop(server);
    let client = client_with(&opts);

    let (result, progress) = run(&client, &request("hi")).await;

    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Stream(m) if m.contains("2 attempts")),
        "{err:?}"
    );
    assert_eq!(retries(&progress).len(), 1);
}

#[tokio::test]
async fn missing_key_fails_before_sending() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("r", "unreachable"));
    let opts = AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        provider: Some("openai".into()),
        base_url: Some(server.base_url()),
        ..AgentOptions::default()
    };
    let config = ProviderConfig::resolve(&opts, &|_| None).unwrap();
    let client = build_client(&config).unwrap();

    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert!(
        matches!(&err, Error::Unauthorized(m) if m.contains("OPENAI_API_KEY")),
        "{err:?}"
    );
    assert!(server.requests().is_empty());
}

// ------------------------------------------------------------------- chat

#[tokio::test]
async fn chat_streams_text_split_tool_calls_and_usage() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::chat([
        chat::role(),
        chat::reasoning_content("The user wants "),
        chat::reasoning("files."),
        chat::content("Let me "),
        chat::content("check."),
        chat::tool_call_start(0, "call_a", "shell_command"),
        chat::tool_call_start(1, "call_b", "read_file"),
        chat::tool_call_args(0, "{\"comm"),
        chat::tool_call_args(1, "{\"path\":"),
        chat::tool_call_args(0, "and\":\"ls\"}"),
        chat::tool_call_args(1, "\"a.txt\"}"),
        // A call whose server gave no id, and arguments in one piece.
        chat::chunk(
            json!({"tool_calls": [{"index": 2, "function": {"name": "update_plan", "arguments": "{}"}}]}),
            None,
        ),
        chat::finish("tool_calls"),
        chat::usage_with_details(900, 800, 40, 12),
    ]));
    let client = client(&server, WireApi::Chat);

    let (result, progress) = run(&client, &request("list")).await;
    let done = result.unwrap();

    assert_eq!(text_deltas(&progress), vec!["Let me ", "check."]);
    assert!(progress.contains(&Progress::ReasoningDelta("files.".into())));
    assert_eq!(done.response_id, chat::CHUNK_ID);
    assert_eq!(done.items.len(), 5, "{:?}", done.items);
    assert_eq!(
        done.items[0],
        ResponseItem::Reasoning {
            id: None,
            summary: vec![],
            content: Some(vec![ReasoningContent::ReasoningText {
                text: "The user wants files.".into()
            }]),
            encrypted_content: None,
        }
    );
    assert_eq!(done.items[1], assistant("Let me check."));
    assert_eq!(
        done.items[2],
        ResponseItem::FunctionCall {
            id: None,
            name: "shell_command".into(),
            arguments: r#"{"command":"ls"}"#.into(),
            call_id: "call_a".into(),
        }
    );
    assert_eq!(
        done.items[3],
        ResponseItem::FunctionCall {
            id: None,
            name: "read_file".into(),
            arguments: r#"{"path":"a.txt"}"#.into(),
            call_id: "call_b".into(),
        }
    );
    let ResponseItem::FunctionCall { name, call_id, .. } = &done.items[4] else {
        panic!("not a function call: {:?}", done.items[4])
    };
    assert_eq!(name, "update_plan");
    assert!(
        call_id.starts_with("call_") && call_id.len() > 10,
        "{call_id}"
    );
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 900,
            cached_input_tokens: 800,
            output_tokens: 40,
            reasoning_output_tokens: 12,
        }
    );
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
}

#[tokio::test]
async fn chat_translates_the_history() {
    let server = MockServer::start().await.unwrap();
    server.push(chat::text_turn("done"));
    let client = client(&server, WireApi::Chat);
    let schema = json!({"type": "object", "properties": {}, "additionalProperties": false});
    let req = ModelRequest {
        model: "qwen3".into(),
        instructions: Some("You are codeloop.".into()),
        input: vec![
            ResponseItem::developer_text("sandbox: read-only"),
            ResponseItem::Message {
                id: None,
                role: "user".into(),
                content: vec![
                    ContentItem::InputText {
                        text: "what is in".into(),
                    },
                    ContentItem::InputImage {
                        image_url: "data:image/png;base64,AAAA".into(),
                    },
                ],
            },
            ResponseItem::Reasoning {
                id: Some("rs_1".into()),
                summary: vec![],
                content: None,
                encrypted_content: Some("secret".into()),
            },
            ResponseItem::assistant_text("Looking."),
            ResponseItem::FunctionCall {
                id: None,
                name: "shell_command".into(),
                arguments: r#"{"command":"ls"}"#.into(),
                call_id: "c1".into(),
            },
            ResponseItem::FunctionCall {
                id: None,
                name: "read_file".into(),
                arguments: r#"{"path":"a"}"#.into(),
                call_id: "c2".into(),
            },
            ResponseItem::FunctionCallOutput {
                call_id: "c1".into(),
                output: "a".into(),
            },
            ResponseItem::FunctionCallOutput {
                call_id: "c2".into(),
                output: "hello".into(),
            },
            ResponseItem::CustomToolCall {
                id: None,
                name: "apply_patch".into(),
                input: "*** Begin Patch\n*** End Patch\n".into(),
                call_id: "c3".into(),
            },
            ResponseItem::CustomToolCallOutput {
                call_id: "c3".into(),
                output: "Success.".into(),
            },
            ResponseItem::user_text("thanks"),
        ],
        tools: vec![shell_tool(), patch_tool()],
        parallel_tool_calls: true,
        reasoning: None,
        output_schema: Some(schema.clone()),
        prompt_cache_key: Some("thread".into()),
    };

    let done = run(&client, &req).await.0.unwrap();
    assert_eq!(done.items, vec![assistant("done")]);
    assert_eq!(done.usage.input_tokens, chat::TURN_PROMPT_TOKENS);

    let body = server.requests()[0].body.clone();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You are codeloop.\n\nsandbox: read-only"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is in"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]},
            {"role": "assistant", "content": "Looking.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "shell_command", "arguments": "{\"command\":\"ls\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "a"},
            {"role": "tool", "tool_call_id": "c2", "content": "hello"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "apply_patch",
                 "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "c3", "content": "Success."},
            {"role": "user", "content": "thanks"}
        ])
    );
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "shell_command", "description": "Run a command",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                           "required": ["command"], "additionalProperties": false}
        }}])
    );
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["parallel_tool_calls"], true);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "codeloop_output_schema", "schema": schema, "strict": true}})
    );
    assert_eq!(body["model"], "qwen3");
}

#[tokio::test]
async fn chat_stream_endings() {
    let server = MockServer::start().await.unwrap();
    let mut opts = options(&server, WireApi::Chat);
    opts.stream_max_retries = Some(0);
    let client = client_with(&opts);

    // Cut off mid-body.
    server.push(chat::text_turn("hello there").drop_after(2));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Stream(m) if m.contains("dropped")),
        "{err:?}"
    );

    // A clean end of body with neither [DONE] nor a finish_reason.
    server.push(Reply::chat([chat::role(), chat::content("hal")]).without_done());
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Stream(m) if m.contains("[DONE]")),
        "{err:?}"
    );

    // A finish_reason is enough (some servers send no [DONE] and no usage).
    server.push(Reply::chat([chat::content("whole"), chat::finish("stop")]).without_done());
    let done = run(&client, &request("hi")).await.0.unwrap();
    assert_eq!(done.items, vec![assistant("whole")]);
    assert_eq!(done.usage, Usage::default());

    // Truncated by the token limit.
    server.push(Reply::chat([
        chat::content("trunc"),
        chat::finish("length"),
    ]));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::ResponseFailed(m) if m.contains("incomplete")),
        "{err:?}"
    );

    // A malformed chunk.
    server.push(Reply::chat([SseEvent::raw("data: {\"choices\": [\n\n")]));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Stream(m) if m.contains("malformed chunk")),
        "{err:?}"
    );
}

#[tokio::test]
async fn chat_http_errors_map_like_responses() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server, WireApi::Chat);

    // Ollama's error shape.
    server.push(Reply::http(
        404,
        json!({"error": "model \"qwen9\" not found, try pulling it first"}),
    ));
    let err = run(&client, &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 404, message } if message.contains("try pulling it first")),
        "{err:?}"
    );

    server.push(Reply::rate_limited(0));
    server.push(chat::text_turn("ok"));
    let (result, progress) = run(&client, &request("hi")).await;
    assert_eq!(result.unwrap().items, vec![assistant("ok")]);
    assert_eq!(retries(&progress)[0].1, Duration::ZERO);
}

// ----------------------------------------------------------------- replay

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn record_then_replay_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("nested").join("run.json");
    let server = MockServer::start().await.unwrap();
    server.push_all([
        responses::function_call_turn("r1", "call_1", "shell_command", r#"{"command":"ls"}"#),
        // A failed attempt is retried and must not end up in the cassette.
        Reply::server_error(),
        responses::text_turn("r2", "There is one file."),
    ]);
    let mut opts = options(&server, WireApi::Responses);
    opts.record = Some(cassette.clone());
    let recorder = client_with(&opts);

    let first = request("what files are here?");
    let recorded_1 = run(&recorder, &first).await.0.unwrap();
    assert_eq!(load_cassette(&cassette).unwrap().exchanges.len(), 1);
    let mut second = first.clone();
    second.input.extend(recorded_1.items.clone());
    second.input.push(ResponseItem::FunctionCallOutput {
        call_id: "call_1".into(),
        output: "Exit code: 0\nWall time: 0.01 seconds\nOutput:\na.txt\n".into(),
    });
    let recorded_2 = run(&recorder, &second).await.0.unwrap();
    drop(server);

    let saved = load_cassette(&cassette).unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(saved.exchanges.len(), 2);
    assert_eq!(saved.exchanges[1].request.input.len(), 3);
    assert!(matches!(
        saved.exchanges[1].events.last(),
        Some(ResponseEvent::Completed { response_id, .. }) if response_id == "r2"
    ));
    let leftovers: Vec<_> = std::fs::read_dir(cassette.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temp files left: {leftovers:?}");

    let replay_opts = AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        provider: Some("replay".into()),
        cassette: Some(cassette.clone()),
        ..AgentOptions::default()
    };
    let replay = client_with(&replay_opts);
    let replayed_1 = run(&replay, &first).await.0.unwrap();
    assert_eq!(replayed_1, recorded_1);
    // The tool output differs (another wall time): still the same exchange.
    let mut second_again = second.clone();
    second_again.input[2] = ResponseItem::FunctionCallOutput {
        call_id: "call_1".into(),
        output: "Exit code: 0\nWall time: 0.7 seconds\nOutput:\na.txt\n".into(),
    };
    second_again.prompt_cache_key = Some("another thread".into());
    let replayed_2 = run(&replay, &second_again).await.0.unwrap();
    assert_eq!(replayed_2, recorded_2);

    let err = run(&replay, &first).await.0.unwrap_err();
    assert!(
        matches!(&err, Error::Replay(m) if m == "the cassette has 2 exchanges and this is request 3"),
        "{err:?}"
    );
}

#[tokio::test]
async fn replay_mismatch_names_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let cassette = dir.path().join("c.json");
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("r1", "hi"));
    let mut opts = options(&server, WireApi::Responses);
    opts.record = Some(cassette.clone());
    run(&client_with(&opts), &request("fix the test"))
        .await
        .0
        .unwrap();

    let replay = ReplayClient::open(&cassette).unwrap();
    let mut progress = |_: Progress| {};
    let err = run_request(&replay, &request("fix the bug"), &mut progress)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Replay(m)
            if m == "exchange 1: input[0].text differs: cassette has \"fix the test\", request has \"fix the bug\""),
        "{err:?}"
    );

    let mut other_model = request("fix the test");
    other_model.model = "gpt-other".into();
    let err = run_request(&replay, &other_model, &mut progress)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Replay(m) if m.contains("exchange 1: model differs")),
        "{err:?}"
    );

    // A mismatch does not consume the exchange.
    let done = run_request(&replay, &request("fix the test"), &mut progress)
        .await
        .unwrap();
    assert_eq!(without_ids(done.items), vec![assistant("hi")]);
}

#[tokio::test]
async fn missing_or_corrupt_cassettes_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = ReplayClient::open(&missing).err().unwrap();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("nope.json")),
        "{err:?}"
    );

    let corrupt = dir.path().join("bad.json");
    write(&corrupt, r#"{"version": 1, "exchanges": [{"request": 3}]}"#);
    let opts = AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        provider: Some("replay".into()),
        cassette: Some(corrupt),
        ..AgentOptions::default()
    };
    let config = ProviderConfig::resolve(&opts, &|_| None).unwrap();
    let err = build_client(&config).err().unwrap();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("bad.json") && m.contains("line 1")),
        "{err:?}"
    );
}

#[tokio::test]
async fn one_connection_serves_many_requests() {
    for wire in [WireApi::Responses, WireApi::Chat] {
        let server = MockServer::start().await.unwrap();
        for i in 0..4 {
            server.push(match wire {
                WireApi::Responses => responses::text_turn(&format!("r{i}"), "ok"),
                WireApi::Chat => chat::text_turn("ok"),
            });
        }
        let client = client(&server, wire);
        for _ in 0..4 {
            run(&client, &request("hi")).await.0.unwrap();
        }
        assert_eq!(server.wait_for_requests(4).await.unwrap().len(), 4);
        assert_eq!(server.pending_replies(), 0);
        assert_eq!(
            server.connection_count(),
            1,
            "{wire:?}: the client should reuse its pooled connection"
        );
    }
}

// ------------------------------------------------- review fixes (providers)

#[tokio::test]
async fn an_unreadable_output_item_is_skipped_not_retried() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::responses([
        responses::created(),
        // A content part type this version does not know still parses.
        responses::output_item_done(json!({
            "type": "message", "id": "msg_a", "role": "assistant",
            "content": [
                {"type": "output_audio", "data": "AAAA", "transcript": "hi"},
                {"type": "output_text", "text": "heard"}
            ]
        })),
        // A function call without call_id or arguments cannot be read.
        responses::output_item_done(
            json!({"type": "function_call", "id": "fc_1", "name": "shell"}),
        ),
        responses::message("msg_b", "ok"),
        responses::completed("r1", 5, 6),
    ]));
    // Were it retried, this reply would be served.
    server.push(responses::text_turn("r2", "a retry would get this"));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;
    let done = result.unwrap();

    assert_eq!(done.response_id, "r1");
    assert_eq!(
        without_ids(done.items),
        vec![
            ResponseItem::Message {
                id: None,
                role: "assistant".into(),
                content: vec![
                    ContentItem::Unknown,
                    ContentItem::OutputText {
                        text: "heard".into()
                    }
                ],
            },
            assistant("ok"),
        ]
    );
    assert!(retries(&progress).is_empty(), "{progress:?}");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.pending_replies(), 1);
}

#[tokio::test]
async fn responses_input_leaves_out_what_the_api_cannot_take_back() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("r", "ok"));
    let client = client(&server, WireApi::Responses);
    let mut req = request("go");
    req.input.extend([
        // Reasoning read from a chat provider: plain text, nothing encrypted.
        ResponseItem::Reasoning {
            id: None,
            summary: vec![],
            content: Some(vec![ReasoningContent::ReasoningText {
                text: "thinking".into(),
            }]),
            encrypted_content: None,
        },
        ResponseItem::Reasoning {
            id: Some("rs_1".into()),
            summary: vec![ReasoningSummary::SummaryText {
                text: "plan".into(),
            }],
            content: None,
            encrypted_content: Some("enc:rs_1".into()),
        },
        ResponseItem::Message {
            id: Some("msg_1".into()),
            role: "assistant".into(),
            content: vec![
                ContentItem::Unknown,
                ContentItem::OutputText {
                    text: "heard".into(),
                },
            ],
        },
        ResponseItem::Message {
            id: None,
            role: "assistant".into(),
            content: vec![ContentItem::Unknown],
        },
    ]);

    run(&client, &req).await.0.unwrap();

    let sent = &server.requests()[0];
    assert_eq!(
        sent.input(),
        &[
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}),
            json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}],
                   "encrypted_content": "enc:rs_1"}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "heard"}]}),
        ]
    );
}

#[tokio::test]
async fn chat_history_suits_strict_chat_templates() {
    let server = MockServer::start().await.unwrap();
    server.push(chat::text_turn("ok"));
    let client = client(&server, WireApi::Chat);
    let call = |id: &str| ResponseItem::FunctionCall {
        id: None,
        name: "shell_command".into(),
        arguments: "{}".into(),
        call_id: id.into(),
    };
    let output = |id: &str| ResponseItem::FunctionCallOutput {
        call_id: id.into(),
        output: format!("out {id}"),
    };
    let req = ModelRequest {
        instructions: Some("You are codeloop.".into()),
        input: vec![
            ResponseItem::developer_text("sandbox: read-only"),
            ResponseItem::developer_text("be brief"),
            ResponseItem::user_text(
                "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>",
            ),
            ResponseItem::user_text("fix the bug"),
            ResponseItem::assistant_text("Looking."),
            call("c1"),
            output("c1"),
            ResponseItem::developer_text("the plan changed"),
            ResponseItem::Message {
                id: None,
                role: "user".into(),
                content: vec![
                    ContentItem::InputText { text: "see".into() },
                    ContentItem::InputImage {
                        image_url: "data:image/png;base64,AAAA".into(),
                    },
                ],
            },
            ResponseItem::Reasoning {
                id: None,
                summary: vec![],
                content: Some(vec![ReasoningContent::ReasoningText { text: "hmm".into() }]),
                encrypted_content: None,
            },
            ResponseItem::assistant_text("Done."),
            ResponseItem::assistant_text("Anything else?"),
            call("c2"),
            call("c3"),
            output("c2"),
            output("c3"),
            ResponseItem::user_text("thanks"),
        ],
        ..request("unused")
    };

    run(&client, &req).await.0.unwrap();

    let sent = server.requests()[0].messages().to_vec();
    let tool_call = |id: &str| json!({"id": id, "type": "function", "function": {"name": "shell_command", "arguments": "{}"}});
    assert_eq!(
        sent,
        vec![
            json!({"role": "system", "content": "You are codeloop.\n\nsandbox: read-only\n\nbe brief"}),
            json!({"role": "user", "content":
                "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>\n\nfix the bug"}),
            json!({"role": "assistant", "content": "Looking.", "tool_calls": [tool_call("c1")]}),
            json!({"role": "tool", "tool_call_id": "c1", "content": "out c1"}),
            json!({"role": "user", "content": [
                {"type": "text", "text": "the plan changed"},
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]}),
            json!({"role": "assistant", "content": "Done.\n\nAnything else?",
                   "tool_calls": [tool_call("c2"), tool_call("c3")]}),
            json!({"role": "tool", "tool_call_id": "c2", "content": "out c2"}),
            json!({"role": "tool", "tool_call_id": "c3", "content": "out c3"}),
            json!({"role": "user", "content": "thanks"}),
        ]
    );
    // The rule itself: one system message, first; no role twice in a row
    // except tool answers.
    let roles: Vec<&str> = sent.iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles.iter().filter(|r| **r == "system").count(), 1);
    for pair in roles.windows(2) {
        assert!(pair[0] != pair[1] || pair[0] == "tool", "{roles:?}");
    }
}

#[tokio::test]
async fn chat_without_instructions_starts_with_the_leading_developer_messages() {
    let server = MockServer::start().await.unwrap();
    server.push(chat::text_turn("ok"));
    let client = client(&server, WireApi::Chat);
    let req = ModelRequest {
        input: vec![
            ResponseItem::developer_text("rules"),
            ResponseItem::user_text("hi"),
        ],
        ..request("unused")
    };

    run(&client, &req).await.0.unwrap();

    assert_eq!(
        server.requests()[0].messages(),
        &[
            json!({"role": "system", "content": "rules"}),
            json!({"role": "user", "content": "hi"}),
        ]
    );
}

#[test]
fn a_cassette_without_a_provider_means_replay() {
    let opts = AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        cassette: Some("run.json".into()),
        ..AgentOptions::default()
    };
    let config = ProviderConfig::resolve(&opts, &|_| Some("sk-env".into())).unwrap();
    assert_eq!(config.id, "replay");
    assert_eq!(
        config.replay_cassette().unwrap(),
        Some(Path::new("run.json"))
    );
    assert_eq!(config.api_key, None, "replay reads no key");
}

#[test]
fn a_cassette_with_another_provider_is_a_config_error() {
    for provider in ["openai", "mock"] {
        let opts = AgentOptions {
            codeloop_home: Some(super::support::no_home()),
            provider: Some(provider.into()),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            cassette: Some("run.json".into()),
            ..AgentOptions::default()
        };
        let err = ProviderConfig::resolve(&opts, &|_| None).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m)
                if m.contains(&format!("provider `{provider}`")) && m.contains("run.json")),
            "{err:?}"
        );
    }
}

#[test]
fn a_replay_provider_without_a_cassette_fails_the_same_everywhere() {
    let opts = AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        provider: Some("replay".into()),
        ..AgentOptions::default()
    };
    let from_resolve = ProviderConfig::resolve(&opts, &|_| None).unwrap_err();
    assert!(
        matches!(&from_resolve, Error::Config(m) if m.contains("needs a cassette")),
        "{from_resolve:?}"
    );

    // A config built by hand reaches the same check in build_client.
    let mut config = ProviderConfig::resolve(
        &AgentOptions {
            codeloop_home: Some(super::support::no_home()),
            cassette: Some("run.json".into()),
            ..AgentOptions::default()
        },
        &|_| None,
    )
    .unwrap();
    config.cassette = None;
    let from_build = build_client(&config).err().unwrap();
    assert_eq!(from_build.to_string(), from_resolve.to_string());
}

#[test]
fn built_in_providers_resolve_without_a_url_and_others_need_one() {
    for builtin in BUILTIN_PROVIDERS {
        let opts = AgentOptions {
            codeloop_home: Some(super::support::no_home()),
            provider: Some(builtin.id.into()),
            cassette: (builtin.id == "replay").then(|| "run.json".into()),
            ..AgentOptions::default()
        };
        let config = ProviderConfig::resolve(&opts, &|_| None).unwrap();
        assert_eq!(config.base_url, builtin.base_url.trim_end_matches('/'));
        assert_eq!(config.wire_api, builtin.wire_api);
    }
    let ids = builtin_provider_ids();
    assert_eq!(ids, "openai, ollama, lmstudio, replay");
    let opts = AgentOptions {
        codeloop_home: Some(super::support::no_home()),
        provider: Some("nowhere".into()),
        ..AgentOptions::default()
    };
    let err = ProviderConfig::resolve(&opts, &|_| None).unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains(&format!("not built in ({ids})"))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_line_that_never_ends_is_cut_off_at_the_event_limit() {
    let server = MockServer::start().await.unwrap();
    // No line break ever comes; the server would go on forever.
    let endless = format!("data: {}", "x".repeat(MAX_EVENT_BYTES));
    server.push(Reply::responses([responses::created(), SseEvent::raw(endless)]).stall_after(2));
    server.push(responses::text_turn("r2", "after the retry"));
    let client = client(&server, WireApi::Responses);

    let (result, progress) = run(&client, &request("hi")).await;

    assert_eq!(
        without_ids(result.unwrap().items),
        vec![assistant("after the retry")]
    );
    let retries = retries(&progress);
    assert_eq!(retries.len(), 1);
    assert!(
        retries[0].2.contains("exceeded the limit of 16 MiB"),
        "{}",
        retries[0].2
    );
}

#[tokio::test]
async fn an_endless_error_body_is_read_only_in_part() {
    let server = MockServer::start().await.unwrap();
    // A JSON answer to a stream request whose body never ends: 100 KiB,
    // then silence. Read whole, it would hold the request until the idle
    // timeout (30 s here).
    let chunk = format!("{{\"pad\": \"{}\"}}", "p".repeat(1024));
    let events: Vec<SseEvent> = (0..100).map(|_| SseEvent::raw(chunk.clone())).collect();
    server.push(
        Reply::responses(events)
            .with_header("content-type", "application/json")
            .stall_after(100),
    );
    let mut opts = options(&server, WireApi::Responses);
    opts.stream_idle_timeout_ms = Some(30_000);
    let client = client_with(&opts);

    let started = Instant::now();
    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert!(
        matches!(&err, Error::Api { status: 200, message }
            if message.contains("expected an event stream") && message.contains("{\"pad\"")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn exhausted_request_retries_name_the_last_http_failure() {
    let server = MockServer::start().await.unwrap();
    server.push_all([
        Reply::rate_limited(0),
        Reply::rate_limited(0),
        Reply::rate_limited(0),
    ]);
    let mut opts = options(&server, WireApi::Responses);
    opts.request_max_retries = Some(2);
    let client = client_with(&opts);

    let err = run(&client, &request("hi")).await.0.unwrap_err();

    assert_eq!(
        err.to_string(),
        "stream error: HTTP 429 Too Many Requests: Rate limit reached for requests. \
         Please try again later. (gave up after 3 attempts)"
    );

    // Attempts are counted across both budgets: a dropped stream, then 500s.
    server.push_all([
        responses::text_turn("r", "lost").drop_after(1),
        Reply::server_error(),
        Reply::server_error(),
    ]);
    opts.request_max_retries = Some(1);
    let err = run(&client_with(&opts), &request("hi"))
        .await
        .0
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "stream error: HTTP 500 Internal Server Error: The server had an error while \
         processing your request. Sorry about that! (gave up after 3 attempts)"
    );
}

/// A TLS server on loopback with a self-signed certificate for localhost:
/// codeloop's clients refuse it (the certificate is checked against the
/// platform's roots), while a client told to trust exactly that certificate
/// gets the page — so the refusal is the verifier's, not a broken server.
#[tokio::test]
async fn https_clients_check_certificates() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const CERT: &[u8] = include_bytes!("../data/selfsigned-cert.pem");
    const KEY: &[u8] = include_bytes!("../data/selfsigned-key.pem");
    codeloop_core::net::ensure_tls_provider();
    let cert = CertificateDer::from_pem_slice(CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut buf = [0u8; 1024];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    let url = format!("https://localhost:{port}/");

    let ours = codeloop_core::net::http_client_builder()
        .unwrap()
        .build()
        .unwrap();
    let err = ours.get(&url).send().await.unwrap_err();
    let chain = {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(e) = source {
            text.push_str(&format!(": {e}"));
            source = e.source();
        }
        text
    };
    assert!(
        chain.to_lowercase().contains("certificate"),
        "expected a certificate error, got: {chain}"
    );

    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(CERT).unwrap()])
        .build()
        .unwrap();
    let body = trusting
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
}
