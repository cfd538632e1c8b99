//! Workflows: user-written JavaScript that orchestrates many sub-agents, run on Boa in a worker
//! process. This side (the parent) finds scripts, runs the worker, answers its `agent()` calls
//! with sub-agents and keeps every run, call and event in the store.

pub(crate) mod agent_call;
pub mod cache;
pub mod discovery;
pub mod protocol;
pub mod runs;
pub mod worker;

pub use discovery::{WorkflowEntry, WorkflowSource};
pub use runs::{RunDetails, RunOptions, RunOutcome, MAX_AGENTS_PER_RUN};
pub use worker::WorkerCommand;
