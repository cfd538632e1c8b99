//! The agent loop and its tools.

pub mod tools;
