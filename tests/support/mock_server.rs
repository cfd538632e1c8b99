//! Scripted OpenAI-compatible chat-completions server for tests, examples and benches.
//!
//! No network beyond `127.0.0.1`, no dependency on the boocode crate. Include it with
//! `#[path = "support/mock_server.rs"] mod mock_server;` (tests) or
//! `#[path = "../tests/support/mock_server.rs"] mod mock_server;` (examples, benches).
//!
//! It is a small hand-written HTTP/1.1 server on a tokio `TcpListener` (keep-alive, chunked
//! responses flushed per SSE event, `TCP_NODELAY`), so it can cut connections and stall
//! exactly where a test wants. It serves `POST /v1/chat/completions` and
//! `POST /chat/completions`; [`MockServer::base_url`] is `http://127.0.0.1:PORT/v1`.
//!
//! # Script
//!
//! The script is a queue of [`Step`]s (a [`Reply`] plus an optional matcher `when` and a
//! `repeat` flag). For each request the first step whose `when` matches (no `when` matches
//! everything) is used; it is removed from the queue unless `repeat` is true. If nothing matches
//! the server answers `500` with
//! `{"error":{"message":"mock script exhausted: no reply for request N (last user message: ...)"}}`.
//!
//! JSON script files are an array of steps; each step is a reply object tagged by `kind`, with
//! `when` / `repeat` alongside:
//!
//! ```json
//! [
//!   {"kind": "text", "content": "Hello **world**", "reasoning": "think...",
//!    "chunk_chars": 4, "delay_ms_per_chunk": 0, "finish_reason": "stop",
//!    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "reasoning_tokens": 5, "cache_hit_tokens": 64}},
//!   {"kind": "tool_calls", "calls": [{"id": "call_1", "name": "list_dir", "arguments": "{\"path\":\".\"}"}],
//!    "content": null, "reasoning": null, "split_arguments": true,
//!    "when": {"last_user_contains": "list files"}, "repeat": true},
//!   {"kind": "http_error", "status": 429, "body": "{\"error\":{\"message\":\"slow down\"}}", "retry_after": 1},
//!   {"kind": "cut", "content": "partial"},
//!   {"kind": "stall", "before_ms": 5000, "keepalive_every_ms": 1000, "then": {"kind": "text", "content": "late"}},
//!   {"kind": "stall_mid_stream", "content": "a b c", "stall_ms": 3000, "keepalive_every_ms": null},
//!   {"kind": "midstream_error", "content": "a b", "error": {"message": "overloaded", "code": "server_overloaded"}},
//!   {"kind": "truncated", "content": "partial", "calls": [{"name": "list_dir", "arguments": "{}"}]},
//!   {"kind": "hold_before_done", "hold_ms": 30000, "then": {"kind": "text", "content": "done"}},
//!   {"kind": "raw", "sse": "data: {...}\n\ndata: [DONE]\n\n"},
//!   {"kind": "summary", "max_chars": 600, "when": {"last_user_contains": "Summarise the conversation so far"}, "repeat": true}
//! ]
//! ```
//!
//! Matchers (`when`): `{"last_user_contains": s}`, `{"any_message_contains": s}` (content of
//! every message, tool results included), `{"has_tool_result_for": name_or_call_id}`,
//! `{"system_contains": s}`, `{"last_role": "tool"}`, and the combinators `{"all": [..]}`,
//! `{"any": [..]}`, `{"not": {..}}`.
//!
//! Streams mirror DeepSeek's chunk shape: `{"id","object":"chat.completion.chunk","created",
//! "model","system_fingerprint","choices":[{"index":0,"delta":{..},"logprobs":null,
//! "finish_reason":null}],"usage":null}`; the final chunk carries `finish_reason` and `usage`
//! (`prompt_tokens`, `completion_tokens`, `total_tokens`, `prompt_tokens_details.cached_tokens`,
//! `completion_tokens_details.reasoning_tokens`, `prompt_cache_hit_tokens`,
//! `prompt_cache_miss_tokens`), then `data: [DONE]`.
//!
//! Beyond the script: [`MockServer::set_context_limit`] answers `400`
//! `context_length_exceeded` (OpenAI's and DeepSeek's body) to requests estimated past N
//! tokens, and [`MockServer::simulate_prompt_cache`] reports cache hits as a provider would
//! (the longest prefix shared with an earlier request). `examples/mock_server` has
//! `--context-limit N` and `--simulate-cache` for them.
//!
//! In Rust, build replies with the constructors and builders, e.g.
//! `Reply::text("hi").reasoning("hmm").when(Match::last_user_contains("x")).repeat()`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};

// ---------------------------------------------------------------------------------------------
// Script types
// ---------------------------------------------------------------------------------------------

/// Token counts for the final chunk. Emitted DeepSeek-style: `prompt_cache_hit_tokens` /
/// `prompt_cache_miss_tokens` and `prompt_tokens_details.cached_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageSpec {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    #[serde(default)]
    pub reasoning_tokens: u64,
    #[serde(default)]
    pub cache_hit_tokens: u64,
}

impl UsageSpec {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        UsageSpec {
            prompt_tokens,
            completion_tokens,
            reasoning_tokens: 0,
            cache_hit_tokens: 0,
        }
    }
    pub fn reasoning_tokens(mut self, n: u64) -> Self {
        self.reasoning_tokens = n;
        self
    }
    pub fn cache_hit_tokens(mut self, n: u64) -> Self {
        self.cache_hit_tokens = n;
        self
    }

    /// The `usage` object as the server sends it.
    pub fn to_json(self) -> Value {
        serde_json::json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cache_hit_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "prompt_cache_hit_tokens": self.cache_hit_tokens,
            "prompt_cache_miss_tokens": self.prompt_tokens.saturating_sub(self.cache_hit_tokens),
        })
    }
}

