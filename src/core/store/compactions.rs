//! Context compactions: the `compaction` message a chat's transcript shows, and the row saying
//! what it saved and which messages its summary covers.

use anyhow::Result;
use rusqlite::{params, Transaction};

use super::chats::{insert_message, touch_chat, write_parts, Stamp};
use super::models::{AgentSnapshot, MessagePart, PartKind};
use super::{now, Store};

/// A message of the transcript named by what the model's history holds of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageAnchor {
    /// The user message that opened a turn.
    UserOfTurn(i64),
    /// The assistant message that made this tool call.
    ToolCall(String),
}

/// A compaction to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCompaction<'a> {
    pub chat_id: &'a str,
    pub turn_number: i64,
    /// `auto`, `overflow` or `manual`.
    pub trigger: &'a str,
    pub focus: Option<&'a str>,
    /// The line the chat shows (`context compacted: 96k → 14k tokens`).
    pub notice: &'a str,
    /// The summary the model wrote; none when clipping was enough.
    pub summary: Option<&'a str>,
    /// The first message still sent after the summary: everything before it is covered…
    pub first_kept: Option<MessageAnchor>,
    /// …except this one, the user message of the turn the cut fell in (its text is still sent).
    pub kept_user: Option<MessageAnchor>,
    pub tokens_before: u64,
    pub tokens_after: u64,
    /// Tool results clipped to a stub.
    pub clipped: usize,
}

/// A recorded compaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionRow {
    pub message_id: String,
    pub trigger: String,
    pub focus: Option<String>,
    pub tokens_before: u64,
    pub tokens_after: u64,
    pub clipped: usize,
    pub covers_before_seq: Option<i64>,
    pub kept_user_seq: Option<i64>,
}

impl Store {
    /// Stores a compaction together with the snapshot whose history it rewrote: a crash leaves
    /// both or neither, so the transcript never claims a compaction the model did not get.
    pub fn record_compaction(
        &self,
        new: &NewCompaction<'_>,
        snapshot: &AgentSnapshot,
    ) -> Result<String> {
        let at = now();
        let owner = self.owner()?;
        let (history, pending) = super::tasks::snapshot_json(snapshot)?;
        self.tx(|tx| {
            let covers_before_seq = anchor_seq(tx, new.chat_id, new.first_kept.as_ref())?;
            let kept_user_seq = anchor_seq(tx, new.chat_id, new.kept_user.as_ref())?;
            let msg = insert_message(
                tx,
                new.chat_id,
                "compaction",
                "complete",
                new.turn_number,
                None,
                &Stamp::new(&at, &owner),
            )?;
            let mut parts = vec![MessagePart::text(PartKind::Text, new.notice)];
            parts.extend(new.summary.map(|s| MessagePart::text(PartKind::Text, s)));
            write_parts(tx, &msg.id, &parts)?;
            tx.prepare_cached(
                "INSERT INTO compactions (message_id, chat_id, trigger, focus, tokens_before,
                     tokens_after, clipped, covers_before_seq, kept_user_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                msg.id,
                new.chat_id,
                new.trigger,
                new.focus,
                new.tokens_before as i64,
                new.tokens_after as i64,
                new.clipped as i64,
                covers_before_seq,
                kept_user_seq
            ])?;
            touch_chat(tx, new.chat_id, &at)?;
            super::tasks::write_snapshot(tx, snapshot, &history, &pending)?;
            Ok(msg.id)
        })
    }

    /// A chat's compactions, oldest first.
    pub fn compactions(&self, chat_id: &str) -> Result<Vec<CompactionRow>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT k.message_id, k.trigger, k.focus, k.tokens_before, k.tokens_after,
                     k.clipped, k.covers_before_seq, k.kept_user_seq
                 FROM compactions k JOIN messages m ON m.id = k.message_id
                 WHERE k.chat_id = ?1 ORDER BY m.seq",
            )?
            .query_map([chat_id], |r| {
                Ok(CompactionRow {
                    message_id: r.get(0)?,
                    trigger: r.get(1)?,
                    focus: r.get(2)?,
                    tokens_before: r.get::<_, i64>(3)? as u64,
                    tokens_after: r.get::<_, i64>(4)? as u64,
                    clipped: r.get::<_, i64>(5)? as usize,
                    covers_before_seq: r.get(6)?,
                    kept_user_seq: r.get(7)?,
                })
            })?
            .collect()
        })
    }
}

/// The seq of the message `anchor` names, if the transcript has it.
fn anchor_seq(
    tx: &Transaction<'_>,
    chat_id: &str,
    anchor: Option<&MessageAnchor>,
) -> rusqlite::Result<Option<i64>> {
    match anchor {
        None => Ok(None),
        Some(MessageAnchor::UserOfTurn(turn)) => tx
            .prepare_cached(
                "SELECT MIN(seq) FROM messages
                 WHERE chat_id = ?1 AND role = 'user' AND turn_number = ?2",
            )?
            .query_row(params![chat_id, turn], |r| r.get(0)),
        Some(MessageAnchor::ToolCall(id)) => super::optional(
            tx.prepare_cached(
                "SELECT m.seq FROM messages m
                 JOIN message_parts p ON p.message_id = m.id
                 WHERE m.chat_id = ?1 AND m.role = 'assistant' AND p.kind = 'tool_call'
                   AND p.tool_call_id = ?2
                 ORDER BY m.seq DESC LIMIT 1",
            )?
            .query_row(params![chat_id, id], |r| r.get(0)),
        ),
    }
}
