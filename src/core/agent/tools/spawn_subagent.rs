//! `spawn_subagent`: start a background sub-agent and return at once.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_args, SubagentRequest, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

const NAME: &str = "spawn_subagent";

pub struct SpawnSubagent;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    input: String,
    model: Option<String>,
    agent: Option<String>,
    label: Option<String>,
}

impl Tool for SpawnSubagent {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Start a background sub-agent on a self-contained task and return its task_id \
         immediately. It works in parallel with you; check it with subagent_status and fetch \
         its answer with subagent_result. The input must carry all the context it needs."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "input": {
                    "type": "string",
                    "description": "The complete task for the sub-agent."
                },
                "model": {
                    "type": "string",
                    "description": "Model to use (default: the current model; for an external agent, one it offers, default its own)."
                },
                "agent": {
                    "type": "string",
                    "description": "Who does the task: a native agent type (general-purpose, the default; Explore, read-only) or an external coding agent by name (claude, codex, gemini, opencode, or one configured under [agents.*]). An external agent works in a git worktree of its own; its edits come back as changes waiting for review."
                },
                "label": {
                    "type": "string",
                    "description": "Short label shown in the background agents pane."
                }
            },
            "required": ["input"],
            "additionalProperties": false
        })
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
            let args: Args = parse_args(NAME, args)?;
            if args.input.trim().is_empty() {
                return Err(ToolError::invalid(NAME, "input is empty"));
            }
            let request = SubagentRequest {
                input: args.input,
                model: args.model,
                agent: args.agent,
                label: args.label,
            };
            let task =
                ctx.host.spawn_subagent(request).await.map_err(|e| {
                    ToolError::Failed(format!("could not start the sub-agent: {e:#}"))
                })?;
            Ok(ToolOutput::text(
                json!({"task_id": task.task_id, "status": task.status}).to_string(),
            ))
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
    async fn spawns_and_returns_task_id_and_status() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let out = SpawnSubagent
            .run(
                json!({"input": "count files", "model": "m", "label": "counter"}),
                &fx.ctx,
            )
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&out.content).unwrap();
        assert_eq!(v, json!({"task_id": "task-1", "status": "pending"}));
        let spawned = fx.host.spawned.lock().unwrap();
        assert_eq!(
            spawned[0],
            SubagentRequest {
                input: "count files".into(),
                model: Some("m".into()),
                agent: None,
                label: Some("counter".into()),
            }
        );
    }

    #[tokio::test]
    async fn empty_or_missing_input_is_invalid() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let err = SpawnSubagent
            .run(json!({"input": " "}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }));
        let err = SpawnSubagent
            .run(json!({"prompt": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("prompt"), "{err}");
    }
}