/// One tool call of a [`Reply::ToolCalls`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSpec {
    /// Defaults to `call_<request>_<index>`.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// Raw arguments text; need not be valid JSON.
    pub arguments: String,
}

impl CallSpec {
    pub fn new(name: impl Into<String>, arguments: impl Into<String>) -> Self {
        CallSpec {
            id: None,
            name: name.into(),
            arguments: arguments.into(),
        }
    }
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

fn default_true() -> bool {
    true
}

/// What the server sends for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// A streamed text answer (optionally with `reasoning_content` first).
    Text {
        content: String,
        #[serde(default)]
        reasoning: Option<String>,
        #[serde(default)]
        usage: Option<UsageSpec>,
        /// Characters per content/reasoning chunk (default 4).
        #[serde(default)]
        chunk_chars: Option<usize>,
        #[serde(default)]
        delay_ms_per_chunk: Option<u64>,
        /// Default `"stop"`; e.g. `"length"` or `"insufficient_system_resource"`.
        #[serde(default)]
        finish_reason: Option<String>,
    },
    /// Streamed tool calls, `finish_reason: "tool_calls"`.
    ToolCalls {
        calls: Vec<CallSpec>,
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        reasoning: Option<String>,
        #[serde(default)]
        usage: Option<UsageSpec>,
        /// Stream arguments in small fragments (default true); else one chunk per call.
        #[serde(default = "default_true")]
        split_arguments: bool,
        #[serde(default)]
        delay_ms_per_chunk: Option<u64>,
    },
    /// A non-200 answer with a JSON body (e.g. a `X-err-*.json` fixture).
    HttpError {
        status: u16,
        body: String,
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Sends the role chunk and `content` chunks, then drops the TCP connection in the middle of
    /// the chunked body (no `[DONE]`, no terminating chunk).
    Cut { content: String },
    /// Waits `before_ms` before answering with `then`. With `keepalive_every_ms` and a streaming
    /// `then`, the `200` headers go out at once and `: keep-alive` comments are sent while waiting.
    Stall {
        before_ms: u64,
        #[serde(default)]
        keepalive_every_ms: Option<u64>,
        then: Box<Reply>,
    },
    /// Sends `content` chunks, then nothing (connection open) for `stall_ms` (or only
    /// `: keep-alive` comments every `keepalive_every_ms`), then finishes normally.
    StallMidStream {
        content: String,
        stall_ms: u64,
        #[serde(default)]
        keepalive_every_ms: Option<u64>,
    },
    /// `content` chunks, then `data: {"error": error}`, then the body ends without `[DONE]`.
    MidstreamError { content: String, error: Value },
    /// `content` chunks and the `calls` (whole), then the body ends cleanly (terminating chunk,
    /// connection kept) with no finish reason and no `[DONE]`: a reply cut off by a proxy.
    Truncated {
        content: String,
        #[serde(default)]
        calls: Vec<CallSpec>,
    },
    /// `then` up to its last chunk (finish reason and usage), then the connection is held open
    /// with nothing sent for `hold_ms` before `[DONE]`.
    HoldBeforeDone { hold_ms: u64, then: Box<Reply> },
    /// Sends this SSE text verbatim (split at event boundaries into HTTP chunks).
    Raw { sse: String },
    /// A text answer summarising the request, as a model asked to compact a conversation
    /// would: how many messages it saw, the user's requests and the tools called, at most
    /// `max_chars` long (default 600). Deterministic for a given request.
    Summary {
        #[serde(default)]
        max_chars: Option<usize>,
    },
}

impl Reply {
    /// See [`Reply::Summary`].
    pub fn summary() -> Reply {
        Reply::Summary { max_chars: None }
    }
    pub fn text(content: impl Into<String>) -> Reply {
        Reply::Text {
            content: content.into(),
            reasoning: None,
            usage: None,
            chunk_chars: None,
            delay_ms_per_chunk: None,
            finish_reason: None,
        }
    }
    pub fn tool_call(name: impl Into<String>, arguments: impl Into<String>) -> Reply {
        Reply::tool_calls(vec![CallSpec::new(name, arguments)])
    }
    pub fn tool_calls(calls: Vec<CallSpec>) -> Reply {
        Reply::ToolCalls {
            calls,
            content: None,
            reasoning: None,
            usage: None,
            split_arguments: true,
            delay_ms_per_chunk: None,
        }
    }
    pub fn http_error(status: u16, body: impl Into<String>) -> Reply {
        Reply::HttpError {
            status,
            body: body.into(),
            retry_after: None,
        }
    }
    /// An error whose body is `tests/fixtures/sse/<file>`, e.g. `X-err-429-rate-limit-reached.json`.
    pub fn http_error_fixture(status: u16, file: &str) -> Reply {
        Reply::http_error(status, read_fixture(file))
    }
    pub fn cut(content: impl Into<String>) -> Reply {
        Reply::Cut {
            content: content.into(),
        }
    }
    pub fn stall(before_ms: u64, then: Reply) -> Reply {
        Reply::Stall {
            before_ms,
            keepalive_every_ms: None,
            then: Box::new(then),
        }
    }
    pub fn stall_mid_stream(content: impl Into<String>, stall_ms: u64) -> Reply {
        Reply::StallMidStream {
            content: content.into(),
            stall_ms,
            keepalive_every_ms: None,
        }
    }
    pub fn midstream_error(content: impl Into<String>, error: Value) -> Reply {
        Reply::MidstreamError {
            content: content.into(),
            error,
        }
    }
    pub fn truncated(content: impl Into<String>, calls: Vec<CallSpec>) -> Reply {
        Reply::Truncated {
            content: content.into(),
            calls,
        }
    }
    pub fn hold_before_done(hold_ms: u64, then: Reply) -> Reply {
        Reply::HoldBeforeDone {
            hold_ms,
            then: Box::new(then),
        }
    }
    pub fn raw(sse: impl Into<String>) -> Reply {
        Reply::Raw { sse: sse.into() }
    }
    /// Replays `tests/fixtures/sse/<file>` verbatim, e.g. `C-deepseek-tool-call.sse`.
    pub fn fixture(file: &str) -> Reply {
        Reply::raw(read_fixture(file))
    }

