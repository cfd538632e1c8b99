//! MCP servers: their definitions ([`config`]), the connection to one ([`client`]), what the
//! model sees of their tools ([`schema`], [`content`]), and the [`McpManager`] that starts,
//! watches and restarts them.
//!
//! Servers start in the background when the engine starts, so a slow server never holds up
//! the workspace; a turn waits for the ones still starting (each within its startup timeout)
//! before it lists the tools, so the first request already offers them. A server that fails
//! to start, times out or crashes is dropped (its process group killed) and started again on
//! its next use; the others and the native tools are not affected.

pub mod client;
pub mod config;
pub mod content;
pub mod http;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::core::config::Config;
use crate::core::events::Event;
use crate::core::trust::{ProjectTrust, TrustKind, TrustStatus};
use client::{CallFailure, Connection};
use config::ServerDefinition;

/// A server that failed to start is tried again by a later turn only after this long; a call
/// of one of its tools tries at once.
const RETRY_STARTUP_AFTER: Duration = Duration::from_secs(60);

/// One tool of a running server, as offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpToolInfo {
    /// `mcp__server__tool`, within the provider's name rules.
    pub name: String,
    /// The name the server knows it by.
    pub server_tool: String,
    pub description: String,
    #[serde(skip)]
    pub input_schema: Value,
}

/// Where a server stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServerStatus {
    /// Not started yet (or not since it was approved).
    Stopped,
    Starting,
    Running,
    Failed {
        reason: String,
    },
    /// A project server no person has approved (or whose definition changed since).
    NeedsApproval,
    Denied,
    Disabled,
    Invalid {
        reason: String,
    },
}

impl std::fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerStatus::Stopped => f.write_str("stopped"),
            ServerStatus::Starting => f.write_str("starting"),
            ServerStatus::Running => f.write_str("running"),
            ServerStatus::Failed { reason } => write!(f, "failed: {reason}"),
            ServerStatus::NeedsApproval => f.write_str("needs approval"),
            ServerStatus::Denied => f.write_str("denied"),
            ServerStatus::Disabled => f.write_str("disabled"),
            ServerStatus::Invalid { reason } => write!(f, "invalid: {reason}"),
        }
    }
}

/// What `mcp list` shows of a server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub name: String,
    pub source: String,
    pub transport: String,
    /// An HTTP server's URL as written, its query (which may hold a key) elided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The names of the headers an HTTP server is sent; their values are never shown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    #[serde(flatten)]
    pub status: ServerStatus,
    pub read_only_trusted: bool,
    pub tools: Vec<McpToolInfo>,
    /// Tools left out, each with why (a schema the provider would refuse, a name clash).
    pub skipped_tools: Vec<String>,
}

struct View {
    status: ServerStatus,
    tools: Vec<McpToolInfo>,
    skipped: Vec<String>,
    last_attempt: Option<Instant>,
}

/// One server and its connection.
pub struct ServerSlot {
    pub def: ServerDefinition,
    project_root: PathBuf,
    /// Held while starting, so concurrent users wait for one start instead of racing.
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
    view: Mutex<View>,
    events: Option<mpsc::UnboundedSender<Event>>,
}

impl ServerSlot {
    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> ServerStatus {
        self.view().status.clone()
    }

    fn may_start(&self) -> bool {
        matches!(
            self.view().status,
            ServerStatus::Stopped
                | ServerStatus::Starting
                | ServerStatus::Running
                | ServerStatus::Failed { .. }
        )
    }

    fn notice(&self, message: String) {
        tracing::warn!("{message}");
        if let Some(events) = &self.events {
            let _ = events.send(Event::Notice { message });
        }
    }

