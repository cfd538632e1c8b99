//! Workflows: user-written JavaScript that orchestrates many sub-agents, run on Boa in a worker
//! process.

pub mod protocol;
pub(crate) mod lexer;
pub mod meta;
pub mod sandbox;
pub mod worker;