    /// Sets `reasoning` (Text, ToolCalls).
    pub fn reasoning(mut self, r: impl Into<String>) -> Reply {
        match &mut self {
            Reply::Text { reasoning, .. } | Reply::ToolCalls { reasoning, .. } => {
                *reasoning = Some(r.into())
            }
            Reply::Stall { then, .. } => **then = then.as_ref().clone().reasoning(r),
            _ => panic!("reasoning() applies to text or tool_calls replies"),
        }
        self
    }
    /// Sets `usage` (Text, ToolCalls).
    pub fn usage(mut self, u: UsageSpec) -> Reply {
        match &mut self {
            Reply::Text { usage, .. } | Reply::ToolCalls { usage, .. } => *usage = Some(u),
            Reply::Stall { then, .. } => **then = then.as_ref().clone().usage(u),
            _ => panic!("usage() applies to text or tool_calls replies"),
        }
        self
    }
    /// Sets `content` for ToolCalls (text alongside the calls).
    pub fn content(mut self, c: impl Into<String>) -> Reply {
        match &mut self {
            Reply::ToolCalls { content, .. } => *content = Some(c.into()),
            Reply::Text { content, .. } => *content = c.into(),
            _ => panic!("content() applies to text or tool_calls replies"),
        }
        self
    }
    pub fn chunk_chars(mut self, n: usize) -> Reply {
        match &mut self {
            Reply::Text { chunk_chars, .. } => *chunk_chars = Some(n),
            _ => panic!("chunk_chars() applies to text replies"),
        }
        self
    }
    pub fn delay_ms_per_chunk(mut self, ms: u64) -> Reply {
        match &mut self {
            Reply::Text {
                delay_ms_per_chunk, ..
            }
            | Reply::ToolCalls {
                delay_ms_per_chunk, ..
            } => *delay_ms_per_chunk = Some(ms),
            _ => panic!("delay_ms_per_chunk() applies to text or tool_calls replies"),
        }
        self
    }
    pub fn finish_reason(mut self, f: impl Into<String>) -> Reply {
        match &mut self {
            Reply::Text { finish_reason, .. } => *finish_reason = Some(f.into()),
            _ => panic!("finish_reason() applies to text replies"),
        }
        self
    }
    pub fn split_arguments(mut self, split: bool) -> Reply {
        match &mut self {
            Reply::ToolCalls {
                split_arguments, ..
            } => *split_arguments = split,
            _ => panic!("split_arguments() applies to tool_calls replies"),
        }
        self
    }
    pub fn retry_after(mut self, secs: u64) -> Reply {
        match &mut self {
            Reply::HttpError { retry_after, .. } => *retry_after = Some(secs),
            _ => panic!("retry_after() applies to http_error replies"),
        }
        self
    }
    /// Sets `keepalive_every_ms` (Stall, StallMidStream).
    pub fn keepalive_every_ms(mut self, ms: u64) -> Reply {
        match &mut self {
            Reply::Stall {
                keepalive_every_ms, ..
            }
            | Reply::StallMidStream {
                keepalive_every_ms, ..
            } => *keepalive_every_ms = Some(ms),
            _ => panic!("keepalive_every_ms() applies to stall replies"),
        }
        self
    }

    /// This reply, only for requests matching `m`.
    pub fn when(self, m: Match) -> Step {
        Step::from(self).when(m)
    }
    /// This reply, kept in the queue after use.
    pub fn repeat(self) -> Step {
        Step::from(self).repeat()
    }

    fn streams(&self) -> bool {
        match self {
            Reply::HttpError { .. } => false,
            Reply::Stall { then, .. } => then.streams(),
            _ => true,
        }
    }
}

/// A script entry: a reply with its matcher and repeat flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Match>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat: bool,
    #[serde(flatten)]
    pub reply: Reply,
}

impl Step {
    pub fn when(mut self, m: Match) -> Step {
        self.when = Some(match self.when.take() {
            None => m,
            Some(prev) => Match::All(vec![prev, m]),
        });
        self
    }
    pub fn repeat(mut self) -> Step {
        self.repeat = true;
        self
    }
}

impl From<Reply> for Step {
    fn from(reply: Reply) -> Step {
        Step {
            when: None,
            repeat: false,
            reply,
        }
    }
}

/// Request matcher for [`Step::when`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// The last `role: user` message contains this text.
    LastUserContains(String),
    /// Some message's content (any role, tool results included) contains this text.
    AnyMessageContains(String),
    /// A `role: tool` message answers a call with this id, or a call to the tool with this name.
    HasToolResultFor(String),
    /// A `role: system` message contains this text.
    SystemContains(String),
    /// The last message has this role (e.g. `"tool"` right after tool results).
    LastRole(String),
    All(Vec<Match>),
    Any(Vec<Match>),
    Not(Box<Match>),
}