    /// The live connection, starting the server when it has none.
    async fn connection(&self) -> Result<Arc<Connection>, String> {
        let mut slot = self.connection.lock().await;
        if !self.may_start() {
            return Err(format!("it is {}", self.status()));
        }
        if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        *slot = None;
        {
            let mut view = self.view();
            view.status = ServerStatus::Starting;
            view.last_attempt = Some(Instant::now());
        }
        let timeout = self.def.startup_timeout;
        let started = tokio::time::timeout(timeout, async {
            let conn = client::connect(&self.def, &self.project_root).await?;
            let tools = conn.list_tools().await?;
            Ok::<_, String>((conn, tools))
        })
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "it did not finish starting within {} s (startup_timeout_secs)",
                timeout.as_secs()
            ))
        });
        match started {
            Ok((conn, raw)) => {
                let (tools, skipped) = adopt_tools(&self.def.name, raw);
                for reason in &skipped {
                    self.notice(format!("MCP server '{}': {reason}", self.def.name));
                }
                let mut view = self.view();
                view.status = ServerStatus::Running;
                view.tools = tools;
                view.skipped = skipped;
                drop(view);
                let conn = Arc::new(conn);
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Err(reason) => {
                self.view().status = ServerStatus::Failed {
                    reason: reason.clone(),
                };
                self.notice(format!(
                    "MCP server '{}' failed to start: {reason}",
                    self.def.name
                ));
                Err(reason)
            }
        }
    }

    /// Ends a connection that failed, unless another caller already replaced it.
    async fn drop_connection(&self, failed: &Arc<Connection>, reason: String) {
        let mut slot = self.connection.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, failed)) {
            *slot = None;
            self.view().status = ServerStatus::Failed { reason };
        }
    }

    /// Calls one of its tools; the error says what went wrong in words the model and the
    /// person can act on.
    pub async fn call(&self, tool: &str, arguments: Map<String, Value>) -> Result<Value, String> {
        let name = &self.def.name;
        let conn = self
            .connection()
            .await
            .map_err(|e| format!("MCP server '{name}' is not available: {e}"))?;
        let timeout = self.def.tool_timeout;
        match tokio::time::timeout(timeout, conn.call(tool, arguments)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(CallFailure::Protocol(message))) => {
                Err(format!("MCP server '{name}' refused the call: {message}"))
            }
            Ok(Err(CallFailure::Transport(message))) => {
                let reason = format!("it failed during a call of {tool}: {message}");
                self.drop_connection(&conn, reason).await;
                let error = format!(
                    "MCP server '{name}' failed during the call ({message}); it will be restarted on next use"
                );
                self.notice(error.clone());
                Err(error)
            }
            Err(_) => {
                let reason = format!(
                    "{tool} did not answer within {} s (tool_timeout_secs)",
                    timeout.as_secs()
                );
                self.drop_connection(&conn, reason.clone()).await;
                let error = format!(
                    "MCP server '{name}': {reason}; the server was stopped and will be restarted on next use"
                );
                self.notice(error.clone());
                Err(error)
            }
        }
    }

    pub fn tools(&self) -> Vec<McpToolInfo> {
        self.view().tools.clone()
    }
}

/// The server's tools as the model will see them, and the ones left out with why.
fn adopt_tools(server: &str, raw: Vec<client::RawTool>) -> (Vec<McpToolInfo>, Vec<String>) {
    let mut tools: Vec<McpToolInfo> = Vec::new();
    let mut skipped = Vec::new();
    for tool in raw {
        let Some(server_tool) = tool.get("name").and_then(Value::as_str) else {
            skipped.push("a tool without a name was skipped".into());
            continue;
        };
        let name = schema::model_tool_name(server, server_tool);
        let schema = match tool.get("inputSchema") {
            Some(Value::Object(s)) => schema::normalise_input_schema(s),
            _ => Err("it has no input schema object".into()),
        };
        match schema {
            Err(reason) => skipped.push(format!("tool '{server_tool}' skipped: {reason}")),
            Ok(_) if tools.iter().any(|t| t.name == name) => skipped.push(format!(
                "tool '{server_tool}' skipped: its name {name} clashes with another tool's"
            )),
            Ok(input_schema) => tools.push(McpToolInfo {
                name,
                server_tool: server_tool.to_string(),
                description: tool
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                input_schema,
            }),
        }
    }
    (tools, skipped)
}

/// Every MCP server of a project.
pub struct McpManager {
    project_root: PathBuf,
    slots: Vec<Arc<ServerSlot>>,
    trust: ProjectTrust,
    /// Files that could not be read (a broken `.mcp.json`).
    pub problems: Vec<String>,
}

impl McpManager {
    /// Reads the definitions and decides which may run; starts nothing.
    pub fn new(
        config: &Config,
        project_root: &Path,
        trust: ProjectTrust,
        events: Option<mpsc::UnboundedSender<Event>>,
    ) -> McpManager {
        let (defs, problems) = config::discover(config, project_root);
        let slots = defs
            .into_iter()
            .map(|def| {
                let status = initial_status(&def, project_root, &trust);
                Arc::new(ServerSlot {
                    def,
                    project_root: project_root.to_path_buf(),
                    connection: tokio::sync::Mutex::new(None),
                    view: Mutex::new(View {
                        status,
                        tools: Vec::new(),
                        skipped: Vec::new(),
                        last_attempt: None,
                    }),
                    events: events.clone(),
                })
            })
            .collect();
        McpManager {
            project_root: project_root.to_path_buf(),
            slots,
            trust,
            problems,
        }
    }

    pub fn slots(&self) -> &[Arc<ServerSlot>] {
        &self.slots
    }

    pub fn slot(&self, name: &str) -> Option<&Arc<ServerSlot>> {
        self.slots.iter().find(|s| s.def.name == name)
    }

    /// Names of the project servers that wait for a person's approval.
    pub fn waiting_for_approval(&self) -> Vec<String> {
        self.slots
            .iter()
            .filter(|s| s.status() == ServerStatus::NeedsApproval)
            .map(|s| s.def.name.clone())
            .collect()
    }

