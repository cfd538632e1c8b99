//! Workflows: user-written JavaScript that orchestrates many sub-agents, run on Boa in a worker
//! process.

pub mod protocol;
