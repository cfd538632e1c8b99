//! What an MCP tool becomes for the model: a name within the providers' rules and an input
//! schema they accept.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Providers (OpenAI, DeepSeek) take function names of `[a-zA-Z0-9_-]{1,64}`.
pub const MAX_TOOL_NAME: usize = 64;

/// `mcp__<server>__<tool>` with every other character replaced by `_`. A name past 64
/// characters keeps its head and ends in a hash of the whole name, so two long names that
/// share a head still differ.
pub fn model_tool_name(server: &str, tool: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let full = format!("mcp__{}__{}", clean(server), clean(tool));
    if full.len() <= MAX_TOOL_NAME {
        return full;
    }
    let hash: String = Sha256::digest(full.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}_{hash}", &full[..MAX_TOOL_NAME - hash.len() - 1])
}

/// The schema as providers accept it: an object schema with `properties`, valid as JSON
/// Schema. A schema without `type` is taken as an object; anything else is refused with the
/// reason, so that one tool is skipped and the server's others are kept.
pub fn normalise_input_schema(schema: &Map<String, Value>) -> Result<Value, String> {
    let mut schema = schema.clone();
    match schema.get("type") {
        None => {
            schema.insert("type".into(), Value::String("object".into()));
        }
        Some(Value::String(t)) if t == "object" => {}
        Some(other) => {
            return Err(format!(
                "its input schema has type {other}; a tool's arguments must be an object"
            ))
        }
    }
    match schema.get("properties") {
        None => {
            schema.insert("properties".into(), Value::Object(Map::new()));
        }
        Some(Value::Object(_)) => {}
        Some(_) => return Err("its input schema's properties is not an object".into()),
    }
    let schema = Value::Object(schema);
    match jsonschema::meta::try_validate(&schema) {
        Ok(Ok(())) => Ok(schema),
        Ok(Err(e)) => Err(format!("its input schema is not valid JSON Schema: {e}")),
        Err(e) => Err(format!("its input schema names an unknown draft: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn names_follow_the_provider_rules() {
        assert_eq!(model_tool_name("test", "echo"), "mcp__test__echo");
        assert_eq!(
            model_tool_name("my server", "read.file/v2"),
            "mcp__my_server__read_file_v2"
        );
        let long = model_tool_name("s", &"x".repeat(100));
        let other = model_tool_name("s", &format!("{}y", "x".repeat(100)));
        assert_eq!(long.len(), MAX_TOOL_NAME);
        assert_ne!(long, other);
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }

    #[test]
    fn schemas_are_completed_or_refused_with_a_reason() {
        assert_eq!(
            normalise_input_schema(&obj(json!({}))).unwrap(),
            json!({"type": "object", "properties": {}})
        );
        let kept =
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
        assert_eq!(normalise_input_schema(&obj(kept.clone())).unwrap(), kept);
        let err = normalise_input_schema(&obj(json!({"type": "string"}))).unwrap_err();
        assert!(err.contains("must be an object"), "{err}");
        let err = normalise_input_schema(&obj(
            json!({"type": "object", "properties": {"a": {"type": "nonsense"}}}),
        ))
        .unwrap_err();
        assert!(err.contains("not valid JSON Schema"), "{err}");
    }
}
