//! `subagent_result`: the full answer of a finished background sub-agent.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

use super::subagent_status::{task_id_schema, TaskArgs};
use super::{parse_args, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

const NAME: &str = "subagent_result";

pub struct SubagentResult;

impl Tool for SubagentResult {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Get the full output of a background sub-agent once it has completed (or its error if \
         it failed). If it is still pending or running, says so — do other work and ask again \
         later."
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
            // A task that is not done is a normal answer, not a failed call: the model should
            // simply ask again later.
            let text = match task.status.as_str() {
                "completed" => task
                    .output
                    .filter(|o| !o.is_empty())
                    .unwrap_or_else(|| format!("task {} completed with no output", task.task_id)),
                "failed" => format!(
                    "task {} failed: {}",
                    task.task_id,
                    task.error.as_deref().unwrap_or("no error message was recorded")
                ),
                "cancelled" => format!("task {} was cancelled before it finished", task.task_id),
                other => format!(
                    "task {} is not ready yet (status: {other}); {:.0} s elapsed, check again later",
                    task.task_id, task.elapsed_seconds
                ),
            };
            Ok(ToolOutput::text(text))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::Fixture;
    use crate::core::agent::tools::ApprovalMode;
    use serde_json::json;

    #[tokio::test]
    async fn completed_returns_the_full_output() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let long = "z".repeat(5000);
        fx.host.add_task("t1", "completed", Some(&long), None);
        let out = SubagentResult
            .run(json!({"task_id": "t1"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, long);
    }

    #[tokio::test]
    async fn unfinished_failed_and_cancelled_are_normal_results() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.host.add_task("r", "running", None, None);
        fx.host.add_task("p", "pending", None, None);
        fx.host
            .add_task("f", "failed", None, Some("model said 402"));
        fx.host.add_task("c", "cancelled", None, None);
        let run = |id: &'static str| SubagentResult.run(json!({"task_id": id}), &fx.ctx);
        assert!(run("r")
            .await
            .unwrap()
            .content
            .contains("not ready yet (status: running)"));
        assert!(run("p")
            .await
            .unwrap()
            .content
            .contains("not ready yet (status: pending)"));
        assert_eq!(
            run("f").await.unwrap().content,
            "task f failed: model said 402"
        );
        assert!(run("c").await.unwrap().content.contains("cancelled"));
    }

    #[tokio::test]
    async fn unknown_task_is_an_error() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let err = SubagentResult
            .run(json!({"task_id": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Failed(_)));
    }
}
