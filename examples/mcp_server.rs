//! A small MCP server for boocode's tests, on rmcp's server side, over stdio or streamable HTTP.
//!
//! ```text
//! cargo run --example mcp_server -- [--crash-after N]
//! cargo run --example mcp_server -- --http PORT [--require-header 'NAME: VALUE'] [--crash-after N]
//! ```
//!
//! Tools: `echo {text}` returns the text; `fail` answers with `isError`; `hang` never answers;
//! `bad_schema` has an input schema no provider accepts (a string, not an object), so a client
//! must skip it and keep the others; `header {name}` returns the value of that header of the
//! HTTP request that carried the call. With `--crash-after N` the process exits in the middle
//! of its call number N + 1, as a crashing server would.
//!
//! With `--http PORT` (0 picks a free port) it serves `http://127.0.0.1:PORT/mcp`, prints that
//! URL as its first line on stdout, and also serves `/bad-json`, which answers every POST with
//! a body that is not JSON. `--require-header` answers 401 to a request without that header.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};
use serde_json::json;

struct TestServer {
    crash_after: Option<u64>,
    /// Counted across every HTTP session of the process.
    calls: Arc<AtomicU64>,
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
                "name": "header",
                "description": "Returns a header of the HTTP request that carried the call.",
                "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
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
        context: RequestContext<RoleServer>,
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
            "header" => {
                let name = args.get("name").and_then(|t| t.as_str()).unwrap_or("");
                let value = context
                    .extensions
                    .get::<axum::http::request::Parts>()
                    .and_then(|parts| parts.headers.get(name))
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                CallToolResult::success(vec![ContentBlock::text(
                    value.unwrap_or_else(|| format!("no header {name}")),
                )])
            }
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

/// Serves the MCP endpoint (and `/bad-json`) over HTTP until the process is killed.
async fn serve_http(
    port: u16,
    crash_after: Option<u64>,
    required_header: Option<(String, String)>,
) -> anyhow::Result<()> {
    use axum::http::{Request, StatusCode};
    use axum::middleware::{self, Next};
    use axum::response::{IntoResponse, Response};
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    let calls = Arc::new(AtomicU64::new(0));
    let mcp = StreamableHttpService::new(
        move || {
            Ok(TestServer {
                crash_after,
                calls: calls.clone(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let required = Arc::new(required_header);
    let gate = middleware::from_fn(move |request: Request<axum::body::Body>, next: Next| {
        let required = required.clone();
        async move {
            if let Some((name, value)) = required.as_ref() {
                let sent = request.headers().get(name.as_str()).map(|v| v.as_bytes());
                if sent != Some(value.as_bytes()) {
                    return (StatusCode::UNAUTHORIZED, "missing or wrong credentials")
                        .into_response();
                }
            }
            next.run(request).await
        }
    });
    let app = axum::Router::new()
        .nest_service("/mcp", mcp)
        .route(
            "/bad-json",
            axum::routing::any(|| async {
                Response::builder()
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from("{this is not json"))
                    .map_err(|e| e.to_string())
            }),
        )
        .layer(gate);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("http://{}/mcp", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut crash_after = None;
    let mut http_port = None;
    let mut required_header = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--crash-after" => crash_after = args.next().and_then(|n| n.parse().ok()),
            "--http" => http_port = args.next().and_then(|n| n.parse().ok()),
            "--require-header" => {
                required_header = args.next().and_then(|h| {
                    h.split_once(':')
                        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                })
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    if let Some(port) = http_port {
        return serve_http(port, crash_after, required_header).await;
    }
    let server = TestServer {
        crash_after,
        calls: Arc::new(AtomicU64::new(0)),
    }
    .serve((
        own_stdio(std::io::stdin().as_fd())?,
        own_stdio(std::io::stdout().as_fd())?,
    ))
    .await?;
    server.waiting().await?;
    Ok(())
}
