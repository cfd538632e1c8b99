//! Workflows: user-written JavaScript that orchestrates many sub-agents, run on Boa in a worker
//! process.

pub(crate) mod lexer;
pub mod meta;
pub mod protocol;
pub mod sandbox;
pub mod worker;