    /// Lines saying which project servers wait for approval and how to give it.
    pub fn approval_notices(&self) -> Vec<String> {
        let waiting = self.waiting_for_approval();
        if waiting.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "MCP server{} {} from this project not started: not approved yet. Approve with `boocode mcp approve {}` (or --all), or deny with `boocode mcp deny NAME`",
            if waiting.len() > 1 { "s" } else { "" },
            waiting.join(", "),
            waiting[0]
        )]
    }

    /// Starts, side by side, every server that may run and has not been tried (or failed a
    /// while ago), and waits for them; each start is bounded by its startup timeout.
    pub async fn ready(&self) {
        let due = self.slots.iter().filter(|slot| {
            let view = slot.view();
            match (&view.status, view.last_attempt) {
                (ServerStatus::Stopped, _) => true,
                (ServerStatus::Starting, _) => true,
                (ServerStatus::Failed { .. }, Some(at)) => at.elapsed() >= RETRY_STARTUP_AFTER,
                _ => false,
            }
        });
        futures::future::join_all(due.map(|slot| async move {
            let _ = slot.connection().await;
        }))
        .await;
    }

    /// Starts the servers in the background (see [`McpManager::ready`]).
    pub fn start_in_background(self: &Arc<Self>) {
        if self.slots.is_empty() {
            return;
        }
        let manager = self.clone();
        tokio::spawn(async move { manager.ready().await });
    }

    pub fn reports(&self) -> Vec<ServerReport> {
        self.slots
            .iter()
            .map(|slot| {
                let view = slot.view();
                let (url, headers) = match &slot.def.transport {
                    Ok(config::Transport::Http { url, headers }) => {
                        (Some(without_query(url)), headers.keys().cloned().collect())
                    }
                    _ => (None, Vec::new()),
                };
                ServerReport {
                    name: slot.def.name.clone(),
                    source: slot.def.source.describe(),
                    transport: match &slot.def.transport {
                        Ok(config::Transport::Stdio { .. }) => "stdio".into(),
                        Ok(config::Transport::Http { .. }) => "http".into(),
                        Err(_) => "invalid".into(),
                    },
                    url,
                    headers,
                    status: view.status.clone(),
                    read_only_trusted: slot.def.read_only_trusted,
                    tools: view.tools.clone(),
                    skipped_tools: view.skipped.clone(),
                }
            })
            .collect()
    }

    /// Records a person's decision on project servers: one by name, or every one waiting
    /// (`None`). Returns the names decided. User-config servers need no decision.
    pub fn decide(&self, name: Option<&str>, allow: bool) -> anyhow::Result<Vec<String>> {
        let chosen: Vec<&Arc<ServerSlot>> = match name {
            Some(name) => {
                let slot = self.slot(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "no MCP server named '{name}' (known: {})",
                        self.slots
                            .iter()
                            .map(|s| s.def.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                if !slot.def.source.is_project() {
                    anyhow::bail!(
                        "MCP server '{name}' comes from your own config and needs no approval"
                    );
                }
                vec![slot]
            }
            None => self
                .slots
                .iter()
                .filter(|s| s.status() == ServerStatus::NeedsApproval)
                .collect(),
        };
        for slot in &chosen {
            self.trust.decide(
                &self.project_root,
                TrustKind::Mcp,
                &slot.def.name,
                &slot.def.fingerprint(),
                allow,
            )?;
            let next = initial_status(&slot.def, &self.project_root, &self.trust);
            let mut view = slot.view();
            // Approving a server that already runs (or tried to) leaves its state as it is.
            let under_way = matches!(
                view.status,
                ServerStatus::Starting | ServerStatus::Running | ServerStatus::Failed { .. }
            );
            if !(next == ServerStatus::Stopped && under_way) {
                view.status = next;
            }
        }
        Ok(chosen.iter().map(|s| s.def.name.clone()).collect())
    }
}

fn without_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

fn initial_status(
    def: &ServerDefinition,
    project_root: &Path,
    trust: &ProjectTrust,
) -> ServerStatus {
    if let Err(reason) = &def.transport {
        return ServerStatus::Invalid {
            reason: reason.clone(),
        };
    }
    if !def.enabled {
        return ServerStatus::Disabled;
    }
    if !def.source.is_project() {
        return ServerStatus::Stopped;
    }
    match trust.status(project_root, TrustKind::Mcp, &def.name, &def.fingerprint()) {
        Ok(TrustStatus::Approved) => ServerStatus::Stopped,
        Ok(TrustStatus::Denied) => ServerStatus::Denied,
        Ok(TrustStatus::Unknown) => ServerStatus::NeedsApproval,
        Err(e) => {
            tracing::error!("reading the approval of MCP server '{}': {e:#}", def.name);
            ServerStatus::NeedsApproval
        }
    }
}
