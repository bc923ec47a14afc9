//! Chat Completions (`POST {base_url}/chat/completions`, streamed), the wire
//! format of every OpenAI-compatible server: Ollama, LM Studio, vLLM,
//! llama.cpp, OpenRouter. The Responses-shaped history is translated to chat
//! messages on the way out, and the chunk stream back into the same
//! [`ResponseEvent`]s the Responses client yields.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{json, Map, Value};

use super::provider::ProviderConfig;
use super::responses::{
    failure, malformed, release_connection, stream_broke, HttpTransport, OUTPUT_SCHEMA_NAME,
};
use super::retry::RetryPolicy;
use super::sse::SseStream;
use super::{ModelClient, ModelError, ModelRequest, ResponseEvent, ResponseStream};
use crate::error::{Error, Result};
use crate::protocol::{ContentItem, ReasoningContent, ResponseItem, ToolSpec, Usage};

/// A client for Chat Completions. Holds one connection pool.
pub struct ChatClient {
    transport: HttpTransport,
}

impl ChatClient {
    pub fn new(config: ProviderConfig) -> Result<Self> {
        Ok(ChatClient {
            transport: HttpTransport::new(config)?,
        })
    }
}

#[async_trait::async_trait]
impl ModelClient for ChatClient {
    async fn stream(&self, request: &ModelRequest) -> Result<ResponseStream, ModelError> {
        let body = request_body(request);
        let response = self.transport.post_sse("chat/completions", &body).await?;
        Ok(Box::pin(chat_events(Box::pin(response.bytes_stream()))))
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.transport.config.retry
    }

    fn provider_name(&self) -> &str {
        &self.transport.config.id
    }
}

/// The JSON body of a streamed Chat Completions request.
pub fn request_body(request: &ModelRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages(request)));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    let tools: Vec<Value> = request.tools.iter().filter_map(tool).collect();
    // Some servers reject tool_choice or parallel_tool_calls without tools.
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), json!("auto"));
        body.insert(
            "parallel_tool_calls".into(),
            json!(request.parallel_tool_calls),
        );
    }
    if let Some(schema) = &request.output_schema {
        body.insert(
            "response_format".into(),
            json!({"type": "json_schema", "json_schema": {
                "name": OUTPUT_SCHEMA_NAME,
                "schema": schema,
                "strict": true,
            }}),
        );
    }
    Value::Object(body)
}

/// Freeform (custom) tools have no chat equivalent and are left out; the
/// tool router offers apply_patch as a function on chat providers.
fn tool(spec: &ToolSpec) -> Option<Value> {
    match spec {
        ToolSpec::Function {
            name,
            description,
            parameters,
            ..
        } => Some(json!({"type": "function", "function": {
            "name": name,
            "description": description,
            "parameters": parameters,
        }})),
        ToolSpec::Custom { .. } => None,
    }
}

/// The history as chat messages, shaped for the strictest chat templates
/// (Mistral and Qwen in vLLM, llama.cpp), which reject a system message
/// anywhere but first and two messages of one role in a row: one system
/// message (the instructions and the developer messages before the first
/// user message), later developer messages sent as user messages, and
/// consecutive user or assistant messages merged. Tool messages stay one per
/// call, since each answers its own `tool_call_id`.
pub fn messages(request: &ModelRequest) -> Vec<Value> {
    let mut system: Vec<String> = request.instructions.iter().cloned().collect();
    let mut out = Vec::new();
    let mut seen_user = false;
    for item in &request.input {
        match item {
            ResponseItem::Message { role, content, .. } => {
                if matches!(role.as_str(), "developer" | "system") && !seen_user {
                    system.push(texts(content).join("\n"));
                    continue;
                }
                seen_user |= role == "user";
                push_message(&mut out, message(role, content));
            }
            ResponseItem::FunctionCall {
                name,
                arguments,
                call_id,
                ..
            } => push_tool_call(&mut out, call_id, name, arguments.clone()),
            ResponseItem::CustomToolCall {
                name,
                input,
                call_id,
                ..
            } => {
                // The function form of a freeform tool takes its text as `input`.
                let arguments = json!({ "input": input }).to_string();
                push_tool_call(&mut out, call_id, name, arguments);
            }
            ResponseItem::FunctionCallOutput { call_id, output }
            | ResponseItem::CustomToolCallOutput { call_id, output } => out.push(json!({
                "role": "tool",
                "tool_call_id": call_id,
                "content": output,
            })),
            // Encrypted reasoning means nothing to another server.
            ResponseItem::Reasoning { .. } | ResponseItem::Other => {}
        }
    }
    system.retain(|text| !text.is_empty());
    if !system.is_empty() {
        out.insert(0, json!({"role": "system", "content": system.join("\n\n")}));
    }
    out
}

