//! A small MCP server for boocode's tests, on rmcp's server side, over stdio.
//!
//! ```text
//! cargo run --example mcp_server -- [--crash-after N]
//! ```
//!
//! Tools: `echo {text}` returns the text; `fail` answers with `isError`; `hang` never answers;
//! `bad_schema` has an input schema no provider accepts (a string, not an object), so a client
//! must skip it and keep the others. With `--crash-after N` the process exits in the middle of
//! its call number N + 1, as a crashing server would.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};
use serde_json::json;

struct TestServer {
    crash_after: Option<u64>,
    calls: AtomicU64,
}

fn tool(value: serde_json::Value) -> Tool {
    serde_json::from_value(value).expect("a valid tool definition")
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(vec![
            tool(json!({
                "name": "echo",
                "description": "Returns the text it is given.",
                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
            })),
            tool(json!({
                "name": "fail",
                "description": "Always reports an error.",
                "inputSchema": {"type": "object", "properties": {}}
            })),
            tool(json!({
                "name": "hang",
                "description": "Never answers.",
                "inputSchema": {"type": "object"}
            })),
            tool(json!({
                "name": "bad_schema",
                "description": "Has an input schema no provider accepts.",
                "inputSchema": {"type": "string"}
            })),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.crash_after.is_some_and(|n| call > n) {
            eprintln!("mcp_server: crashing in call {call}");
            std::process::exit(3);
        }
        let args = request.arguments.unwrap_or_default();
        let result = match request.name.as_ref() {
            "echo" => CallToolResult::success(vec![ContentBlock::text(format!(
                "echo: {}",
                args.get("text").and_then(|t| t.as_str()).unwrap_or("")
            ))]),
            "fail" => CallToolResult::error(vec![ContentBlock::text("the fail tool failed")]),
            "hang" => std::future::pending().await,
            other => {
                return Err(McpError::invalid_params(
                    format!("no tool named {other}"),
                    None,
                ))
            }
        };
        Ok(result.into())
    }
}

/// Stdin or stdout as an async file (boocode's tokio has no `io-std`; `fs` does the same).
fn own_stdio(fd: BorrowedFd<'_>) -> std::io::Result<tokio::fs::File> {
    Ok(tokio::fs::File::from_std(std::fs::File::from(
        fd.try_clone_to_owned()?,
    )))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut crash_after = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--crash-after" => crash_after = args.next().and_then(|n| n.parse().ok()),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let server = TestServer {
        crash_after,
        calls: AtomicU64::new(0),
    }
    .serve((
        own_stdio(std::io::stdin().as_fd())?,
        own_stdio(std::io::stdout().as_fd())?,
    ))
    .await?;
    server.waiting().await?;
    Ok(())
}
