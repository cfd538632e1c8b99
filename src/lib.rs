//! boocode: a terminal workspace for AI coding agents.
//!
//! `core` is the UI-free engine (model client, agent loop, tools, store); front ends are thin
//! clients of it.

pub mod core;
pub mod tui;