/// The text of a message's parts; images and unknown parts have none.
fn texts(content: &[ContentItem]) -> Vec<&str> {
    content
        .iter()
        .filter_map(|c| match c {
            ContentItem::InputText { text } | ContentItem::OutputText { text } => {
                Some(text.as_str())
            }
            ContentItem::Refusal { refusal } => Some(refusal.as_str()),
            ContentItem::InputImage { .. } | ContentItem::Unknown => None,
        })
        .collect()
}

/// A user or assistant message. Developer messages reaching here come after
/// the conversation started, where only the first message may be a system
/// message: they are sent as user messages.
fn message(role: &str, content: &[ContentItem]) -> Value {
    let role = match role {
        "assistant" => "assistant",
        _ => "user",
    };
    let has_image = content
        .iter()
        .any(|c| matches!(c, ContentItem::InputImage { .. }));
    if role != "user" || !has_image {
        return json!({"role": role, "content": texts(content).join("\n")});
    }
    let parts: Vec<Value> = content
        .iter()
        .filter_map(|c| match c {
            ContentItem::InputText { text } | ContentItem::OutputText { text } => {
                Some(json!({"type": "text", "text": text}))
            }
            ContentItem::InputImage { image_url } => {
                Some(json!({"type": "image_url", "image_url": {"url": image_url}}))
            }
            ContentItem::Refusal { .. } | ContentItem::Unknown => None,
        })
        .collect();
    json!({"role": role, "content": parts})
}

/// Append `message`, merged into the last message when that has the same
/// role (the environment context and the prompt are two user items, and
/// strict templates demand alternating roles). An assistant message that
/// carries tool calls keeps them; only its content grows.
fn push_message(out: &mut Vec<Value>, mut message: Value) {
    if let Some(last) = out.last_mut().filter(|m| m["role"] == message["role"]) {
        let added = message["content"].take();
        let content = last["content"].take();
        last["content"] = merge_content(content, added);
        return;
    }
    out.push(message);
}

/// Two message contents as one: texts joined by a blank line, or, when
/// either is a list of parts (an image), the parts of both in order.
fn merge_content(first: Value, second: Value) -> Value {
    match (first, second) {
        (Value::String(a), Value::String(b)) => {
            let joined: Vec<String> = [a, b].into_iter().filter(|t| !t.is_empty()).collect();
            Value::String(joined.join("\n\n"))
        }
        // `null` is the content of a message that only calls tools.
        (Value::Null, other) | (other, Value::Null) => other,
        (a, b) => {
            let mut parts = content_parts(a);
            parts.extend(content_parts(b));
            Value::Array(parts)
        }
    }
}

fn content_parts(content: Value) -> Vec<Value> {
    match content {
        Value::Array(parts) => parts,
        Value::String(text) if text.is_empty() => Vec::new(),
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        _ => Vec::new(),
    }
}

/// Calls of one model turn belong in one assistant message, together with
/// the text the model wrote before them, as the chat API returned them.
fn push_tool_call(out: &mut Vec<Value>, call_id: &str, name: &str, arguments: String) {
    let call = json!({
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    });
    if let Some(last) = out.last_mut().filter(|m| m["role"] == "assistant") {
        if last["content"] == json!("") {
            last["content"] = Value::Null;
        }
        match last["tool_calls"].as_array_mut() {
            Some(calls) => calls.push(call),
            None => last["tool_calls"] = json!([call]),
        }
        return;
    }
    out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
}

