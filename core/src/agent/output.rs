//! Structured output: the final answer checked against the run's output
//! schema, and the message that asks the model again when it does not match.

use serde_json::Value;

use crate::error::{Error, Result};

/// The most validation errors reported (to the model and in the error).
const MAX_ERRORS: usize = 20;

/// Compile `schema`; an invalid schema (or one with a `$ref` to a file or a
/// URL, which is never fetched) is a configuration error.
pub(crate) fn compile(schema: &Value) -> Result<jsonschema::Validator> {
    if !schema.is_object() {
        return Err(Error::Config(
            "output_schema must be a JSON Schema object".into(),
        ));
    }
    jsonschema::validator_for(schema)
        .map_err(|e| Error::Config(format!("output_schema is not a valid JSON Schema: {e}")))
}

/// The answer parsed and validated, or what is wrong with it.
pub(crate) fn check(
    validator: &jsonschema::Validator,
    answer: &str,
) -> std::result::Result<Value, Vec<String>> {
    if answer.trim().is_empty() {
        return Err(vec!["the answer is empty, not JSON".into()]);
    }
    let value: Value = match serde_json::from_str(answer.trim()) {
        Ok(v) => v,
        Err(e) => return Err(vec![format!("the answer is not JSON: {e}")]),
    };
    let mut errors: Vec<String> = validator
        .iter_errors(&value)
        .take(MAX_ERRORS + 1)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            format!("at {at}: {e}")
        })
        .collect();
    if errors.is_empty() {
        return Ok(value);
    }
    if errors.len() > MAX_ERRORS {
        errors.truncate(MAX_ERRORS);
        errors.push("(more errors not shown)".into());
    }
    Err(errors)
}

/// The user message that sends an invalid answer back to the model.
pub(crate) fn reask_message(errors: &[String]) -> String {
    let mut text =
        String::from("Your final answer does not match the required JSON output schema:\n");
    for e in errors {
        text.push_str("- ");
        text.push_str(e);
        text.push('\n');
    }
    text.push_str(
        "Answer again with only a JSON value that matches the schema, and no other text.",
    );
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_parsed_and_checked() {
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}},
                            "required": ["n"], "additionalProperties": false});
        let v = compile(&schema).unwrap();
        assert_eq!(check(&v, " {\"n\": 3} "), Ok(json!({"n": 3})));
        let errors = check(&v, "{\"n\": \"x\"}").unwrap_err();
        assert!(errors[0].contains("/n"), "{errors:?}");
        let errors = check(&v, "three").unwrap_err();
        assert!(errors[0].contains("not JSON"), "{errors:?}");
        assert!(compile(&json!({"$ref": "https://example.invalid/s.json"})).is_err());
        assert!(compile(&json!(true)).is_err());
    }
}
