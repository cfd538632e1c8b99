//! A tool result as the model reads it: text blocks joined, other content described.

use serde_json::Value;

/// The text of a `CallToolResult` (as JSON) and whether the server flagged it an error.
pub fn render_result(result: &Value) -> (String, bool) {
    let is_error = result
        .get("isError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let blocks = result
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut parts: Vec<String> = blocks.iter().map(describe_block).collect();
    if parts.is_empty() {
        if let Some(structured) = result.get("structuredContent") {
            parts.push(structured.to_string());
        }
    }
    (parts.join("\n"), is_error)
}

fn describe_block(block: &Value) -> String {
    let field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or("");
    let data_bytes = || field("data").len() / 4 * 3;
    match field("type") {
        "text" => field("text").to_string(),
        "image" => format!(
            "[image: {}, about {} bytes]",
            field("mimeType"),
            data_bytes()
        ),
        "audio" => format!(
            "[audio: {}, about {} bytes]",
            field("mimeType"),
            data_bytes()
        ),
        "resource" => {
            let resource = block.get("resource").cloned().unwrap_or_default();
            let uri = resource.get("uri").and_then(Value::as_str).unwrap_or("");
            match resource.get("text").and_then(Value::as_str) {
                Some(text) => format!("[resource {uri}]\n{text}"),
                None => format!(
                    "[binary resource {uri} ({})]",
                    resource
                        .get("mimeType")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown type")
                ),
            }
        }
        "resource_link" => format!("[resource link: {} {}]", field("name"), field("uri")),
        other => format!("[{other} content]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_joined_and_other_content_described() {
        let (text, is_error) = render_result(&json!({
            "content": [
                {"type": "text", "text": "one"},
                {"type": "image", "mimeType": "image/png", "data": "AAAA"},
                {"type": "resource", "resource": {"uri": "file:///a", "text": "body"}},
                {"type": "text", "text": "two"}
            ]
        }));
        assert_eq!(
            text,
            "one\n[image: image/png, about 3 bytes]\n[resource file:///a]\nbody\ntwo"
        );
        assert!(!is_error);
        let (text, is_error) =
            render_result(&json!({"content": [{"type": "text", "text": "boom"}], "isError": true}));
        assert_eq!(text, "boom");
        assert!(is_error);
    }
}