#[derive(Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// What a chat stream has said so far. Tool calls and text only become
/// items at the end, when they are whole.
#[derive(Default)]
struct Turn {
    response_id: Option<String>,
    model: Option<String>,
    text: String,
    reasoning: String,
    calls: BTreeMap<u64, PartialCall>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    message_announced: bool,
}

impl Turn {
    fn chunk(&mut self, chunk: &Value, out: &mut VecDeque<Result<ResponseEvent, ModelError>>) {
        // OpenRouter reports a mid-stream failure as a chunk with `error`.
        match &chunk["error"] {
            Value::Null => {}
            Value::String(message) => {
                out.push_back(Err(failure(&json!({ "message": message }))));
                return;
            }
            error => {
                out.push_back(Err(failure(error)));
                return;
            }
        }
        if self.model.is_none() {
            self.model = chunk["model"].as_str().map(String::from);
        }
        if self.response_id.is_none() {
            self.response_id = chunk["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map(String::from);
        }
        if chunk["usage"].is_object() {
            self.usage = Some(chat_usage(&chunk["usage"]));
        }
        let Some(choice) = chunk["choices"]
            .as_array()
            .and_then(|choices| choices.first())
        else {
            return;
        };
        let delta = &choice["delta"];
        let reasoning = delta["reasoning_content"]
            .as_str()
            .or(delta["reasoning"].as_str())
            .filter(|r| !r.is_empty());
        if let Some(reasoning) = reasoning {
            self.reasoning.push_str(reasoning);
            out.push_back(Ok(ResponseEvent::ReasoningContentDelta {
                delta: reasoning.to_string(),
            }));
        }
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            if !self.message_announced {
                self.message_announced = true;
                out.push_back(Ok(ResponseEvent::OutputItemAdded {
                    item: ResponseItem::Message {
                        id: None,
                        role: "assistant".into(),
                        content: Vec::new(),
                    },
                }));
            }
            self.text.push_str(text);
            out.push_back(Ok(ResponseEvent::OutputTextDelta {
                delta: text.to_string(),
            }));
        }
        if let Some(calls) = delta["tool_calls"].as_array() {
            for call in calls {
                self.tool_call_delta(call);
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_string());
        }
    }

    fn tool_call_delta(&mut self, delta: &Value) {
        let id = delta["id"].as_str().filter(|id| !id.is_empty());
        // Servers that leave out `index` send each call whole; a new id
        // then means a new call.
        let index = delta["index"].as_u64().unwrap_or_else(|| {
            let known = id.and_then(|id| {
                self.calls
                    .iter()
                    .find(|(_, c)| c.id.as_deref() == Some(id))
                    .map(|(i, _)| *i)
            });
            let next = self.calls.keys().next_back().map_or(0, |i| i + 1);
            match (known, id) {
                (Some(i), _) => i,
                (None, Some(_)) => next,
                (None, None) => next.saturating_sub(1),
            }
        });
        let call = self.calls.entry(index).or_default();
        if call.id.is_none() {
            call.id = id.map(String::from);
        }
        let function = &delta["function"];
        if let Some(name) = function["name"].as_str().filter(|n| !n.is_empty()) {
            // Some servers repeat the whole name in every delta.
            if call.name != name {
                call.name.push_str(name);
            }
        }
        match &function["arguments"] {
            Value::String(fragment) => call.arguments.push_str(fragment),
            Value::Null => {}
            // A few servers send the arguments already parsed.
            whole => call.arguments = whole.to_string(),
        }
    }

