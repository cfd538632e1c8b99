//! OpenAI-compatible chat-completions client.

pub mod types;
