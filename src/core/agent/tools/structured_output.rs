//! `structured_output`: how a workflow sub-agent whose `agent()` call gave a `schema` hands back
//! its answer. The tool's parameters are the schema; the arguments are validated with
//! `jsonschema`, a validation error goes back to the model as the tool result so it can try
//! again, and after [`MAX_ATTEMPTS`] invalid answers the call gives up. The agent loop ends the
//! turn as soon as a call succeeds (or gives up). Offered only to such chats, never registered
//! globally.

use std::sync::Mutex;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use super::{Tool, ToolContext, ToolError, ToolKind, ToolOutput};

pub const NAME: &str = "structured_output";
/// Invalid answers accepted before the call fails.
pub const MAX_ATTEMPTS: u32 = 5;

/// Where the answer stands.
#[derive(Debug, Clone, PartialEq)]
pub enum StructuredState {
    Waiting,
    Done(Value),
    GaveUp(String),
}

#[derive(Debug)]
struct Inner {
    attempts: u32,
    state: StructuredState,
}

/// The tool for one sub-agent: its schema and the answer slot.
pub struct StructuredOutput {
    schema: Value,
    /// The schema is not an object schema: the model answers `{"value": …}` and we unwrap it.
    wrapped: bool,
    validator: Result<jsonschema::Validator, String>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for StructuredOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StructuredOutput")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl StructuredOutput {
    pub fn new(schema: Value) -> StructuredOutput {
        let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string());
        let wrapped = schema.get("type").and_then(Value::as_str) != Some("object");
        StructuredOutput {
            schema,
            wrapped,
            validator,
            inner: Mutex::new(Inner {
                attempts: 0,
                state: StructuredState::Waiting,
            }),
        }
    }

    /// Whether the schema itself compiles; a bad schema fails the call before any model request.
    pub fn schema_error(&self) -> Option<String> {
        self.validator
            .as_ref()
            .err()
            .map(|e| format!("invalid schema: {e}"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> StructuredState {
        self.lock().state.clone()
    }

    /// Whether the turn should end: an answer was accepted, or the attempts ran out.
    pub fn is_finished(&self) -> bool {
        !matches!(self.lock().state, StructuredState::Waiting)
    }

    pub fn attempts(&self) -> u32 {
        self.lock().attempts
    }

    /// Counts an attempt that did not call the tool at all (the model answered in text).
    /// Returns false once the attempts ran out.
    pub fn count_missed_attempt(&self) -> bool {
        let mut inner = self.lock();
        inner.attempts += 1;
        if inner.attempts >= MAX_ATTEMPTS {
            inner.state = StructuredState::GaveUp(format!(
                "no valid structured output after {MAX_ATTEMPTS} attempts: the agent did not call {NAME}"
            ));
            return false;
        }
        true
    }

    /// Validates an answer and records the outcome.
    pub fn submit(&self, args: Value) -> Result<String, String> {
        let value = if self.wrapped {
            match args {
                Value::Object(mut m) if m.contains_key("value") => {
                    m.remove("value").unwrap_or(Value::Null)
                }
                other => other,
            }
        } else {
            args
        };
        let errors: Vec<String> = match &self.validator {
            Ok(v) => v
                .iter_errors(&value)
                .map(|e| {
                    let path = e.instance_path.to_string();
                    if path.is_empty() {
                        e.to_string()
                    } else {
                        format!("{path}: {e}")
                    }
                })
                .collect(),
            Err(e) => vec![format!("invalid schema: {e}")],
        };
        let mut inner = self.lock();
        if !matches!(inner.state, StructuredState::Waiting) {
            return Err("an answer was already recorded".into());
        }
        if errors.is_empty() {
            inner.state = StructuredState::Done(value);
            return Ok("recorded; you are done".into());
        }
        inner.attempts += 1;
        let message = format!(
            "the answer does not match the schema: {}",
            errors.join("; ")
        );
        if inner.attempts >= MAX_ATTEMPTS {
            inner.state = StructuredState::GaveUp(format!(
                "no valid structured output after {MAX_ATTEMPTS} attempts; last error: {message}"
            ));
            return Err(format!(
                "{message}. Giving up after {MAX_ATTEMPTS} attempts."
            ));
        }
        Err(format!(
            "{message}. Call {NAME} again with a corrected answer ({} attempts left).",
            MAX_ATTEMPTS - inner.attempts
        ))
    }
}

impl Tool for StructuredOutput {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Return your final answer as structured data. The arguments must match the schema \
         exactly; a validation error is returned if they do not, so fix it and call again. \
         Calling this successfully ends your work."
    }

    fn parameters(&self) -> Value {
        if self.wrapped {
            json!({
                "type": "object",
                "properties": {"value": self.schema},
                "required": ["value"],
                "additionalProperties": false,
            })
        } else {
            self.schema.clone()
        }
    }

    fn kind(&self) -> ToolKind {
        ToolKind::ReadOnly
    }

    fn run<'a>(
        &'a self,
        args: Value,
        _ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        async move {
            self.submit(args)
                .map(ToolOutput::text)
                .map_err(ToolError::Failed)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_retries_and_gives_up_after_five() {
        let so = StructuredOutput::new(json!({
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": ["n"]
        }));
        assert!(so.schema_error().is_none());
        let e = so.submit(json!({"n": "x"})).unwrap_err();
        assert!(e.contains("/n"), "{e}");
        assert!(e.contains("4 attempts left"), "{e}");
        assert!(!so.is_finished());
        assert!(so.submit(json!({"n": 3})).is_ok());
        assert_eq!(so.state(), StructuredState::Done(json!({"n": 3})));

        let so = StructuredOutput::new(json!({"type": "object", "required": ["n"]}));
        for _ in 0..4 {
            so.submit(json!({})).unwrap_err();
            assert!(!so.is_finished());
        }
        let e = so.submit(json!({})).unwrap_err();
        assert!(e.contains("Giving up"), "{e}");
        assert!(matches!(so.state(), StructuredState::GaveUp(m) if m.contains("5 attempts")));
    }

    #[test]
    fn non_object_schemas_are_wrapped() {
        let so = StructuredOutput::new(json!({"type": "array", "items": {"type": "string"}}));
        assert_eq!(so.parameters()["required"], json!(["value"]));
        assert!(so.submit(json!({"value": ["a"]})).is_ok());
        assert_eq!(so.state(), StructuredState::Done(json!(["a"])));
        assert!(StructuredOutput::new(json!({"type": 5}))
            .schema_error()
            .is_some());
    }
}
