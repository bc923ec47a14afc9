//! Compaction, in the Codex CLI's manner: the model writes a handoff summary
//! of the conversation, and the history becomes the thread's opening context,
//! the most recent user messages and that summary. Tool calls and their
//! outputs go; what they taught lives on in the summary.

use tokio_util::sync::CancellationToken;

use super::thread::{ThreadInner, ThreadState};
use crate::error::{Error, Result};
use crate::model::retry::run_request;
use crate::model::ModelRequest;
use crate::protocol::{
    Compaction, CompactionTrigger, ContentItem, ResponseItem, ThreadEvent, Usage,
};
use crate::session::RolloutRecord;
use crate::tools::EventSink;

/// The request for a summary, sent as the last user message.
pub const COMPACT_PROMPT: &str = "\
Context checkpoint: the conversation above is about to be cut, and another \
model will carry on the task from your notes alone (it keeps the user's \
messages but not the tool calls or their outputs). Write that handoff note now. \
Do not call tools.

Cover, briefly and concretely:
- the goal and any constraints or preferences the user stated;
- what has been done so far: files read or changed (with paths), commands run \
and what they showed, decisions taken and why;
- the current state: what works, what fails, open errors (quote the key lines);
- what remains, as next steps in order.

Keep identifiers, paths and numbers exact. Leave out anything the next model \
would not need.";

/// The first line of the summary message in a compacted history.
pub const SUMMARY_PREFIX: &str = "\
[codeloop: context compacted] The earlier part of this conversation was \
replaced by the handoff summary below, written by the model that did the work \
so far. Treat it as your own notes: build on it and do not redo finished work.";

/// How much of the recent user messages a compacted history keeps, in
/// (estimated) tokens; the Codex CLI keeps 20000.
const KEEP_USER_TOKENS: usize = 20_000;

/// How often a summary request that does not fit is retried with the older
/// half of the conversation cut.
const MAX_TRIMS: usize = 6;

/// The history without the older half of what follows its opening context
/// (calls whose outputs went are answered, outputs whose calls went are
/// dropped); `None` when nothing is left to cut.
fn trim_oldest(history: Vec<ResponseItem>) -> Option<Vec<ResponseItem>> {
    let opening = opening_context(&history).len();
    let rest = history.len() - opening;
    if rest <= 1 {
        return None;
    }
    let cut = rest.div_ceil(2).min(rest - 1);
    let mut out: Vec<ResponseItem> = history[..opening].to_vec();
    out.extend_from_slice(&history[opening + cut..]);
    Some(super::turn::answer_unanswered_calls(out))
}

/// A rough token count: about four bytes a token.
fn approx_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

