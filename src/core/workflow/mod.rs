//! Workflows: user-written JavaScript that orchestrates many sub-agents, run on Boa in a worker
//! process. The parent side finds scripts, runs the worker, answers its `agent()` calls with
//! sub-agents and keeps every run, call and event in the store; the worker side (`script_host`,
//! `sandbox`, `meta`, `lexer`) runs one script under resource limits.

pub(crate) mod agent_call;
pub mod args;
pub mod cache;
pub mod discovery;
mod external_call;
pub(crate) mod lexer;
pub mod meta;
pub mod protocol;
pub mod report;
pub mod runs;
pub mod sandbox;
/// The worker process's side: runs one script on Boa.
pub mod script_host;
/// The parent's side: spawns and talks to a worker process.
pub mod worker;

pub use discovery::{WorkflowEntry, WorkflowSource};
pub use runs::{RunDetails, RunOptions, RunOutcome, MAX_AGENTS_PER_RUN};
pub use worker::WorkerCommand;
