//! `Thread` and the `EventStream` of one run.
//!
//! A run is core's `RunReader` (its event stream and the rules of
//! `Thread::run`), behind an async mutex so that a blocking Python thread and
//! a runtime task can each take a turn at reading it. Events cross to Python
//! in batches: the first is waited for, the rest already queued come along,
//! so a fast stream costs one GIL acquisition per batch rather than per event.

use std::sync::Arc;
use std::time::Duration;

use codeloop_core::protocol::{RunOptions, ThreadEvent};
use codeloop_core::{Error, Input, RunInterrupt, RunReader, RunResult, Thread};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::host::PyHost;
use crate::{convert, errors, runtime};

/// How long a run interrupted by Ctrl-C may take to wind down (kill its
/// commands, write its rollout) before the KeyboardInterrupt is raised anyway.
const WIND_DOWN: Duration = Duration::from_secs(5);

#[pyclass(frozen, module = "codeloop._native", name = "Thread")]
pub struct PyThread {
    inner: Thread,
    host: Option<Arc<PyHost>>,
}

impl PyThread {
    pub fn new(inner: Thread, host: Option<Arc<PyHost>>) -> Self {
        PyThread { inner, host }
    }
}

fn input_of(py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<Input> {
    if let Ok(text) = input.cast::<PyString>() {
        return Ok(Input::from(text.to_cow()?.into_owned()));
    }
    let value = convert::from_py(input)?;
    serde_json::from_value(value).map_err(|e| errors::invalid(py, "invalid input", e))
}

#[pymethods]
impl PyThread {
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    /// Cumulative usage as of the last finished turn.
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::ser_to_py(py, &self.inner.usage())
    }

    /// Start a turn. `input` is a string or a list of user inputs
    /// (`{"type": "text", "text": ...}`, `{"type": "local_image", "path": ...}`);
    /// `options` a dict following `RunOptions` (this run's budgets and
    /// output schema, over the agent's).
    #[pyo3(signature = (input, options=None))]
    fn run_streamed(
        &self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyEventStream> {
        let input = input_of(py, input)?;
        let options: RunOptions = match options {
            Some(o) => serde_json::from_value(convert::from_py(o)?)
                .map_err(|e| errors::invalid(py, "invalid run options", e))?,
            None => RunOptions::default(),
        };
        runtime::ensure(py)?;
        if let Some(host) = &self.host {
            // A failure left by an earlier turn is not this turn's cause.
            drop(host.failures().take(self.inner.id()));
        }
        let stream = self.inner.run_streamed_with(input, options);
        let interrupter = stream.interrupter();
        Ok(PyEventStream {
            state: Arc::new(tokio::sync::Mutex::new(RunReader::new(
                stream,
                self.inner.id(),
            ))),
            interrupter,
            thread_id: self.inner.id().to_owned(),
            host: self.host.clone(),
        })
    }

    /// Interrupt the running turn, if any (it ends with `turn.failed`, code
    /// `interrupted`). Safe from any thread, and from a callback.
    fn interrupt(&self) {
        self.inner.interrupt();
    }

    /// Add input to the running turn (taken at its next model request);
    /// raises `NoActiveTurnError` when no turn runs. Safe from any thread.
    fn steer(&self, py: Python<'_>, input: &Bound<'_, PyAny>) -> PyResult<()> {
        let input = input_of(py, input)?;
        self.inner
            .steer(input)
            .map_err(|e| errors::core_error(py, &e, None))
    }

    /// Compact the history now and return the `Compaction` as a dict.
    /// Waits with the GIL released; Ctrl-C interrupts the compaction.
    fn compact<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rt = runtime::ensure(py)?;
        let thread = self.inner.clone();
        // On the runtime: the model request needs its reactor.
        let task = rt.spawn(async move { thread.compact().await });
        // Ctrl-C (a signal handler's exception) stops the compaction too.
        let joined = runtime::wait(py, task).inspect_err(|_| self.inner.interrupt())?;
        match joined {
            Ok(Ok(compaction)) => convert::ser_to_py(py, &compaction),
            Ok(Err(e)) => Err(errors::core_error(py, &e, None)),
            Err(e) => Err(PyRuntimeError::new_err(format!(
                "codeloop: the compaction task failed: {e}"
            ))),
        }
    }

    /// [`compact`] for asyncio: `callback(compaction, error)` is called
    /// later from a codeloop thread.
    fn compact_async(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let rt = runtime::ensure(py)?;
        let thread = self.inner.clone();
        rt.spawn(async move {
            let outcome = thread.compact().await;
            deliver(callback, move |py| match outcome {
                Ok(compaction) => convert::ser_to_py(py, &compaction),
                Err(e) => Err(errors::core_error(py, &e, None)),
            });
        });
        Ok(())
    }
}

/// The events of one run, read in batches from Python.
#[pyclass(frozen, module = "codeloop._native", name = "EventStream")]
pub struct PyEventStream {
    state: Arc<tokio::sync::Mutex<RunReader>>,
    /// Interrupts this run's turn only: the Python object may outlive the
    /// turn while its thread runs another.
    interrupter: RunInterrupt,
    thread_id: String,
    host: Option<Arc<PyHost>>,
}