impl Match {
    pub fn last_user_contains(s: impl Into<String>) -> Match {
        Match::LastUserContains(s.into())
    }
    pub fn any_message_contains(s: impl Into<String>) -> Match {
        Match::AnyMessageContains(s.into())
    }
    pub fn has_tool_result_for(s: impl Into<String>) -> Match {
        Match::HasToolResultFor(s.into())
    }
    pub fn system_contains(s: impl Into<String>) -> Match {
        Match::SystemContains(s.into())
    }
    pub fn last_role(s: impl Into<String>) -> Match {
        Match::LastRole(s.into())
    }

    /// Whether a request body matches.
    pub fn matches(&self, body: &Value) -> bool {
        let messages: &[Value] = body
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match self {
            Match::LastUserContains(s) => last_user_text(body).is_some_and(|t| t.contains(s)),
            Match::AnyMessageContains(s) => messages.iter().any(|m| message_text(m).contains(s)),
            Match::SystemContains(s) => messages
                .iter()
                .filter(|m| role(m) == "system")
                .any(|m| message_text(m).contains(s)),
            Match::LastRole(r) => messages.last().is_some_and(|m| role(m) == r),
            Match::HasToolResultFor(s) => messages.iter().filter(|m| role(m) == "tool").any(|m| {
                let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
                id == s
                    || m.get("name").and_then(Value::as_str) == Some(s.as_str())
                    || tool_name_for_call(messages, id) == Some(s.as_str())
            }),
            Match::All(ms) => ms.iter().all(|m| m.matches(body)),
            Match::Any(ms) => ms.iter().any(|m| m.matches(body)),
            Match::Not(m) => !m.matches(body),
        }
    }
}

fn role(m: &Value) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

/// Text of a message's `content` (a string, or an array of `{"type":"text","text":..}` parts).
fn message_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str).or(p.as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn last_user_text(body: &Value) -> Option<String> {
    body.get("messages")?
        .as_array()?
        .iter()
        .rev()
        .find(|m| role(m) == "user")
        .map(message_text)
}

fn tool_name_for_call<'a>(messages: &'a [Value], id: &str) -> Option<&'a str> {
    messages
        .iter()
        .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
        .flatten()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|c| c.pointer("/function/name"))
        .and_then(Value::as_str)
}

