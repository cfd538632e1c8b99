//! Shared test helpers: `mod support;` from an integration test, then `support::mock_server::…`.
#![allow(dead_code)]

pub mod mock_server;