    /// The finished items and `Completed`, or the error the finish reason means.
    fn finish(self, out: &mut VecDeque<Result<ResponseEvent, ModelError>>) {
        match self.finish_reason.as_deref() {
            Some("length") => {
                out.push_back(Err(Error::ResponseFailed(
                    "incomplete: max_output_tokens (finish_reason \"length\")".into(),
                )
                .into()));
                return;
            }
            Some("content_filter") => {
                out.push_back(Err(Error::ResponseFailed(
                    "incomplete: content_filter".into(),
                )
                .into()));
                return;
            }
            Some("error") => {
                out.push_back(Err(ModelError::Retryable {
                    message: "the model stream ended with finish_reason \"error\"".into(),
                    retry_after: None,
                }));
                return;
            }
            _ => {}
        }
        if !self.reasoning.is_empty() {
            out.push_back(Ok(ResponseEvent::OutputItemDone {
                item: ResponseItem::Reasoning {
                    id: None,
                    summary: Vec::new(),
                    content: Some(vec![ReasoningContent::ReasoningText {
                        text: self.reasoning,
                    }]),
                    encrypted_content: None,
                },
            }));
        }
        if !self.text.is_empty() {
            out.push_back(Ok(ResponseEvent::OutputItemDone {
                item: ResponseItem::Message {
                    id: None,
                    role: "assistant".into(),
                    content: vec![ContentItem::OutputText { text: self.text }],
                },
            }));
        }
        for (index, call) in self.calls {
            if call.name.is_empty() {
                out.push_back(Err(ModelError::Retryable {
                    message: format!(
                        "malformed tool call {index} from the model: no function name"
                    ),
                    retry_after: None,
                }));
                return;
            }
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_string()
            } else {
                call.arguments
            };
            out.push_back(Ok(ResponseEvent::OutputItemDone {
                item: ResponseItem::FunctionCall {
                    id: None,
                    name: call.name,
                    arguments,
                    call_id: call
                        .id
                        .unwrap_or_else(|| format!("call_{}", uuid::Uuid::new_v4().simple())),
                },
            }));
        }
        out.push_back(Ok(ResponseEvent::Completed {
            response_id: self
                .response_id
                .unwrap_or_else(|| format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())),
            usage: self.usage,
            model: self.model,
        }));
    }
}

fn chat_usage(usage: &Value) -> Usage {
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    Usage {
        input_tokens: count(&usage["prompt_tokens"]),
        cached_input_tokens: count(&usage["prompt_tokens_details"]["cached_tokens"]),
        output_tokens: count(&usage["completion_tokens"]),
        reasoning_output_tokens: count(&usage["completion_tokens_details"]["reasoning_tokens"]),
    }
}

struct State<S> {
    /// `None` once `[DONE]` arrived and the rest of the body is being drained.
    sse: Option<SseStream<S>>,
    turn: Option<Turn>,
    ready: VecDeque<Result<ResponseEvent, ModelError>>,
}

/// Turn a Chat Completions SSE byte stream into [`ResponseEvent`]s. `[DONE]`
/// ends it; so does the end of the body after a `finish_reason` (the usage
/// chunk may be missing). A body that ends before either was cut off.
pub(crate) fn chat_events<S>(
    bytes: S,
) -> impl Stream<Item = Result<ResponseEvent, ModelError>> + Send
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send + Unpin + 'static,
{
    let state = State {
        sse: Some(SseStream::new(bytes)),
        turn: Some(Turn::default()),
        ready: VecDeque::new(),
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(next) = state.ready.pop_front() {
                if next.is_err() {
                    // Nothing after an error is meaningful.
                    state.ready.clear();
                    state.turn = None;
                }
                return Some((next, state));
            }
            let turn = state.turn.as_mut()?;
            let sse = state.sse.as_mut()?;
            match sse.next().await {
                Some(Ok(event)) if event.data.trim() == "[DONE]" => {
                    if let Some(sse) = state.sse.take() {
                        release_connection(sse).await;
                    }
                    if let Some(turn) = state.turn.take() {
                        turn.finish(&mut state.ready);
                    }
                }
                Some(Ok(event)) => match serde_json::from_str::<Value>(&event.data) {
                    Ok(chunk) => turn.chunk(&chunk, &mut state.ready),
                    Err(e) => state
                        .ready
                        .push_back(Err(malformed("chunk", &event.data, e))),
                },
                end => {
                    let cut_off = match end {
                        Some(Err(e)) => stream_broke(&e),
                        _ => ModelError::Retryable {
                            message: "model stream closed before [DONE] or a finish_reason".into(),
                            retry_after: None,
                        },
                    };
                    if turn.finish_reason.is_some() {
                        if let Some(turn) = state.turn.take() {
                            turn.finish(&mut state.ready);
                        }
                    } else {
                        state.ready.push_back(Err(cut_off));
                    }
                }
            }
        }
    })
}