/// Reads `tests/fixtures/sse/<file>` of this package.
pub fn read_fixture(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sse")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Parses a JSON script: an array of steps (see the module docs).
pub fn parse_script(json: &str) -> serde_json::Result<Vec<Step>> {
    serde_json::from_str(json)
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/// One request as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names are lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body (`Value::String` with the raw text if it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    /// Requests whose estimated prompt is longer than this get OpenAI's context-length
    /// error (0: no limit).
    context_limit: std::sync::atomic::AtomicU64,
    /// Earlier request bodies, newest last, when the prompt cache is simulated.
    cache: Mutex<Option<VecDeque<Vec<u8>>>>,
    queue: Mutex<VecDeque<Step>>,
    log: Mutex<Vec<RecordedRequest>>,
    count: watch::Sender<usize>,
    disconnects: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn new(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The scripted server. Stops when dropped or on [`MockServer::shutdown`].
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl MockServer {
    /// Starts on `127.0.0.1:0` inside the current tokio runtime.
    pub async fn start<I>(script: I) -> MockServer
    where
        I: IntoIterator,
        I::Item: Into<Step>,
    {
        MockServer::start_on(0, script).await
    }

    /// Starts on `127.0.0.1:port` inside the current tokio runtime.
    pub async fn start_on<I>(port: u16, script: I) -> MockServer
    where
        I: IntoIterator,
        I::Item: Into<Step>,
    {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("mock server: bind");
        let (server, stop_rx) = MockServer::new(&listener, script);
        tokio::spawn(accept_loop(listener, server.shared.clone(), stop_rx));
        server
    }

    /// Starts on `127.0.0.1:0` with its own runtime thread (for sync tests, examples, benches).
    pub fn start_blocking<I>(script: I) -> MockServer
    where
        I: IntoIterator,
        I::Item: Into<Step>,
    {
        MockServer::start_blocking_on(0, script)
    }

    /// Starts on `127.0.0.1:port` with its own runtime thread.
    pub fn start_blocking_on<I>(port: u16, script: I) -> MockServer
    where
        I: IntoIterator,
        I::Item: Into<Step>,
    {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("mock server: bind");
        listener.set_nonblocking(true).expect("set_nonblocking");
        let steps: Vec<Step> = script.into_iter().map(Into::into).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("mock-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("mock server runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("from_std");
                    let (server, stop_rx) = MockServer::new(&listener, steps);
                    let shared = server.shared.clone();
                    tx.send(server).ok();
                    accept_loop(listener, shared, stop_rx).await;
                });
            })
            .expect("spawn mock server thread");
        let server = rx.recv().expect("mock server start");
        *server.thread.lock().unwrap() = Some(thread);
        server
    }

    fn new<I>(listener: &TcpListener, script: I) -> (MockServer, watch::Receiver<bool>)
    where
        I: IntoIterator,
        I::Item: Into<Step>,
    {
        let addr = listener.local_addr().expect("local_addr");
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            context_limit: std::sync::atomic::AtomicU64::new(0),
            cache: Mutex::new(None),
            queue: Mutex::new(script.into_iter().map(Into::into).collect()),
            log: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            disconnects: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let server = MockServer {
            addr,
            shared,
            stop,
            thread: Mutex::new(None),
        };
        (server, stop_rx)
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
    /// `http://127.0.0.1:PORT/v1/chat/completions`
    pub fn completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url())
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers `400` with OpenAI's (and DeepSeek's) `context_length_exceeded` error to every
    /// request whose estimated prompt (body bytes / 4) is longer than `tokens`; `None` lifts
    /// the limit. A refused request takes no step of the script.
    pub fn set_context_limit(&self, tokens: Option<u64>) {
        self.shared
            .context_limit
            .store(tokens.unwrap_or(0), Ordering::SeqCst);
    }

    /// Simulates a provider's prompt cache: a reply without a scripted usage reports as
    /// `prompt_cache_hit_tokens` the tokens (bytes / 4) of the longest common prefix of its
    /// request body with one of the last [`CACHE_ENTRIES`] requests, and the rest as misses.
    pub fn simulate_prompt_cache(&self, on: bool) {
        *self.shared.cache.lock().unwrap() = on.then(VecDeque::new);
    }

    /// Appends a step to the script.
    pub fn push(&self, step: impl Into<Step>) {
        self.shared.queue.lock().unwrap().push_back(step.into());
    }
    /// Steps still queued (repeat steps included).
    pub fn remaining(&self) -> usize {
        self.shared.queue.lock().unwrap().len()
    }
    /// Non-repeat steps not used yet.
    pub fn unused(&self) -> Vec<Step> {
        let q = self.shared.queue.lock().unwrap();
        q.iter().filter(|s| !s.repeat).cloned().collect()
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        let log = self.shared.log.lock().unwrap();
        log.iter().map(|r| r.body.clone()).collect()
    }
    /// Every request with method, path and headers.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().unwrap().clone()
    }
    /// Headers of every request, in order (names lower-case).
    pub fn headers(&self) -> Vec<Vec<(String, String)>> {
        let log = self.shared.log.lock().unwrap();
        log.iter().map(|r| r.headers.clone()).collect()
    }
    pub fn last_request(&self) -> Option<Value> {
        self.shared
            .log
            .lock()
            .unwrap()
            .last()
            .map(|r| r.body.clone())
    }
    pub fn request_count(&self) -> usize {
        self.shared.log.lock().unwrap().len()
    }
    /// Responses the client abandoned (connection closed before the server finished).
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived; false on timeout.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.shared.count.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n))
            .await
            .is_ok();
        reached
    }
    /// Blocking [`MockServer::wait_for_requests`] (polls).
    pub fn wait_for_requests_blocking(&self, n: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.request_count() < n {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
    /// Waits until `n` responses were abandoned by the client; false on timeout.
    pub async fn wait_for_disconnects(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.disconnects() < n {
            if Instant::now() >= deadline {
                return false;
            }
            sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Stops accepting and closes open connections. Idempotent; also done on drop.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
        let thread = self.thread.lock().unwrap().take();
        if let Some(t) = thread {
            t.join().ok();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut stop_main = stop.clone();
    loop {
        tokio::select! {
            _ = stop_main.wait_for(|s| *s) => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => {}
                        _ = handle_conn(stream, shared) => {}
                    }
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1
// ---------------------------------------------------------------------------------------------

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut tmp = [0u8; 16 * 1024];
    let n = stream.read(&mut tmp).await?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n > 0)
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one request; `None` on a clean EOF between requests.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 1 << 20 {
            return Err(bad("request head too large"));
        }
        if !fill(stream, buf).await? {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(bad("eof in request head"))
            };
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n") {
                    break p;
                }
                if !fill(stream, buf).await? {
                    return Err(bad("eof in chunk size"));
                }
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    if let Some(p) = find(buf, b"\r\n") {
                        let empty = p == 0;
                        buf.drain(..p + 2);
                        if empty {
                            break;
                        }
                    } else if !fill(stream, buf).await? {
                        break;
                    }
                }
                break;
            }
            while buf.len() < size + 2 {
                if !fill(stream, buf).await? {
                    return Err(bad("eof in chunk"));
                }
            }
            req.body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
        }
    } else {
        let len: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < len {
            if !fill(stream, buf).await? {
                return Err(bad("eof in body"));
            }
        }
        req.body = buf.drain(..len).collect();
    }
    Ok(Some(req))
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

async fn write_json_response(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    extra: &[(&str, String)],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        reason_phrase(status),
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";

async fn write_chunk(stream: &mut TcpStream, data: &str) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let frame = format!("{:x}\r\n{data}\r\n", data.len());
    stream.write_all(frame.as_bytes()).await?;
    stream.flush().await
}

enum Flow {
    KeepAlive,
    Close,
}

async fn handle_conn(mut stream: TcpStream, shared: Arc<Shared>) {
    stream.set_nodelay(true).ok();
    let mut buf = Vec::new();
    loop {
        let req = match read_request(&mut stream, &mut buf).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        let close_requested = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let flow = match handle_request(&mut stream, &shared, req).await {
            Ok(f) => f,
            Err(_) => {
                shared.disconnects.fetch_add(1, Ordering::SeqCst);
                Flow::Close
            }
        };
        if close_requested || matches!(flow, Flow::Close) {
            stream.shutdown().await.ok();
            return;
        }
    }
}

/// What `GET /models` lists: ids, and the context window reported for one of them.
pub const MODELS: &[(&str, Option<u64>)] = &[("mock-reasoner", None), ("mock-model", Some(65_536))];

