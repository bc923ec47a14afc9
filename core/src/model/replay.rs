//! Cassettes: recorded model exchanges, replayed without a network for
//! hermetic tests and the offline demo.
//!
//! A cassette is `{"version": 1, "exchanges": [{"request": {...}, "events":
//! [ResponseEvent, ...]}]}`. The request is stored normalized
//! ([`CassetteRequest`]): model, input items and tool names. Replaying
//! compares what is stable from run to run (the model, message texts, tool
//! call names, arguments and ids) and ignores what is not (tool outputs, which
//! carry wall times and temp paths; the environment context, which names the
//! cwd; the prompt cache key).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::retry::RetryPolicy;
use super::{ModelClient, ModelError, ModelRequest, ResponseEvent, ResponseStream};
use crate::error::{Error, Result};
use crate::protocol::{ContentItem, ResponseItem};

pub const CASSETTE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cassette {
    pub version: u32,
    pub exchanges: Vec<Exchange>,
}

impl Default for Cassette {
    fn default() -> Self {
        Cassette {
            version: CASSETTE_VERSION,
            exchanges: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: CassetteRequest,
    pub events: Vec<ResponseEvent>,
}

/// A request as a cassette keeps it. The one place that decides what of a
/// request is recorded and what must match on replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassetteRequest {
    pub model: String,
    pub input: Vec<ResponseItem>,
    /// Names of the tools offered; informative, not compared (adding a tool
    /// to codeloop should not invalidate every cassette).
    #[serde(default)]
    pub tools: Vec<String>,
}

impl CassetteRequest {
    pub fn from_request(request: &ModelRequest) -> Self {
        CassetteRequest {
            model: request.model.clone(),
            input: request.input.clone(),
            tools: request
                .tools
                .iter()
                .map(|t| t.name().to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }

    /// The first difference between this (recorded) request and `actual`,
    /// worded for a person: `input[3].text differs: cassette has "…",
    /// request has "…"`.
    pub fn first_difference(&self, actual: &CassetteRequest) -> Option<String> {
        if self.model != actual.model {
            return Some(differs("model", &self.model, &actual.model));
        }
        for (i, (recorded, got)) in self.input.iter().zip(&actual.input).enumerate() {
            if let Some(diff) = item_difference(recorded, got) {
                return Some(format!("input[{i}]{diff}"));
            }
        }
        if self.input.len() != actual.input.len() {
            let n = self.input.len().min(actual.input.len());
            let (side, extra) = if self.input.len() > actual.input.len() {
                ("the cassette", &self.input[n])
            } else {
                ("the request", &actual.input[n])
            };
            return Some(format!(
                "the cassette has {} input items, the request has {}; the first extra one, in {side}, is input[{n}] {}",
                self.input.len(),
                actual.input.len(),
                describe(extra)
            ));
        }
        None
    }
}

fn kind(item: &ResponseItem) -> &'static str {
    match item {
        ResponseItem::Message { .. } => "message",
        ResponseItem::Reasoning { .. } => "reasoning",
        ResponseItem::FunctionCall { .. } => "function_call",
        ResponseItem::FunctionCallOutput { .. } => "function_call_output",
        ResponseItem::CustomToolCall { .. } => "custom_tool_call",
        ResponseItem::CustomToolCallOutput { .. } => "custom_tool_call_output",
        ResponseItem::Other => "other",
    }
}

fn describe(item: &ResponseItem) -> String {
    match item {
        ResponseItem::Message { role, .. } => format!(
            "({} message {})",
            role,
            quote(&item.message_text().unwrap_or_default())
        ),
        ResponseItem::FunctionCall { name, .. } | ResponseItem::CustomToolCall { name, .. } => {
            format!("({} {name})", kind(item))
        }
        _ => format!("({})", kind(item)),
    }
}

/// ` .field differs: …` for the first field of two items that differs.
fn item_difference(recorded: &ResponseItem, got: &ResponseItem) -> Option<String> {
    if kind(recorded) != kind(got) {
        return Some(format!(
            ".type differs: cassette has {} {}, request has {} {}",
            kind(recorded),
            describe(recorded),
            kind(got),
            describe(got)
        ));
    }
    let field =
        |name: &str, a: &str, b: &str| (a != b).then(|| format!(".{}", differs(name, a, b)));
    match (recorded, got) {
        (
            ResponseItem::Message {
                role: role_a,
                content: content_a,
                ..
            },
            ResponseItem::Message {
                role: role_b,
                content: content_b,
                ..
            },
        ) => field("role", role_a, role_b)
            .or_else(|| {
                let (a, b) = (
                    recorded.message_text().unwrap_or_default(),
                    got.message_text().unwrap_or_default(),
                );
                // The environment context names the cwd and the sandbox of
                // this run: environment, like tool outputs, not conversation.
                let tag = crate::agent::prompt::ENVIRONMENT_CONTEXT_TAG;
                if a.starts_with(tag) && b.starts_with(tag) {
                    return None;
                }
                field("text", &a, &b)
            })
            .or_else(|| {
                let (a, b) = (images(content_a), images(content_b));
                (a != b)
                    .then(|| format!(".images differ: cassette has {a} images, request has {b}"))
            }),
        (
            ResponseItem::FunctionCall {
                name: name_a,
                arguments: args_a,
                call_id: id_a,
                ..
            },
            ResponseItem::FunctionCall {
                name: name_b,
                arguments: args_b,
                call_id: id_b,
                ..
            },
        ) => field("name", name_a, name_b)
            .or_else(|| field("arguments", args_a, args_b))
            .or_else(|| field("call_id", id_a, id_b)),
        (
            ResponseItem::CustomToolCall {
                name: name_a,
                input: input_a,
                call_id: id_a,
                ..
            },
            ResponseItem::CustomToolCall {
                name: name_b,
                input: input_b,
                call_id: id_b,
                ..
            },
        ) => field("name", name_a, name_b)
            .or_else(|| field("input", input_a, input_b))
            .or_else(|| field("call_id", id_a, id_b)),
        // Outputs vary run to run; only which call they answer must match.
        (
            ResponseItem::FunctionCallOutput { call_id: id_a, .. },
            ResponseItem::FunctionCallOutput { call_id: id_b, .. },
        )
        | (
            ResponseItem::CustomToolCallOutput { call_id: id_a, .. },
            ResponseItem::CustomToolCallOutput { call_id: id_b, .. },
        ) => field("call_id", id_a, id_b),
        _ => None,
    }
}

fn images(content: &[ContentItem]) -> usize {
    content
        .iter()
        .filter(|c| matches!(c, ContentItem::InputImage { .. }))
        .count()
}

fn differs(field: &str, recorded: &str, actual: &str) -> String {
    let (a, b) = excerpts(recorded, actual);
    format!("{field} differs: cassette has {a}, request has {b}")
}

/// Both texts quoted; long ones cut to a window around where they diverge.
fn excerpts(a: &str, b: &str) -> (String, String) {
    const WIDTH: usize = 160;
    if a.chars().count() <= WIDTH && b.chars().count() <= WIDTH {
        return (quote(a), quote(b));
    }
    let common = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let window = |s: &str| {
        let mut start = common.saturating_sub(WIDTH / 4).min(s.len());
        while !s.is_char_boundary(start) {
            start -= 1;
        }
        let cut: String = s[start..].chars().take(WIDTH).collect();
        let more = s[start..].chars().count() > WIDTH;
        format!(
            "{}{}{}",
            if start > 0 { "…" } else { "" },
            quote(&cut),
            if more { "…" } else { "" }
        )
    };
    (window(a), window(b))
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// Read a cassette file; a missing or corrupt file is a configuration error
/// naming the path.
pub fn load_cassette(path: &Path) -> Result<Cassette> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read cassette {}: {e}", path.display())))?;
    let cassette: Cassette = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("cassette {} is not valid: {e}", path.display())))?;
    if cassette.version != CASSETTE_VERSION {
        return Err(Error::Config(format!(
            "cassette {} has version {}, this codeloop reads version {CASSETTE_VERSION}",
            path.display(),
            cassette.version
        )));
    }
    Ok(cassette)
}

