//! Shared test support: the scripted model server and an engine harness around it.
#![allow(dead_code)]

pub mod agents;
pub mod harness;
pub mod mock_server;
