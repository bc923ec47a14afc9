//! Reading a run's events in batches while keeping its outcome: what every
//! front that hands events to another language (Python, Node) needs, so that
//! each crossing carries many events and the result of the turn is folded by
//! one set of rules ([`RunCollector`]).

use futures::{FutureExt, StreamExt};

use super::thread::{EventStream, RunCollector};
use super::RunResult;
use crate::error::Error;
use crate::protocol::ThreadEvent;

/// How many events [`RunReader::drain`] reads before yielding, so a long run
/// does not hog the thread that polls it.
const DRAIN_SLICE: usize = 256;

/// A run's event stream plus the fold of its outcome.
pub struct RunReader {
    stream: EventStream,
    collector: RunCollector,
    /// The run's result or error, once the turn ended and until taken.
    outcome: Option<Result<RunResult, Error>>,
    ended: bool,
}

impl RunReader {
    pub fn new(stream: EventStream, thread_id: impl Into<String>) -> Self {
        RunReader {
            stream,
            collector: RunCollector::new(thread_id),
            outcome: None,
            ended: false,
        }
    }

    /// Whether the turn's last event was read.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The run's result or error, once it ended (taken once).
    pub fn take_outcome(&mut self) -> Option<Result<RunResult, Error>> {
        self.outcome.take()
    }

    fn take(&mut self, event: ThreadEvent, batch: &mut Vec<ThreadEvent>) {
        if let Some(outcome) = self.collector.push(&event, &self.stream) {
            self.outcome = Some(outcome);
            self.ended = true;
        }
        batch.push(event);
    }

    fn end_early(&mut self) {
        self.outcome = Some(Err(self.collector.ended_early()));
        self.ended = true;
    }

    /// Up to `max` events: waits for the first, takes those already queued
    /// after it. Empty once the run ended.
    pub async fn next_batch(&mut self, max: usize) -> Vec<ThreadEvent> {
        let mut batch = Vec::new();
        if self.ended {
            return batch;
        }
        match self.stream.next().await {
            Some(event) => self.take(event, &mut batch),
            None => {
                self.end_early();
                return batch;
            }
        }
        while batch.len() < max.max(1) && !self.ended {
            match self.stream.next().now_or_never() {
                Some(Some(event)) => self.take(event, &mut batch),
                Some(None) => self.end_early(),
                None => break,
            }
        }
        batch
    }

    /// Read the run to its end without handing the events out.
    pub async fn drain(&mut self) {
        let mut since_yield = 0;
        while !self.ended {
            match self.stream.next().await {
                Some(event) => {
                    let mut sink = Vec::new();
                    self.take(event, &mut sink);
                }
                None => self.end_early(),
            }
            since_yield += 1;
            if since_yield == DRAIN_SLICE {
                since_yield = 0;
                YieldNow(false).await;
            }
        }
    }
}

/// Returns `Pending` once (waking itself first), so whatever polls the future
/// regains control. Unlike `tokio::task::yield_now` it needs no runtime: the
/// Python front polls on the caller's thread.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}
