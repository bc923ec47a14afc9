//! The runtime as Python sees it: core's one tokio runtime per process
//! (`codeloop_core::runtime::global`), guarded against use in a forked child,
//! and a way for a Python thread to wait on the core with the GIL released
//! while Ctrl-C still works.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

/// The process that started the runtime. fork() copies the runtime's state
/// but not its threads, so in a child every task would wait forever: each
/// entry point compares this with the current pid and refuses instead.
static OWNER: OnceLock<u32> = OnceLock::new();

/// How often a waiting main thread lets Python run its signal handlers.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Refuse to go on in a process forked after the runtime started.
pub fn check_fork(py: Python<'_>) -> PyResult<()> {
    if let Some(&owner) = OWNER.get() {
        let pid = std::process::id();
        if owner != pid {
            return Err(errors::forked(py, owner, pid));
        }
    }
    Ok(())
}

/// The runtime, started on first use by this process.
pub fn ensure(py: Python<'_>) -> PyResult<&'static Runtime> {
    check_fork(py)?;
    // Recorded before the runtime starts, so that no child can ever find a
    // runtime without an owner.
    OWNER.get_or_init(std::process::id);
    codeloop_core::runtime::global().map_err(|e| errors::core_error(py, &e, None))
}

/// Wait for `fut` on the calling thread with the GIL released.
///
/// The future is polled right here rather than with `Runtime::block_on`:
/// core's event streams need no runtime context (runtime threads feed them
/// and wake this one), and `block_on` panics when the caller is itself on a
/// runtime thread — a Python tool that runs another agent synchronously is.
///
/// On the main thread, Python's signal handlers run every [`SIGNAL_POLL`];
/// when one raises (KeyboardInterrupt on Ctrl-C) the wait ends with that
/// error and `fut` is dropped. Other threads never receive signals, so they
/// wait without touching the interpreter.
pub fn wait<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    check_fork(py)?;
    let main = is_main_thread(py);
    // Without a deadline, the wait ends only with the future's output.
    py.detach(move || block_on(fut, main, None))?
        .ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("codeloop: a wait ended without its result")
        })
}

/// [`wait`], giving up (`Ok(None)`) once `limit` has passed.
pub fn wait_for<F>(py: Python<'_>, fut: F, limit: Duration) -> PyResult<Option<F::Output>>
where
    F: Future + Send,
    F::Output: Send,
{
    check_fork(py)?;
    let main = is_main_thread(py);
    let deadline = Instant::now() + limit;
    py.detach(move || block_on(fut, main, Some(deadline)))
}

fn is_main_thread(py: Python<'_>) -> bool {
    (|| -> PyResult<bool> {
        let threading = py.import("threading")?;
        let main = threading.call_method0("main_thread")?;
        let current = threading.call_method0("current_thread")?;
        Ok(main.is(&current))
    })()
    .unwrap_or(false)
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

fn block_on<F: Future>(
    fut: F,
    check_signals: bool,
    deadline: Option<Instant>,
) -> PyResult<Option<F::Output>> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut last_check = Instant::now();
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Ok(Some(out));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(None);
        }
        // Sleep until woken (spurious wake-ups only cost a poll), the next
        // signal check, or the deadline, whichever comes first.
        let mut until = deadline;
        if check_signals {
            let next_check = last_check + SIGNAL_POLL;
            until = Some(until.map_or(next_check, |d| d.min(next_check)));
        }
        match until {
            Some(t) => std::thread::park_timeout(t.saturating_duration_since(now)),
            None => std::thread::park(),
        }
        if check_signals && last_check.elapsed() >= SIGNAL_POLL {
            Python::attach(|py| py.check_signals())?;
            last_check = Instant::now();
        }
    }
}
