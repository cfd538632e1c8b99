//! `subagent_status`: where a background sub-agent is, without waiting for it.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_args, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

const NAME: &str = "subagent_status";
/// The status is a glance; the full text comes from `subagent_result`.
pub const SUMMARY_CHARS: usize = 500;

pub struct SubagentStatus;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskArgs {
    pub task_id: String,
}

pub(crate) fn task_id_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "task_id": {
                "type": "string",
                "description": "The task_id returned by spawn_subagent."
            }
        },
        "required": ["task_id"],
        "additionalProperties": false
    })
}

impl Tool for SubagentStatus {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Check a background sub-agent: its status (pending, running, completed, failed or \
         cancelled), elapsed seconds and the start of its output. Does not wait."
    }

    fn parameters(&self) -> Value {
        task_id_schema()
    }

    fn kind(&self) -> ToolKind {
        ToolKind::Agent
    }

    fn run<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        async move {
            let args: TaskArgs = parse_args(NAME, args)?;
            let task = ctx
                .host
                .subagent_status(args.task_id)
                .await
                .map_err(|e| ToolError::Failed(format!("{e:#}")))?;
            let summary =
                task.output
                    .as_deref()
                    .map(|o| match o.char_indices().nth(SUMMARY_CHARS) {
                        Some((cut, _)) => {
                            format!("{}… [use subagent_result for the rest]", &o[..cut])
                        }
                        None => o.to_string(),
                    });
            let mut status = json!({
                "task_id": task.task_id,
                "status": task.status,
                "elapsed_seconds": (task.elapsed_seconds * 10.0).round() / 10.0,
                "output_summary": summary,
            });
            if let Some(label) = task.label {
                status["label"] = json!(label);
            }
            if let Some(error) = task.error {
                status["error"] = json!(error);
            }
            Ok(ToolOutput::text(status.to_string()))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::Fixture;
    use crate::core::agent::tools::ApprovalMode;

    #[tokio::test]
    async fn reports_status_elapsed_and_a_short_summary() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let long = "y".repeat(SUMMARY_CHARS + 100);
        fx.host.add_task("t1", "completed", Some(&long), None);
        let out = SubagentStatus
            .run(json!({"task_id": "t1"}), &fx.ctx)
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&out.content).unwrap();
        assert_eq!(v["status"], "completed");
        assert_eq!(v["elapsed_seconds"], 12.5);
        assert_eq!(v["label"], "lbl");
        let summary = v["output_summary"].as_str().unwrap();
        assert!(summary.starts_with(&"y".repeat(SUMMARY_CHARS)));
        assert!(summary.ends_with("[use subagent_result for the rest]"));
    }

    #[tokio::test]
    async fn running_task_has_no_summary_and_failed_has_error() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.host.add_task("t1", "running", None, None);
        fx.host.add_task("t2", "failed", None, Some("boom"));
        let out = SubagentStatus
            .run(json!({"task_id": "t1"}), &fx.ctx)
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&out.content).unwrap();
        assert_eq!(v["status"], "running");
        assert!(v["output_summary"].is_null());
        let out = SubagentStatus
            .run(json!({"task_id": "t2"}), &fx.ctx)
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&out.content).unwrap();
        assert_eq!(v["error"], "boom");
    }

    #[tokio::test]
    async fn unknown_task_is_an_error() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let err = SubagentStatus
            .run(json!({"task_id": "nope"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no such task: nope"), "{err}");
        let err = SubagentStatus
            .run(json!({"task_id": 5}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }));
    }
}