async fn handle_request(
    stream: &mut TcpStream,
    shared: &Arc<Shared>,
    req: Request,
) -> io::Result<Flow> {
    let route = req.path.split('?').next().unwrap_or("");
    if req.method == "GET" && (route == "/v1/models" || route == "/models") {
        let body = serde_json::json!({"object": "list", "data": MODELS
            .iter()
            .map(|(id, window)| match window {
                Some(w) => serde_json::json!({"id": id, "object": "model", "context_length": w}),
                None => serde_json::json!({"id": id, "object": "model"}),
            })
            .collect::<Vec<_>>()});
        write_json_response(stream, 200, &body.to_string(), &[]).await?;
        return Ok(Flow::KeepAlive);
    }
    if req.method != "POST" || !(route == "/v1/chat/completions" || route == "/chat/completions") {
        let body = serde_json::json!({"error": {"message": format!(
            "mock server: no route for {} {}", req.method, req.path)}});
        write_json_response(stream, 404, &body.to_string(), &[]).await?;
        return Ok(Flow::KeepAlive);
    }
    let body: Value = serde_json::from_slice(&req.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into_owned()));
    let number = {
        let mut log = shared.log.lock().unwrap();
        log.push(RecordedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            headers: req.headers.clone(),
            body: body.clone(),
        });
        log.len()
    };
    let _in_flight = InFlight::new(shared);
    shared.count.send_replace(number);
    let prompt_tokens = (req.body.len() as u64 / 4).max(1);
    let limit = shared.context_limit.load(Ordering::SeqCst);
    if limit > 0 && prompt_tokens > limit {
        let err = serde_json::json!({"error": {
            "message": format!("This model's maximum context length is {limit} tokens. However, your messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages."),
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded"}});
        write_json_response(stream, 400, &err.to_string(), &[]).await?;
        return Ok(Flow::KeepAlive);
    }
    let cache_hit_tokens = cached_prefix_tokens(shared, &req.body).min(prompt_tokens);

    let reply = {
        let mut q = shared.queue.lock().unwrap();
        let pos = q
            .iter()
            .position(|s| s.when.as_ref().is_none_or(|m| m.matches(&body)));
        pos.map(|i| {
            if q[i].repeat {
                q[i].reply.clone()
            } else {
                q.remove(i).unwrap().reply
            }
        })
    };
    let Some(reply) = reply else {
        let last = last_user_text(&body).unwrap_or_default();
        let short: String = last.chars().take(200).collect();
        let msg = format!(
            "mock script exhausted: no reply for request {number} (last user message: {short:?})"
        );
        let err = serde_json::json!({"error": {"message": msg, "type": "mock_error"}});
        write_json_response(stream, 500, &err.to_string(), &[]).await?;
        return Ok(Flow::KeepAlive);
    };
    let reply = write_summaries(reply, &body);

    let ctx = Ctx {
        number,
        id: format!("mock-{number}-{}", rand::random::<u32>()),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model")
            .to_string(),
        prompt_tokens,
        cache_hit_tokens,
    };
    serve(stream, &ctx, &reply, false).await
}

/// How many earlier requests the simulated prompt cache compares with.
pub const CACHE_ENTRIES: usize = 64;

/// Tokens of the longest prefix `body` shares with a remembered request (0 when the cache is
/// not simulated); remembers `body`.
fn cached_prefix_tokens(shared: &Shared, body: &[u8]) -> u64 {
    let mut cache = shared.cache.lock().unwrap();
    let Some(earlier) = cache.as_mut() else {
        return 0;
    };
    let longest = earlier
        .iter()
        .map(|e| e.iter().zip(body).take_while(|(a, b)| a == b).count())
        .max()
        .unwrap_or(0);
    if earlier.len() == CACHE_ENTRIES {
        earlier.pop_front();
    }
    earlier.push_back(body.to_vec());
    longest as u64 / 4
}

/// `reply` with every [`Reply::Summary`] in it written for `body`.
fn write_summaries(reply: Reply, body: &Value) -> Reply {
    match reply {
        Reply::Summary { max_chars } => Reply::text(summary_of(body, max_chars.unwrap_or(600))),
        Reply::Stall {
            before_ms,
            keepalive_every_ms,
            then,
        } => Reply::Stall {
            before_ms,
            keepalive_every_ms,
            then: Box::new(write_summaries(*then, body)),
        },
        Reply::HoldBeforeDone { hold_ms, then } => Reply::HoldBeforeDone {
            hold_ms,
            then: Box::new(write_summaries(*then, body)),
        },
        other => other,
    }
}

/// What [`Reply::Summary`] answers: the request's message count, its user requests and the
/// tools it called, clipped to `max_chars`.
fn summary_of(body: &Value, max_chars: usize) -> String {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let asks: Vec<String> = messages
        .iter()
        .filter(|m| role(m) == "user")
        .map(|m| {
            message_text(m)
                .lines()
                .last()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect()
        })
        .collect();
    let mut tools: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.get("tool_calls").and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.pointer("/function/name").and_then(Value::as_str))
        .collect();
    tools.sort_unstable();
    tools.dedup();
    let text = format!(
        "Summary of {} messages. The user asked: {}. Tools used: {}.",
        messages.len(),
        asks.join(" / "),
        if tools.is_empty() {
            "none".to_string()
        } else {
            tools.join(", ")
        }
    );
    text.chars().take(max_chars).collect()
}

// ---------------------------------------------------------------------------------------------
// SSE generation
// ---------------------------------------------------------------------------------------------

struct Ctx {
    number: usize,
    id: String,
    created: u64,
    model: String,
    prompt_tokens: u64,
    /// What the simulated prompt cache served (0 when it is off).
    cache_hit_tokens: u64,
}

impl Ctx {
    fn event(&self, delta: Value, finish: Option<&str>, usage: Option<Value>) -> String {
        let finish = finish.map_or(Value::Null, |f| Value::String(f.into()));
        format!(
            "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\"system_fingerprint\":\"fp_mock\",\"choices\":[{{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":{}}}],\"usage\":{}}}\n\n",
            Value::String(self.id.clone()),
            self.created,
            Value::String(self.model.clone()),
            delta,
            finish,
            usage.unwrap_or(Value::Null),
        )
    }

    fn default_usage(&self, generated: &str, reasoning: &str) -> UsageSpec {
        let r = reasoning.chars().count() as u64;
        let reasoning_tokens = if r == 0 { 0 } else { r / 4 + 1 };
        UsageSpec {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: generated.chars().count() as u64 / 4 + 1 + reasoning_tokens,
            reasoning_tokens,
            cache_hit_tokens: self.cache_hit_tokens,
        }
    }
}

