//! Tracing export (the `otel` feature): the spans of a real run against the
//! mock model server, captured in process, and their OTLP/HTTP export to a
//! collector on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use codeloop_core::protocol::{AgentOptions, SandboxMode};
use codeloop_core::telemetry::{otel_layer, otlp_provider, OtlpConfig};
use codeloop_core::Agent;
use codeloop_mock_server::{otlp, responses, MockServer};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

fn options(server: &MockServer, dir: &tempfile::TempDir) -> AgentOptions {
    AgentOptions {
        model: Some("test-model".into()),
        base_url: Some(server.base_url()),
        api_key: Some("test-key".into()),
        cwd: Some(dir.path().to_path_buf()),
        sandbox: Some(SandboxMode::DangerFullAccess),
        ephemeral: true,
        request_max_retries: Some(0),
        ..AgentOptions::default()
    }
}

fn attr(span: &SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_else(|| panic!("span {} has no {key}: {:?}", span.name, span.attributes))
}

// The default (current-thread) test runtime runs the turn on this thread,
// so the thread's default subscriber sees every span.
#[tokio::test]
async fn a_run_is_traced_with_genai_attributes_and_parents() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(otel_layer(&provider)),
    );

    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    server.push(responses::function_call_turn(
        "resp_1",
        "call_1",
        "shell_command",
        &json!({"command": "echo traced"}).to_string(),
    ));
    server.push(responses::text_turn("resp_2", "done"));
    let agent = Agent::new(options(&server, &dir)).unwrap();
    let thread = agent.start_thread();
    thread.run("trace me").await.unwrap();
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let named =
        |name: &str| -> Vec<&SpanData> { spans.iter().filter(|s| s.name == name).collect() };
    let runs = named("run");
    assert_eq!(
        runs.len(),
        1,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let run = runs[0];
    assert_eq!(attr(run, "thread_id"), thread.id());
    assert_eq!(attr(run, "turn"), "1");
    assert_eq!(attr(run, "gen_ai.operation.name"), "invoke_agent");

    let requests = named("chat test-model");
    assert_eq!(requests.len(), 2);
    for (request, id) in requests.iter().zip(["resp_1", "resp_2"]) {
        assert_eq!(request.parent_span_id, run.span_context.span_id());
        assert_eq!(request.span_context.trace_id(), run.span_context.trace_id());
        assert_eq!(request.span_kind, SpanKind::Client);
        assert_eq!(attr(request, "gen_ai.operation.name"), "chat");
        assert_eq!(attr(request, "gen_ai.provider.name"), "openai");
        assert_eq!(attr(request, "gen_ai.request.model"), "test-model");
        assert_eq!(attr(request, "gen_ai.response.model"), "test-model");
        assert_eq!(attr(request, "gen_ai.response.id"), id);
        assert_eq!(
            attr(request, "gen_ai.usage.input_tokens"),
            responses::TURN_INPUT_TOKENS.to_string()
        );
        assert_eq!(
            attr(request, "gen_ai.usage.output_tokens"),
            responses::TURN_OUTPUT_TOKENS.to_string()
        );
        assert_eq!(attr(request, "codeloop.retries"), "0");
    }

    let tools = named("execute_tool shell_command");
    assert_eq!(tools.len(), 1);
    let tool = tools[0];
    assert_eq!(tool.parent_span_id, run.span_context.span_id());
    assert_eq!(attr(tool, "gen_ai.operation.name"), "execute_tool");
    assert_eq!(attr(tool, "gen_ai.tool.name"), "shell_command");
    assert_eq!(attr(tool, "gen_ai.tool.call.id"), "call_1");
    assert_eq!(attr(tool, "status"), "completed");
    // The tool ran between the two model requests.
    assert!(requests[0].end_time <= tool.start_time && tool.end_time <= requests[1].start_time);

    // A request that fails says why, and is marked as an error.
    exporter.reset();
    server.push(codeloop_mock_server::Reply::unauthorized());
    assert!(thread.run("again").await.is_err());
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let failed = spans.iter().find(|s| s.name == "chat test-model").unwrap();
    assert_eq!(attr(failed, "error.type"), "Unauthorized");
    assert!(matches!(
        failed.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    let run = spans.iter().find(|s| s.name == "run").unwrap();
    assert_eq!(attr(run, "turn"), "2");
}

#[tokio::test]
async fn spans_are_exported_over_otlp_http_as_the_otel_variables_say() {
    let (collector, received) = otlp::collector().unwrap();
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=s3cret"),
        ("OTEL_SERVICE_NAME", "nightly-agents"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci"),
    ];
    let config = OtlpConfig::from_vars(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
    .unwrap();
    let provider = otlp_provider(&config).unwrap();
    let guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(otel_layer(&provider)),
    );

    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    server.push(responses::text_turn("resp_otlp", "exported"));
    let agent = Agent::new(options(&server, &dir)).unwrap();
    agent.start_thread().run("export me").await.unwrap();
    drop(guard);
    // Shutting down flushes the batch: the spans are POSTed now.
    provider.shutdown().unwrap();

    let got = received.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(
        got.request_line.starts_with("POST /v1/traces "),
        "{}",
        got.request_line
    );
    assert_eq!(got.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(got.header("x-collector-key"), Some("s3cret"));
    for text in [
        "nightly-agents",
        "deployment.environment",
        "run",
        "chat test-model",
        "gen_ai.usage.input_tokens",
        "resp_otlp",
    ] {
        assert!(got.body_contains(text), "the export has no {text:?}");
    }
}
