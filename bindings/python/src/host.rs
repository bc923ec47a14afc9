//! The host bridge: core's `JsonHost` answered by Python callables (core
//! reads the answers; this file only carries them).
//!
//! Every request goes to one Python object, the package's dispatcher
//! (`codeloop._host.Dispatcher`), as `dispatch(kind, payload, reply)`. The
//! call runs on a blocking-pool thread, never on a runtime worker: attaching
//! to the interpreter can wait for the GIL, and a synchronous tool may run for
//! minutes. The dispatcher answers through `reply` — at once for a plain
//! function, or later from an asyncio loop for a coroutine — and the turn
//! awaits that answer without holding any thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use codeloop_core::agent::{HostRequestKind, JsonHost};
use codeloop_core::{Error, Result};
use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::convert;

/// What a callback raised, per thread id: the error the turn fails with
/// carries only a message, so the exception itself waits here to become the
/// `__cause__` of the `HostCallbackError` raised to the caller.
#[derive(Default)]
pub struct Failures(Mutex<HashMap<String, Py<PyAny>>>);

impl Failures {
    fn record(&self, thread_id: &str, exception: Py<PyAny>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // The first failure is the one that failed the turn.
        map.entry(thread_id.to_owned()).or_insert(exception);
    }

    pub fn take(&self, thread_id: &str) -> Option<Py<PyAny>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(thread_id)
    }
}

pub struct PyHost {
    dispatcher: Arc<Py<PyAny>>,
    /// Whether `can_use_tool` was given; without it approvals are denied,
    /// as a headless core does.
    approvals: bool,
    failures: Arc<Failures>,
}

impl PyHost {
    pub fn new(dispatcher: Py<PyAny>, approvals: bool) -> Self {
        PyHost {
            dispatcher: Arc::new(dispatcher),
            approvals,
            failures: Arc::new(Failures::default()),
        }
    }

    pub fn failures(&self) -> &Failures {
        &self.failures
    }

    /// Send one request to the dispatcher and wait for its answer.
    async fn send_request(
        &self,
        kind: &'static str,
        thread_id: &str,
        payload: Value,
    ) -> Result<Value> {
        let (tx, rx) = oneshot::channel();
        let reply = Reply {
            tx: Mutex::new(Some(tx)),
            thread_id: thread_id.to_owned(),
            failures: self.failures.clone(),
        };
        let dispatcher = self.dispatcher.clone();
        let failures = self.failures.clone();
        let thread_id = thread_id.to_owned();
        let called = tokio::task::spawn_blocking(move || {
            Python::attach(|py| {
                let sent = (|| -> PyResult<()> {
                    let payload = convert::to_py(py, &payload)?;
                    let reply = Py::new(py, reply)?;
                    dispatcher.call_method1(py, "dispatch", (kind, payload, reply))?;
                    Ok(())
                })();
                sent.map_err(|e| {
                    let message = format!("the codeloop {kind} dispatcher failed: {e}");
                    failures.record(&thread_id, e.into_value(py).into_any());
                    message
                })
            })
        })
        .await;
        match called {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(Error::Host(message)),
            Err(e) => {
                return Err(Error::Host(format!(
                    "the {kind} callback did not run to its end: {e}"
                )))
            }
        }
        match rx.await {
            Ok(Answer::Value(value)) => Ok(value),
            Ok(Answer::Failed(message)) => Err(Error::Host(message)),
            Err(_) => Err(Error::Host(format!(
                "the {kind} callback never answered (its reply object was dropped)"
            ))),
        }
    }
}

#[async_trait]
impl JsonHost for PyHost {
    fn handles_approvals(&self) -> bool {
        self.approvals
    }

    /// Python hooks are `{"type": "callback", "id"}` handlers in the
    /// `hooks` option: core chains them and asks for each by `callback_id`,
    /// so the unnamed end-of-chain hook never needs to cross.
    fn handles_hook(&self, _name: &str) -> bool {
        false
    }

    async fn ask(&self, kind: HostRequestKind, thread_id: &str, payload: Value) -> Result<Value> {
        // The dispatcher's names for the three kinds of request.
        let kind = match kind {
            HostRequestKind::Tool => "tool",
            HostRequestKind::Approval => "approve",
            HostRequestKind::Hook => "hook",
        };
        self.send_request(kind, thread_id, payload).await
    }

    fn approval_callback_name(&self) -> &str {
        "can_use_tool"
    }
}

enum Answer {
    Value(Value),
    Failed(String),
}

/// The answer slot of one host request, handed to the dispatcher. The first
/// answer counts; later ones are ignored.
#[pyclass(frozen, module = "codeloop._native", name = "Reply")]
pub struct Reply {
    tx: Mutex<Option<oneshot::Sender<Answer>>>,
    thread_id: String,
    failures: Arc<Failures>,
}

impl Reply {
    /// Whether this was the first answer.
    fn send(&self, answer: Answer) -> bool {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(tx) = tx else { return false };
        // A turn that ended meanwhile no longer listens: nothing to do.
        let _ = tx.send(answer);
        true
    }
}

#[pymethods]
impl Reply {
    /// Answer with a JSON-able value. A value that is not JSON-able fails
    /// the request (with the conversion error as the cause) rather than
    /// leaving it unanswered.
    fn ok(&self, value: &Bound<'_, PyAny>) -> bool {
        match convert::from_py(value) {
            Ok(v) => self.send(Answer::Value(v)),
            Err(e) => {
                let message = format!("the callback's answer cannot be sent to the agent: {e}");
                let py = value.py();
                if self.send(Answer::Failed(message)) {
                    self.failures
                        .record(&self.thread_id, e.into_value(py).into_any());
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Fail the request: the turn fails with a `HostCallbackError` saying
    /// `message`, whose `__cause__` is `error`.
    fn fail(&self, error: &Bound<'_, PyBaseException>, message: String) -> bool {
        if self.send(Answer::Failed(message)) {
            self.failures
                .record(&self.thread_id, error.clone().into_any().unbind());
            true
        } else {
            false
        }
    }
}
