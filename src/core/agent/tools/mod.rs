//! The agent's tools: one file each, all behind the [`Tool`] trait.
//!
//! A tool never talks to the store or the UI directly: whatever it needs from the outside world
//! (recording a pending change, asking the user to confirm a command, background sub-agents)
//! goes through the [`AgentHost`] in its [`ToolContext`].

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::core::llm::types::ToolSpec;

/// What a tool may do to the world; the approval policy is decided from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// Reads files only; may run concurrently with other read-only calls.
    ReadOnly,
    /// Creates, edits or deletes files.
    Write,
    /// Runs a program.
    Command,
    /// Starts or inspects background sub-agents.
    Agent,
}

/// How write tools and commands are authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalMode {
    /// Write tools and `run_command` are refused.
    #[default]
    ReadOnly,
    /// Writes become pending changes; commands need a yes.
    Review,
    /// Writes are applied and commands run.
    Auto,
}

impl ApprovalMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::ReadOnly => "read-only",
            ApprovalMode::Review => "review",
            ApprovalMode::Auto => "auto",
        }
    }
}

impl std::str::FromStr for ApprovalMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read-only" | "readonly" | "read_only" => Ok(ApprovalMode::ReadOnly),
            "review" => Ok(ApprovalMode::Review),
            "auto" => Ok(ApprovalMode::Auto),
            other => Err(format!(
                "unknown approval mode '{other}' (expected read-only, review or auto)"
            )),
        }
    }
}

/// A change to one file, computed before it is applied so that review mode can hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileChange {
    /// Absolute, guarded path.
    pub path: PathBuf,
    /// Path relative to the project root, for display.
    pub display_path: String,
    /// `None` when the file does not exist yet.
    pub before: Option<String>,
    /// `None` when the file is deleted.
    pub after: Option<String>,
    /// Unified diff of `before` → `after`.
    pub diff: String,
}

/// A background sub-agent task as tools see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub task_id: String,
    /// `pending|running|completed|failed|cancelled`.
    pub status: String,
    pub label: Option<String>,
    pub elapsed_seconds: f64,
    pub output: Option<String>,
    pub error: Option<String>,
}

/// A request to start a background sub-agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubagentRequest {
    pub input: String,
    pub model: Option<String>,
    pub agent: Option<String>,
    pub label: Option<String>,
}

/// The agent loop's side of a tool call.
pub trait AgentHost: Send + Sync {
    /// Stores a change for the user to apply or reject later; returns its id.
    fn record_pending_change(&self, change: FileChange) -> BoxFuture<'_, anyhow::Result<String>>;
    /// Asks the user whether a command may run (review mode). Headless hosts answer `false`
    /// at once.
    fn confirm_command(&self, command: String, args: Vec<String>) -> BoxFuture<'_, bool>;
    fn spawn_subagent(&self, request: SubagentRequest) -> BoxFuture<'_, anyhow::Result<TaskInfo>>;
    fn subagent_status(&self, task_id: String) -> BoxFuture<'_, anyhow::Result<TaskInfo>>;
}

/// Everything a tool call may use.
#[derive(Clone)]
pub struct ToolContext {
    /// Canonical project root: every path a tool touches must resolve inside it or an extra root.
    pub project_root: PathBuf,
    /// Explicitly granted additional roots (canonical).
    pub extra_roots: Vec<PathBuf>,
    pub approval: ApprovalMode,
    pub cancel: CancellationToken,
    pub host: Arc<dyn AgentHost>,
}

/// What a successful tool call returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolOutput {
    /// The text sent back to the model.
    pub content: String,
    /// Unified diff for write tools.
    pub diff: Option<String>,
}

impl ToolOutput {
    pub fn text(content: impl Into<String>) -> Self {
        ToolOutput {
            content: content.into(),
            diff: None,
        }
    }
}

/// Why a tool call did not succeed. Every variant's message goes back to the model as the
/// tool result, so it must say exactly what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments for {tool}: {message}")]
    InvalidArguments { tool: String, message: String },
    #[error("denied: {0}")]
    Denied(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// The `tool_traces.outcome` value for this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            ToolError::Denied(_) => "denied",
            ToolError::Cancelled => "cancelled",
            ToolError::InvalidArguments { .. } | ToolError::Failed(_) => "error",
        }
    }
}

/// One tool.
pub trait Tool: Send + Sync {
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// JSON Schema of the arguments object.
    fn parameters(&self) -> Value;
    fn kind(&self) -> ToolKind;
    fn run<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;

    fn spec(&self) -> ToolSpec {
        ToolSpec::function(self.name(), self.description(), self.parameters())
    }
}

/// Parses a tool's arguments into its typed struct, with an error naming the tool and the field.
pub fn parse_args<T: serde::de::DeserializeOwned>(tool: &str, args: Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::InvalidArguments {
        tool: tool.to_string(),
        message: e.to_string(),
    })
}
