//! A run's report to the chat that started it.
//!
//! When a run ends, its outcome (the result, or why it failed) is stored in the starting chat as
//! a message of role `workflow` — a one-line heading and a markdown body — so it survives a
//! restart, the chat shows it, and the model reads it with the chat's next user message (see
//! `agent::start_turn`: reports stored since the last user message go in front of it).

use serde_json::Value;

use crate::core::events::Event;
use crate::core::runtime::Runtime;

/// The longest body stored; a longer result is cut (the full one stays on the run).
const MAX_BODY_CHARS: usize = 20_000;

/// What a run's end looks like in a chat.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub heading: String,
    pub body: String,
}

/// A stored report as the model reads it.
pub fn model_text(heading: &str, body: &str) -> String {
    format!("[{heading}]\n\n{body}")
}

/// A result as markdown: a string as it is, anything else as pretty JSON in a code block.
pub fn result_markdown(result: &Value) -> String {
    match result {
        Value::Null => "(the workflow returned no result)".into(),
        Value::String(s) if s.trim().is_empty() => "(the workflow returned an empty text)".into(),
        Value::String(s) => s.clone(),
        other => {
            let pretty = serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string());
            format!("```json\n{pretty}\n```")
        }
    }
}

/// The report of a run that ended with `status`.
pub fn report(
    workflow: &str,
    run_id: &str,
    status: &str,
    result: Option<&Value>,
    error: Option<&str>,
) -> Report {
    let heading = format!("workflow {workflow} {status} · run {run_id}");
    let body = match (status, result, error) {
        ("completed", Some(r), _) => result_markdown(r),
        ("completed", None, _) => result_markdown(&Value::Null),
        (_, _, Some(e)) => format!("The run ended without a result: {e}"),
        (_, _, None) => "The run ended without a result.".into(),
    };
    Report {
        heading,
        body: cut(body, run_id),
    }
}

fn cut(body: String, run_id: &str) -> String {
    match body.char_indices().nth(MAX_BODY_CHARS) {
        Some((at, _)) => format!(
            "{}\n\n… (cut at {MAX_BODY_CHARS} characters: the whole result is on run {run_id} \
             in the orchestrator)",
            &body[..at]
        ),
        None => body,
    }
}

/// Stores the report in `chat_id` and tells the clients; a failure is logged (the run itself
/// has ended either way).
pub(crate) fn post(rt: &Runtime, chat_id: &str, run_id: &str, report: &Report) {
    match rt
        .store
        .insert_workflow_report(chat_id, &report.heading, &report.body)
    {
        Ok(_) => rt.emit(Event::WorkflowReported {
            chat_id: chat_id.to_string(),
            run_id: run_id.to_string(),
            heading: report.heading.clone(),
            body: report.body.clone(),
        }),
        Err(e) => tracing::error!("posting the report of run {run_id} to chat {chat_id}: {e:#}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_result_is_markdown_and_anything_else_pretty_json() {
        let r = report(
            "review-code",
            "r1",
            "completed",
            Some(&json!("## Findings\n- none")),
            None,
        );
        assert_eq!(r.heading, "workflow review-code completed · run r1");
        assert_eq!(r.body, "## Findings\n- none");
        let r = report("w", "r1", "completed", Some(&json!({"a": [1]})), None);
        assert_eq!(r.body, "```json\n{\n  \"a\": [\n    1\n  ]\n}\n```");
        let r = report("w", "r1", "failed", None, Some("the script threw: boom"));
        assert_eq!(r.heading, "workflow w failed · run r1");
        assert_eq!(
            r.body,
            "The run ended without a result: the script threw: boom"
        );
        let long = "x".repeat(MAX_BODY_CHARS + 10);
        let r = report("w", "r1", "completed", Some(&json!(long)), None);
        assert!(r.body.starts_with(&"x".repeat(MAX_BODY_CHARS)));
        assert!(
            r.body.ends_with("in the orchestrator)"),
            "{}",
            &r.body[r.body.len() - 80..]
        );
    }
}
