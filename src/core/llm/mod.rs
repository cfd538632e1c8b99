//! OpenAI-compatible chat-completions client.

pub mod client;
pub mod error;
pub mod images;
pub mod provider;
pub mod sse;
pub mod stream;
pub mod types;

pub use client::{ClientConfig, LlmClient};
pub use error::{LlmError, LlmErrorKind};
pub use stream::{assemble_sse, AssembledResponse, LlmEvent, SseOptions, StreamAssembler};