fn text_of(content: &[ContentItem]) -> String {
    crate::protocol::models::texts(content)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a user message is context the thread opened with (environment,
/// AGENTS.md, instructions, skills) rather than something the user said.
fn is_context_text(text: &str) -> bool {
    let t = text.trim_start();
    [
        "<environment_context>",
        "# AGENTS.md instructions",
        "<user_instructions>",
        "<skills",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

fn is_summary_text(text: &str) -> bool {
    text.starts_with(SUMMARY_PREFIX)
}

/// The opening items of the thread: the developer and context messages
/// before its first real user message.
fn opening_context(history: &[ResponseItem]) -> Vec<ResponseItem> {
    let mut out = Vec::new();
    for item in history {
        match item {
            ResponseItem::Message { role, .. } if role == "developer" || role == "system" => {
                out.push(item.clone())
            }
            ResponseItem::Message { role, content, .. } if role == "user" => {
                if is_context_text(&text_of(content)) {
                    out.push(item.clone());
                } else {
                    break;
                }
            }
            _ => break,
        }
    }
    out
}

/// The user's messages (not context, not earlier summaries), newest last,
/// cut to the most recent [`KEEP_USER_TOKENS`].
fn recent_user_messages(history: &[ResponseItem]) -> Vec<ResponseItem> {
    let mut kept = Vec::new();
    let mut left = KEEP_USER_TOKENS;
    for item in history.iter().rev() {
        let ResponseItem::Message { role, content, .. } = item else {
            continue;
        };
        let text = text_of(content);
        if role != "user" || is_context_text(&text) || is_summary_text(&text) {
            continue;
        }
        if left == 0 {
            break;
        }
        let tokens = approx_tokens(&text);
        if tokens <= left {
            left -= tokens;
            kept.push(item.clone());
        } else {
            // Keep the end of an over-long message: it is the most recent part.
            let mut start = text.len().saturating_sub(left * 4);
            while !text.is_char_boundary(start) {
                start += 1;
            }
            kept.push(ResponseItem::user_text(format!(
                "[…earlier part cut]{}",
                &text[start..]
            )));
            break;
        }
    }
    kept.reverse();
    kept
}

/// The history after compaction.
pub(crate) fn compacted_history(history: &[ResponseItem], summary: &str) -> Vec<ResponseItem> {
    let mut out = opening_context(history);
    out.extend(recent_user_messages(history));
    let summary = if summary.trim().is_empty() {
        "(the model gave no summary)"
    } else {
        summary.trim()
    };
    out.push(ResponseItem::user_text(format!(
        "{SUMMARY_PREFIX}\n\n{summary}"
    )));
    out
}

/// Compact the thread's history: ask the model for a summary (no tools),
/// replace the history, record it in the rollout and emit `thread.compacted`.
/// The summary request's usage is added to `run_usage` and the thread's
/// usage. On error the history is left as it was.
pub(crate) async fn compact(
    thread: &ThreadInner,
    state: &mut ThreadState,
    trigger: CompactionTrigger,
    cancel: &CancellationToken,
    events: Option<&EventSink>,
    run_usage: &mut Usage,
) -> Result<Compaction> {
    let agent = &thread.agent;
    // A history cut short (a turn that ended on a budget or panicked before
    // its calls ran, a rollout torn inside a call) gets its calls answered
    // first: the API refuses calls without outputs.
    let mut history = super::turn::answer_unanswered_calls(state.history.clone());
    let mut trims = 0;
    let response = loop {
        let mut input = history.clone();
        input.push(ResponseItem::user_text(COMPACT_PROMPT));
        let request = ModelRequest {
            model: agent.model.clone(),
            instructions: Some(super::turn::instructions(agent)),
            input,
            tools: Vec::new(),
            parallel_tool_calls: false,
            reasoning: super::turn::reasoning_config(agent),
            output_schema: None,
            prompt_cache_key: Some(thread.id.clone()),
        };
        let mut on_progress = |_| {};
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::Interrupted),
            r = run_request(agent.client.as_ref(), &request, &mut on_progress) => r,
        };
        match result {
            Ok(response) => break response,
            // Too long even to summarize: let the oldest part go unsummarized.
            Err(Error::ContextWindowExceeded(message)) if trims < MAX_TRIMS => {
                trims += 1;
                history = trim_oldest(history).ok_or(Error::ContextWindowExceeded(message))?;
            }
            Err(e) => return Err(e),
        }
    };
    state.usage.add(&response.usage);
    run_usage.add(&response.usage);
    let summary = response
        .items
        .iter()
        .rev()
        .find_map(|item| match item {
            ResponseItem::Message { role, .. } if role == "assistant" => item.message_text(),
            _ => None,
        })
        .unwrap_or_default();
    let replacement = compacted_history(&state.history, &summary);
    let info = Compaction {
        trigger,
        tokens_before: state.context_tokens,
        items_before: state.history.len(),
        items_after: replacement.len(),
    };
    if let Some(rollout) = &state.rollout {
        rollout.append(RolloutRecord::Compacted {
            message: summary,
            replacement_history: replacement.clone(),
        })?;
    }
    state.history = replacement;
    // Unknown until the model next reports it; never compact twice in a row.
    state.context_tokens = 0;
    if let Some(events) = events {
        events.emit(ThreadEvent::ThreadCompacted(info.clone()));
    }
    tracing::info!(
        thread_id = %thread.id,
        tokens_before = info.tokens_before,
        items_before = info.items_before,
        items_after = info.items_after,
        "compacted the history"
    );
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_opening_and_user_messages_drops_tool_traffic() {
        let history = vec![
            ResponseItem::developer_text("dev"),
            ResponseItem::user_text("<environment_context>cwd</environment_context>"),
            ResponseItem::user_text("fix the bug"),
            ResponseItem::FunctionCall {
                id: None,
                name: "shell".into(),
                arguments: "{}".into(),
                call_id: "c1".into(),
            },
            ResponseItem::FunctionCallOutput {
                call_id: "c1".into(),
                output: "lots of output".into(),
            },
            ResponseItem::user_text(format!("{SUMMARY_PREFIX}\n\nold summary")),
            ResponseItem::user_text("and add a test"),
        ];
        let out = compacted_history(&history, "did things");
        assert_eq!(out.len(), 5, "{out:#?}");
        assert_eq!(out[0], ResponseItem::developer_text("dev"));
        assert_eq!(out[2], ResponseItem::user_text("fix the bug"));
        assert_eq!(out[3], ResponseItem::user_text("and add a test"));
        assert_eq!(
            out[4],
            ResponseItem::user_text(format!("{SUMMARY_PREFIX}\n\ndid things"))
        );
    }
}