enum Action {
    Send(String),
    Sleep {
        ms: u64,
        keepalive: Option<u64>,
    },
    /// Drop the connection mid-body.
    Cut,
}

fn split_chars(s: &str, n: usize) -> Vec<String> {
    let n = n.max(1);
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// Argument fragments of uneven sizes (1..=5 chars), like real providers.
fn split_arguments(s: &str) -> Vec<String> {
    const SIZES: [usize; 5] = [3, 1, 5, 2, 4];
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut k) = (0, 0);
    while i < chars.len() {
        let end = (i + SIZES[k % SIZES.len()]).min(chars.len());
        out.push(chars[i..end].iter().collect());
        i = end;
        k += 1;
    }
    out
}

const DEFAULT_CHUNK_CHARS: usize = 4;

/// Role chunk, reasoning chunks, content chunks (with optional delays between them).
fn preamble(
    ctx: &Ctx,
    out: &mut Vec<Action>,
    reasoning: Option<&str>,
    content: &str,
    chunk_chars: usize,
    delay: Option<u64>,
) {
    let push = |out: &mut Vec<Action>, ev: String| {
        if let Some(ms) = delay.filter(|ms| *ms > 0) {
            if !out.is_empty() {
                out.push(Action::Sleep {
                    ms,
                    keepalive: None,
                });
            }
        }
        out.push(Action::Send(ev));
    };
    if reasoning.is_some() {
        push(
            out,
            ctx.event(
                serde_json::json!({"role":"assistant","content":null,"reasoning_content":""}),
                None,
                None,
            ),
        );
    } else {
        push(
            out,
            ctx.event(
                serde_json::json!({"role":"assistant","content":""}),
                None,
                None,
            ),
        );
    }
    for piece in split_chars(reasoning.unwrap_or(""), chunk_chars) {
        push(
            out,
            ctx.event(
                serde_json::json!({"content":null,"reasoning_content":piece}),
                None,
                None,
            ),
        );
    }
    for piece in split_chars(content, chunk_chars) {
        push(
            out,
            ctx.event(serde_json::json!({"content":piece}), None, None),
        );
    }
}

fn finish(ctx: &Ctx, out: &mut Vec<Action>, reason: &str, usage: UsageSpec) {
    out.push(Action::Send(ctx.event(
        serde_json::json!({"content":""}),
        Some(reason),
        Some(usage.to_json()),
    )));
    out.push(Action::Send("data: [DONE]\n\n".into()));
}

