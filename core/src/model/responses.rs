//! The OpenAI Responses API (`POST {base_url}/responses`, streamed as SSE),
//! and the HTTP plumbing every HTTP provider shares: auth, headers, the
//! request timeout and the mapping of HTTP errors to [`ModelError`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use serde_json::{json, Map, Value};

use super::provider::ProviderConfig;
use super::retry::{RetryPolicy, CLOSED_BEFORE_COMPLETION};
use super::sse::{SseError, SseEvent, SseStream};
use super::{ModelClient, ModelError, ModelRequest, ResponseEvent, ResponseStream};
use crate::error::{Error, Result};
use crate::protocol::{ContentItem, ReasoningSummaryMode, ResponseItem, Usage};

/// The `text.format.name` (and chat `json_schema.name`) of an output schema.
pub const OUTPUT_SCHEMA_NAME: &str = "codeloop_output_schema";

/// Error bodies can be whole HTML pages from a proxy; keep messages readable.
const MAX_ERROR_MESSAGE: usize = 2000;

/// The most of an error body that is read: enough for any real error JSON,
/// and a server answering with an endless body cannot fill memory.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A client for the Responses API. Holds one connection pool.
pub struct ResponsesClient {
    transport: HttpTransport,
}

impl ResponsesClient {
    pub fn new(config: ProviderConfig) -> Result<Self> {
        Ok(ResponsesClient {
            transport: HttpTransport::new(config)?,
        })
    }
}

#[async_trait::async_trait]
impl ModelClient for ResponsesClient {
    async fn stream(&self, request: &ModelRequest) -> Result<ResponseStream, ModelError> {
        let body = request_body(request);
        let response = self.transport.post_sse("responses", &body).await?;
        Ok(Box::pin(response_events(Box::pin(response.bytes_stream()))))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.transport.config.retry
    }

    fn provider_name(&self) -> &str {
        &self.transport.config.id
    }
}

/// The JSON body of a Responses request, as described in CODEX-FORMATS.md.
pub fn request_body(request: &ModelRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    if let Some(instructions) = &request.instructions {
        body.insert("instructions".into(), json!(instructions));
    }
    body.insert(
        "input".into(),
        Value::Array(request.input.iter().filter_map(input_item).collect()),
    );
    body.insert("tools".into(), json!(request.tools));
    body.insert("tool_choice".into(), json!("auto"));
    body.insert(
        "parallel_tool_calls".into(),
        json!(request.parallel_tool_calls),
    );
    if let Some(reasoning) = &request.reasoning {
        let mut r = Map::new();
        if let Some(effort) = reasoning.effort {
            r.insert("effort".into(), json!(effort));
        }
        // The API has no "none" summary; leaving the field out asks for none.
        if let Some(summary) = reasoning
            .summary
            .filter(|s| *s != ReasoningSummaryMode::None)
        {
            r.insert("summary".into(), json!(summary));
        }
        body.insert("reasoning".into(), Value::Object(r));
    }
    body.insert("store".into(), json!(false));
    body.insert("stream".into(), json!(true));
    if request.reasoning.is_some() {
        // With store=false, reasoning is only carried across turns encrypted.
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    }
    if let Some(key) = &request.prompt_cache_key {
        body.insert("prompt_cache_key".into(), json!(key));
    }
    if let Some(schema) = &request.output_schema {
        body.insert(
            "text".into(),
            json!({"format": {
                "type": "json_schema",
                "name": OUTPUT_SCHEMA_NAME,
                "schema": schema,
                "strict": true,
            }}),
        );
    }
    Value::Object(body)
}

/// One history item on the wire, or `None` for an item the API would not
/// take back. Item ids are dropped: with `store: false` the server keeps no
/// items, and an id it cannot find is an error.
fn input_item(item: &ResponseItem) -> Option<Value> {
    match item {
        ResponseItem::Other => return None,
        // Without its encrypted content (and without an id, dropped below)
        // a reasoning item carries nothing the server can use, and it may
        // refuse the request for it. Chat providers produce such items.
        ResponseItem::Reasoning {
            encrypted_content: None,
            ..
        } => return None,
        // A content part this version could not read was kept only as a
        // placeholder; sending `{"type": "unknown"}` would be rejected.
        ResponseItem::Message { id, role, content }
            if content.iter().any(|c| matches!(c, ContentItem::Unknown)) =>
        {
            let known: Vec<ContentItem> = content
                .iter()
                .filter(|c| !matches!(c, ContentItem::Unknown))
                .cloned()
                .collect();
            if known.is_empty() {
                return None;
            }
            return input_item(&ResponseItem::Message {
                id: id.clone(),
                role: role.clone(),
                content: known,
            });
        }
        _ => {}
    }
    let mut value = serde_json::to_value(item).ok()?;
    if let Some(object) = value.as_object_mut() {
        object.remove("id");
    }
    Some(value)
}

