//! The napi addon under the `codeloop` npm package. It only translates:
//! options, events and host requests cross as JSON text (one `JSON.parse`
//! per batch is cheaper than building objects field by field through
//! napi), core errors as `{code, message}` the package turns into
//! `CodeloopError` subclasses, and the `Host` trait as calls into one
//! JavaScript dispatcher. One file per component: `agent`, `thread`,
//! `host`, `outcome` (results and errors as JSON), `patch`.
//!
//! Nothing here waits on the JavaScript thread: every call that depends on
//! the model or a command returns a Promise settled from core's runtime.

pub mod agent;
pub mod host;
pub mod outcome;
pub mod patch;
pub mod thread;

use napi_derive::napi;

/// The protocol's JSON Schema, as committed in `core/protocol.schema.json`.
#[napi]
pub fn protocol_schema() -> String {
    codeloop_core::protocol::schema::protocol_schema()
}

/// The version of the native addon.
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The `{code, message}` JSON a turn that failed with `code` would give,
/// built the way a `turn.failed` event is turned back into an error. Lets
/// the package's tests check the whole error mapping.
#[napi]
pub fn error_for_code(code: String, message: String) -> napi::Result<String> {
    let code: codeloop_core::protocol::ErrorCode =
        serde_json::from_value(serde_json::Value::String(code))
            .map_err(|e| napi::Error::from_reason(format!("unknown error code: {e}")))?;
    let error = codeloop_core::Error::from_thread_error(&codeloop_core::protocol::ThreadError {
        message,
        code: Some(code),
    });
    Ok(outcome::error_json(&error).to_string())
}
