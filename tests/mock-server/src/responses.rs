//! Builders for OpenAI Responses API stream events, shaped like the real
//! API's (`sequence_number` and other fields clients ignore are left out).
//!
//! Event builders return [`SseEvent`]s; item builders (`*_item`) return the
//! item JSON, to wrap in [`output_item_added`] / [`output_item_done`].

use serde_json::{json, Value};

use crate::reply::{Reply, SseEvent};

/// Tokens reported by [`turn`] and the other whole-turn builders.
pub const TURN_INPUT_TOKENS: u64 = 100;
pub const TURN_OUTPUT_TOKENS: u64 = 10;

/// A Responses stream of `events` (same as [`Reply::responses`]).
pub fn sse(events: impl IntoIterator<Item = SseEvent>) -> Reply {
    Reply::responses(events)
}

pub fn created() -> SseEvent {
    created_with_id("resp_mock")
}

pub fn created_with_id(response_id: &str) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.created",
        "response": {"id": response_id, "object": "response", "status": "in_progress", "output": []}
    }))
}

pub fn output_item_added(item: Value) -> SseEvent {
    SseEvent::json(json!({"type": "response.output_item.added", "output_index": 0, "item": item}))
}

pub fn output_item_done(item: Value) -> SseEvent {
    SseEvent::json(json!({"type": "response.output_item.done", "output_index": 0, "item": item}))
}

pub fn output_text_delta(text: &str) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.output_text.delta",
        "item_id": "msg_mock", "output_index": 0, "content_index": 0, "delta": text
    }))
}

pub fn reasoning_summary_delta(text: &str) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.reasoning_summary_text.delta",
        "item_id": "rs_mock", "output_index": 0, "summary_index": 0, "delta": text
    }))
}

pub fn reasoning_text_delta(text: &str) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.reasoning_text.delta",
        "item_id": "rs_mock", "output_index": 0, "content_index": 0, "delta": text
    }))
}

pub fn custom_tool_call_input_delta(call_id: &str, delta: &str) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.custom_tool_call_input.delta",
        "item_id": format!("ctc_{call_id}"), "output_index": 0, "delta": delta
    }))
}

/// An assistant message item.
pub fn message_item(id: &str, text: &str) -> Value {
    json!({
        "type": "message", "id": id, "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]
    })
}

pub fn function_call_item(call_id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "type": "function_call", "id": format!("fc_{call_id}"), "status": "completed",
        "call_id": call_id, "name": name, "arguments": arguments
    })
}

pub fn custom_tool_call_item(call_id: &str, name: &str, input: &str) -> Value {
    json!({
        "type": "custom_tool_call", "id": format!("ctc_{call_id}"), "status": "completed",
        "call_id": call_id, "name": name, "input": input
    })
}

/// A reasoning item with one summary part and opaque encrypted content, as
/// the API returns with `include: ["reasoning.encrypted_content"]`.
pub fn reasoning_item(id: &str, summary_text: &str) -> Value {
    json!({
        "type": "reasoning", "id": id,
        "summary": [{"type": "summary_text", "text": summary_text}],
        "encrypted_content": format!("enc:{id}")
    })
}

/// `output_item.done` with an assistant message.
pub fn message(id: &str, text: &str) -> SseEvent {
    output_item_done(message_item(id, text))
}

/// `output_item.done` with a function call; `arguments` is a JSON string.
pub fn function_call(call_id: &str, name: &str, arguments: &str) -> SseEvent {
    output_item_done(function_call_item(call_id, name, arguments))
}

/// `output_item.done` with a freeform (custom) tool call.
pub fn custom_tool_call(call_id: &str, name: &str, input: &str) -> SseEvent {
    output_item_done(custom_tool_call_item(call_id, name, input))
}

/// `output_item.done` with a reasoning item.
pub fn reasoning(id: &str, summary_text: &str) -> SseEvent {
    output_item_done(reasoning_item(id, summary_text))
}

/// `response.completed` with usage shaped as the API reports it.
pub fn completed(response_id: &str, input_tokens: u64, output_tokens: u64) -> SseEvent {
    completed_with_details(response_id, input_tokens, 0, output_tokens, 0)
}

pub fn completed_with_details(
    response_id: &str,
    input_tokens: u64,
    cached_tokens: u64,
    output_tokens: u64,
    reasoning_tokens: u64,
) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.completed",
        "response": {
            "id": response_id, "object": "response", "status": "completed",
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": cached_tokens},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
                "total_tokens": input_tokens + output_tokens
            }
        }
    }))
}

/// `response.failed` with `response.error = {code, message}`.
pub fn failed(code: &str, message: &str) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.failed",
        "response": {
            "id": "resp_failed", "object": "response", "status": "failed",
            "error": {"code": code, "message": message}
        }
    }))
}

/// `response.incomplete` with `incomplete_details.reason`
/// (e.g. `max_output_tokens`, `content_filter`).
pub fn incomplete(reason: &str) -> SseEvent {
    SseEvent::json(json!({
        "type": "response.incomplete",
        "response": {
            "id": "resp_incomplete", "object": "response", "status": "incomplete",
            "incomplete_details": {"reason": reason}
        }
    }))
}

/// A whole turn: `response.created`, then for each item `output_item.added`
/// and `output_item.done` (a message's text also streamed as one
/// `output_text.delta`), then `response.completed` with
/// [`TURN_INPUT_TOKENS`]/[`TURN_OUTPUT_TOKENS`].
pub fn turn(response_id: &str, items: impl IntoIterator<Item = Value>) -> Reply {
    let mut events = vec![created_with_id(response_id)];
    for item in items {
        let mut added = item.clone();
        if item["type"] == "message" {
            added["content"] = json!([]);
            added["status"] = json!("in_progress");
        }
        events.push(output_item_added(added));
        if item["type"] == "message" {
            let text: String = item["content"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c["text"].as_str())
                .collect();
            events.push(output_text_delta(&text));
        }
        events.push(output_item_done(item));
    }
    events.push(completed(
        response_id,
        TURN_INPUT_TOKENS,
        TURN_OUTPUT_TOKENS,
    ));
    Reply::responses(events)
}

/// A turn whose only output is an assistant message.
pub fn text_turn(response_id: &str, text: &str) -> Reply {
    turn(
        response_id,
        [message_item(&format!("msg_{response_id}"), text)],
    )
}

/// A turn whose only output is one function call.
pub fn function_call_turn(response_id: &str, call_id: &str, name: &str, arguments: &str) -> Reply {
    turn(response_id, [function_call_item(call_id, name, arguments)])
}

/// A turn whose only output is one freeform tool call (apply_patch).
pub fn custom_tool_call_turn(response_id: &str, call_id: &str, name: &str, input: &str) -> Reply {
    turn(response_id, [custom_tool_call_item(call_id, name, input)])
}
