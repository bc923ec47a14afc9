//! The mock server over raw sockets, so the bytes on the wire are what is checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;

use codeloop_mock_server::{chat, responses, MockServer, Reply, SseEvent};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
    /// The chunked body ended with its terminating chunk.
    complete: bool,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn read_more(sock: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    let n = sock.read(&mut chunk).await.unwrap_or(0);
    buf.extend_from_slice(&chunk[..n]);
    n > 0
}

/// Send one request and read its response off `sock`, leaving the connection open.
async fn exchange(sock: &mut TcpStream, method: &str, path: &str, body: &str) -> Response {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos;
        }
        assert!(read_more(sock, &mut buf).await, "closed before the head");
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    buf.drain(..head_end + 4);
    let status = head[9..12].parse().unwrap();
    let lower = head.to_ascii_lowercase();
    if let Some(len) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
    {
        let len: usize = len.trim().parse().unwrap();
        while buf.len() < len {
            assert!(read_more(sock, &mut buf).await);
        }
        return Response {
            status,
            head,
            body: buf[..len].to_vec(),
            complete: true,
        };
    }
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(pos) = find(&buf, b"\r\n") {
                break pos;
            }
            if !read_more(sock, &mut buf).await {
                return Response {
                    status,
                    head,
                    body,
                    complete: false,
                };
            }
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16).unwrap();
        buf.drain(..line_end + 2);
        while buf.len() < size + 2 {
            if !read_more(sock, &mut buf).await {
                return Response {
                    status,
                    head,
                    body,
                    complete: false,
                };
            }
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
        if size == 0 {
            return Response {
                status,
                head,
                body,
                complete: true,
            };
        }
    }
}

#[tokio::test]
async fn streams_responses_and_chat_on_one_keep_alive_connection() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("resp_1", "héllo"));
    server.push(chat::text_turn("hi"));
    let mut sock = TcpStream::connect(server.addr()).await.unwrap();

    let first = exchange(
        &mut sock,
        "POST",
        "/v1/responses",
        r#"{"model":"m","input":[]}"#,
    )
    .await;
    assert_eq!(first.status, 200);
    assert!(first
        .head
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    assert!(first
        .head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked"));
    assert!(first.complete);
    let text = String::from_utf8(first.body).unwrap();
    assert!(
        text.starts_with("event: response.created\ndata: {"),
        "{text}"
    );
    assert!(text.contains("\"delta\":\"héllo\""));
    assert!(text.ends_with("\n\n"));

    let second = exchange(&mut sock, "POST", "/v1/chat/completions", "{}").await;
    let text = String::from_utf8(second.body).unwrap();
    assert!(!text.contains("event:"), "chat has no event lines: {text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v1/responses");
    assert_eq!(requests[0].header("Authorization"), Some("Bearer k"));
    assert_eq!(requests[0].body["model"], "m");
}

#[tokio::test]
async fn an_exhausted_script_answers_500_saying_so() {
    let server = MockServer::start().await.unwrap();
    let mut sock = TcpStream::connect(server.addr()).await.unwrap();
    let response = exchange(&mut sock, "POST", "/v1/responses", "{}").await;
    assert_eq!(response.status, 500);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("script ran out"), "{message}");
}

#[tokio::test]
async fn a_dropped_stream_ends_without_the_last_chunk() {
    let server = MockServer::start().await.unwrap();
    server.push(responses::text_turn("r", "x").drop_after(2));
    let mut sock = TcpStream::connect(server.addr()).await.unwrap();
    let response = exchange(&mut sock, "POST", "/v1/responses", "{}").await;
    assert!(!response.complete);
    let text = String::from_utf8(response.body).unwrap();
    assert_eq!(text.matches("data: ").count(), 2, "{text}");
}

#[tokio::test]
async fn malformed_events_are_sent_verbatim() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::responses([
        responses::created(),
        SseEvent::raw("data: {not json\n\n"),
    ]));
    let mut sock = TcpStream::connect(server.addr()).await.unwrap();
    let response = exchange(&mut sock, "POST", "/v1/responses", "{}").await;
    assert!(String::from_utf8(response.body)
        .unwrap()
        .ends_with("\n\ndata: {not json\n\n"));
}

#[tokio::test]
async fn wait_for_requests_wakes_on_arrival() {
    let server = MockServer::start().await.unwrap();
    server.push(Reply::server_error());
    let addr = server.addr();
    let client = tokio::spawn(async move {
        let mut sock = TcpStream::connect(addr).await.unwrap();
        exchange(&mut sock, "POST", "/v1/responses", r#"{"n":1}"#)
            .await
            .status
    });
    let requests = server.wait_for_requests(1).await.unwrap();
    assert_eq!(requests[0].body, json!({"n": 1}));
    assert_eq!(client.await.unwrap(), 500);
    assert_eq!(server.take_requests().len(), 1);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_binary_prints_its_url_and_takes_replies_over_http() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_codeloop-mock-server"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next_line().await.unwrap().unwrap();
    let authority = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/v1"))
        .unwrap_or_else(|| panic!("unexpected first line: {url}"));
    let mut sock = TcpStream::connect(authority).await.unwrap();

    let script = serde_json::to_string(&vec![Reply::rate_limited(3)]).unwrap();
    let queued = exchange(&mut sock, "POST", "/__mock/replies", &script).await;
    assert_eq!(queued.status, 200);
    let limited = exchange(&mut sock, "POST", "/v1/responses", r#"{"model":"x"}"#).await;
    assert_eq!(limited.status, 429);
    assert!(limited.head.to_ascii_lowercase().contains("retry-after: 3"));
    let recorded = exchange(&mut sock, "GET", "/__mock/requests", "").await;
    let recorded: Value = serde_json::from_slice(&recorded.body).unwrap();
    assert_eq!(recorded[0]["body"]["model"], "x");
    assert_eq!(recorded.as_array().unwrap().len(), 1);

    // Closing stdin stops the server.
    drop(child.stdin.take());
    let status = child.wait().await.unwrap();
    assert!(status.success());
}