/// Write a whole cassette so that a reader never sees half of one: to a
/// temporary file next to it, then renamed over it.
pub fn save_cassette(path: &Path, cassette: &Cassette) -> Result<()> {
    let text = serde_json::to_string_pretty(cassette)
        .map_err(|e| Error::Internal(format!("cannot serialize a cassette: {e}")))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cassette".into());
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text + "\n")
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("replacing {}", path.display()), e)
    })
}

/// Serves a cassette's exchanges in order, with no network.
pub struct ReplayClient {
    exchanges: Vec<Exchange>,
    next: Mutex<usize>,
    retry: RetryPolicy,
}

impl ReplayClient {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(load_cassette(path.as_ref())?))
    }

    pub fn new(cassette: Cassette) -> Self {
        ReplayClient {
            exchanges: cassette.exchanges,
            next: Mutex::new(0),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

#[async_trait::async_trait]
impl ModelClient for ReplayClient {
    async fn stream(&self, request: &ModelRequest) -> Result<ResponseStream, ModelError> {
        let exchange = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let Some(exchange) = self.exchanges.get(*next) else {
                return Err(Error::Replay(format!(
                    "the cassette has {} exchanges and this is request {}",
                    self.exchanges.len(),
                    *next + 1
                ))
                .into());
            };
            let actual = CassetteRequest::from_request(request);
            if let Some(diff) = exchange.request.first_difference(&actual) {
                return Err(Error::Replay(format!("exchange {}: {diff}", *next + 1)).into());
            }
            *next += 1;
            exchange.clone()
        };
        Ok(Box::pin(futures::stream::iter(
            exchange.events.into_iter().map(Ok),
        )))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn provider_name(&self) -> &str {
        "replay"
    }
}

/// Passes requests through to another client and writes every completed
/// exchange to a cassette. Broken or retried streams are not recorded.
pub struct Recorder {
    inner: Arc<dyn ModelClient>,
    path: PathBuf,
    cassette: Arc<tokio::sync::Mutex<Cassette>>,
}

impl Recorder {
    /// Start a new cassette at `path` (replacing any file there once the
    /// first exchange completes).
    pub fn new(inner: Arc<dyn ModelClient>, path: impl Into<PathBuf>) -> Self {
        Recorder {
            inner,
            path: path.into(),
            cassette: Arc::new(tokio::sync::Mutex::new(Cassette::default())),
        }
    }
}

struct Recording {
    upstream: ResponseStream,
    request: CassetteRequest,
    events: Vec<ResponseEvent>,
    path: PathBuf,
    cassette: Arc<tokio::sync::Mutex<Cassette>>,
}

#[async_trait::async_trait]
impl ModelClient for Recorder {
    async fn stream(&self, request: &ModelRequest) -> Result<ResponseStream, ModelError> {
        let upstream = self.inner.stream(request).await?;
        let recording = Recording {
            upstream,
            request: CassetteRequest::from_request(request),
            events: Vec::new(),
            path: self.path.clone(),
            cassette: self.cassette.clone(),
        };
        Ok(Box::pin(futures::stream::unfold(
            Some(recording),
            |state| async move {
                let mut rec = state?;
                match rec.upstream.next().await {
                    Some(Ok(event)) => {
                        rec.events.push(event.clone());
                        if !matches!(event, ResponseEvent::Completed { .. }) {
                            return Some((Ok(event), Some(rec)));
                        }
                        // The caller sees `Completed` only once the cassette
                        // holds this exchange.
                        let saved = {
                            let mut cassette = rec.cassette.lock().await;
                            cassette.exchanges.push(Exchange {
                                request: rec.request,
                                events: rec.events,
                            });
                            let snapshot = cassette.clone();
                            let path = rec.path.clone();
                            tokio::task::spawn_blocking(move || save_cassette(&path, &snapshot))
                                .await
                                .unwrap_or_else(|e| {
                                    Err(Error::Internal(format!("cassette writer failed: {e}")))
                                })
                        };
                        Some((saved.map(|()| event).map_err(ModelError::Fatal), None))
                    }
                    Some(Err(e)) => Some((Err(e), None)),
                    None => None,
                }
            },
        )))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry_policy()
    }

    fn provider_name(&self) -> &str {
        self.inner.provider_name()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn req(input: Vec<ResponseItem>) -> CassetteRequest {
        CassetteRequest {
            model: "m".into(),
            input,
            tools: vec![],
        }
    }

    #[test]
    fn tool_outputs_are_not_compared() {
        let a = req(vec![ResponseItem::FunctionCallOutput {
            call_id: "c".into(),
            output: "Wall time: 0.1 seconds".into(),
        }]);
        let b = req(vec![ResponseItem::FunctionCallOutput {
            call_id: "c".into(),
            output: "Wall time: 0.3 seconds".into(),
        }]);
        assert_eq!(a.first_difference(&b), None);
    }

    #[test]
    fn environment_context_is_not_compared_but_prompts_are() {
        let env = |cwd: &str| {
            ResponseItem::user_text(format!(
                "{}\n  <cwd>{cwd}</cwd>\n</environment_context>",
                crate::agent::prompt::ENVIRONMENT_CONTEXT_TAG
            ))
        };
        let a = req(vec![env("/tmp/a"), ResponseItem::user_text("go")]);
        let b = req(vec![env("/tmp/b"), ResponseItem::user_text("go")]);
        assert_eq!(a.first_difference(&b), None);
        let c = req(vec![env("/tmp/b"), ResponseItem::user_text("stop")]);
        assert!(a.first_difference(&c).is_some());
    }

    #[test]
    fn differences_are_named() {
        let a = req(vec![ResponseItem::user_text("fix the test")]);
        let b = req(vec![ResponseItem::user_text("fix the bug")]);
        assert_eq!(
            a.first_difference(&b).unwrap(),
            "input[0].text differs: cassette has \"fix the test\", request has \"fix the bug\""
        );
        let c = req(vec![]);
        let diff = a.first_difference(&c).unwrap();
        assert!(
            diff.contains("the cassette has 1 input items, the request has 0"),
            "{diff}"
        );
    }

    #[test]
    fn long_texts_show_where_they_diverge() {
        let base = "x".repeat(500);
        let a = req(vec![ResponseItem::user_text(format!("{base}AAA tail"))]);
        let b = req(vec![ResponseItem::user_text(format!("{base}BBB tail"))]);
        let diff = a.first_difference(&b).unwrap();
        assert!(diff.contains("AAA") && diff.contains("BBB"), "{diff}");
        assert!(diff.len() < 500, "{diff}");
    }
}
