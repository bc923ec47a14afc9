//! `Agent`: options in, threads out. The options arrive as the JSON object
//! of core's `AgentOptions` (the package builds it from keyword arguments);
//! Python callables stay on the Python side behind one dispatcher object.

use std::sync::Arc;

use codeloop_core::protocol::AgentOptions;
use codeloop_core::{Agent, Host};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::host::PyHost;
use crate::thread::{deliver, PyThread};
use crate::{convert, errors, runtime};

#[pyclass(frozen, module = "codeloop._native", name = "Agent")]
pub struct PyAgent {
    inner: Agent,
    host: Option<Arc<PyHost>>,
}

#[pymethods]
impl PyAgent {
    /// `options`: a dict following `AgentOptions` of the protocol schema
    /// (Python hooks in it as `{"type": "callback", "id"}` handlers).
    /// `dispatcher`: the object whose `dispatch(kind, payload, reply)`
    /// answers host requests (hook requests carry their `callback_id`);
    /// `approvals` whether it decides approvals.
    #[new]
    #[pyo3(signature = (options, dispatcher=None, approvals=false))]
    fn new(
        py: Python<'_>,
        options: &Bound<'_, PyAny>,
        dispatcher: Option<Py<PyAny>>,
        approvals: bool,
    ) -> PyResult<Self> {
        runtime::check_fork(py)?;
        let options: AgentOptions = serde_json::from_value(convert::from_py(options)?)
            .map_err(|e| errors::invalid(py, "invalid agent options", e))?;
        let host = dispatcher.map(|d| Arc::new(PyHost::new(d, approvals)));
        let as_host = host.clone().map(|h| h as Arc<dyn Host>);
        let inner = py
            .detach(move || match as_host {
                Some(h) => Agent::with_host(options, h),
                None => Agent::new(options),
            })
            .map_err(|e| errors::core_error(py, &e, None))?;
        Ok(PyAgent { inner, host })
    }

    /// The resolved working directory.
    #[getter]
    fn cwd(&self) -> String {
        self.inner.cwd().display().to_string()
    }

    /// The model name requests are sent with.
    #[getter]
    fn model(&self) -> &str {
        self.inner.model()
    }

    /// What was wrong in the configuration files but did not stop the agent
    /// (also sent as `error` events when a thread starts).
    fn config_warnings(&self) -> Vec<String> {
        self.inner.config_warnings().to_vec()
    }

    /// The options as the core read them (the API key redacted).
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut value = serde_json::to_value(self.inner.options())
            .map_err(|e| errors::invalid(py, "options", e))?;
        if let Some(key) = value.get_mut("api_key").filter(|k| !k.is_null()) {
            *key = serde_json::Value::String("<redacted>".into());
        }
        convert::to_py(py, &value)
    }

    fn start_thread(&self, py: Python<'_>) -> PyResult<PyThread> {
        runtime::check_fork(py)?;
        Ok(PyThread::new(self.inner.start_thread(), self.host.clone()))
    }

    /// Continue thread `id` from its rollout file.
    fn resume_thread(&self, py: Python<'_>, id: &str) -> PyResult<PyThread> {
        runtime::check_fork(py)?;
        let agent = self.inner.clone();
        let id = id.to_owned();
        let thread = py
            .detach(move || agent.resume_thread(&id))
            .map_err(|e| errors::core_error(py, &e, None))?;
        Ok(PyThread::new(thread, self.host.clone()))
    }

    /// A new thread starting from thread `id`'s history: all of it, or
    /// through the end of turn `at_turn` (counting from 1).
    #[pyo3(signature = (id, at_turn=None))]
    fn fork_thread(&self, py: Python<'_>, id: &str, at_turn: Option<u64>) -> PyResult<PyThread> {
        runtime::check_fork(py)?;
        let agent = self.inner.clone();
        let id = id.to_owned();
        let thread = py
            .detach(move || agent.fork_thread(&id, at_turn))
            .map_err(|e| errors::core_error(py, &e, None))?;
        Ok(PyThread::new(thread, self.host.clone()))
    }

    /// Shut the agent's MCP servers down now, even while its threads live:
    /// calls in flight fail, later runs that need the servers raise
    /// `ConfigError`. Idempotent. Waits with the GIL released.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let rt = runtime::ensure(py)?;
        let agent = self.inner.clone();
        // On the runtime: the servers' connections live on its reactor.
        let task = rt.spawn(async move { agent.close().await });
        runtime::wait(py, task)?
            .map_err(|e| PyRuntimeError::new_err(format!("codeloop: the close task failed: {e}")))
    }

    /// [`close`] for asyncio: `callback(None, error)` is called later from a
    /// codeloop thread.
    fn close_async(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let rt = runtime::ensure(py)?;
        let agent = self.inner.clone();
        rt.spawn(async move {
            agent.close().await;
            deliver(callback, |py| Ok(py.None().into_bound(py)));
        });
        Ok(())
    }
}
