//! A thread: one conversation, run turn by turn.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{AgentInner, Input, RunResult};
use crate::error::{Error, Result};
use crate::protocol::{
    Compaction, CompactionTrigger, ItemDetails, ResponseItem, RunOptions, ThreadEvent, ThreadItem,
    Usage,
};
use crate::session::Rollout;
use crate::tools::EventSink;

/// One conversation with the agent. Cheap to clone; clones share the thread.
#[derive(Clone)]
pub struct Thread {
    pub(crate) inner: Arc<ThreadInner>,
}

pub(crate) struct ThreadInner {
    pub agent: Arc<AgentInner>,
    pub id: String,
    /// Held for the whole of a turn: one turn at a time per thread.
    pub state: tokio::sync::Mutex<ThreadState>,
    /// The running turn's token, for `interrupt`.
    pub running: Mutex<Option<CancellationToken>>,
    pub next_item_id: Arc<AtomicU64>,
    /// Usage as of the last finished turn, readable while a turn runs (even
    /// from a host callback of that turn, which must not wait on `state`).
    pub usage: Mutex<Usage>,
    /// Input steered into the running turn, not yet sent to the model.
    /// `None` while no turn takes steering (see [`Thread::steer`]).
    pub steering: Mutex<Option<Vec<ResponseItem>>>,
}

pub(crate) struct ThreadState {
    pub history: Vec<ResponseItem>,
    pub usage: Usage,
    /// `thread.started` is the first event of the first run of this object.
    pub announced: bool,
    /// Whether the thread's opening context has been added to the history.
    pub primed: bool,
    /// Whether this thread object ran its SessionStart hook (`startup` for
    /// a new thread, `resume` for one loaded from a rollout).
    pub session_started: bool,
    pub rollout: Option<Rollout>,
    /// Turns begun so far, this one included while a turn runs.
    pub turns: u64,
    /// The context size in tokens as of the last model request (its input +
    /// output as reported); 0 when unknown (none yet, or just compacted).
    pub context_tokens: u64,
}

impl Thread {
    pub(crate) fn new(
        agent: Arc<AgentInner>,
        id: String,
        history: Vec<ResponseItem>,
        usage: Usage,
        rollout: Option<Rollout>,
        turns: u64,
    ) -> Thread {
        let primed = !history.is_empty();
        let history = super::turn::answer_unanswered_calls(history);
        Thread {
            inner: Arc::new(ThreadInner {
                agent,
                id,
                state: tokio::sync::Mutex::new(ThreadState {
                    history,
                    usage,
                    announced: false,
                    primed,
                    session_started: false,
                    rollout,
                    turns,
                    context_tokens: 0,
                }),
                running: Mutex::new(None),
                next_item_id: Arc::new(AtomicU64::new(0)),
                usage: Mutex::new(usage),
                steering: Mutex::new(None),
            }),
        }
    }

    /// The thread id, to resume it by later.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Cumulative token usage as of the last finished turn.
    pub fn usage(&self) -> Usage {
        *self.inner.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The model-facing history so far. Waits for a running turn to finish,
    /// so do not call it from a host callback of this thread's turn.
    pub async fn history(&self) -> Vec<ResponseItem> {
        self.inner.state.lock().await.history.clone()
    }

    /// Run one turn and stream its events. The stream ends after
    /// `turn.completed` or `turn.failed`. Dropping the stream early interrupts
    /// the turn. Must be called within a tokio runtime or with codeloop's
    /// global runtime available.
    pub fn run_streamed(&self, input: impl Into<Input>) -> EventStream {
        self.run_streamed_with(input, RunOptions::default())
    }

    /// [`Thread::run_streamed`] with options for this run only (output
    /// schema, budgets) over the agent's.
    pub fn run_streamed_with(&self, input: impl Into<Input>, options: RunOptions) -> EventStream {
        let input = input.into();
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let sink = EventSink::new(tx, self.inner.next_item_id.clone());
        let error = Arc::new(Mutex::new(None));
        let output = Arc::new(Mutex::new(None));
        let stream_cancel = cancel.clone();
        let stream = |guard: Option<DropGuard>| EventStream {
            rx,
            _guard: guard,
            done: false,
            error: error.clone(),
            output: output.clone(),
            cancel: stream_cancel,
        };
        let limits = match super::budget::RunLimits::new(
            &self.inner.agent.options,
            &options,
            &self.inner.agent.model,
        ) {
            Ok(l) => l,
            Err(e) => {
                fail(&sink, &error, e);
                return stream(None);
            }
        };
        let claimed = {
            let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
            running.is_none() && {
                *running = Some(cancel.clone());
                // Steering is taken from the moment the run is claimed; the
                // turn closes it when it ends.
                *self
                    .inner
                    .steering
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
                true
            }
        };
        if !claimed {
            fail(&sink, &error, Error::Busy);
            return stream(None);
        }
        let inner = self.inner.clone();
        let token = cancel.clone();
        let task_error = error.clone();
        let task_output = output.clone();
        let task_sink = sink.clone();
        let spawned = crate::runtime::spawn(async move {
            let outcome = AssertUnwindSafe(super::turn::run_turn(
                inner.clone(),
                input,
                limits,
                task_sink.clone(),
                token.clone(),
            ))
            .catch_unwind()
            .await;
            // A panicking turn never closed steering.
            inner.close_steering();
            // Free the thread before announcing the end, so a caller that runs
            // again as soon as it sees the last event never finds it busy. The
            // slot holds this turn's token: no other turn can start while it is set.
            *inner.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
            match outcome {
                Ok(Ok(done)) => {
                    *task_output.lock().unwrap_or_else(|p| p.into_inner()) = done.output.clone();
                    task_sink.emit(ThreadEvent::TurnCompleted {
                        usage: done.usage,
                        output: done.output,
                    })
                }
                Ok(Err(e)) => fail(&task_sink, &task_error, e),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    tracing::error!(%what, "a turn panicked");
                    fail(
                        &task_sink,
                        &task_error,
                        Error::Internal(format!("the turn panicked: {what}")),
                    )
                }
            }
        });
        if let Err(e) = spawned {
            self.inner.close_steering();
            *self.inner.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
            fail(&sink, &error, e);
            return stream(None);
        }
        stream(Some(cancel.drop_guard()))
    }

