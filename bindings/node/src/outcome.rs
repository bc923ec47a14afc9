//! Results and errors as the JSON the package reads: a run's outcome is
//! `{"result": RunResult}` or `{"error": {code, message, status, errors?}}`,
//! so that an error keeps its code (HTTP status, validation messages)
//! without a napi error type per class; the package builds the
//! `CodeloopError` subclass.

use codeloop_core::{Error, RunResult};
use serde_json::{json, Value};

/// The wire name of an error's code (`model_api`), as `turn.failed` carries it.
fn code_name(error: &Error) -> Value {
    serde_json::to_value(error.code()).unwrap_or_else(|_| Value::String("internal".into()))
}

pub fn error_json(error: &Error) -> Value {
    let status = match error {
        Error::Api { status, .. } => Value::from(*status),
        _ => Value::Null,
    };
    let mut json =
        json!({"code": code_name(error), "message": error.to_string(), "status": status});
    if let Error::OutputInvalid { errors } = error {
        json["errors"] = json!(errors);
    }
    json
}

pub fn result_json(result: &RunResult) -> Value {
    json!({
        "thread_id": result.thread_id,
        "final_response": result.final_response,
        "items": result.items,
        "usage": result.usage,
        "output": result.output,
    })
}

pub fn outcome_json(outcome: Option<Result<RunResult, Error>>) -> String {
    match outcome {
        Some(Ok(result)) => json!({"result": result_json(&result)}),
        Some(Err(error)) => json!({"error": error_json(&error)}),
        None => json!({"error": {
            "code": "internal",
            "message": "the result of this run was already taken",
            "status": null,
        }}),
    }
    .to_string()
}

/// A core error thrown synchronously (bad options, a failed resume): the
/// message carries the JSON so the package can rebuild the class.
pub fn to_napi(error: &Error) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("codeloop:{}", error_json(error)),
    )
}
