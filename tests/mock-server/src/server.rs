//! The server: one FIFO queue of scripted replies, a record of every request,
//! and a connection task per client with HTTP/1.1 keep-alive.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::http::{self, Request};
use crate::reply::{HttpReply, Reply, SseReply};

/// How long [`MockServer::wait_for_requests`] waits before reporting what did
/// arrive; long enough for any slow CI machine, short enough that a broken
/// test fails instead of hanging.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// The path without the query string, e.g. `/v1/responses`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Lowercased names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body; a body that is not JSON is kept as a string,
    /// an empty one is `null`.
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// `body.input` of a Responses request (empty when absent).
    pub fn input(&self) -> &[Value] {
        self.body["input"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// `body.messages` of a Chat request (empty when absent).
    pub fn messages(&self) -> &[Value] {
        self.body["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Names of the tools offered, in either wire shape.
    pub fn tool_names(&self) -> Vec<String> {
        self.body["tools"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t["name"].as_str().or(t["function"]["name"].as_str()))
            .map(String::from)
            .collect()
    }
}

#[derive(Default)]
struct State {
    replies: VecDeque<Reply>,
    requests: Vec<RecordedRequest>,
    /// Model requests answered so far, for error messages.
    served: usize,
    /// TCP connections accepted, to check that clients reuse them.
    connections: usize,
}

struct Shared {
    state: Mutex<State>,
    /// The number of recorded requests, watched by `wait_for_requests`.
    recorded: watch::Sender<usize>,
    verbose: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this test's requests.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A scripted model server on loopback. Dropping it stops the server and
/// closes every connection.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockServer {
    /// Bind 127.0.0.1 on a free port and start serving.
    pub async fn start() -> Result<MockServer> {
        Self::bind("127.0.0.1:0", false).await
    }

    /// Bind `addr` and start serving; `verbose` logs each request to stderr.
    pub async fn bind(addr: impl ToSocketAddrs, verbose: bool) -> Result<MockServer> {
        let listener = TcpListener::bind(addr)
            .await
            .context("binding the mock model server")?;
        let addr = listener.local_addr()?;
        let (recorded, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            recorded,
            verbose,
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(MockServer {
            addr,
            shared,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`, what a client takes as its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queue one reply; each model request takes the oldest.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().replies.push_back(reply);
    }

    pub fn push_all(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.lock().replies.extend(replies);
    }

    /// Replies not yet served.
    pub fn pending_replies(&self) -> usize {
        self.shared.lock().replies.len()
    }

    /// Every request recorded so far (model requests and unknown routes; the
    /// `/__mock/` control endpoints are not recorded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The recorded requests, clearing the record.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        let taken = std::mem::take(&mut self.shared.lock().requests);
        self.shared.recorded.send_replace(0);
        taken
    }

    /// Wait until at least `n` requests are recorded (counting from the last
    /// `take_requests`/`reset`) and return them. Fails after [`WAIT_TIMEOUT`]
    /// naming what did arrive.
    pub async fn wait_for_requests(&self, n: usize) -> Result<Vec<RecordedRequest>> {
        self.wait_for_requests_within(n, WAIT_TIMEOUT).await
    }

    pub async fn wait_for_requests_within(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>> {
        let mut rx = self.shared.recorded.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
        if waited.is_err() {
            let got = self.requests();
            anyhow::bail!(
                "waited {timeout:?} for {n} requests, {} arrived: {:?}",
                got.len(),
                got.iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
        }
        Ok(self.requests())
    }

    /// TCP connections accepted so far (since the last `reset`).
    pub fn connection_count(&self) -> usize {
        self.shared.lock().connections
    }

    /// Forget queued replies, recorded requests and the connection count.
    pub fn reset(&self) {
        reset(&self.shared);
    }
}

fn reset(shared: &Shared) {
    *shared.lock() = State::default();
    shared.recorded.send_replace(0);
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping the JoinSet (when this task is aborted) aborts every
    // connection, so a stalled stream never outlives its server.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => {
                    shared.lock().connections += 1;
                    connections.spawn(serve_connection(sock, shared.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    if shared.verbose {
                        eprintln!("mock server: accept failed: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

enum After {
    KeepAlive,
    Close,
}

async fn serve_connection(mut sock: TcpStream, shared: Arc<Shared>) {
    // Without this, small SSE writes can sit in Nagle's buffer and a test
    // that counts events before a stall would see fewer.
    let _ = sock.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let request = match http::read_request(&mut sock, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                let body = error_body(&format!("mock server: bad request: {e}"), "bad_request");
                let _ = send_http(&mut sock, 400, &[], &body, false).await;
                return;
            }
        };
        let keep_alive = request.keep_alive();
        match handle(&mut sock, request, &shared, keep_alive).await {
            After::KeepAlive if keep_alive => {}
            _ => return,
        }
    }
}

fn error_body(message: &str, code: &str) -> Value {
    json!({"error": {"message": message, "type": "mock_server_error", "param": null, "code": code}})
}

fn parse_body(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn record(request: &Request) -> RecordedRequest {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &request.headers {
        headers
            .entry(name.clone())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    RecordedRequest {
        method: request.method.clone(),
        path: request.path().to_string(),
        query: request.query().map(String::from),
        headers,
        body: parse_body(&request.body),
    }
}

fn is_model_endpoint(path: &str) -> bool {
    path.ends_with("/responses") || path.ends_with("/chat/completions")
}

async fn handle(
    sock: &mut TcpStream,
    request: Request,
    shared: &Shared,
    keep_alive: bool,
) -> After {
    let path = request.path().to_string();
    if let Some(control) = path.strip_prefix("/__mock/") {
        return control_endpoint(sock, &request, control, shared, keep_alive).await;
    }

    let recorded = record(&request);
    let (reply, number) = {
        let mut state = shared.lock();
        state.requests.push(recorded);
        let count = state.requests.len();
        let reply = if request.method == "POST" && is_model_endpoint(&path) {
            state.served += 1;
            Some(state.replies.pop_front())
        } else {
            None
        };
        let number = state.served;
        drop(state);
        shared.recorded.send_replace(count);
        (reply, number)
    };
    if shared.verbose {
        eprintln!(
            "mock server: {} {} (model request {number})",
            request.method, path
        );
    }

    match reply {
        None => {
            let body = error_body(
                &format!("mock server: no route for {} {path}", request.method),
                "unknown_route",
            );
            send_http(sock, 404, &[], &body, keep_alive).await
        }
        Some(None) => {
            let body = error_body(
                &format!(
                    "mock server: the script ran out of replies (this is model request {number}, \
                     {} replies were scripted)",
                    number.saturating_sub(1)
                ),
                "mock_script_exhausted",
            );
            send_http(sock, 500, &[], &body, keep_alive).await
        }
        Some(Some(Reply::Http(reply))) => send_http_reply(sock, &reply, keep_alive).await,
        Some(Some(Reply::Responses(reply))) => send_sse(sock, &reply, false, keep_alive).await,
        Some(Some(Reply::Chat(reply))) => send_sse(sock, &reply, true, keep_alive).await,
    }
}

async fn control_endpoint(
    sock: &mut TcpStream,
    request: &Request,
    control: &str,
    shared: &Shared,
    keep_alive: bool,
) -> After {
    match (request.method.as_str(), control) {
        ("POST", "replies") => {
            // Accept one reply or an array of them; decide by the first byte
            // so the error names what is wrong inside.
            let is_array = request
                .body
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'[');
            let parsed = if is_array {
                serde_json::from_slice::<Vec<Reply>>(&request.body)
            } else {
                serde_json::from_slice::<Reply>(&request.body).map(|reply| vec![reply])
            };
            match parsed {
                Ok(replies) => {
                    let queued = {
                        let mut state = shared.lock();
                        state.replies.extend(replies);
                        state.replies.len()
                    };
                    send_http(sock, 200, &[], &json!({"queued": queued}), keep_alive).await
                }
                Err(e) => {
                    let message = format!("mock server: replies are not valid: {e}");
                    let body = error_body(&message, "bad_script");
                    send_http(sock, 400, &[], &body, keep_alive).await
                }
            }
        }
        ("GET", "requests") => {
            let requests = shared.lock().requests.clone();
            let body = serde_json::to_value(requests).unwrap_or(Value::Null);
            send_http(sock, 200, &[], &body, keep_alive).await
        }
        ("POST", "reset") => {
            reset(shared);
            send_http(sock, 200, &[], &json!({"reset": true}), keep_alive).await
        }
        _ => {
            let body = error_body(
                &format!(
                    "mock server: no control endpoint {} /__mock/{control}",
                    request.method
                ),
                "unknown_route",
            );
            send_http(sock, 404, &[], &body, keep_alive).await
        }
    }
}

fn connection_header(keep_alive: bool) -> (&'static str, String) {
    let value = if keep_alive { "keep-alive" } else { "close" };
    ("connection", value.to_string())
}

async fn send_http_reply(sock: &mut TcpStream, reply: &HttpReply, keep_alive: bool) -> After {
    if reply.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(reply.delay_ms)).await;
    }
    let extra: Vec<(String, String)> = reply
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    send_http(sock, reply.status, &extra, &reply.body, keep_alive).await
}

async fn send_http(
    sock: &mut TcpStream,
    status: u16,
    extra: &[(String, String)],
    body: &Value,
    keep_alive: bool,
) -> After {
    use tokio::io::AsyncWriteExt;
    let (content_type, bytes) = match body {
        Value::Null => ("text/plain; charset=utf-8", Vec::new()),
        Value::String(s) => ("text/plain; charset=utf-8", s.clone().into_bytes()),
        other => ("application/json", other.to_string().into_bytes()),
    };
    let defaults = [
        ("content-type", content_type.to_string()),
        ("content-length", bytes.len().to_string()),
        connection_header(keep_alive),
    ];
    let mut out = http::head(status, &defaults, extra).into_bytes();
    out.extend_from_slice(&bytes);
    match sock.write_all(&out).await {
        Ok(()) if sock.flush().await.is_ok() => After::KeepAlive,
        _ => After::Close,
    }
}

async fn send_sse(sock: &mut TcpStream, reply: &SseReply, chat: bool, keep_alive: bool) -> After {
    use tokio::io::AsyncWriteExt;
    let extra: Vec<(String, String)> = reply
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let defaults = [
        (
            "content-type",
            "text/event-stream; charset=utf-8".to_string(),
        ),
        ("cache-control", "no-cache".to_string()),
        ("transfer-encoding", "chunked".to_string()),
        connection_header(keep_alive),
    ];
    let head = http::head(200, &defaults, &extra);
    if sock.write_all(head.as_bytes()).await.is_err() || sock.flush().await.is_err() {
        return After::Close;
    }

    for index in 0..=reply.events.len() {
        if reply.drop_after == Some(index) {
            // Returning drops the socket: the body ends without its last chunk.
            return After::Close;
        }
        if reply.stall_after == Some(index) {
            http::wait_for_close(sock).await;
            return After::Close;
        }
        let Some(event) = reply.events.get(index) else {
            break;
        };
        let delay = reply.delay_ms + event.delay_ms();
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let frame = event.frame(!chat);
        if http::write_chunk(sock, frame.as_bytes(), reply.chunk_size)
            .await
            .is_err()
        {
            return After::Close;
        }
    }
    if reply.drop_after.is_some() || reply.stall_after.is_some() {
        // A fault past the last event still happens: after every event.
        if reply.stall_after.is_some() {
            http::wait_for_close(sock).await;
        }
        return After::Close;
    }
    if chat
        && !reply.omit_done
        && http::write_chunk(sock, b"data: [DONE]\n\n", reply.chunk_size)
            .await
            .is_err()
    {
        return After::Close;
    }
    match http::write_last_chunk(sock).await {
        Ok(()) => After::KeepAlive,
        Err(_) => After::Close,
    }
}
