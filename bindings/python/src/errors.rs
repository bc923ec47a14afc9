//! Core errors as Python exceptions. The classes live in `codeloop.errors`
//! (plain Python, so they can carry docstrings, typed attributes and a second
//! base such as `ValueError`); this file picks the class by the core's
//! `ErrorCode` and keeps what the core knew: the message, the code, the HTTP
//! status of an API error, and the exception a host callback raised as
//! `__cause__`.

use codeloop_core::protocol::ErrorCode;
use codeloop_core::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The class of `codeloop.errors` for a core error code.
fn class_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ModelApi => "APIError",
        ErrorCode::Unauthorized => "AuthenticationError",
        ErrorCode::ContextWindowExceeded => "ContextWindowError",
        ErrorCode::QuotaExceeded => "QuotaExceededError",
        ErrorCode::Stream => "StreamError",
        ErrorCode::Replay => "ReplayError",
        ErrorCode::Interrupted => "TurnInterrupted",
        ErrorCode::BudgetExceeded => "BudgetExceededError",
        ErrorCode::Sandbox => "SandboxError",
        ErrorCode::Config => "ConfigError",
        ErrorCode::Host => "HostCallbackError",
        ErrorCode::Busy => "BusyError",
        ErrorCode::OutputInvalid => "OutputInvalidError",
        ErrorCode::NoActiveTurn => "NoActiveTurnError",
        ErrorCode::Io => "LocalIOError",
        ErrorCode::Internal => "InternalError",
    }
}

/// The wire name of a code (`model_api`), as `turn.failed` events carry it.
fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// An instance of `codeloop.errors.<class>(message, code=code)`. Should the
/// package be missing (the extension imported on its own), a RuntimeError
/// with the same message, so an error is never lost to a second one.
fn build(py: Python<'_>, class: &str, message: &str, code: &str) -> PyErr {
    let made = (|| -> PyResult<Bound<'_, PyAny>> {
        let module =
            ERRORS.get_or_try_init(py, || py.import("codeloop.errors").map(Bound::unbind))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("code", code)?;
        module
            .bind(py)
            .getattr(class)?
            .call((message,), Some(&kwargs))
    })();
    match made {
        Ok(instance) => PyErr::from_value(instance),
        Err(_) => PyRuntimeError::new_err(format!("{message} (code {code})")),
    }
}

/// A core error as its Python exception. `cause` is what a host callback
/// raised, when the error is its failure.
pub fn core_error(py: Python<'_>, error: &Error, cause: Option<Py<PyAny>>) -> PyErr {
    let code = error.code();
    let err = build(py, class_name(code), &error.to_string(), &code_name(code));
    match error {
        Error::Api { status, .. } => {
            let _ = err.value(py).setattr("status", *status);
        }
        Error::OutputInvalid { errors } => {
            let _ = err.value(py).setattr("errors", errors.clone());
        }
        _ => {}
    }
    if let Some(cause) = cause {
        err.set_cause(py, Some(PyErr::from_value(cause.into_bound(py))));
    }
    err
}

/// The SDK was used in a process forked from one whose runtime threads did
/// not survive the fork.
pub fn forked(py: Python<'_>, owner: u32, child: u32) -> PyErr {
    build(
        py,
        "ForkedProcessError",
        &format!(
            "codeloop cannot be used in this process ({child}): it was forked from process \
             {owner} after codeloop started its runtime there, and the runtime's threads do not \
             survive fork(). Create agents in the child only (start it with multiprocessing's \
             'spawn' or 'forkserver' method), or fork before using codeloop."
        ),
        "forked",
    )
}

/// A patch that `codeloop.apply_patch` could not apply.
pub fn patch(py: Python<'_>, message: &str, tree_untouched: bool) -> PyErr {
    let err = build(py, "PatchError", message, "patch");
    let _ = err.value(py).setattr("tree_untouched", tree_untouched);
    err
}

/// A protocol value Python sent that the core cannot read.
pub fn invalid(py: Python<'_>, what: &str, error: impl std::fmt::Display) -> PyErr {
    core_error(py, &Error::Config(format!("{what}: {error}")), None)
}

/// The exception a turn that failed with `code` raises, built the way a
/// `turn.failed` event is turned back into an error. Lets the SDK's tests
/// check the whole mapping, including codes no test can provoke.
#[pyfunction]
pub fn exception_for_code(py: Python<'_>, code: &str, message: &str) -> PyResult<Py<PyAny>> {
    let code: ErrorCode = serde_json::from_value(serde_json::Value::String(code.to_owned()))
        .map_err(|e| invalid(py, "unknown error code", e))?;
    let error = Error::from_thread_error(&codeloop_core::protocol::ThreadError {
        message: message.to_owned(),
        code: Some(code),
    });
    Ok(core_error(py, &error, None).into_value(py).into_any())
}