    /// Run one turn to its end and collect the result. A failed turn is an
    /// `Err` carrying its error kind.
    pub async fn run(&self, input: impl Into<Input>) -> Result<RunResult> {
        self.run_with(input, RunOptions::default()).await
    }

    /// [`Thread::run`] with options for this run only.
    pub async fn run_with(
        &self,
        input: impl Into<Input>,
        options: RunOptions,
    ) -> Result<RunResult> {
        let mut stream = self.run_streamed_with(input, options);
        let mut collector = RunCollector::new(self.id());
        while let Some(event) = stream.next().await {
            if let Some(outcome) = collector.push(&event, &stream) {
                return outcome;
            }
        }
        Err(collector.ended_early())
    }

    /// Interrupt the running turn, if any: the model request is dropped,
    /// running commands are killed with their process group, and the turn
    /// ends with `turn.failed` (code `interrupted`).
    pub fn interrupt(&self) {
        if let Some(token) = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            token.cancel();
        }
    }
}

impl Thread {
    /// Add input to the running turn: it is sent with the turn's next model
    /// request (after the outputs of the tool calls in flight), as a user
    /// message. A turn whose model has already given its final answer takes
    /// it and asks the model once more. Fails with [`Error::NoActiveTurn`]
    /// when no turn runs (or the turn has just ended): steered input is
    /// then never silently dropped. Input left when a turn ends otherwise
    /// (an interrupt, a budget, an error, a hook that ends it) stays in the
    /// history and reaches the model with the next run. No event
    /// is emitted for it (Codex's `exec --json` has no user-message item).
    pub fn steer(&self, input: impl Into<Input>) -> Result<()> {
        let item = super::turn::user_message(&input.into(), &self.inner.agent.cwd)?;
        let mut steering = self
            .inner
            .steering
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match steering.as_mut() {
            Some(queue) => {
                queue.push(item);
                Ok(())
            }
            None => Err(Error::NoActiveTurn),
        }
    }

    /// Compact the history now: the model summarizes the conversation and
    /// the history becomes the opening context, the recent user messages and
    /// the summary (see `agent::compact`). Fails with [`Error::Busy`] while a
    /// turn runs (here or, for a resumed thread, in another process), and
    /// with an error telling to resume it again when another process wrote
    /// to the thread since it was loaded; a model error leaves the history
    /// as it was. A thread that
    /// never ran has nothing to compact: nothing is sent and the result
    /// says 0 items before and after. [`Thread::interrupt`] stops it.
    pub async fn compact(&self) -> Result<Compaction> {
        let cancel = CancellationToken::new();
        {
            let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
            if running.is_some() {
                return Err(Error::Busy);
            }
            *running = Some(cancel.clone());
        }
        struct Release<'a>(&'a ThreadInner);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                *self.0.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
        }
        let _release = Release(&self.inner);
        let mut state = self.inner.state.lock().await;
        if state.history.is_empty() {
            return Ok(Compaction {
                trigger: CompactionTrigger::Manual,
                tokens_before: 0,
                items_before: 0,
                items_after: 0,
            });
        }
        // Like a turn, a compaction holds the thread's turn lock, and a copy
        // that another process continued since it was loaded must not write
        // a replacement history built from what it holds.
        let _lock = state.rollout.as_ref().map(|r| r.lock()).transpose()?;
        let mut used = Usage::default();
        let result = super::compact::compact(
            &self.inner,
            &mut state,
            CompactionTrigger::Manual,
            &cancel,
            None,
            &mut used,
        )
        .await;
        *self.inner.usage.lock().unwrap_or_else(|p| p.into_inner()) = state.usage;
        result
    }
}

