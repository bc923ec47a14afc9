//! `codeloop exec` exports its spans over OTLP/HTTP when the standard OTEL_*
//! variables name a collector, and flushes them before it exits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use codeloop_mock_server::{otlp, responses, MockServer};

mod common;

/// `codeloop exec --json hello` in `repo`, its model `server` and its
/// collector `endpoint` named by the standard variables.
fn exec_hello(home: &Path, repo: &Path, server: &MockServer, endpoint: &str) -> Command {
    let mut cmd = common::codeloop(home);
    cmd.env("OPENAI_API_KEY", "k")
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .args(["exec", "--json", "--skip-git-repo-check", "--ephemeral"])
        .args(["--model", "mock-model", "--cd"])
        .arg(repo)
        .arg("hello");
    cmd
}

/// Run `cmd` to its end off the async runtime, no stdin; it must succeed.
async fn output(mut cmd: Command) -> Output {
    let out = tokio::task::spawn_blocking(move || {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test]
async fn exec_exports_its_spans_to_the_collector_the_env_names() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("resp_cli", "traced"));
    let (endpoint, received) = otlp::collector().unwrap();
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    let mut cmd = exec_hello(home.path(), repo.path(), &server, &endpoint);
    cmd.env(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer%20collector-key",
    )
    .env("OTEL_SERVICE_NAME", "cli-jobs");
    output(cmd).await;
    // The process has exited: what the collector got was flushed at exit.
    let got = received.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        got.request_line.starts_with("POST /v1/traces "),
        "{}",
        got.request_line
    );
    assert_eq!(got.header("content-type"), Some("application/x-protobuf"));
    assert!(
        got.header("authorization")
            .is_some_and(|v| v.eq_ignore_ascii_case("bearer collector-key")),
        "{:?}",
        got.headers
    );
    for text in [
        "cli-jobs",
        "chat mock-model",
        "resp_cli",
        "gen_ai.usage.output_tokens",
    ] {
        assert!(got.body_contains(text), "the export has no {text:?}");
    }

    // Turned off by the standard switch: nothing is sent.
    server.push(responses::text_turn("resp_off", "quiet"));
    let mut cmd = exec_hello(home.path(), repo.path(), &server, &endpoint);
    cmd.env("OTEL_SDK_DISABLED", "true");
    output(cmd).await;
    assert!(
        received.try_recv().is_err(),
        "spans were sent with OTEL_SDK_DISABLED=true"
    );
}
