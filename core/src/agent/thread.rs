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
use crate::protocol::{ItemDetails, ResponseItem, ThreadEvent, ThreadItem, Usage};
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
}

pub(crate) struct ThreadState {
    pub history: Vec<ResponseItem>,
    pub usage: Usage,
    /// `thread.started` is the first event of the first run of this object.
    pub announced: bool,
    /// Whether the thread's opening context has been added to the history.
    pub primed: bool,
    pub rollout: Option<Rollout>,
}

impl Thread {
    pub(crate) fn new(
        agent: Arc<AgentInner>,
        id: String,
        history: Vec<ResponseItem>,
        usage: Usage,
        rollout: Option<Rollout>,
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
                    rollout,
                }),
                running: Mutex::new(None),
                next_item_id: Arc::new(AtomicU64::new(0)),
                usage: Mutex::new(usage),
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
        let input = input.into();
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let sink = EventSink::new(tx, self.inner.next_item_id.clone());
        let error = Arc::new(Mutex::new(None));
        let stream_cancel = cancel.clone();
        let stream = |guard: Option<DropGuard>| EventStream {
            rx,
            _guard: guard,
            done: false,
            error: error.clone(),
            cancel: stream_cancel,
        };
        let claimed = {
            let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
            running.is_none() && {
                *running = Some(cancel.clone());
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
        let task_sink = sink.clone();
        let spawned = crate::runtime::spawn(async move {
            let outcome = AssertUnwindSafe(super::turn::run_turn(
                inner.clone(),
                input,
                task_sink.clone(),
                token.clone(),
            ))
            .catch_unwind()
            .await;
            // Free the thread before announcing the end, so a caller that runs
            // again as soon as it sees the last event never finds it busy. The
            // slot holds this turn's token: no other turn can start while it is set.
            *inner.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
            match outcome {
                Ok(Ok(usage)) => task_sink.emit(ThreadEvent::TurnCompleted { usage }),
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
            *self.inner.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
            fail(&sink, &error, e);
            return stream(None);
        }
        stream(Some(cancel.drop_guard()))
    }

    /// Run one turn to its end and collect the result. A failed turn is an
    /// `Err` carrying its error kind.
    pub async fn run(&self, input: impl Into<Input>) -> Result<RunResult> {
        let mut stream = self.run_streamed(input);
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
            ThreadEvent::TurnCompleted { usage } => Some(Ok(RunResult {
                thread_id: self.thread_id.clone(),
                final_response: std::mem::take(&mut self.final_response),
                items: std::mem::take(&mut self.items),
                usage: *usage,
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
