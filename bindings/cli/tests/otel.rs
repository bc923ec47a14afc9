//! `codeloop exec` exports its spans over OTLP/HTTP when the standard OTEL_*
//! variables name a collector, and flushes them before it exits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use codeloop_mock_server::{responses, MockServer};

/// A collector on loopback that answers every POST with 200 and hands on
/// (request line, headers, body).
fn collector() -> (String, mpsc::Receiver<(String, String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut headers = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim_end().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                headers.push_str(&line.to_ascii_lowercase());
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            // Handed on before the answer, so it is there once the
            // exporting process exits.
            if tx.send((request_line, headers, body)).is_err() {
                return;
            }
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
        }
    });
    (format!("http://{addr}"), rx)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn exec_exports_its_spans_to_the_collector_the_env_names() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("resp_cli", "traced"));
    let (endpoint, received) = collector();
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codeloop"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home.path())
        .env("CODELOOP_HOME", home.path())
        .env("OPENAI_API_KEY", "k")
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20collector-key",
        )
        .env("OTEL_SERVICE_NAME", "cli-jobs")
        .args(["exec", "--json", "--skip-git-repo-check", "--ephemeral"])
        .args(["--model", "mock-model", "--cd"])
        .arg(repo.path())
        .arg("hello");
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
    // The process has exited: what the collector got was flushed at exit.
    let (request_line, headers, body) = received.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        request_line.starts_with("POST /v1/traces "),
        "{request_line}"
    );
    assert!(
        headers.contains("content-type: application/x-protobuf"),
        "{headers}"
    );
    assert!(
        headers.contains("authorization: bearer collector-key"),
        "{headers}"
    );
    for text in [
        "cli-jobs",
        "chat mock-model",
        "resp_cli",
        "gen_ai.usage.output_tokens",
    ] {
        assert!(contains(&body, text), "the export has no {text:?}");
    }

    // Turned off by the standard switch: nothing is sent.
    server.push(responses::text_turn("resp_off", "quiet"));
    let repo_path = repo.path().to_path_buf();
    let home_path = home.path().to_path_buf();
    let base = server.base_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_codeloop"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", &home_path)
            .env("CODELOOP_HOME", &home_path)
            .env("OPENAI_API_KEY", "k")
            .env("OPENAI_BASE_URL", base)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_SDK_DISABLED", "true")
            .args(["exec", "--json", "--skip-git-repo-check", "--ephemeral"])
            .args(["--model", "mock-model", "--cd"])
            .arg(&repo_path)
            .arg("hello")
            .stdin(Stdio::null())
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
    assert!(
        received.try_recv().is_err(),
        "spans were sent with OTEL_SDK_DISABLED=true"
    );
}
