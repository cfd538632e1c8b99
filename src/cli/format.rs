//! Small text helpers shared by the headless commands.

use serde_json::Value;

use boocode::core::store::{IdTable, Store};

/// The shortest prefix of `id` that tells its row apart and that the commands accept
/// ([`Store::short_id`]); the whole id if the store cannot say.
pub fn short_id(store: &Store, table: IdTable, id: &str) -> String {
    store.short_id(table, id).unwrap_or_else(|_| id.to_string())
}

/// Clips to `max` characters with an ellipsis.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!(
            "{}…",
            s.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    }
}

/// `12.3K`-style token counts.
pub fn tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}K", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The argument that says what a tool call is about, for one-line displays.
pub fn key_argument(tool: &str, input: &Value) -> String {
    let field = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
    let text = match tool {
        "run_command" => {
            let args = input
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            field("command").map(|c| format!("{c} {args}").trim().to_string())
        }
        "grep" | "glob" => field("pattern"),
        "list_dir" => Some(field("path").unwrap_or_else(|| ".".into())),
        "spawn_subagent" => field("label").or_else(|| field("input")),
        "subagent_status" | "subagent_result" => field("task_id"),
        "skill" => field("name").map(|n| match field("file") {
            Some(f) => format!("{n} {f}"),
            None => n,
        }),
        _ => field("file_path").or_else(|| field("path")),
    };
    clip(&text.unwrap_or_else(|| input.to_string()), 80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_arguments_name_the_target() {
        assert_eq!(
            key_argument("read_file", &json!({"file_path": "a.rs"})),
            "a.rs"
        );
        assert_eq!(
            key_argument(
                "run_command",
                &json!({"command": "cargo", "args": ["test", "-q"]})
            ),
            "cargo test -q"
        );
        assert_eq!(key_argument("list_dir", &json!({})), ".");
        assert_eq!(key_argument("skill", &json!({"name": "pdf"})), "pdf");
        assert_eq!(
            key_argument("skill", &json!({"name": "pdf", "file": "forms.md"})),
            "pdf forms.md"
        );
        assert_eq!(tokens(45_300), "45.3K");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
