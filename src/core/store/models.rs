//! Typed rows of the store.

use serde::{Deserialize, Serialize};

use crate::core::llm::types::{ChatMessage, ToolCall, Usage};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub root: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub project_id: String,
    pub title: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: String,
    pub session_id: String,
    pub parent_chat_id: Option<String>,
    /// `main`, `subagent`, `workflow`, `compare`.
    pub kind: String,
    pub title: String,
    pub model: String,
    pub agent: String,
    /// `idle`, `running`, `interrupted`, `failed`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewChat<'a> {
    pub session_id: &'a str,
    pub parent_chat_id: Option<&'a str>,
    pub kind: &'a str,
    pub title: &'a str,
    pub model: &'a str,
    pub agent: &'a str,
}

/// A session with its project and chats, for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub session: Session,
    pub project_root: String,
    pub chats: Vec<ChatSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSummary {
    pub chat: Chat,
    pub message_count: i64,
    pub turns: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Text,
    Reasoning,
    ToolCall,
    ToolResult,
    Image,
}

impl PartKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Text => "text",
            PartKind::Reasoning => "reasoning",
            PartKind::ToolCall => "tool_call",
            PartKind::ToolResult => "tool_result",
            PartKind::Image => "image",
        }
    }

    pub fn parse(s: &str) -> PartKind {
        match s {
            "reasoning" => PartKind::Reasoning,
            "tool_call" => PartKind::ToolCall,
            "tool_result" => PartKind::ToolResult,
            "image" => PartKind::Image,
            _ => PartKind::Text,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePart {
    pub kind: PartKind,
    /// Text, reasoning, tool-call arguments, tool output; the path for images.
    pub content: String,
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
    pub attachment_id: Option<String>,
}

impl MessagePart {
    pub fn text(kind: PartKind, content: impl Into<String>) -> Self {
        MessagePart {
            kind,
            content: content.into(),
            tool_call_id: None,
            tool_name: None,
            attachment_id: None,
        }
    }

    pub fn tool_call(call: &ToolCall) -> Self {
        MessagePart {
            kind: PartKind::ToolCall,
            content: call.function.arguments.clone(),
            tool_call_id: Some(call.id.clone()),
            tool_name: Some(call.function.name.clone()),
            attachment_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub id: String,
    pub chat_id: String,
    pub seq: i64,
    /// `user`, `assistant`, `tool`, `workflow` (a run's report), `compaction` (a context
    /// compaction's notice and summary).
    pub role: String,
    /// `complete`, `streaming`, `interrupted`, `cancelled`, `failed`.
    pub status: String,
    pub turn_number: i64,
    pub model: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    /// A compaction's summary stands in for this message: it is kept, no longer sent.
    #[serde(default)]
    pub compacted: bool,
    pub parts: Vec<MessagePart>,
}

impl StoredMessage {
    /// Concatenated text of the parts of one kind.
    pub fn joined(&self, kind: PartKind) -> String {
        self.parts
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.content.as_str())
            .collect::<Vec<_>>()
            .join("")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachment {
    pub path: String,
    pub file_name: String,
    pub mime: String,
    pub bytes: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRow {
    pub id: String,
    pub session_id: String,
    pub chat_id: String,
    pub message_id: Option<String>,
    pub turn_number: i64,
    pub tool_call_id: Option<String>,
    pub tool_name: String,
    pub tool_input: String,
    pub tool_output: Option<String>,
    pub diff: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub latency_ms: Option<i64>,
    pub tokens_used: i64,
    pub cache_tokens: i64,
    pub reasoning_tokens: i64,
    pub error: Option<String>,
    pub outcome: Option<String>,
}

impl TraceRow {
    /// The row of a tool call of `chat`'s turn `turn_number` that starts now: a new ordered id,
    /// `tool_input` as given, not finished, no usage share yet.
    pub fn started(chat: &Chat, turn_number: i64, call: &ToolCall, tool_input: String) -> Self {
        TraceRow {
            id: super::new_ordered_id(),
            session_id: chat.session_id.clone(),
            chat_id: chat.id.clone(),
            message_id: None,
            turn_number,
            tool_call_id: Some(call.id.clone()),
            tool_name: call.function.name.clone(),
            tool_input,
            tool_output: None,
            diff: None,
            started_at: super::now(),
            finished_at: None,
            latency_ms: None,
            tokens_used: 0,
            cache_tokens: 0,
            reasoning_tokens: 0,
            error: None,
            outcome: None,
        }
    }
}

/// How one tool call ended, as the transcript shows it next to the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    pub trace_id: String,
    pub tool_call_id: String,
    /// `None` while the call runs (or ran when the process died).
    pub outcome: Option<String>,
    pub latency_ms: Option<i64>,
    pub error: Option<String>,
    pub diff: Option<String>,
}

/// Keyset-pagination cursor over a chat's traces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceCursor {
    pub started_at: String,
    pub id: String,
}

/// Usage and tool activity of one turn of a chat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnUsage {
    pub turn_number: i64,
    /// The start of the user message that began the turn (empty when there is none).
    pub prompt: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub model_calls: i64,
    pub tool_calls: i64,
    pub usage: Usage,
}

impl TurnUsage {
    /// Share of prompt tokens served from the provider's cache, 0..=1.
    pub fn cache_hit_rate(&self) -> Option<f64> {
        cache_hit_rate(&self.usage)
    }
}

pub fn cache_hit_rate(usage: &Usage) -> Option<f64> {
    let total = usage.cache_hit_tokens + usage.cache_miss_tokens;
    (total > 0).then(|| usage.cache_hit_tokens as f64 / total as f64)
}

/// Where an agent loop stands, persisted at every turn boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    pub chat_id: String,
    pub model: String,
    pub agent: String,
    /// Approval mode the turn runs under.
    pub mode: String,
    /// `awaiting_model`, `running_tools`, `idle`.
    pub state: String,
    pub turn_number: i64,
    pub step: u32,
    /// The messages the next model request will send.
    pub history: Vec<ChatMessage>,
    /// Tool calls made but not yet answered.
    pub pending_tool_calls: Vec<ToolCall>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub session_id: String,
    pub parent_chat_id: Option<String>,
    pub chat_id: Option<String>,
    pub label: Option<String>,
    pub input: String,
    pub model: String,
    pub agent: String,
    /// `pending`, `running`, `completed`, `failed`, `cancelled`; read as `interrupted` while
    /// it is stored `running` by a process that has ended (the next start requeues it).
    pub status: String,
    pub attempts: i64,
    pub output: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingChange {
    pub id: String,
    pub chat_id: String,
    pub path: String,
    pub display_path: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub diff: String,
    pub status: String,
    pub created_at: String,
}
