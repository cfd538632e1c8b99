//! One live connection to an MCP server, over the `rmcp` client.
//!
//! A stdio server is started by [`process::spawn`] like every child of boocode: its own
//! session, no provider keys, registered with the reaper, its whole process group killed when
//! the connection is dropped. A streamable HTTP server is reached through [`super::http`], with
//! its headers' `${VAR}`s expanded only here, at connection time.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use rmcp::model::CallToolRequestParams;
use rmcp::service::{ClientInitializeError, RoleClient, RunningService, ServiceError};
use rmcp::ServiceExt;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::config::{expand_vars, ServerDefinition, Transport};
use crate::core::process::{self, ProcessGroup};

/// Lines of a server's stderr kept to explain a failure.
const STDERR_TAIL_LINES: usize = 8;

/// A running server; dropping it ends the server (stdio) or the session (HTTP).
pub struct Connection {
    service: RunningService<RoleClient, ()>,
    stderr: StderrTail,
    _process: Option<(tokio::process::Child, ProcessGroup)>,
}

/// The last lines a stdio server wrote to stderr (they are also logged).
#[derive(Clone, Default)]
struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == STDERR_TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }

    /// `"; stderr: …"`, or nothing when the server said nothing.
    fn describe(&self) -> String {
        let lines = self.0.lock().map(|l| l.clone()).unwrap_or_default();
        if lines.is_empty() {
            String::new()
        } else {
            format!(
                "; its stderr ended with: {}",
                lines.into_iter().collect::<Vec<_>>().join(" | ")
            )
        }
    }
}

/// A tool as the server describes it (JSON, as received).
pub type RawTool = Map<String, Value>;

/// Why a call did not return a result; each case ends the connection except `Protocol`.
#[derive(Debug)]
pub enum CallFailure {
    /// The server answered with a JSON-RPC error: it is still alive.
    Protocol(String),
    /// The connection broke (the server crashed or closed its output).
    Transport(String),
}

/// An rmcp error in words: a transport's own error, without rmcp's type names around it.
fn service_error(error: &ServiceError) -> String {
    match error {
        ServiceError::TransportSend(failure) => failure.error.to_string(),
        other => other.to_string(),
    }
}

fn handshake_error(error: &ClientInitializeError) -> String {
    match error {
        ClientInitializeError::TransportError { error, context } => {
            format!("{} ({context})", error.error)
        }
        other => other.to_string(),
    }
}

fn expand(value: &str) -> Result<String, String> {
    expand_vars(value, |var| std::env::var(var).ok())
}

/// Starts the server and completes the MCP handshake (no timeout here: the caller has one).
pub async fn connect(def: &ServerDefinition, project_root: &Path) -> Result<Connection, String> {
    let transport = def.transport.as_ref().map_err(Clone::clone)?;
    match transport {
        Transport::Stdio { command, args, env } => {
            connect_stdio(&def.name, command, args, env, project_root).await
        }
        Transport::Http { url, headers } => connect_http(url, headers).await,
    }
}

async fn connect_http(
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<Connection, String> {
    let url = expand(url).map_err(|e| format!("url: {e}"))?;
    let mut expanded = std::collections::BTreeMap::new();
    for (name, value) in headers {
        expanded.insert(
            name.clone(),
            expand(value).map_err(|e| format!("header {name}: {e}"))?,
        );
    }
    let transport = super::http::transport(&url, &expanded)?;
    let service = ()
        .serve(transport)
        .await
        .map_err(|e| format!("the MCP handshake failed: {}", handshake_error(&e)))?;
    Ok(Connection {
        service,
        stderr: StderrTail::default(),
        _process: None,
    })
}

async fn connect_stdio(
    name: &str,
    command: &str,
    args: &[String],
    env: &std::collections::BTreeMap<String, String>,
    project_root: &Path,
) -> Result<Connection, String> {
    let mut cmd = tokio::process::Command::new(expand(command)?);
    for arg in args {
        cmd.arg(expand(arg)?);
    }
    for (key, value) in env {
        cmd.env(key, expand(value).map_err(|e| format!("env {key}: {e}"))?);
    }
    cmd.current_dir(project_root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let (mut child, group) =
        process::spawn(&mut cmd).map_err(|e| format!("cannot start `{command}`: {e}"))?;
    let stderr = StderrTail::default();
    if let Some(err) = child.stderr.take() {
        let tail = stderr.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(server = %name, "mcp stderr: {line}");
                tail.push(line);
            }
        });
    }
    let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
        return Err("the server's stdin/stdout could not be opened".into());
    };
    let service = ().serve((stdout, stdin)).await.map_err(|e| {
        format!(
            "the MCP handshake failed: {}{}",
            handshake_error(&e),
            stderr.describe()
        )
    })?;
    Ok(Connection {
        service,
        stderr,
        _process: Some((child, group)),
    })
}

impl Connection {
    pub async fn list_tools(&self) -> Result<Vec<RawTool>, String> {
        let tools = self.service.peer().list_all_tools().await.map_err(|e| {
            format!(
                "listing its tools failed: {}{}",
                service_error(&e),
                self.stderr.describe()
            )
        })?;
        Ok(tools
            .into_iter()
            .filter_map(|t| match serde_json::to_value(t) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            })
            .collect())
    }

    /// Calls a tool; the result is the `CallToolResult` as JSON.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, CallFailure> {
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        match self.service.call_tool(params).await {
            Ok(result) => serde_json::to_value(result)
                .map_err(|e| CallFailure::Protocol(format!("unreadable result: {e}"))),
            Err(ServiceError::McpError(e)) => Err(CallFailure::Protocol(e.message.to_string())),
            Err(e) => Err(CallFailure::Transport(format!(
                "{}{}",
                service_error(&e),
                self.stderr.describe()
            ))),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.service.is_closed()
    }
}