/// Turn a Responses SSE byte stream into [`ResponseEvent`]s. The stream ends
/// after `response.completed` or the first error; ending before either is a
/// dropped stream.
pub(crate) fn response_events<S>(
    bytes: S,
) -> impl Stream<Item = Result<ResponseEvent, ModelError>> + Send
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send + Unpin + 'static,
{
    futures::stream::unfold(Some(SseStream::new(bytes)), |state| async move {
        let mut sse = state?;
        loop {
            let event = match sse.next().await {
                None => return Some((Err(dropped_before_completion()), None)),
                Some(Err(e)) => return Some((Err(stream_broke(&e)), None)),
                Some(Ok(event)) => event,
            };
            match map_event(&event) {
                Ok(None) => {}
                Ok(Some(done @ ResponseEvent::Completed { .. })) => {
                    release_connection(sse).await;
                    return Some((Ok(done), None));
                }
                Ok(Some(event)) => return Some((Ok(event), Some(sse))),
                Err(e) => return Some((Err(e), None)),
            }
        }
    })
}

/// Read what is left of a finished response body (its terminating chunk,
/// already on its way) before handing over the last event. The caller stops
/// reading at that event, and hyper only returns a connection to the pool
/// once its body was read to the end: without this every request would open
/// a new connection (and TLS session). A server that keeps the body open
/// costs at most [`DRAIN_TIMEOUT`], then the connection is dropped.
pub(crate) async fn release_connection<S>(mut rest: S)
where
    S: Stream + Unpin,
{
    let drain = async { while rest.next().await.is_some() {} };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
}

pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_millis(250);

fn dropped_before_completion() -> ModelError {
    ModelError::Retryable {
        message: CLOSED_BEFORE_COMPLETION.into(),
        retry_after: None,
    }
}

/// The body stream failed, or an event in it outgrew the parser's limit.
/// Either way this response is lost and another attempt may fare better.
pub(crate) fn stream_broke(e: &SseError<reqwest::Error>) -> ModelError {
    let message = match e {
        SseError::Source(e) => format!("model stream dropped: {}", error_chain(e)),
        SseError::TooLarge(too_large) => format!("model stream unusable: {too_large}"),
    };
    ModelError::Retryable {
        message,
        retry_after: None,
    }
}

pub(crate) fn malformed(what: &str, data: &str, error: impl std::fmt::Display) -> ModelError {
    ModelError::Retryable {
        message: format!(
            "malformed {what} from the model ({error}): {}",
            truncate(data, 200)
        ),
        retry_after: None,
    }
}