fn actions(ctx: &Ctx, reply: &Reply) -> Vec<Action> {
    let mut out = Vec::new();
    match reply {
        Reply::Text {
            content,
            reasoning,
            usage,
            chunk_chars,
            delay_ms_per_chunk,
            finish_reason,
        } => {
            preamble(
                ctx,
                &mut out,
                reasoning.as_deref(),
                content,
                chunk_chars.unwrap_or(DEFAULT_CHUNK_CHARS),
                *delay_ms_per_chunk,
            );
            let usage = usage
                .unwrap_or_else(|| ctx.default_usage(content, reasoning.as_deref().unwrap_or("")));
            finish(
                ctx,
                &mut out,
                finish_reason.as_deref().unwrap_or("stop"),
                usage,
            );
        }
        Reply::ToolCalls {
            calls,
            content,
            reasoning,
            usage,
            split_arguments: split,
            delay_ms_per_chunk,
        } => {
            let content = content.as_deref().unwrap_or("");
            preamble(
                ctx,
                &mut out,
                reasoning.as_deref(),
                content,
                DEFAULT_CHUNK_CHARS,
                *delay_ms_per_chunk,
            );
            let delay = delay_ms_per_chunk.filter(|ms| *ms > 0);
            let send = |out: &mut Vec<Action>, ev: String| {
                if let Some(ms) = delay {
                    out.push(Action::Sleep {
                        ms,
                        keepalive: None,
                    });
                }
                out.push(Action::Send(ev));
            };
            let mut generated = content.to_string();
            for (i, call) in calls.iter().enumerate() {
                let id = call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_{}_{i}", ctx.number));
                let (first_args, rest) = if *split {
                    (String::new(), split_arguments(&call.arguments))
                } else {
                    (call.arguments.clone(), Vec::new())
                };
                send(
                    &mut out,
                    ctx.event(
                        serde_json::json!({"tool_calls":[{"index":i,"id":id,"type":"function",
                            "function":{"name":call.name,"arguments":first_args}}]}),
                        None,
                        None,
                    ),
                );
                for frag in rest {
                    send(
                        &mut out,
                        ctx.event(
                            serde_json::json!({"tool_calls":[{"index":i,"function":{"arguments":frag}}]}),
                            None,
                            None,
                        ),
                    );
                }
                generated.push_str(&call.name);
                generated.push_str(&call.arguments);
            }
            let usage = usage.unwrap_or_else(|| {
                ctx.default_usage(&generated, reasoning.as_deref().unwrap_or(""))
            });
            finish(ctx, &mut out, "tool_calls", usage);
        }
        Reply::Cut { content } => {
            preamble(ctx, &mut out, None, content, DEFAULT_CHUNK_CHARS, None);
            out.push(Action::Cut);
        }
        Reply::StallMidStream {
            content,
            stall_ms,
            keepalive_every_ms,
        } => {
            preamble(ctx, &mut out, None, content, DEFAULT_CHUNK_CHARS, None);
            out.push(Action::Sleep {
                ms: *stall_ms,
                keepalive: *keepalive_every_ms,
            });
            let usage = ctx.default_usage(content, "");
            finish(ctx, &mut out, "stop", usage);
        }
        Reply::MidstreamError { content, error } => {
            preamble(ctx, &mut out, None, content, DEFAULT_CHUNK_CHARS, None);
            out.push(Action::Send(format!(
                "data: {}\n\n",
                serde_json::json!({ "error": error })
            )));
        }
        Reply::Truncated { content, calls } => {
            preamble(ctx, &mut out, None, content, DEFAULT_CHUNK_CHARS, None);
            for (i, call) in calls.iter().enumerate() {
                let id = call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_{}_{i}", ctx.number));
                out.push(Action::Send(ctx.event(
                    serde_json::json!({"tool_calls":[{"index":i,"id":id,"type":"function",
                        "function":{"name":call.name,"arguments":call.arguments}}]}),
                    None,
                    None,
                )));
            }
        }
        Reply::HoldBeforeDone { hold_ms, then } => {
            out = actions(ctx, then);
            let done = out.pop();
            out.push(Action::Sleep {
                ms: *hold_ms,
                keepalive: None,
            });
            out.extend(done);
        }
        Reply::Raw { sse } => {
            let mut rest = sse.as_str();
            while !rest.is_empty() {
                let cut = rest.find("\n\n").map_or(rest.len(), |p| p + 2);
                out.push(Action::Send(rest[..cut].to_string()));
                rest = &rest[cut..];
            }
        }
        Reply::HttpError { .. } | Reply::Stall { .. } => unreachable!("handled in serve"),
        Reply::Summary { .. } => unreachable!("written in handle_request"),
    }
    out
}

/// Waits `ms`, sending `: keep-alive` comments every `keepalive` ms if given (headers must be
/// out). Returns false if the client went away meanwhile.
async fn idle(stream: &mut TcpStream, ms: u64, keepalive: Option<u64>) -> io::Result<bool> {
    let deadline = Instant::now() + Duration::from_millis(ms);
    let every = keepalive.filter(|k| *k > 0).map(Duration::from_millis);
    let mut next_ka = every.map(|e| Instant::now() + e);
    let mut scratch = [0u8; 1024];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(true);
        }
        let wake = next_ka.map_or(deadline, |k| k.min(deadline));
        tokio::select! {
            _ = sleep_until(wake) => {
                if let (Some(k), Some(e)) = (next_ka, every) {
                    if Instant::now() >= k && Instant::now() < deadline {
                        write_chunk(stream, ": keep-alive\n\n").await?;
                        next_ka = Some(k + e);
                    }
                }
            }
            r = stream.read(&mut scratch) => {
                match r {
                    Ok(0) | Err(_) => return Ok(false),
                    Ok(_) => {} // ignore stray bytes
                }
            }
        }
    }
}

type ServeFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Flow>> + Send + 'a>>;

fn serve<'a>(
    stream: &'a mut TcpStream,
    ctx: &'a Ctx,
    reply: &'a Reply,
    head_sent: bool,
) -> ServeFuture<'a> {
    Box::pin(async move {
        match reply {
            Reply::HttpError {
                status,
                body,
                retry_after,
            } => {
                let extra: Vec<(&str, String)> = retry_after
                    .map(|s| vec![("retry-after", s.to_string())])
                    .unwrap_or_default();
                write_json_response(stream, *status, body, &extra).await?;
                Ok(Flow::KeepAlive)
            }
            Reply::Stall {
                before_ms,
                keepalive_every_ms,
                then,
            } => {
                let mut head_sent = head_sent;
                let ka = if then.streams() {
                    *keepalive_every_ms
                } else {
                    None
                };
                if ka.is_some() && !head_sent {
                    stream.write_all(SSE_HEAD.as_bytes()).await?;
                    stream.flush().await?;
                    head_sent = true;
                }
                if !idle(stream, *before_ms, ka).await? {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "client left",
                    ));
                }
                serve(stream, ctx, then, head_sent).await
            }
            _ => {
                if !head_sent {
                    stream.write_all(SSE_HEAD.as_bytes()).await?;
                    stream.flush().await?;
                }
                for action in actions(ctx, reply) {
                    match action {
                        Action::Send(ev) => write_chunk(stream, &ev).await?,
                        Action::Sleep { ms, keepalive } => {
                            if !idle(stream, ms, keepalive).await? {
                                return Err(io::Error::new(
                                    io::ErrorKind::ConnectionAborted,
                                    "client left",
                                ));
                            }
                        }
                        Action::Cut => {
                            // Let the client read what was sent, then close without the
                            // terminating chunk.
                            sleep(Duration::from_millis(20)).await;
                            return Ok(Flow::Close);
                        }
                    }
                }
                stream.write_all(b"0\r\n\r\n").await?;
                stream.flush().await?;
                Ok(Flow::KeepAlive)
            }
        }
    })
}