fn batch_to_py<'py>(
    py: Python<'py>,
    batch: &[ThreadEvent],
) -> PyResult<Option<Bound<'py, PyList>>> {
    if batch.is_empty() {
        return Ok(None);
    }
    let list = PyList::empty(py);
    for event in batch {
        list.append(convert::ser_to_py(py, event)?)?;
    }
    Ok(Some(list))
}

fn result_to_py<'py>(py: Python<'py>, result: &RunResult) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    dict.set_item("thread_id", &result.thread_id)?;
    dict.set_item("final_response", &result.final_response)?;
    let items = PyList::empty(py);
    for item in &result.items {
        items.append(convert::ser_to_py(py, item)?)?;
    }
    dict.set_item("items", items)?;
    dict.set_item("usage", convert::ser_to_py(py, &result.usage)?)?;
    let output = match &result.output {
        Some(value) => convert::to_py(py, value)?,
        None => py.None().into_bound(py),
    };
    dict.set_item("output", output)?;
    Ok(dict.into_any())
}

/// Call `callback(value, error)` from a blocking-pool thread: attaching to
/// the interpreter may wait for the GIL, which a runtime worker must not.
pub fn deliver<F>(callback: Py<PyAny>, make: F)
where
    F: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    drop(tokio::task::spawn_blocking(move || {
        Python::attach(|py| {
            let (value, error): (Bound<'_, PyAny>, Bound<'_, PyAny>) = match make(py) {
                Ok(v) => (v, py.None().into_bound(py)),
                Err(e) => (
                    py.None().into_bound(py),
                    e.into_value(py).into_bound(py).into_any(),
                ),
            };
            if let Err(e) = callback.call1(py, (value, error)) {
                // The asyncio side went away (its loop closed); say so the
                // way Python reports errors nobody can catch.
                e.write_unraisable(py, None);
            }
        })
    }));
}

impl PyEventStream {
    /// The outcome as Python: the result dict, or the mapped exception.
    fn outcome_to_py<'py>(
        py: Python<'py>,
        outcome: Option<Result<RunResult, Error>>,
        thread_id: &str,
        host: Option<&PyHost>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match outcome {
            Some(Ok(result)) => result_to_py(py, &result),
            Some(Err(error)) => {
                let cause = match (&error, host) {
                    (Error::Host(_), Some(host)) => host.failures().take(thread_id),
                    _ => None,
                };
                Err(errors::core_error(py, &error, cause))
            }
            None => Err(PyRuntimeError::new_err(
                "the result of this run was already taken",
            )),
        }
    }

    /// Ctrl-C (or another signal handler's exception) arrived while a
    /// Python thread waited: interrupt the turn and let it wind down, so the
    /// thread can run again at once, then raise the signal's exception.
    fn after_signal(&self, py: Python<'_>, error: PyErr) -> PyErr {
        self.interrupter.interrupt();
        let state = self.state.clone();
        // A second Ctrl-C during the wind-down raises at once.
        let _ = runtime::wait_for(
            py,
            async move { state.lock().await.drain().await },
            WIND_DOWN,
        );
        error
    }
}

#[pymethods]
impl PyEventStream {
    /// The next events (at most `max`), waiting with the GIL released;
    /// `None` once the run ended.
    fn next_batch<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Option<Bound<'py, PyList>>> {
        let state = self.state.clone();
        let batch = runtime::wait(py, async move { state.lock().await.next_batch(max).await })
            .map_err(|e| self.after_signal(py, e))?;
        batch_to_py(py, &batch)
    }

    /// [`next_batch`] for asyncio: returns at once; `callback(events, error)`
    /// is called later from a codeloop thread (events `None` at the end).
    fn next_batch_async(&self, py: Python<'_>, max: usize, callback: Py<PyAny>) -> PyResult<()> {
        let rt = runtime::ensure(py)?;
        let state = self.state.clone();
        rt.spawn(async move {
            let batch = state.lock().await.next_batch(max).await;
            deliver(callback, move |py| {
                Ok(batch_to_py(py, &batch)?
                    .map_or_else(|| py.None().into_bound(py), Bound::into_any))
            });
        });
        Ok(())
    }

    /// Read the run to its end and return its result as a dict
    /// (`thread_id`, `final_response`, `items`, `usage`, `output`), or raise
    /// its error.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state.clone();
        let outcome = runtime::wait(py, async move {
            let mut state = state.lock().await;
            state.drain().await;
            state.take_outcome()
        })
        .map_err(|e| self.after_signal(py, e))?;
        Self::outcome_to_py(py, outcome, &self.thread_id, self.host.as_deref())
    }

    /// [`finish`] for asyncio: `callback(result, error)` is called later from
    /// a codeloop thread.
    fn finish_async(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let rt = runtime::ensure(py)?;
        let state = self.state.clone();
        let thread_id = self.thread_id.clone();
        let host = self.host.clone();
        rt.spawn(async move {
            let outcome = {
                let mut state = state.lock().await;
                state.drain().await;
                state.take_outcome()
            };
            deliver(callback, move |py| {
                Self::outcome_to_py(py, outcome, &thread_id, host.as_deref())
            });
        });
        Ok(())
    }

    /// Interrupt the turn of this run (nothing once it ended).
    fn interrupt(&self) {
        self.interrupter.interrupt();
    }
}
