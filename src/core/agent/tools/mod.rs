//! The agent's tools: one file each, all behind the [`Tool`] trait.
//!
//! A tool never talks to the store or the UI directly: whatever it needs from the outside world
//! (recording a pending change, asking the user to confirm a command, background sub-agents)
//! goes through the [`AgentHost`] in its [`ToolContext`].

pub mod changes;
pub mod create_file;
pub mod delete_file;
pub mod edit_file;
pub mod glob;
pub mod grep;
pub mod list_dir;
pub mod mcp;
pub mod path_guard;
pub mod read_file;
pub mod run_command;
pub mod skill;
pub mod spawn_subagent;
pub mod structured_output;
pub mod subagent_result;
pub mod subagent_status;
mod walk;

#[cfg(test)]
pub(crate) mod test_support;

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
    /// Arguments `tool` cannot run with, and why.
    pub fn invalid(tool: &str, message: impl Into<String>) -> ToolError {
        ToolError::InvalidArguments {
            tool: tool.to_string(),
            message: message.into(),
        }
    }

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
    fn name(&self) -> &str;
    fn description(&self) -> &str;
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
    serde_json::from_value(args).map_err(|e| ToolError::invalid(tool, e.to_string()))
}

/// Runs blocking file-system work off the async executor, so a large walk or read never
/// stalls the agent loop's other tasks.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ToolError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ToolError::Failed(format!("tool worker failed: {e}")))?
}

/// Every built-in tool, in the order they are offered to the model.
pub fn builtin_tools() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(read_file::ReadFile),
        Arc::new(list_dir::ListDir),
        Arc::new(glob::Glob),
        Arc::new(grep::Grep),
        Arc::new(edit_file::EditFile),
        Arc::new(create_file::CreateFile),
        Arc::new(delete_file::DeleteFile),
        Arc::new(run_command::RunCommand),
        Arc::new(spawn_subagent::SpawnSubagent),
        Arc::new(subagent_status::SubagentStatus),
        Arc::new(subagent_result::SubagentResult),
    ]
}

/// Names of the built-in tools that only read (safe in any approval mode, and safe to run
/// concurrently).
pub fn read_only_tool_names() -> Vec<String> {
    builtin_tools()
        .iter()
        .filter(|t| t.kind() == ToolKind::ReadOnly)
        .map(|t| t.name().to_string())
        .collect()
}

/// Tools that come and go while the engine runs (those of MCP servers).
pub trait DynamicTools: Send + Sync {
    /// The tools offered now.
    fn tools(&self) -> Vec<Arc<dyn Tool>>;
    /// Resolves once the tools that are being set up are known (bounded by their own timeouts).
    fn ready(&self) -> BoxFuture<'_, ()>;
}

/// The tools one agent may call, looked up by name: the fixed ones, then the dynamic ones.
#[derive(Clone)]
pub struct ToolRegistry {
    tools: Vec<Arc<dyn Tool>>,
    dynamic: Option<Arc<dyn DynamicTools>>,
}

impl ToolRegistry {
    /// Keeps the given order; a later tool with an already-registered name replaces the earlier
    /// one in place, so callers can override a built-in without reordering the list.
    pub fn new(tools: Vec<Arc<dyn Tool>>) -> Self {
        let mut kept: Vec<Arc<dyn Tool>> = Vec::with_capacity(tools.len());
        for tool in tools {
            match kept.iter_mut().find(|t| t.name() == tool.name()) {
                Some(slot) => *slot = tool,
                None => kept.push(tool),
            }
        }
        ToolRegistry {
            tools: kept,
            dynamic: None,
        }
    }

    /// Adds a source of tools known only at run time; a fixed tool keeps its name.
    pub fn with_dynamic(mut self, dynamic: Arc<dyn DynamicTools>) -> Self {
        self.dynamic = Some(dynamic);
        self
    }

    fn dynamic_tools(&self) -> Vec<Arc<dyn Tool>> {
        self.dynamic.as_ref().map(|d| d.tools()).unwrap_or_default()
    }

