//! The UI-free engine: the only place that talks to the model, the store and the disk.
//! Nothing in here may import a front end.

pub mod agent;
pub mod agents;
pub mod background;
pub mod changes;
pub mod collisions;
pub mod config;
pub mod context;
pub mod engine;
pub mod events;
pub mod hooks;
pub mod instance;
pub mod llm;
pub mod logging;
pub mod mcp;
pub mod private_fs;
pub mod process;
pub mod project_approval;
pub mod pty;
pub mod queries;
pub mod runtime;
pub mod shutdown;
pub mod store;
pub mod trust;
pub mod workflow;
pub mod worktree;
