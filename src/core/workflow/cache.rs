//! The resumability key of an `agent()` call: SHA-256 of the canonical JSON (sorted keys, no
//! whitespace) of the fields that define its result, plus its occurrence number among identical
//! specs of the run, counted in the order the worker issues the calls.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::protocol::AgentSpec;

/// The fields of a spec that define the result (the external agent's name among them). Label,
/// phase, timeout and retries do not.
pub fn key_fields(spec: &AgentSpec) -> Value {
    let mut m = Map::new();
    m.insert("prompt".into(), Value::String(spec.prompt.clone()));
    let opt = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
    m.insert("schema".into(), spec.schema.clone().unwrap_or(Value::Null));
    m.insert("model".into(), opt(&spec.model));
    m.insert("effort".into(), opt(&spec.effort));
    m.insert("agentType".into(), opt(&spec.agent_type));
    m.insert("isolation".into(), opt(&spec.isolation));
    // Only when given: the calls of the native loop keep the hashes they always had.
    if let Some(agent) = &spec.agent {
        m.insert("agent".into(), Value::String(agent.clone()));
    }
    Value::Object(m)
}

/// JSON with object keys sorted at every level and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Hex SHA-256 of the canonical JSON of the spec's key fields.
pub fn spec_hash(spec: &AgentSpec) -> String {
    let digest = Sha256::digest(canonical_json(&key_fields(spec)).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a script.
pub fn script_hash(source: &str) -> String {
    Sha256::digest(source.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Numbers identical specs in issue order: the first call with a hash is occurrence 0.
#[derive(Debug, Default)]
pub struct Occurrences {
    seen: HashMap<String, u64>,
}

impl Occurrences {
    pub fn next(&mut self, hash: &str) -> u64 {
        let n = self.seen.entry(hash.to_string()).or_insert(0);
        let current = *n;
        *n += 1;
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> AgentSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = spec(
            json!({"prompt": "p", "schema": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}, "model": "fast"}),
        );
        let b: AgentSpec = serde_json::from_str(
            r#"{"model": "fast", "schema": {"properties": {"b": {"type": "number"}, "a": {"type": "string"}}, "type": "object"}, "prompt": "p"}"#,
        )
        .unwrap();
        assert_eq!(spec_hash(&a), spec_hash(&b));
        assert_eq!(spec_hash(&a).len(), 64);
    }

    #[test]
    fn result_defining_fields_change_the_hash_and_others_do_not() {
        let base = spec(json!({"prompt": "p"}));
        let labelled =
            spec(json!({"prompt": "p", "label": "x", "phase": "y", "timeout_ms": 5, "retries": 2}));
        assert_eq!(spec_hash(&base), spec_hash(&labelled));
        for other in [
            json!({"prompt": "q"}),
            json!({"prompt": "p", "model": "m"}),
            json!({"prompt": "p", "effort": "high"}),
            json!({"prompt": "p", "agentType": "Explore"}),
            json!({"prompt": "p", "isolation": "worktree"}),
            json!({"prompt": "p", "schema": {"type": "string"}}),
            json!({"prompt": "p", "agent": "codex"}),
        ] {
            assert_ne!(spec_hash(&base), spec_hash(&spec(other.clone())), "{other}");
        }
    }

    #[test]
    fn the_external_agent_is_part_of_the_key_and_absent_when_not_given() {
        let codex = spec(json!({"prompt": "p", "agent": "codex"}));
        let claude = spec(json!({"prompt": "p", "agent": "claude"}));
        assert_ne!(spec_hash(&codex), spec_hash(&claude));
        assert_eq!(spec_hash(&codex), spec_hash(&codex.clone()));
        // A native call's hash is the one it had before agents could be named.
        assert_eq!(
            canonical_json(&key_fields(&spec(json!({"prompt": "p"})))),
            r#"{"agentType":null,"effort":null,"isolation":null,"model":null,"prompt":"p","schema":null}"#
        );
    }

    #[test]
    fn canonical_json_sorts_nested_keys() {
        assert_eq!(
            canonical_json(&json!({"b": [{"d": 1, "c": "x"}], "a": null})),
            r#"{"a":null,"b":[{"c":"x","d":1}]}"#
        );
    }

    #[test]
    fn occurrences_count_per_hash_in_issue_order() {
        let mut o = Occurrences::default();
        assert_eq!(o.next("a"), 0);
        assert_eq!(o.next("b"), 0);
        assert_eq!(o.next("a"), 1);
        assert_eq!(o.next("a"), 2);
        assert_eq!(o.next("b"), 1);
    }
}