    /// Waits for the dynamic tools being set up (see [`DynamicTools::ready`]).
    pub async fn ready(&self) {
        if let Some(dynamic) = &self.dynamic {
            dynamic.ready().await;
        }
    }

    pub fn builtin() -> Self {
        Self::new(builtin_tools())
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools
            .iter()
            .find(|t| t.name() == name)
            .cloned()
            .or_else(|| self.dynamic_tools().into_iter().find(|t| t.name() == name))
    }

    pub fn names(&self) -> Vec<String> {
        self.all().iter().map(|t| t.name().to_string()).collect()
    }

    /// The fixed tools, then the dynamic ones whose names no fixed tool has.
    fn all(&self) -> Vec<Arc<dyn Tool>> {
        let mut all = self.tools.clone();
        for tool in self.dynamic_tools() {
            if !all.iter().any(|t| t.name() == tool.name()) {
                all.push(tool);
            }
        }
        all
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.specs_for(|_| true)
    }

    pub fn specs_for(&self, filter: impl Fn(&dyn Tool) -> bool) -> Vec<ToolSpec> {
        self.all()
            .iter()
            .filter(|t| filter(t.as_ref()))
            .map(|t| t.spec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_are_the_public_contract() {
        let reg = ToolRegistry::builtin();
        assert_eq!(
            reg.names(),
            vec![
                "read_file",
                "list_dir",
                "glob",
                "grep",
                "edit_file",
                "create_file",
                "delete_file",
                "run_command",
                "spawn_subagent",
                "subagent_status",
                "subagent_result",
            ]
        );
        assert_eq!(
            read_only_tool_names(),
            vec!["read_file", "list_dir", "glob", "grep"]
        );
    }

    #[test]
    fn every_schema_is_a_closed_object_whose_required_fields_exist() {
        let skill: Arc<dyn Tool> = Arc::new(skill::SkillTool::new(PathBuf::new(), None));
        for tool in builtin_tools().into_iter().chain([skill]) {
            let p = tool.parameters();
            assert_eq!(p["type"], "object", "{}", tool.name());
            assert_eq!(p["additionalProperties"], false, "{}", tool.name());
            let props = p["properties"].as_object().expect("properties");
            for req in p["required"].as_array().expect("required") {
                let req = req.as_str().expect("string");
                assert!(props.contains_key(req), "{}: {req}", tool.name());
            }
            for (name, prop) in props {
                assert!(prop.get("type").is_some(), "{}.{name}", tool.name());
                assert!(prop.get("description").is_some(), "{}.{name}", tool.name());
            }
        }
    }

    #[test]
    fn registry_lookup_filter_and_override() {
        let mut tools = builtin_tools();
        tools.push(Arc::new(read_file::ReadFile));
        let reg = ToolRegistry::new(tools);
        assert_eq!(reg.names().len(), 11);
        assert_eq!(reg.names()[0], "read_file");
        assert!(reg.get("grep").is_some());
        assert!(reg.get("nope").is_none());
        let specs = reg.specs_for(|t| t.kind() == ToolKind::Agent);
        let names: Vec<_> = specs.iter().map(|s| s.function.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["spawn_subagent", "subagent_status", "subagent_result"]
        );
        assert_eq!(reg.specs().len(), 11);
    }

    #[test]
    fn unknown_and_mistyped_fields_name_the_field() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct A {
            file_path: String,
        }
        let ok = parse_args::<A>("read_file", serde_json::json!({"file_path": "x"})).unwrap();
        assert_eq!(ok.file_path, "x");
        let e = parse_args::<A>("read_file", serde_json::json!({"file_path": 3})).unwrap_err();
        assert!(matches!(e, ToolError::InvalidArguments { .. }));
        let e = parse_args::<A>("read_file", serde_json::json!({"file_pth": "x"})).unwrap_err();
        assert!(e.to_string().contains("file_pth"), "{e}");
        let e = parse_args::<A>("read_file", serde_json::json!({})).unwrap_err();
        assert!(e.to_string().contains("file_path"), "{e}");
    }
}
