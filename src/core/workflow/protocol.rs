//! The JSON-lines protocol between a workflow run (parent, in the engine) and its script worker
//! (the same binary, hidden subcommand `__workflow-worker`, running Boa under resource limits).
//!
//! One JSON object per line. The parent writes [`ToWorker`] messages to the worker's stdin; the
//! worker writes [`FromWorker`] messages to its stdout. The worker never talks to the model, the
//! store or the network: every `agent()` call and every nested `workflow()` lookup is a request
//! to the parent, answered by id.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Limits the worker enforces on the script (the parent also kills it on cancel or timeout).
/// The defaults are config `[workflow_limits]` (see [`crate::core::config`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerLimits {
    /// Boa loop-iteration limit per loop.
    pub max_loop_iterations: u64,
    /// Boa recursion limit.
    pub max_recursion: usize,
    /// Deepest bracket nesting accepted by the source pre-check.
    pub max_nesting: usize,
    /// Resident memory the worker may use, bytes (a watchdog samples it; the address space is
    /// capped higher, for allocations too sudden for the watchdog).
    pub max_memory_bytes: u64,
    /// CPU seconds the script may use. Agents run in the parent, so their time is not counted.
    pub max_cpu_seconds: u64,
    /// Largest result, bytes of JSON.
    pub max_result_bytes: u64,
    /// Longest `log()` line (and `phase()` title), bytes.
    pub max_log_bytes: u64,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        WorkerLimits {
            max_loop_iterations: 10_000_000,
            max_recursion: 512,
            max_nesting: 256,
            max_memory_bytes: 512 * 1024 * 1024,
            max_cpu_seconds: 30,
            max_result_bytes: 1024 * 1024,
            max_log_bytes: 64 * 1024,
        }
    }
}

/// What an `agent(prompt, opts)` call asks for. The fields that define the result (prompt,
/// schema, model, effort, agent_type, isolation, agent) form the cache key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, rename = "agentType", skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<String>,
    /// An external agent (`codex`, `claude`, one under `[agents.*]`) runs the call instead of
    /// the native loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

/// Parent → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// First message: the script to run.
    Start {
        /// Script source (≤ 512 KB).
        source: String,
        /// Where it came from, for error messages.
        origin: String,
        /// Passed through to the script as given (string or structured).
        args: Value,
        /// Token budget of the run; `None` = unlimited.
        budget_total: Option<u64>,
        /// Tokens already spent (a resumed run).
        budget_spent: u64,
        limits: WorkerLimits,
    },
    /// The answer to an `agent()` call: its value (text, or the validated object when a schema
    /// was given) or the error the call throws.
    AgentResult {
        call_id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Tokens the run has spent so far, after this call (keeps `budget.spent()` current).
        budget_spent: u64,
    },
    /// The answer to a nested `workflow()` lookup.
    WorkflowSource {
        call_id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// Worker → parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    Phase {
        title: String,
    },
    Log {
        message: String,
    },
    /// The script called `agent()`; answer with `AgentResult { call_id }`.
    Agent {
        call_id: u64,
        spec: AgentSpec,
    },
    /// The script called `workflow(nameOrRef)`; answer with `WorkflowSource { call_id }`.
    ResolveWorkflow {
        call_id: u64,
        /// A workflow name, or `{scriptPath}` given as a path.
        name: Option<String>,
        script_path: Option<String>,
    },
    /// The script finished; `result` is its return value (`null` when none).
    Done {
        result: Value,
    },
    /// The script failed. `kind`: `error` (thrown), `stalled` (main promise pending with nothing
    /// left to run), `limit` (a resource limit), `invalid` (the script could not be loaded).
    Failed {
        kind: String,
        message: String,
    },
}