fn map_event(event: &SseEvent) -> Result<Option<ResponseEvent>, ModelError> {
    if event.data.trim() == "[DONE]" {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(&event.data).map_err(|e| {
        let what = format!(
            "event {}",
            event.event.as_deref().unwrap_or("(no event name)")
        );
        malformed(&what, &event.data, e)
    })?;
    let kind = value["type"]
        .as_str()
        .or(event.event.as_deref())
        .unwrap_or_default()
        .to_string();
    let text = |field: &str| -> Result<String, ModelError> {
        value[field]
            .as_str()
            .map(String::from)
            .ok_or_else(|| malformed(&format!("{kind} event"), &event.data, "no `delta`"))
    };
    let item = || serde_json::from_value::<ResponseItem>(value["item"].clone());
    Ok(Some(match kind.as_str() {
        "response.created" => ResponseEvent::Created,
        // Only informative: an item the server announces in a shape this
        // version cannot read must not break a stream whose `done` it can.
        "response.output_item.added" => match item() {
            Ok(item) => ResponseEvent::OutputItemAdded { item },
            Err(_) => return Ok(None),
        },
        // An item this version cannot read is the same on every attempt:
        // retrying would pay for the same response again. It is left out.
        "response.output_item.done" => match item() {
            Ok(item) => ResponseEvent::OutputItemDone { item },
            Err(error) => {
                let item_type = value["item"]["type"].as_str().unwrap_or("(no type)");
                tracing::warn!(
                    item_type,
                    %error,
                    item = %truncate(&value["item"].to_string(), 500),
                    "skipping an output item that cannot be read"
                );
                return Ok(None);
            }
        },
        "response.output_text.delta" => ResponseEvent::OutputTextDelta {
            delta: text("delta")?,
        },
        "response.reasoning_summary_text.delta" => ResponseEvent::ReasoningSummaryDelta {
            delta: text("delta")?,
        },
        "response.reasoning_text.delta" => ResponseEvent::ReasoningContentDelta {
            delta: text("delta")?,
        },
        "response.completed" => {
            let response = &value["response"];
            ResponseEvent::Completed {
                response_id: response["id"].as_str().unwrap_or_default().to_string(),
                usage: responses_usage(&response["usage"]),
                model: response["model"].as_str().map(String::from),
            }
        }
        "response.failed" => return Err(failure(&value["response"]["error"])),
        "response.incomplete" => {
            let reason = value["response"]["incomplete_details"]["reason"]
                .as_str()
                .unwrap_or("unknown reason");
            return Err(Error::ResponseFailed(format!("incomplete: {reason}")).into());
        }
        // The API's stream-level error event: `{"type":"error","code","message"}`.
        "error" => {
            let error = if value["error"].is_object() {
                &value["error"]
            } else {
                &value
            };
            return Err(failure(error));
        }
        _ => return Ok(None),
    }))
}

fn responses_usage(usage: &Value) -> Option<Usage> {
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    usage.is_object().then(|| Usage {
        input_tokens: count(&usage["input_tokens"]),
        cached_input_tokens: count(&usage["input_tokens_details"]["cached_tokens"]),
        output_tokens: count(&usage["output_tokens"]),
        reasoning_output_tokens: count(&usage["output_tokens_details"]["reasoning_tokens"]),
    })
}

/// A failed response, sorted by its error code.
pub(crate) fn failure(error: &Value) -> ModelError {
    let code = match &error["code"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let message = error["message"]
        .as_str()
        .filter(|m| !m.is_empty())
        .unwrap_or("the model response failed")
        .to_string();
    match code.as_str() {
        "context_length_exceeded" => Error::ContextWindowExceeded(message).into(),
        "insufficient_quota" => Error::QuotaExceeded(message).into(),
        "server_is_overloaded" | "rate_limit_exceeded" | "server_error" | "slow_down" => {
            ModelError::Retryable {
                retry_after: retry_after_from_message(&message),
                message: format!("{message} ({code})"),
            }
        }
        // OpenRouter reports upstream failures with HTTP status numbers.
        numeric if numeric.parse::<u16>().is_ok_and(|s| s == 429 || s >= 500) => {
            ModelError::Retryable {
                message: format!("{message} ({code})"),
                retry_after: None,
            }
        }
        "" => Error::ResponseFailed(message).into(),
        _ => Error::ResponseFailed(format!("{message} ({code})")).into(),
    }
}

/// "Please try again in 1.5s" / "in 20ms", as OpenAI words rate limits in a
/// failed response that carries no header.
fn retry_after_from_message(message: &str) -> Option<Duration> {
    let start = message.find("try again in ")? + "try again in ".len();
    let rest = &message[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let value: f64 = rest[..end].parse().ok()?;
    let unit = rest[end..].trim_start();
    let seconds = if unit.starts_with("ms") {
        value / 1000.0
    } else if unit.starts_with('s') {
        value
    } else {
        return None;
    };
    Duration::try_from_secs_f64(seconds).ok()
}

// --- HTTP shared by the Responses and Chat clients ---

/// A provider's HTTP side: one pooled client, the resolved config and the
/// headers every request carries.
pub(crate) struct HttpTransport {
    pub(crate) config: ProviderConfig,
    http: reqwest::Client,
    headers: HeaderMap,
}

impl HttpTransport {
    pub(crate) fn new(config: ProviderConfig) -> Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        for (name, value) in &config.http_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::Config(format!("invalid HTTP header name `{name}`: {e}")))?;
            let value = HeaderValue::from_str(value).map_err(|e| {
                Error::Config(format!("invalid value for HTTP header `{name}`: {e}"))
            })?;
            headers.insert(name, value);
        }
        let http = crate::net::build_http_client(
            crate::net::http_client_builder()?.connect_timeout(Duration::from_secs(30)),
            "the model provider",
        )?;
        Ok(HttpTransport {
            config,
            http,
            headers,
        })
    }

    /// POST `body` to `{base_url}/{path}` and return the response once its
    /// status says a stream follows.
    pub(crate) async fn post_sse(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<reqwest::Response, ModelError> {
        let key = self.config.api_key.as_deref().filter(|k| !k.is_empty());
        if key.is_none() && self.config.requires_key {
            return Err(ModelError::Fatal(self.config.missing_key_error()));
        }
        let url = format!("{}/{path}", self.config.base_url);
        let mut builder = self.http.post(&url).headers(self.headers.clone());
        if !self.config.query_params.is_empty() {
            builder = builder.query(&self.config.query_params);
        }
        if let Some(key) = key {
            builder = builder.bearer_auth(key);
        }
        let timeout = self.config.retry.idle_timeout;
        // The idle timeout covers the wait for the response head too: a
        // server that never answers must not hang the turn.
        let response = match tokio::time::timeout(timeout, builder.json(body).send()).await {
            Err(_) => {
                return Err(ModelError::Retryable {
                    message: format!("no response from {url} within {} ms", timeout.as_millis()),
                    retry_after: None,
                })
            }
            Ok(Err(e)) => {
                return Err(ModelError::Retryable {
                    message: format!("request to {url} failed: {}", error_chain(&e)),
                    retry_after: None,
                })
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let headers = response.headers().clone();
        let json_body = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        if status.is_success() && !json_body {
            return Ok(response);
        }
        let body = read_error_body(response, timeout).await;
        if status.is_success() {
            // A server (or proxy) that ignored `stream: true`: retrying
            // would get the same answer.
            let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if !parsed["error"].is_null() {
                return Err(http_error(status.as_u16(), &headers, &body));
            }
            return Err(Error::Api {
                status: status.as_u16(),
                message: format!(
                    "expected an event stream from {url}, got JSON: {}",
                    truncate(&body, 500)
                ),
            }
            .into());
        }
        Err(http_error(status.as_u16(), &headers, &body))
    }
}

/// At most [`MAX_ERROR_BODY`] bytes of a body that is not an event stream,
/// read until `timeout` passes; what arrived by then is kept.
async fn read_error_body(mut response: reqwest::Response, timeout: Duration) -> String {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            // The end, a broken body or the deadline: use what came.
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    String::from_utf8_lossy(&body).into_owned()
}

/// Sort an HTTP error answer into retryable or fatal, keeping the server's
/// own message.
pub(crate) fn http_error(status: u16, headers: &HeaderMap, body: &str) -> ModelError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    // OpenAI: {"error": {"message", "type", "code"}}; Ollama: {"error": "..."};
    // some proxies: {"message": "..."}.
    let error = &parsed["error"];
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    let message = error["message"]
        .as_str()
        .or(error.as_str())
        .or(parsed["message"].as_str())
        .map(String::from)
        .unwrap_or_else(|| {
            let text = body.trim();
            if text.is_empty() {
                reason.unwrap_or("no error message").to_string()
            } else {
                text.to_string()
            }
        });
    let message = truncate(&message, MAX_ERROR_MESSAGE);
    let code = error["code"].as_str().unwrap_or_default();
    let error_type = error["type"].as_str().unwrap_or_default();
    if code == "insufficient_quota" || error_type == "insufficient_quota" {
        return Error::QuotaExceeded(message).into();
    }
    if code == "context_length_exceeded" {
        return Error::ContextWindowExceeded(message).into();
    }
    match status {
        401 | 403 => Error::Unauthorized(message).into(),
        // This message is also the final error once retries run out, so it
        // names the status in full: `HTTP 429 Too Many Requests: <message>`.
        429 | 500..=599 => ModelError::Retryable {
            message: match reason {
                Some(reason) if reason != message => {
                    format!("HTTP {status} {reason}: {message}")
                }
                _ => format!("HTTP {status}: {message}"),
            },
            retry_after: retry_after(headers),
        },
        _ => Error::Api { status, message }.into(),
    }
}

/// The server's requested delay: OpenAI's `retry-after-ms`, else
/// `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if let Ok(delay) = Duration::try_from_secs_f64(ms / 1000.0) {
            return Some(delay);
        }
    }
    let value = header("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = parse_http_date(value)?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP-date form
/// servers may still send.
fn parse_http_date(text: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (Some(Some(h)), Some(Some(m)), Some(Some(s)), None) =
        (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return None;
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// reqwest's Display stops at the outermost error ("error sending
/// request"); the cause (connection refused, reset) is in the sources.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn http_dates_parse() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 784_111_777);
        assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST").is_none());
        assert!(parse_http_date("soon").is_none());
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn retry_hint_in_a_message() {
        assert_eq!(
            retry_after_from_message("Rate limit reached. Please try again in 1.5s. Visit"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after_from_message("try again in 20ms"),
            Some(Duration::from_millis(20))
        );
        assert_eq!(retry_after_from_message("try again later"), None);
    }

    #[test]
    fn ids_are_not_sent_back() {
        let item = ResponseItem::FunctionCall {
            id: Some("fc_1".into()),
            name: "shell".into(),
            arguments: "{}".into(),
            call_id: "c1".into(),
        };
        let v = input_item(&item).unwrap();
        assert!(v.get("id").is_none());
        assert_eq!(v["call_id"], "c1");
        assert!(input_item(&ResponseItem::Other).is_none());
    }
}
