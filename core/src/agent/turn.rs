//! The turn loop: send the history, stream the answer, run the tool calls,
//! append their outputs, and ask again until the model answers without
//! calling a tool.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{FuturesOrdered, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::budget::RunLimits;
use super::prompt::{environment_context, BASE_INSTRUCTIONS};
use super::thread::{ThreadInner, ThreadState};
use super::{Input, UserInput, DEFAULT_COMMAND_TIMEOUT};
use crate::error::{Error, Result};
use crate::model::retry::{run_request, Progress};
use crate::model::{ModelRequest, ReasoningConfig};
use crate::protocol::{
    CompactionTrigger, ContentItem, DeltaKind, HookDecision, HookEvent, ItemDetails,
    ReasoningContent, ReasoningSummary, ResponseItem, ThreadEvent, Usage,
};
use crate::session::RolloutRecord;
use crate::tools::{EventSink, ToolCall, ToolContext, ToolOutput};

/// What a finished turn hands back: the thread's cumulative usage and, with
/// an output schema, the parsed final answer.
pub(crate) struct TurnDone {
    pub usage: Usage,
    pub output: Option<serde_json::Value>,
}

/// What the loop keeps across its requests for the run's budgets and result.
#[derive(Default)]
struct RunProgress {
    /// Usage of this run's model requests (compaction included).
    usage: Usage,
    output: Option<serde_json::Value>,
}

/// Run one turn, reporting its items through `sink`; the caller emits the
/// terminal event. `limits.timeout` bounds the whole run: when it fires the
/// turn's token is cancelled (stopping the model request or the running
/// commands) and the turn fails with `BudgetExceeded`, not `Interrupted`.
pub(crate) async fn run_turn(
    thread: Arc<ThreadInner>,
    input: Input,
    limits: RunLimits,
    sink: EventSink,
    cancel: CancellationToken,
) -> Result<TurnDone> {
    let started_at = Instant::now();
    let mut state = thread.state.lock().await;
    if !state.announced {
        state.announced = true;
        sink.emit(ThreadEvent::ThreadStarted {
            thread_id: thread.id.clone(),
        });
    }
    sink.emit(ThreadEvent::TurnStarted {});
    let ctx = ToolContext {
        thread_id: thread.id.clone(),
        cwd: thread.agent.cwd.clone(),
        sandbox: thread.agent.sandbox.clone(),
        approval_policy: thread.agent.options.approval_policy.unwrap_or_default(),
        env_policy: thread
            .agent
            .options
            .shell_environment_policy
            .clone()
            .unwrap_or_default(),
        approvals: thread.agent.approvals.clone(),
        command_timeout: thread
            .agent
            .options
            .command_timeout_ms
            .map(std::time::Duration::from_millis)
            .unwrap_or(DEFAULT_COMMAND_TIMEOUT),
        host: thread.agent.host.clone(),
        cancel: cancel.clone(),
        events: sink.clone(),
        plan_item: Arc::new(std::sync::Mutex::new(None)),
        hooks: crate::config::hooks::HookSet {
            registry: thread.agent.hooks.clone(),
            transcript_path: Arc::new(std::sync::Mutex::new(
                state.rollout.as_ref().map(|r| r.path().to_path_buf()),
            )),
            project_dir: Some(thread.agent.project_root.clone()),
            model: thread.agent.model.clone(),
            stop_request: Arc::default(),
        },
    };
    let span = tracing::info_span!(
        "run",
        thread_id = %thread.id,
        turn = state.turns + 1,
        "gen_ai.operation.name" = "invoke_agent",
        "gen_ai.conversation.id" = %thread.id,
    );
    let mut progress = RunProgress::default();
    let mut timed_out = false;
    let result = {
        let run =
            turn_loop(&thread, &mut state, input, &ctx, &limits, &mut progress).instrument(span);
        match limits.timeout {
            None => run.await,
            Some(timeout) => {
                tokio::pin!(run);
                let deadline = tokio::time::Instant::from_std(started_at + timeout);
                tokio::select! {
                    biased;
                    r = &mut run => r,
                    _ = tokio::time::sleep_until(deadline) => {
                        // Stop it as an interrupt would, and let it wind down
                        // (kill its commands, answer its calls) before failing.
                        // An interrupt that came first stays an interrupt.
                        timed_out = !cancel.is_cancelled();
                        cancel.cancel();
                        run.await
                    }
                }
            }
        }
    };
    let result = match result {
        Err(_) if timed_out => Err(limits.timeout_error(started_at.elapsed())),
        other => other,
    };
    // Input steered into a turn that failed is not lost: it stays in the
    // history for the next run.
    let leftover = thread.close_steering();
    if !leftover.is_empty() {
        if let Err(e) = record(&mut state, leftover) {
            tracing::warn!(error = %e, "could not record steered input left by the turn");
        }
    }
    let plan = ctx
        .plan_item
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(item) = plan {
        sink.emit(ThreadEvent::ItemCompleted { item });
    }
    *thread.usage.lock().unwrap_or_else(|p| p.into_inner()) = state.usage;
    if let (Err(e), Some(rollout)) = (&result, &state.rollout) {
        let failed = RolloutRecord::TurnFailed {
            usage: state.usage,
            error: e.to_thread_error(),
        };
        if let Err(write_error) = rollout.append(failed) {
            tracing::warn!(error = %write_error, "could not record the failed turn");
            rollout.end_turn();
        }
    }
    result?;
    if let Some(rollout) = &state.rollout {
        rollout.append(RolloutRecord::TurnCompleted { usage: state.usage })?;
    }
    Ok(TurnDone {
        usage: state.usage,
        output: progress.output,
    })
}

