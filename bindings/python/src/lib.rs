//! `codeloop._native`: the PyO3 module under the `codeloop` package. It only
//! translates — options and events as JSON values, core errors as Python
//! exceptions, the `Host` trait as calls into Python; the agent itself is
//! codeloop-core. One file per component: `agent`, `thread` (threads and
//! their event streams), `host` (the Host bridge), `errors`, `runtime`,
//! `convert` (JSON values), `patch`.

mod agent;
mod convert;
mod errors;
mod host;
mod patch;
mod runtime;
mod thread;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Spans go to an OTLP collector when the OTEL_* variables name one.
    if let Err(e) = codeloop_core::telemetry::init_from_env() {
        eprintln!("codeloop: warning: {e}");
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<agent::PyAgent>()?;
    m.add_class::<thread::PyThread>()?;
    m.add_class::<thread::PyEventStream>()?;
    m.add_class::<host::Reply>()?;
    m.add_function(wrap_pyfunction!(patch::apply_patch, m)?)?;
    m.add_function(wrap_pyfunction!(protocol_schema, m)?)?;
    m.add_function(wrap_pyfunction!(errors::exception_for_code, m)?)?;
    Ok(())
}

/// The protocol's JSON Schema, as committed in `core/protocol.schema.json`.
#[pyfunction]
fn protocol_schema() -> String {
    codeloop_core::protocol::schema::protocol_schema()
}
