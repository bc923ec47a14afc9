//! `applyPatch`: core's apply_patch on a directory, as `codeloop apply-patch`
//! runs it (every path the patch names may be written: the caller chose the
//! patch and the directory). File I/O only, bounded by the patch: no model
//! or command is waited on, so it runs synchronously.

use std::path::PathBuf;

use codeloop_core::tools::apply_patch::apply_patch as core_apply_patch;
use napi_derive::napi;
use serde_json::json;

/// Apply a patch in the Codex format under `cwd`, atomically. Returns JSON
/// `{"changes": [...], "summary": str}` or `{"error": {message, tree_untouched}}`.
#[napi]
pub fn apply_patch(patch: String, cwd: String) -> String {
    let cwd = PathBuf::from(cwd);
    match core_apply_patch(&patch, &cwd, &|_| Ok(())) {
        Ok(applied) => json!({"changes": applied.changes, "summary": applied.summary}),
        Err(e) => json!({"error": {
            "message": e.to_string(),
            "tree_untouched": e.tree_untouched(),
        }}),
    }
    .to_string()
}
