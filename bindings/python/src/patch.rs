//! `codeloop.apply_patch`: core's apply_patch on a directory, as the
//! `codeloop apply-patch` command runs it (every path the patch names may be
//! written: the caller chose the patch and the directory).

use std::path::PathBuf;

use codeloop_core::tools::apply_patch::apply_patch as core_apply_patch;
use pyo3::prelude::*;

use crate::{convert, errors, runtime};

/// Apply a patch in the Codex format under `cwd`, atomically. Returns
/// `{"changes": [...], "summary": str}`; raises `PatchError`.
#[pyfunction]
pub fn apply_patch<'py>(
    py: Python<'py>,
    patch: String,
    cwd: PathBuf,
) -> PyResult<Bound<'py, PyAny>> {
    runtime::check_fork(py)?;
    let applied = py.detach(move || core_apply_patch(&patch, &cwd, &|_| Ok(())));
    match applied {
        Ok(applied) => {
            let dict = pyo3::types::PyDict::new(py);
            dict.set_item("changes", convert::ser_to_py(py, &applied.changes)?)?;
            dict.set_item("summary", applied.summary)?;
            Ok(dict.into_any())
        }
        Err(e) => Err(errors::patch(py, &e.to_string(), e.tree_untouched())),
    }
}