/// The reasoning settings of every request, when any is set.
pub(crate) fn reasoning_config(agent: &super::AgentInner) -> Option<ReasoningConfig> {
    (agent.options.reasoning_effort.is_some() || agent.options.reasoning_summary.is_some())
        .then_some(ReasoningConfig {
            effort: agent.options.reasoning_effort,
            summary: agent.options.reasoning_summary,
        })
}

/// The base instructions of every request.
pub(crate) fn instructions(agent: &super::AgentInner) -> String {
    agent
        .options
        .instructions
        .clone()
        .unwrap_or_else(|| BASE_INSTRUCTIONS.to_string())
}

/// Append items to the history and the rollout file.
fn record(state: &mut ThreadState, items: impl IntoIterator<Item = ResponseItem>) -> Result<()> {
    for item in items {
        if let Some(rollout) = &state.rollout {
            rollout.append(RolloutRecord::ResponseItem(item.clone()))?;
        }
        state.history.push(item);
    }
    Ok(())
}

async fn turn_loop(
    thread: &ThreadInner,
    state: &mut ThreadState,
    input: Input,
    ctx: &ToolContext,
    limits: &RunLimits,
    run: &mut RunProgress,
) -> Result<()> {
    let agent = &thread.agent;
    let mut reasks = 0u32;
    let mut compacted_for_overflow = false;
    let cwd = agent.cwd.display().to_string();
    // The first turn waits for the MCP servers to start; a required one
    // that failed fails the run (the next run starts it again).
    let mcp = match &agent.mcp {
        Some(manager) => {
            let (tools, warnings) = manager.ready(&ctx.cancel).await?;
            for message in warnings {
                ctx.events.emit(ThreadEvent::Error { message });
            }
            Some(tools)
        }
        None => None,
    };
    state.history = answer_unanswered_calls(std::mem::take(&mut state.history));
    if !state.primed {
        if state.rollout.is_none() {
            if let Some(store) = &agent.sessions {
                state.rollout = Some(store.create(agent.session_meta(&thread.id))?);
            }
        }
        *ctx.hooks
            .transcript_path
            .lock()
            .unwrap_or_else(|p| p.into_inner()) =
            state.rollout.as_ref().map(|r| r.path().to_path_buf());
        let project = crate::config::project_context(
            &agent.options,
            agent.home.as_deref(),
            &agent.project_root,
            &agent.cwd,
        );
        for message in agent.config_warnings.iter().chain(&project.warnings) {
            ctx.events.emit(ThreadEvent::Error {
                message: message.clone(),
            });
        }
        let started = ctx
            .hook(HookEvent::SessionStart {
                session_id: thread.id.clone(),
                cwd: cwd.clone(),
                source: "startup".into(),
            })
            .await?;
        let mut opening = Vec::new();
        if let Some(dev) = &agent.options.developer_instructions {
            opening.push(ResponseItem::developer_text(dev.clone()));
        }
        if let Some(skills) = project.skills {
            opening.push(ResponseItem::developer_text(skills));
        }
        if let Some(agents_md) = project.agents_md {
            opening.push(ResponseItem::user_text(agents_md));
        }
        opening.push(ResponseItem::user_text(environment_context(
            &agent.cwd,
            agent.options.approval_policy.unwrap_or_default(),
            agent.options.sandbox.unwrap_or_default(),
            agent.options.network_access.unwrap_or(false),
        )));
        if let Some(extra) = started.additional_context {
            opening.push(ResponseItem::developer_text(extra));
        }
        record(state, opening)?;
        state.primed = true;
        state.session_started = true;
    }
    if !state.session_started {
        // A resumed (or forked) thread: hooks hear of it as Claude Code's do.
        let started = ctx
            .hook(HookEvent::SessionStart {
                session_id: thread.id.clone(),
                cwd: cwd.clone(),
                source: "resume".into(),
            })
            .await?;
        if let Some(extra) = started.additional_context {
            record(state, [ResponseItem::developer_text(extra)])?;
        }
        state.session_started = true;
    }
    state.turns += 1;
    if let Some(rollout) = &state.rollout {
        rollout.append(RolloutRecord::TurnStarted { turn: state.turns })?;
    }

    let prompt = ctx
        .hook(HookEvent::UserPromptSubmit {
            session_id: thread.id.clone(),
            cwd: cwd.clone(),
            prompt: input.text(),
        })
        .await?;
    if prompt.decision == HookDecision::Deny || prompt.stop {
        return Err(Error::Host(format!(
            "the UserPromptSubmit hook blocked the prompt: {}",
            prompt
                .reason
                .as_deref()
                .or(prompt.stop_reason.as_deref())
                .unwrap_or("no reason given")
        )));
    }
    let user_message = user_message(&input, agent.cwd.as_path())?;
    record(state, [user_message])?;
    if let Some(extra) = prompt.additional_context {
        record(state, [ResponseItem::developer_text(extra)])?;
    }

    let mut requests = 0u32;
    // Set once a Stop hook kept the turn going, so the hook can tell it is
    // looping (as in Claude Code) and let the agent stop.
    let mut stop_hook_active = false;
    loop {
        let steered = thread.take_steering();
        if !steered.is_empty() {
            record(state, steered)?;
        }
        if agent.options.auto_compact != Some(false)
            && agent
                .compact_limit
                .is_some_and(|limit| state.context_tokens >= limit)
        {
            super::compact::compact(
                thread,
                state,
                CompactionTrigger::Auto,
                &ctx.cancel,
                Some(&ctx.events),
                &mut run.usage,
            )
            .await?;
        }
        if let Some(e) = limits.exhausted(&run.usage) {
            return Err(e);
        }
        if let Some(max) = limits.max_turns {
            if requests >= max {
                return Err(Error::BudgetExceeded(format!(
                    "max_turns ({max}) reached: the model was asked {requests} times in this run"
                )));
            }
        }
        requests += 1;
        let request = ModelRequest {
            model: agent.model.clone(),
            instructions: Some(instructions(agent)),
            input: state.history.clone(),
            tools: agent
                .router
                .specs()
                .iter()
                .chain(mcp.iter().flat_map(|m| m.specs()))
                .cloned()
                .collect(),
            parallel_tool_calls: true,
            reasoning: reasoning_config(agent),
            output_schema: limits.output_schema.clone(),
            prompt_cache_key: Some(thread.id.clone()),
        };

        let mut streaming = StreamingIds::default();
        let response = {
            let events = &ctx.events;
            let mut on_progress = |p: Progress| streaming.progress(events, p);
            let fut = run_request(agent.client.as_ref(), &request, &mut on_progress);
            // Biased, cancel first: an interrupt that came before the request
            // must stop it before the first poll sends it.
            tokio::select! {
                biased;
                _ = ctx.cancel.cancelled() => return Err(Error::Interrupted),
                r = fut => r,
            }
        };
        let response = match response {
            Ok(r) => r,
            // The context overflowed before the limit was reached (an unknown
            // or too large window): compact once and ask again.
            Err(Error::ContextWindowExceeded(message))
                if agent.options.auto_compact != Some(false) && !compacted_for_overflow =>
            {
                tracing::info!(%message, "context window exceeded; compacting");
                compacted_for_overflow = true;
                super::compact::compact(
                    thread,
                    state,
                    CompactionTrigger::Auto,
                    &ctx.cancel,
                    Some(&ctx.events),
                    &mut run.usage,
                )
                .await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        compacted_for_overflow = false;
        state.usage.add(&response.usage);
        run.usage.add(&response.usage);
        state.context_tokens = response.usage.input_tokens + response.usage.output_tokens;

        let mut calls = Vec::new();
        let mut last_message = None;
        for item in &response.items {
            match item {
                ResponseItem::Message { role, .. } if role == "assistant" => {
                    let text = item.message_text().unwrap_or_default();
                    let id = streaming.message_id(&ctx.events);
                    ctx.events
                        .completed(&id, ItemDetails::AgentMessage { text: text.clone() });
                    last_message = Some(text);
                }
                ResponseItem::Reasoning {
                    summary, content, ..
                } => {
                    let text = reasoning_text(summary, content.as_deref());
                    // Take the id even for an empty summary, so the next
                    // reasoning item keeps the id its deltas went to.
                    let id = streaming.reasoning_id(&ctx.events);
                    if !text.is_empty() {
                        ctx.events.completed(&id, ItemDetails::Reasoning { text });
                    }
                }
                other => {
                    if let Some(call) = ToolCall::from_item(other) {
                        calls.push(call);
                    }
                }
            }
        }
        record(state, response.items)?;

        if calls.is_empty() {
            let stop = ctx
                .hook(HookEvent::Stop {
                    session_id: thread.id.clone(),
                    cwd: cwd.clone(),
                    last_assistant_message: last_message.clone(),
                    stop_hook_active,
                })
                .await?;
            if stop.decision == HookDecision::Deny && !stop.stop {
                stop_hook_active = true;
                // A Stop hook that blocks asks the agent to keep working.
                let reason = stop
                    .reason
                    .unwrap_or_else(|| "Continue working on the task.".into());
                record(state, [ResponseItem::user_text(reason)])?;
                continue;
            }
            if let Some(validator) = &limits.validator {
                match super::output::check(validator, last_message.as_deref().unwrap_or("")) {
                    Ok(value) => run.output = Some(value),
                    Err(errors) if reasks < limits.output_schema_retries => {
                        reasks += 1;
                        tracing::info!(?errors, reasks, "re-asking for a valid structured answer");
                        let text = super::output::reask_message(&errors);
                        record(state, [ResponseItem::user_text(text)])?;
                        continue;
                    }
                    Err(errors) => return Err(Error::OutputInvalid { errors }),
                }
            }
            // Input steered in since the last request: the model answers it
            // before the turn ends.
            let late = thread.finish_steering();
            if !late.is_empty() {
                run.output = None;
                record(state, late)?;
                continue;
            }
            return Ok(());
        }

        // A budget used up by this response stops the run before its tool
        // calls run (they are answered as aborted when the thread goes on).
        if let Some(e) = limits.exhausted(&run.usage) {
            return Err(e);
        }

        // Each output is recorded (history and rollout) as soon as its call
        // and those before it ended, so a process killed mid-response resumes
        // with their real outputs; input a tool adds (an image) follows.
        let mut extra = Vec::new();
        let mut host_error = None;
        run_calls(agent, ctx, &calls, mcp.as_deref(), &mut |call, output| {
            let output = match output {
                Ok(o) => o,
                Err(e) => {
                    let o = ToolOutput::error(format!("the tool call failed: {e}"));
                    host_error.get_or_insert(e);
                    o
                }
            };
            let item = output.to_item(call);
            extra.extend(output.extra_input);
            record(state, [item])
        })
        .await?;
        record(state, extra)?;
        if let Some(e) = host_error {
            return Err(e);
        }
        if ctx.cancel.is_cancelled() {
            return Err(Error::Interrupted);
        }
        let hook_stop = ctx
            .hooks
            .stop_request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(reason) = hook_stop {
            // A run that promised structured output cannot end well without
            // a final answer to check.
            if limits.output_schema.is_some() {
                return Err(Error::OutputInvalid {
                    errors: vec![format!(
                        "the turn was ended by a hook ({reason}) before the model gave a final answer"
                    )],
                });
            }
            ctx.events.emit(ThreadEvent::Error {
                message: format!("the turn was ended by a hook: {reason}"),
            });
            return Ok(());
        }
    }
}

/// Run the calls of one response: consecutive calls of parallel-safe tools
/// run together, the others one at a time; each output goes to `on_output`
/// as soon as its call and every call before it have ended, so outputs stay
/// in call order (the same history, and the same requests, every time).
/// Calls not started because the turn was interrupted get an "aborted"
/// output so the history stays well formed.
async fn run_calls(
    agent: &super::AgentInner,
    ctx: &ToolContext,
    calls: &[ToolCall],
    mcp: Option<&crate::mcp::McpTools>,
    on_output: &mut (dyn FnMut(&ToolCall, Result<ToolOutput>) -> Result<()> + Send),
) -> Result<()> {
    let mut i = 0;
    while i < calls.len() {
        if ctx.cancel.is_cancelled() {
            on_output(&calls[i], Ok(ToolOutput::error(ABORTED_OUTPUT)))?;
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if agent.router.parallel_safe(&calls[i].name) {
            while j < calls.len() && agent.router.parallel_safe(&calls[j].name) {
                j += 1;
            }
        }
        let mut batch: FuturesOrdered<_> = calls[i..j]
            .iter()
            .map(|call| async move {
                let output = crate::telemetry::tool_call(
                    call,
                    agent.router.dispatch_with_mcp(ctx, call.clone(), mcp),
                )
                .await;
                (call, output)
            })
            .collect();
        while let Some((call, output)) = batch.next().await {
            on_output(call, output)?;
        }
        i = j;
    }
    Ok(())
}

/// Make a history the API accepts again after a turn was cut short (a killed
/// process, a panic): every tool call gets an output, right after it, saying
/// it was aborted; outputs whose call is gone are dropped.
pub(crate) fn answer_unanswered_calls(history: Vec<ResponseItem>) -> Vec<ResponseItem> {
    use std::collections::HashSet;
    let call_id = |item: &ResponseItem| match item {
        ResponseItem::FunctionCall { call_id, .. }
        | ResponseItem::CustomToolCall { call_id, .. } => Some(call_id.clone()),
        _ => None,
    };
    let output_id = |item: &ResponseItem| match item {
        ResponseItem::FunctionCallOutput { call_id, .. }
        | ResponseItem::CustomToolCallOutput { call_id, .. } => Some(call_id.clone()),
        _ => None,
    };
    let calls: HashSet<String> = history.iter().filter_map(call_id).collect();
    let answered: HashSet<String> = history.iter().filter_map(output_id).collect();
    if calls == answered {
        return history;
    }
    let mut out = Vec::with_capacity(history.len() + calls.len());
    for item in history {
        if output_id(&item).is_some_and(|id| !calls.contains(&id)) {
            continue;
        }
        let missing = match &item {
            ResponseItem::FunctionCall { call_id, .. } if !answered.contains(call_id) => {
                Some(ResponseItem::FunctionCallOutput {
                    call_id: call_id.clone(),
                    output: ABORTED_OUTPUT.into(),
                })
            }
            ResponseItem::CustomToolCall { call_id, .. } if !answered.contains(call_id) => {
                Some(ResponseItem::CustomToolCallOutput {
                    call_id: call_id.clone(),
                    output: ABORTED_OUTPUT.into(),
                })
            }
            _ => None,
        };
        out.push(item);
        out.extend(missing);
    }
    out
}

const ABORTED_OUTPUT: &str = "aborted: the turn ended before this call finished";

pub(crate) fn user_message(input: &Input, cwd: &std::path::Path) -> Result<ResponseItem> {
    let mut content = Vec::new();
    for part in &input.0 {
        match part {
            UserInput::Text { text } => content.push(ContentItem::InputText { text: text.clone() }),
            UserInput::LocalImage { path } => {
                let path = if path.is_absolute() {
                    path.clone()
                } else {
                    cwd.join(path)
                };
                let url = crate::tools::image::data_url(&path)
                    .map_err(|e| Error::Config(format!("image {}: {e}", path.display())))?;
                content.push(ContentItem::InputImage { image_url: url });
            }
        }
    }
    if content.is_empty() {
        return Err(Error::Config("the input is empty".into()));
    }
    Ok(ResponseItem::Message {
        id: None,
        role: "user".into(),
        content,
    })
}

fn reasoning_text(summary: &[ReasoningSummary], content: Option<&[ReasoningContent]>) -> String {
    let summary: Vec<&str> = summary
        .iter()
        .map(|ReasoningSummary::SummaryText { text }| text.as_str())
        .collect();
    if !summary.is_empty() {
        return summary.join("\n\n");
    }
    content
        .unwrap_or_default()
        .iter()
        .map(|c| match c {
            ReasoningContent::ReasoningText { text } | ReasoningContent::Text { text } => {
                text.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Item ids handed out while a response streams, so deltas and the completed
/// item share one id.
#[derive(Default)]
struct StreamingIds {
    messages: VecDeque<String>,
    current_message: Option<String>,
    reasoning: VecDeque<String>,
    current_reasoning: Option<String>,
}

impl StreamingIds {
    fn progress(&mut self, events: &EventSink, p: Progress) {
        match p {
            Progress::ItemAdded(ResponseItem::Message { .. }) => {
                let id = events.next_item_id();
                self.messages.push_back(id.clone());
                self.current_message = Some(id);
            }
            Progress::ItemAdded(ResponseItem::Reasoning { .. }) => {
                let id = events.next_item_id();
                self.reasoning.push_back(id.clone());
                self.current_reasoning = Some(id);
            }
            Progress::ItemAdded(_) => {}
            Progress::TextDelta(delta) => {
                let id = self.current_message.get_or_insert_with(|| {
                    let id = events.next_item_id();
                    self.messages.push_back(id.clone());
                    id
                });
                events.delta(id, DeltaKind::AgentMessage, delta);
            }
            Progress::ReasoningDelta(delta) => {
                let id = self.current_reasoning.get_or_insert_with(|| {
                    let id = events.next_item_id();
                    self.reasoning.push_back(id.clone());
                    id
                });
                events.delta(id, DeltaKind::Reasoning, delta);
            }
            Progress::Retrying {
                attempt,
                max,
                delay,
                message,
            } => {
                // A retried response starts over: its items get fresh ids.
                *self = StreamingIds::default();
                events.emit(ThreadEvent::Error {
                    message: format!(
                        "Reconnecting... {attempt}/{max} in {}ms: {message}",
                        delay.as_millis()
                    ),
                });
            }
        }
    }

    fn message_id(&mut self, events: &EventSink) -> String {
        self.messages
            .pop_front()
            .unwrap_or_else(|| events.next_item_id())
    }

    fn reasoning_id(&mut self, events: &EventSink) -> String {
        self.reasoning
            .pop_front()
            .unwrap_or_else(|| events.next_item_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanswered_calls_get_an_aborted_output_and_orphans_go() {
        let call = |id: &str| ResponseItem::FunctionCall {
            id: None,
            name: "shell".into(),
            arguments: "{}".into(),
            call_id: id.into(),
        };
        let output = |id: &str| ResponseItem::FunctionCallOutput {
            call_id: id.into(),
            output: "ok".into(),
        };
        let history = vec![
            ResponseItem::user_text("hi"),
            call("a"),
            call("b"),
            output("a"),
            output("ghost"),
        ];
        let fixed = answer_unanswered_calls(history);
        assert_eq!(
            fixed,
            vec![
                ResponseItem::user_text("hi"),
                call("a"),
                call("b"),
                ResponseItem::FunctionCallOutput {
                    call_id: "b".into(),
                    output: ABORTED_OUTPUT.into()
                },
                output("a"),
            ]
        );
        assert_eq!(answer_unanswered_calls(fixed.clone()), fixed);
    }
}
