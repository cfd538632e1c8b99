//! Read access for clients. Front ends never touch the store directly; they ask the engine for
//! typed views of what it persisted.

use anyhow::Result;

use crate::core::changes::{self, ChangeView};
use crate::core::engine::Engine;
use crate::core::store::{
    AgentSnapshot, Chat, PendingChange, Session, SessionSummary, StoredMessage, Task, ToolOutcome,
    TraceCursor, TraceRow, TurnUsage,
};

impl Engine {
    pub fn project_id(&self) -> &str {
        &self.rt.project_id
    }

    /// This project's sessions, newest first, with their chats.
    pub fn sessions(&self) -> Result<Vec<SessionSummary>> {
        self.rt.store.list_sessions(Some(&self.rt.project_id))
    }

    pub fn session(&self, id: &str) -> Result<Session> {
        self.rt.store.get_session(id)
    }

    pub fn chat(&self, id: &str) -> Result<Chat> {
        self.rt.store.get_chat(id)
    }

    pub fn chats(&self, session_id: &str) -> Result<Vec<Chat>> {
        self.rt.store.list_chats(session_id)
    }

    pub fn set_chat_model(&self, chat_id: &str, model: &str) -> Result<()> {
        self.rt
            .store
            .set_chat_model(chat_id, &self.rt.config.resolve_model(model))
    }

    pub fn message_count(&self, chat_id: &str) -> Result<i64> {
        self.rt.store.message_count(chat_id)
    }

    pub fn transcript(&self, chat_id: &str) -> Result<Vec<StoredMessage>> {
        self.rt.store.load_messages(chat_id)
    }

    /// Messages with `seq >= from_seq`, at most `limit`.
    pub fn transcript_range(
        &self,
        chat_id: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredMessage>> {
        self.rt.store.load_messages_range(chat_id, from_seq, limit)
    }

    pub fn traces_page(
        &self,
        chat_id: &str,
        after: Option<&TraceCursor>,
        limit: usize,
    ) -> Result<Vec<TraceRow>> {
        self.rt.store.list_traces(chat_id, after, limit)
    }

    /// The page of traces just before `before` (the newest page when `None`), in start order.
    pub fn traces_page_before(
        &self,
        chat_id: &str,
        before: Option<&TraceCursor>,
        limit: usize,
    ) -> Result<Vec<TraceRow>> {
        self.rt.store.list_traces_before(chat_id, before, limit)
    }

    /// How the tool calls of a loaded stretch of transcript ended (see `Store::tool_outcomes`).
    pub fn tool_outcomes(
        &self,
        chat_id: &str,
        since: &str,
        until: Option<&str>,
    ) -> Result<Vec<ToolOutcome>> {
        self.rt.store.tool_outcomes(chat_id, since, until)
    }

    pub fn trace(&self, trace_id: &str) -> Result<TraceRow> {
        self.rt.store.get_trace(trace_id)
    }

    pub fn trace_count(&self, chat_id: &str) -> Result<i64> {
        self.rt.store.trace_count(chat_id)
    }

    pub fn turn_usage(&self, chat_id: &str) -> Result<Vec<TurnUsage>> {
        self.rt.store.turn_usage(chat_id)
    }

    pub fn tasks(&self, session_id: Option<&str>) -> Result<Vec<Task>> {
        self.rt.store.list_tasks(session_id)
    }

    /// Every pending change of the project, with line counts and collisions.
    pub fn project_changes(&self) -> Result<Vec<ChangeView>> {
        changes::project_changes(&self.rt.store, &self.rt.project_id)
    }

    pub fn pending_changes(&self, chat_id: Option<&str>) -> Result<Vec<PendingChange>> {
        self.rt.store.list_pending_changes(chat_id)
    }

    /// The chat's agent snapshot; a state other than `idle` means its turn was interrupted.
    /// `pending`, `applied` or `rejected`.
    pub fn change_status(&self, change_id: &str) -> Result<String> {
        Ok(self.rt.store.get_pending_change(change_id)?.status)
    }

    pub fn snapshot(&self, chat_id: &str) -> Result<Option<AgentSnapshot>> {
        self.rt.store.load_snapshot(chat_id)
    }

    pub fn load_layout(&self) -> Result<Option<String>> {
        self.rt.store.load_layout(&self.rt.project_id)
    }

    pub fn save_layout(&self, layout: &str) -> Result<()> {
        self.rt.store.save_layout(&self.rt.project_id, layout)
    }

    /// Prompts typed in this project, newest first (composer history).
    pub fn recent_prompts(&self, limit: usize) -> Result<Vec<String>> {
        self.rt.store.recent_prompts(&self.rt.project_id, limit)
    }
}
