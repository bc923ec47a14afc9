//! Builders for Chat Completions stream chunks
//! (`object: "chat.completion.chunk"`), as OpenAI-compatible servers send them.

use serde_json::{json, Value};

use crate::reply::{Reply, SseEvent};

/// The `id` every chunk from these builders carries.
pub const CHUNK_ID: &str = "chatcmpl-mock";
/// Tokens reported by the whole-turn builders.
pub const TURN_PROMPT_TOKENS: u64 = 100;
pub const TURN_COMPLETION_TOKENS: u64 = 10;

/// A Chat stream of `chunks`, `data: [DONE]` appended (same as [`Reply::chat`]).
pub fn sse(chunks: impl IntoIterator<Item = SseEvent>) -> Reply {
    Reply::chat(chunks)
}

/// A chunk with one choice carrying `delta` and `finish_reason`.
pub fn chunk(delta: Value, finish_reason: Option<&str>) -> SseEvent {
    SseEvent::json(json!({
        "id": CHUNK_ID, "object": "chat.completion.chunk", "created": 1700000000, "model": "mock",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
    }))
}

/// The first chunk: the role, empty content.
pub fn role() -> SseEvent {
    chunk(json!({"role": "assistant", "content": ""}), None)
}

pub fn content(text: &str) -> SseEvent {
    chunk(json!({"content": text}), None)
}

/// Reasoning as vLLM and DeepSeek send it.
pub fn reasoning_content(text: &str) -> SseEvent {
    chunk(json!({"reasoning_content": text}), None)
}

/// Reasoning as Ollama and OpenRouter send it.
pub fn reasoning(text: &str) -> SseEvent {
    chunk(json!({"reasoning": text}), None)
}

/// The first delta of tool call `index`: its id, name and empty arguments.
pub fn tool_call_start(index: u32, id: &str, name: &str) -> SseEvent {
    chunk(
        json!({"tool_calls": [{
            "index": index, "id": id, "type": "function",
            "function": {"name": name, "arguments": ""}
        }]}),
        None,
    )
}

/// A later delta of tool call `index`: a fragment of its arguments.
pub fn tool_call_args(index: u32, fragment: &str) -> SseEvent {
    chunk(
        json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
        None,
    )
}

/// The last choice chunk: empty delta and `finish_reason`
/// (`stop`, `tool_calls`, `length`, `content_filter`).
pub fn finish(reason: &str) -> SseEvent {
    chunk(json!({}), Some(reason))
}

/// The usage chunk sent with `stream_options.include_usage`: no choices.
pub fn usage(prompt_tokens: u64, completion_tokens: u64) -> SseEvent {
    usage_with_details(prompt_tokens, 0, completion_tokens, 0)
}

pub fn usage_with_details(
    prompt_tokens: u64,
    cached_tokens: u64,
    completion_tokens: u64,
    reasoning_tokens: u64,
) -> SseEvent {
    SseEvent::json(json!({
        "id": CHUNK_ID, "object": "chat.completion.chunk", "created": 1700000000, "model": "mock",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens}
        }
    }))
}

/// A whole text answer: role, the text in two content deltas, `stop`, usage.
pub fn text_turn(text: &str) -> Reply {
    let split = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(i, _)| i);
    let (first, second) = text.split_at(split);
    Reply::chat([
        role(),
        content(first),
        content(second),
        finish("stop"),
        usage(TURN_PROMPT_TOKENS, TURN_COMPLETION_TOKENS),
    ])
}

/// A whole tool-call answer: each `(call_id, name, arguments)` started, its
/// arguments split in two fragments, then `tool_calls` and usage.
pub fn tool_calls_turn(calls: &[(&str, &str, &str)]) -> Reply {
    let mut chunks = vec![role()];
    for (index, (call_id, name, arguments)) in (0u32..).zip(calls) {
        chunks.push(tool_call_start(index, call_id, name));
        let split = arguments
            .char_indices()
            .nth(arguments.chars().count() / 2)
            .map_or(arguments.len(), |(i, _)| i);
        let (first, second) = arguments.split_at(split);
        chunks.push(tool_call_args(index, first));
        chunks.push(tool_call_args(index, second));
    }
    chunks.push(finish("tool_calls"));
    chunks.push(usage(TURN_PROMPT_TOKENS, TURN_COMPLETION_TOKENS));
    Reply::chat(chunks)
}
