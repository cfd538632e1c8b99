//! Workflow args typed by a person (the orchestrator's args editor, `/workflow NAME ARGS`).

use serde_json::Value;

/// Empty text is no args; JSON is taken as JSON; text that cannot be meant as JSON (it does not
/// begin with `{`, `[` or `"`) is one string, so `util.py` works where a script takes a target.
/// Text that begins like JSON but does not parse is an error, not a silent string.
pub fn args_from_text(text: &str) -> Result<Value, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) if !text.starts_with(['{', '[', '"']) => Ok(Value::String(text.to_string())),
        Err(e) => Err(e.to_string()),
    }
}

/// Args as lists show them: a string as typed, other values as compact JSON, none as nothing.
pub fn args_summary(args: &Value) -> String {
    match args {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_text_is_a_string_and_json_is_json() {
        assert_eq!(args_from_text("  "), Ok(Value::Null));
        assert_eq!(args_from_text("util.py"), Ok(json!("util.py")));
        assert_eq!(
            args_from_text("src/a.rs src/b.rs"),
            Ok(json!("src/a.rs src/b.rs"))
        );
        assert_eq!(args_from_text("\"util.py\""), Ok(json!("util.py")));
        assert_eq!(
            args_from_text("{\"target\": \"x\"}"),
            Ok(json!({"target": "x"}))
        );
        assert_eq!(args_from_text("3"), Ok(json!(3)));
        assert!(args_from_text("{\"target\": ").is_err());
        assert!(args_from_text("[1,").is_err());
    }
}