impl ThreadInner {
    /// Steered input waiting for the next model request.
    pub(crate) fn take_steering(&self) -> Vec<ResponseItem> {
        self.steering
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// At the end of a turn: steered input that came in meanwhile (the turn
    /// goes on with it), or nothing, and then steering is closed — in one
    /// step, so a `steer` either lands in this turn or fails.
    pub(crate) fn finish_steering(&self) -> Vec<ResponseItem> {
        let mut steering = self.steering.lock().unwrap_or_else(|p| p.into_inner());
        match steering.as_mut() {
            Some(queue) if !queue.is_empty() => std::mem::take(queue),
            _ => {
                *steering = None;
                Vec::new()
            }
        }
    }

    /// Close steering; returns what was still queued.
    pub(crate) fn close_steering(&self) -> Vec<ResponseItem> {
        self.steering
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default()
    }
}

/// Folds the events of one turn into its [`RunResult`], exactly as
/// [`Thread::run`] does. For fronts that hand every event to their caller and
/// also give the result (or the error) once the turn ends, without keeping a
/// second copy of the rules of `run`.
#[derive(Debug, Clone)]
pub struct RunCollector {
    thread_id: String,
    final_response: String,
    items: Vec<ThreadItem>,
}

impl RunCollector {
    pub fn new(thread_id: impl Into<String>) -> Self {
        RunCollector {
            thread_id: thread_id.into(),
            final_response: String::new(),
            items: Vec::new(),
        }
    }

    /// Take in the next event of `stream`. Returns the outcome once the turn
    /// ended: its result, or its error as the core raised it (kept by the
    /// stream; rebuilt from the event if it was already taken).
    pub fn push(&mut self, event: &ThreadEvent, stream: &EventStream) -> Option<Result<RunResult>> {
        match event {
            ThreadEvent::ItemCompleted { item } => {
                if let ItemDetails::AgentMessage { text } = &item.details {
                    self.final_response = text.clone();
                }
                self.items.push(item.clone());
                None
            }
            ThreadEvent::TurnCompleted { usage, output } => Some(Ok(RunResult {
                thread_id: self.thread_id.clone(),
                final_response: std::mem::take(&mut self.final_response),
                items: std::mem::take(&mut self.items),
                usage: *usage,
                output: stream.take_output().or_else(|| output.clone()),
            })),
            ThreadEvent::TurnFailed { error } => Some(Err(stream
                .take_error()
                .unwrap_or_else(|| Error::from_thread_error(error)))),
            _ => None,
        }
    }

    /// The error for a stream that ended without a terminal event.
    pub fn ended_early(&self) -> Error {
        Error::Internal("the turn ended without turn.completed or turn.failed".into())
    }
}

/// The events of one turn. Ends after the turn's last event; dropping it
/// interrupts the turn.
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<ThreadEvent>,
    _guard: Option<DropGuard>,
    done: bool,
    /// The error of a failed turn, as the core raised it (the event carries
    /// only its message and code).
    error: Arc<Mutex<Option<Error>>>,
    /// The parsed final answer of a turn with an output schema, set before
    /// `turn.completed` is sent.
    output: Arc<Mutex<Option<serde_json::Value>>>,
    /// This run's turn token (the one `Thread::interrupt` cancels while the
    /// turn runs).
    cancel: CancellationToken,
}

/// Interrupts the turn of one run, and never a later turn of the same
/// thread: for a front whose run object may outlive its turn (a cancelled
/// await, a dropped iterator) while the thread has moved on.
#[derive(Debug, Clone)]
pub struct RunInterrupt(CancellationToken);

impl RunInterrupt {
    /// Interrupt the turn if it still runs (as [`Thread::interrupt`] does);
    /// nothing once it ended.
    pub fn interrupt(&self) {
        self.0.cancel();
    }
}

/// Report a failed turn: keep the error for `run`, then emit `turn.failed`.
fn fail(sink: &EventSink, slot: &Mutex<Option<Error>>, error: Error) {
    let event = ThreadEvent::TurnFailed {
        error: error.to_thread_error(),
    };
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    sink.emit(event);
}

impl EventStream {
    /// The error of the failed turn, once `turn.failed` was received.
    pub fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The parsed final answer (runs with an output schema), once
    /// `turn.completed` was received.
    pub fn take_output(&self) -> Option<serde_json::Value> {
        self.output.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// A handle that interrupts this run's turn from anywhere, without
    /// access to the stream (which its reader may be holding).
    pub fn interrupter(&self) -> RunInterrupt {
        RunInterrupt(self.cancel.clone())
    }

    /// Disarm the interrupt-on-drop guard: the turn runs on when the stream is dropped.
    pub fn detach(&mut self) {
        if let Some(g) = self._guard.take() {
            g.disarm();
        }
    }
}

impl Stream for EventStream {
    type Item = ThreadEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ThreadEvent>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(event)) => {
                if matches!(
                    event,
                    ThreadEvent::TurnCompleted { .. } | ThreadEvent::TurnFailed { .. }
                ) {
                    self.done = true;
                    if let Some(g) = self._guard.take() {
                        g.disarm();
                    }
                }
                Poll::Ready(Some(event))
            }
            other => other,
        }
    }
}
