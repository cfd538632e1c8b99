//! The adapter that offers each tool of a running MCP server to the model as
//! `mcp__<server>__<tool>`, and the [`DynamicTools`] source the registry asks for them.
//!
//! Approval: read-only mode refuses them unless the user's config marks the server
//! `read_only_trusted`; review mode asks the person, through the confirmation `run_command`
//! uses; auto runs them.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

use super::{ApprovalMode, DynamicTools, Tool, ToolContext, ToolError, ToolKind, ToolOutput};
use crate::core::mcp::content::render_result;
use crate::core::mcp::{McpManager, McpToolInfo, ServerSlot};

pub struct McpTool {
    server: Arc<ServerSlot>,
    info: McpToolInfo,
}

impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.info.name
    }

    fn description(&self) -> &str {
        &self.info.description
    }

    fn parameters(&self) -> Value {
        self.info.input_schema.clone()
    }

    /// Whatever the server does is outside boocode's view, so it is treated like a command:
    /// never run concurrently with other calls, and approved as one.
    fn kind(&self) -> ToolKind {
        ToolKind::Command
    }

    fn run<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        async move {
            let Value::Object(arguments) = args else {
                return Err(ToolError::invalid(&self.info.name, "arguments must be a JSON object"));
            };
            match ctx.approval {
                ApprovalMode::ReadOnly if !self.server.def.read_only_trusted => {
                    return Err(ToolError::Denied(format!(
                        "the approval mode is read-only, which forbids MCP tools unless the server is marked read_only_trusted in the user's config ([mcp_servers.{}])",
                        self.server.def.name
                    )));
                }
                ApprovalMode::Review => {
                    let shown = Value::Object(arguments.clone()).to_string();
                    let confirmed = tokio::select! {
                        yes = ctx.host.confirm_command(self.info.name.clone(), vec![shown]) => yes,
                        _ = ctx.cancel.cancelled() => return Err(ToolError::Cancelled),
                    };
                    if !confirmed {
                        return Err(ToolError::Denied(format!(
                            "the user did not allow {} to run",
                            self.info.name
                        )));
                    }
                }
                _ => {}
            }
            let result = tokio::select! {
                r = self.server.call(&self.info.server_tool, arguments) => r,
                _ = ctx.cancel.cancelled() => return Err(ToolError::Cancelled),
            };
            let result = result.map_err(ToolError::Failed)?;
            let (text, is_error) = render_result(&result);
            if is_error {
                return Err(ToolError::Failed(format!(
                    "{} reported an error: {text}",
                    self.info.name
                )));
            }
            Ok(ToolOutput::text(text))
        }
        .boxed()
    }
}

impl DynamicTools for McpManager {
    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.slots()
            .iter()
            .flat_map(|slot| {
                slot.tools().into_iter().map(|info| {
                    Arc::new(McpTool {
                        server: slot.clone(),
                        info,
                    }) as Arc<dyn Tool>
                })
            })
            .collect()
    }

    fn ready(&self) -> BoxFuture<'_, ()> {
        McpManager::ready(self).boxed()
    }
}
